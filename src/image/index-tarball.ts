/**
 * A multi-platform image as one tarball: the single-platform tarballs of one
 * build (one per architecture, each written by writeImageTarball) merged into
 * one OCI layout whose index.json lists one image index, which lists each
 * platform's manifest with its platform. Blobs are stored once by digest.
 *
 *   index.json ─► image index (blobs/sha256/…) ─┬─► manifest linux/amd64 ─► config, layers
 *                                                └─► manifest linux/arm64/v8 ─► config, layers
 *
 * That nesting is what buildx and containerd write for a multi-platform image:
 * `podman load`, `skopeo copy oci-archive:X` and Docker 25+ with the containerd
 * store pick the host's platform (or the one asked for), and a push sends the
 * index under the tag. Docker's manifest.json cannot describe an index: it
 * gets one entry per platform, tagged `<tag>-<arch>`, the first architecture
 * also plain `<tag>` (docs/image-format.md), for `docker load` without containerd.
 *
 * Entries, order and metadata follow writeImageTarball (tarball.ts): sorted
 * names, 0:0, 0755/0644, mtime SOURCE_DATE_EPOCH; written atomically.
 */
import { createReadStream } from 'node:fs';
import { openBlobSource, type BlobRef, type BlobSource } from '../inspect/source.js';
import { writeFileAtomic, type AtomicWriter } from '../util/atomic-file.js';
import { canonicalJsonBytes, digestHex, sha256Digest, Sha256Counter, type Sha256Digest } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import { checkImageRef } from '../util/reference.js';
import { parseImageRef } from './tarball.js';
import { encodeHeader, END_OF_ARCHIVE, padding } from './tar-writer.js';
import { ANNOTATION, MEDIA_TYPE, type ImageArch, type Platform } from './types.js';

export interface PlatformTarball {
  arch: ImageArch;
  /** A single-image tarball written by writeImageTarball. */
  path: string;
}

export interface IndexTarballOptions {
  tag: string;
  sourceDateEpoch: number;
  /** Annotations of the image index (created, the spec's). */
  annotations?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

export interface WrittenIndex {
  /** Digest of the image index: what a registry calls the multi-platform image. */
  digest: Sha256Digest;
  size: number;
  path: string;
  manifests: Array<{ arch: ImageArch; digest: string; configDigest: string; platform: Platform }>;
}

interface PlatformImage {
  arch: ImageArch;
  descriptor: { mediaType: string; digest: string; size: number; platform: Platform };
  configName: string;
  layerNames: string[];
  configDigest: string;
}

type Blob = { kind: 'bytes'; data: Buffer } | { kind: 'range'; ref: BlobRef; digest: string };

export async function writeIndexTarball(outPath: string, platforms: PlatformTarball[], options: IndexTarballOptions): Promise<WrittenIndex> {
  const ref = parseImageRef(options.tag);
  const sources: BlobSource[] = [];
  try {
    const blobs = new Map<string, Blob>();
    const images: PlatformImage[] = [];
    for (const p of platforms) {
      const source = await openBlobSource(p.path);
      sources.push(source);
      images.push(await readPlatform(source, p.arch, blobs));
    }
    const indexBytes = canonicalJsonBytes({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.index,
      manifests: images.map((i) => i.descriptor),
      ...(options.annotations && Object.keys(options.annotations).length > 0 ? { annotations: options.annotations } : {}),
    });
    const indexDigest = sha256Digest(indexBytes);
    blobs.set(blobName(indexDigest), { kind: 'bytes', data: indexBytes });
    const topIndex = canonicalJsonBytes({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.index,
      manifests: [
        {
          mediaType: MEDIA_TYPE.index,
          digest: indexDigest,
          size: indexBytes.length,
          annotations: { [ANNOTATION.containerdName]: ref.fullName, [ANNOTATION.refName]: ref.tag },
        },
      ],
    });
    const dockerManifest = canonicalJsonBytes(images.map((img, i) => ({ Config: img.configName, RepoTags: repoTagsFor(options.tag, img.arch, i === 0), Layers: img.layerNames })));

    const files: Array<[string, Blob]> = [
      ...[...blobs.keys()].sort().map((k) => [k, blobs.get(k)!] as [string, Blob]),
      ['index.json', { kind: 'bytes', data: topIndex }],
      ['manifest.json', { kind: 'bytes', data: dockerManifest }],
      ['oci-layout', { kind: 'bytes', data: canonicalJsonBytes({ imageLayoutVersion: '1.0.0' }) }],
    ];
    const mtime = options.sourceDateEpoch;
    const size = await writeFileAtomic(
      outPath,
      async (out) => {
        for (const dir of ['blobs', 'blobs/sha256']) await out.write(encodeHeader({ name: dir, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime }));
        for (const [name, blob] of files) {
          const n = blob.kind === 'bytes' ? blob.data.length : blob.ref.size;
          await out.write(encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: n, mtime }));
          if (blob.kind === 'bytes') await out.write(blob.data);
          else await copyRange(blob.ref, blob.digest, out);
          await out.write(padding(n));
        }
        await out.write(END_OF_ARCHIVE);
        return out.bytesWritten;
      },
      { signal: options.signal },
    );
    return {
      digest: indexDigest,
      size,
      path: outPath,
      manifests: images.map((i) => ({ arch: i.arch, digest: i.descriptor.digest, configDigest: i.configDigest, platform: i.descriptor.platform })),
    };
  } finally {
    for (const s of sources) await s.close();
  }
}

