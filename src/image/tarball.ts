/**
 * The image as one tar file that both OCI and Docker readers load: an OCI
 * image layout (oci-layout, index.json, blobs/sha256/…) plus Docker's
 * manifest.json pointing into the same blobs — what Docker 25+ `docker save`
 * writes. New docker/containerd and podman/skopeo read index.json; older
 * docker load reads manifest.json.
 *
 * Entries are sorted by name ("blobs/", "blobs/sha256/", the blobs by hex,
 * "index.json", "manifest.json", "oci-layout"), owned 0:0, directories 0755,
 * files 0644, mtime SOURCE_DATE_EPOCH (a real date when someone untars it,
 * and still only a function of the build's inputs).
 */
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tempPathFor, writeFileAtomic, type AtomicWriter } from '../util/atomic-file.js';
import { canonicalJsonBytes, digestHex, hashFile, Sha256Counter, type Sha256Digest } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import { assembleImage, type AssembleInput } from './config.js';
import { checkImageRef, type ImageRef } from '../util/reference.js';
import { encodeHeader, END_OF_ARCHIVE, padding } from './tar-writer.js';
import { ANNOTATION, MEDIA_TYPE, type ImageBlobs, type WrittenImage } from './types.js';

export interface ImageOutputOptions extends AssembleInput {
  /** "name:tag", "name" (tag latest) or "registry/path/name:tag". */
  tag: string;
  signal?: AbortSignal | undefined;
}

/** Docker's reference normalisation; an invalid tag is an IMAGE error. */
export function parseImageRef(ref: string): ImageRef {
  const parsed = checkImageRef(ref);
  if (typeof parsed === 'string') {
    throw new BaseimgError('IMAGE', `invalid image tag ${JSON.stringify(ref)}: ${parsed}`, {
      hint: 'use name:tag, e.g. "static:latest" or "registry.example/team/static:1.0"',
    });
  }
  return parsed;
}

type LayoutEntry =
  | { name: string; kind: 'dir' }
  | { name: string; kind: 'bytes'; data: Buffer }
  | { name: string; kind: 'file'; path: string; size: number; digest: Sha256Digest };

/** Every directory and file of the layout, in the order they are written. */
function layoutEntries(image: ImageBlobs, ref: ImageRef): LayoutEntry[] {
  const blob = (d: Sha256Digest): string => `blobs/sha256/${digestHex(d)}`;
  const blobs = new Map<string, LayoutEntry>();
  blobs.set(blob(image.config.digest), { name: blob(image.config.digest), kind: 'bytes', data: image.config.bytes });
  blobs.set(blob(image.manifest.digest), { name: blob(image.manifest.digest), kind: 'bytes', data: image.manifest.bytes });
  for (const l of image.layers) blobs.set(blob(l.digest), { name: blob(l.digest), kind: 'file', path: l.path, size: l.size, digest: l.digest });

  const index = canonicalJsonBytes({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.index,
    manifests: [
      {
        mediaType: MEDIA_TYPE.manifest,
        digest: image.manifest.digest,
        size: image.manifest.bytes.length,
        platform: image.platform,
        annotations: { [ANNOTATION.containerdName]: ref.fullName, [ANNOTATION.refName]: ref.tag },
      },
    ],
  });
  const dockerManifest = canonicalJsonBytes([
    { Config: blob(image.config.digest), RepoTags: [ref.repoTag], Layers: image.layers.map((l) => blob(l.digest)) },
  ]);
  return [
    { name: 'blobs', kind: 'dir' },
    { name: 'blobs/sha256', kind: 'dir' },
    ...[...blobs.keys()].sort().map((k) => blobs.get(k)!),
    { name: 'index.json', kind: 'bytes', data: index },
    { name: 'manifest.json', kind: 'bytes', data: dockerManifest },
    { name: 'oci-layout', kind: 'bytes', data: canonicalJsonBytes({ imageLayoutVersion: '1.0.0' }) },
  ];
}

