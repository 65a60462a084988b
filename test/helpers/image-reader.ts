/**
 * Reads an image tarball the way a client would, independently of src/: the
 * outer tar (index.json, manifest.json, blobs), the config, and every layer
 * gunzipped (node:zlib) and parsed (tar-stream) into a map of entries.
 * Blob digests, sizes and diff_ids are checked on the way, so a test that
 * reads an image also checks that the writer's references hold together.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { extract, type Header } from 'tar-stream';

export interface TarEntry {
  /** As in the archive, without a trailing "/" for directories ("usr/lib"). */
  path: string;
  /** tar-stream's type names: "file", "directory", "symlink", "link", "character-device"... */
  type: Header['type'];
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Seconds since the epoch. */
  mtime: number;
  size: number;
  /** Symlink target, or the earlier path a hard link ("link") points at. */
  linkname: string | undefined;
  /** Body of regular files up to CONTENT_LIMIT bytes. */
  content: Buffer | undefined;
}

export interface ImageTarball {
  /** Outer tar entries, in archive order. */
  outer: TarEntry[];
  index: any;
  /** The OCI manifest the index points at. */
  manifest: any;
  manifestDigest: string;
  /** Docker's manifest.json. */
  dockerManifest: any;
  config: any;
  /** One map per layer (path → entry), in manifest order. */
  layers: Array<Map<string, TarEntry>>;
  /** Layer paths in archive order (duplicates would show here). */
  layerOrder: string[][];
}

const CONTENT_LIMIT = 1024 * 1024;

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Every entry of a tar held in memory. */
export async function readTarEntries(tar: Buffer): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const parser = extract();
  const done = new Promise<void>((resolve, reject) => {
    parser.on('finish', resolve);
    parser.on('error', reject);
  });
  parser.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      entries.push({
        path: header.name.replace(/\/+$/, ''),
        type: header.type,
        mode: header.mode ?? 0,
        uid: header.uid ?? 0,
        gid: header.gid ?? 0,
        uname: header.uname ?? '',
        gname: header.gname ?? '',
        mtime: Math.floor((header.mtime?.getTime() ?? 0) / 1000),
        size: header.size ?? 0,
        linkname: header.linkname ?? undefined,
        content: header.type === 'file' && body.length <= CONTENT_LIMIT ? body : undefined,
      });
      next();
    });
    stream.on('error', (err: Error) => parser.destroy(err));
  });
  parser.end(tar);
  await done;
  return entries;
}

function blobOf(files: Map<string, Buffer>, digest: string, expectedSize?: number): Buffer {
  const name = `blobs/sha256/${digest.replace(/^sha256:/, '')}`;
  const data = files.get(name);
  if (!data) throw new Error(`image tarball has no blob ${name}`);
  if (sha256(data) !== digest) throw new Error(`blob ${name} does not match its digest`);
  if (expectedSize !== undefined && data.length !== expectedSize) throw new Error(`blob ${name} is ${data.length} bytes, descriptor says ${expectedSize}`);
  return data;
}

const json = (data: Buffer): any => JSON.parse(data.toString('utf8'));

export async function readImageTarball(path: string): Promise<ImageTarball> {
  const outer = await readTarEntries(await readFile(path));
  const files = new Map<string, Buffer>();
  for (const e of outer) if (e.content) files.set(e.path, e.content);

  const index = json(files.get('index.json') ?? Buffer.from('null'));
  const descriptor = index?.manifests?.[0];
  if (!descriptor) throw new Error('index.json lists no manifest');
  const manifest = json(blobOf(files, descriptor.digest, descriptor.size));
  const config = json(blobOf(files, manifest.config.digest, manifest.config.size));
  const dockerManifest = json(files.get('manifest.json') ?? Buffer.from('null'));

  const layers: Array<Map<string, TarEntry>> = [];
  const layerOrder: string[][] = [];
  for (const [i, layer] of (manifest.layers as Array<{ digest: string; size: number }>).entries()) {
    const tar = gunzipSync(blobOf(files, layer.digest, layer.size));
    if (sha256(tar) !== config.rootfs.diff_ids[i]) throw new Error(`layer ${i} does not match diff_id ${config.rootfs.diff_ids[i]}`);
    const entries = await readTarEntries(tar);
    layers.push(new Map(entries.map((e) => [e.path, e])));
    layerOrder.push(entries.map((e) => e.path));
  }
  return { outer, index, manifest, manifestDigest: descriptor.digest, dockerManifest, config, layers, layerOrder };
}

/** The entry at `path` of a single-layer image; fails the test when absent. */
export function entryAt(layer: Map<string, TarEntry>, path: string): TarEntry {
  const entry = layer.get(path);
  if (!entry) throw new Error(`no ${path} in the layer`);
  return entry;
}

/** Text of the regular file at `path`. */
export function textAt(layer: Map<string, TarEntry>, path: string): string {
  const entry = entryAt(layer, path);
  if (entry.type !== 'file' || !entry.content) throw new Error(`${path} is a ${entry.type}, not a small regular file`);
  return entry.content.toString('utf8');
}