/** Docker's RepoTags for one platform: "<tag>-<arch>", and "<tag>" too for the first. */
export function repoTagsFor(tag: string, arch: string, first: boolean): string[] {
  const ref = parseImageRef(tag);
  const suffixed = checkImageRef(`${ref.repoTag}-${arch}`);
  if (typeof suffixed === 'string') {
    throw new BaseimgError('IMAGE', `tag ${JSON.stringify(tag)} is too long to add "-${arch}" for Docker's manifest.json`, { hint: 'use a tag of at most 120 characters' });
  }
  return first ? [ref.repoTag, suffixed.repoTag] : [suffixed.repoTag];
}

function blobName(digest: string): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

/** The one image of a single-platform tarball: its descriptor and blobs (added to `blobs`). */
async function readPlatform(source: BlobSource, arch: ImageArch, blobs: Map<string, Blob>): Promise<PlatformImage> {
  const json = async (name: string, digest?: string): Promise<{ bytes: Buffer; doc: Record<string, unknown> }> => {
    const ref = source.find(name);
    if (!ref) throw internal(source, `${name} is missing`);
    const bytes = await source.read(ref, 32 << 20);
    if (digest !== undefined && sha256Digest(bytes) !== digest) throw internal(source, `${name} does not match its digest`);
    return { bytes, doc: JSON.parse(bytes.toString('utf8')) as Record<string, unknown> };
  };
  const index = (await json('index.json')).doc as { manifests?: Array<{ mediaType: string; digest: string; size: number; platform?: Platform }> };
  const d = index.manifests?.[0];
  if (!d || index.manifests!.length !== 1 || !d.platform) throw internal(source, 'index.json does not list exactly one image with its platform');
  if (d.platform.architecture !== arch) throw internal(source, `holds a ${d.platform.architecture} image, not ${arch}`);
  const manifest = await json(blobName(d.digest), d.digest);
  blobs.set(blobName(d.digest), { kind: 'bytes', data: manifest.bytes });
  const m = manifest.doc as { config: { digest: string }; layers: Array<{ digest: string }> };
  const config = await json(blobName(m.config.digest), m.config.digest);
  blobs.set(blobName(m.config.digest), { kind: 'bytes', data: config.bytes });
  for (const l of m.layers) {
    const name = blobName(l.digest);
    const ref = source.find(name);
    if (!ref) throw internal(source, `layer ${name} is missing`);
    if (!blobs.has(name)) blobs.set(name, { kind: 'range', ref, digest: l.digest });
  }
  return {
    arch,
    descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size, platform: d.platform },
    configName: blobName(m.config.digest),
    layerNames: m.layers.map((l) => blobName(l.digest)),
    configDigest: m.config.digest,
  };
}

/** Copy a layer out of a platform tarball, re-hashed on the way. */
async function copyRange(ref: BlobRef, digest: string, out: AtomicWriter): Promise<void> {
  const h = new Sha256Counter();
  if (ref.size > 0) {
    for await (const chunk of createReadStream(ref.file, { start: ref.offset, end: ref.offset + ref.size - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      h.update(chunk);
      await out.write(chunk);
    }
  }
  if (h.size !== ref.size || h.digest() !== digest) {
    throw new BaseimgError('IMAGE', `layer ${digest} changed while the multi-platform tarball was written (got ${h.size} bytes, ${h.digest()})`, {
      hint: 'something modified the build directory; run the build again',
    });
  }
}

function internal(source: BlobSource, what: string): BaseimgError {
  return new BaseimgError('INTERNAL', `platform tarball ${source.label}: ${what}`);
}