/**
 * Write the image tarball to `outPath` atomically: a temp file beside it,
 * renamed over it only when complete; on error or abort nothing is left.
 * Layer blobs are re-hashed while copied, so a damaged layer file fails the
 * write instead of producing an image no one can load.
 */
export async function writeImageTarball(outPath: string, options: ImageOutputOptions): Promise<WrittenImage> {
  const ref = parseImageRef(options.tag);
  const image = assembleImage(options);
  const entries = layoutEntries(image, ref);
  const mtime = options.sourceDateEpoch;
  const size = await writeFileAtomic(
    outPath,
    async (out) => {
      const w = new BufferedWriter(out);
      for (const e of entries) {
        if (e.kind === 'dir') {
          await w.write(encodeHeader({ name: e.name, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime }));
          continue;
        }
        const size = e.kind === 'bytes' ? e.data.length : e.size;
        await w.write(encodeHeader({ name: e.name, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime }));
        if (e.kind === 'bytes') await w.write(e.data);
        else await copyVerified(e, w);
        await w.write(padding(size));
      }
      await w.write(END_OF_ARCHIVE);
      await w.flush();
      return out.bytesWritten;
    },
    { signal: options.signal },
  );
  return { digest: image.manifest.digest, configDigest: image.config.digest, size, path: outPath };
}

/**
 * The same layout as a directory (for umoci, skopeo oci:, registries' push
 * tools). Built in a temp directory beside `dir` and swapped in at the end;
 * an existing `dir` is replaced only on success.
 */
export async function writeOciLayoutDir(dir: string, options: ImageOutputOptions): Promise<WrittenImage> {
  const ref = parseImageRef(options.tag);
  const image = assembleImage(options);
  const tmp = tempPathFor(dir);
  let size = 0;
  try {
    await mkdir(tmp, { mode: 0o755 });
    for (const e of layoutEntries(image, ref)) {
      options.signal?.throwIfAborted();
      const path = join(tmp, e.name);
      if (e.kind === 'dir') await mkdir(path, { mode: 0o755 });
      else if (e.kind === 'bytes') await writeFile(path, e.data, { mode: 0o644 });
      else {
        await copyFile(e.path, path);
        const got = await hashFile(path);
        if (got.digest !== e.digest) throw damagedLayer(e.path, e.digest, got.digest);
      }
      if (e.kind !== 'dir') size += (await stat(path)).size;
    }
    options.signal?.throwIfAborted();
    const old = tempPathFor(dir);
    const hadOld = await rename(dir, old).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
    await rename(tmp, dir);
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return { digest: image.manifest.digest, configDigest: image.config.digest, size, path: dir };
}

async function copyVerified(e: Extract<LayoutEntry, { kind: 'file' }>, w: BufferedWriter): Promise<void> {
  const h = new Sha256Counter();
  for await (const chunk of createReadStream(e.path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    h.update(chunk);
    if (h.size > e.size) break;
    await w.write(chunk);
  }
  const got = h.digest();
  if (h.size !== e.size || got !== e.digest) throw damagedLayer(e.path, e.digest, h.size !== e.size ? `${h.size} bytes instead of ${e.size}` : got);
}

function damagedLayer(path: string, expected: string, got: string): BaseimgError {
  return new BaseimgError('IMAGE', `layer blob ${basename(path)} in ${dirname(path)} changed since it was written (expected ${expected}, got ${got})`, {
    hint: 'something modified the build directory while the image was being written; run the build again',
  });
}

/** Coalesces small writes (headers, padding) so the file sees ~1 MiB writes. */
class BufferedWriter {
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;

  constructor(private readonly out: AtomicWriter) {}

  async write(data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    if (this.used + data.length > this.buf.length) await this.flush();
    if (data.length >= this.buf.length) {
      await this.out.write(data);
      return;
    }
    this.buf.set(data, this.used);
    this.used += data.length;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const n = this.used;
    this.used = 0;
    await this.out.write(this.buf.subarray(0, n));
  }
}
