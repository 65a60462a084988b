/**
 * One layer's entries, streamed: blob bytes → (gzip | zstd | xz | none, by
 * magic) → tar entries, never more than a chunk in memory. While reading,
 * the blob is checked against its digest and declared size and the tar
 * against the config's diff_id; a mismatch is an error once the layer ends.
 *
 * Entry names are checked here, for every consumer: absolute paths, ".."
 * and NUL are errors naming the layer and the entry (the tar reader already
 * refuses names that are not UTF-8). Whiteouts are classified, not applied.
 */
import { decompressStream } from '../archive/decompress.js';
import { readTar, type TarEntry } from '../archive/tar-reader.js';
import { Sha256Counter } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import { sniffCompression, type CompressionKind } from './compression.js';
import { asImageError, type BlobSource } from './source.js';
import type { LayerRef } from './types.js';

/** Far beyond any real layer; only stops a decompression bomb from running forever. */
const MAX_LAYER_BYTES = 2 ** 40;
const MAX_LAYER_ENTRIES = 20_000_000;

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

export type LayerEntryKind =
  | 'entry' // a file, directory, link or device to place
  | 'whiteout' // ".wh.<name>": remove <name> of lower layers
  | 'opaque' // ".wh..wh..opq": hide everything lower layers put in this directory
  | 'ignored'; // ".wh..wh.*" bookkeeping (AUFS hard-link dirs)

export interface LayerEntry extends Omit<TarEntry, 'path'> {
  /** Position in the layer's tar, counting every entry; stable between reads. */
  ordinal: number;
  /** The name as stored, for messages. */
  rawPath: string;
  /** Clean components ([] for the root directory itself). */
  parts: string[];
  kind: LayerEntryKind;
  /** For a whiteout: the name it removes, in the directory parts[0..-1]. */
  whiteoutOf: string | undefined;
  /** For a hard link: the target's clean components. */
  linkParts: string[] | undefined;
}

export interface LayerReadStats {
  compression: CompressionKind;
  /** Bytes of the uncompressed tar, known once the layer was read to its end. */
  uncompressedSize: number | undefined;
}

export function layerLabel(source: BlobSource, layer: LayerRef): string {
  return `layer ${layer.index + 1} (${layer.name}) of ${source.label}`;
}

/**
 * Entries of `layer`. With `verify`, digests are checked at the end (so read
 * to the end; stopping early skips the check, which is fine for a second pass).
 */
export async function* readLayer(source: BlobSource, layer: LayerRef, options: { verify: boolean; stats?: LayerReadStats }): AsyncGenerator<LayerEntry> {
  const what = layerLabel(source, layer);
  const blob = layer.blob;
  if (!blob) throw new BaseimgError('INTERNAL', `${what} is not in the archive and cannot be read`);
  const kind = sniffCompression(await source.head(blob));
  if (options.stats) options.stats.compression = kind;
  // Hash only what will be checked: SHA-256 costs about as much CPU as gunzip.
  const stored = new Counter(options.verify && layer.digest !== undefined);
  const plain = new Counter(options.verify && layer.diffId !== undefined);
  const raw = tap(source.stream(blob), stored);
  const tar = tap(kind === 'none' ? raw : decompressStream(raw, kind, { maxOutputBytes: MAX_LAYER_BYTES, what }), plain);
  let ordinal = 0;
  try {
    for await (const e of readTar(tar, { what, maxEntries: MAX_LAYER_ENTRIES, maxTotalBytes: MAX_LAYER_BYTES })) {
      yield classify(e, ordinal++, what);
    }
  } catch (e) {
    throw asImageError(e, what);
  }
  if (options.stats) options.stats.uncompressedSize = plain.size;
  if (options.verify) verify(layer, what, stored, plain);
}

/** Counts bytes, and hashes them when asked to. */
class Counter {
  size = 0;
  private readonly hash: Sha256Counter | undefined;

  constructor(hashing: boolean) {
    this.hash = hashing ? new Sha256Counter() : undefined;
  }

  update(chunk: Uint8Array): void {
    this.size += chunk.length;
    this.hash?.update(chunk);
  }

  digest(): string {
    return this.hash?.digest() ?? '';
  }
}

async function* tap(source: AsyncIterable<Uint8Array>, counter: Counter): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    counter.update(chunk);
    yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

function verify(layer: LayerRef, what: string, stored: Counter, plain: Counter): void {
  const hint = { hint: 'the image is damaged or was altered; save or copy it again' };
  if (layer.declaredSize !== undefined && stored.size !== layer.declaredSize) {
    throw new BaseimgError('IMAGE', `${what} is ${stored.size} bytes, its descriptor says ${layer.declaredSize}`, hint);
  }
  if (layer.digest !== undefined) {
    const got = stored.digest();
    if (got !== layer.digest) throw new BaseimgError('IMAGE', `${what} does not match its digest ${layer.digest} (the blob hashes to ${got})`, hint);
  }
  if (layer.diffId !== undefined) {
    const got = plain.digest();
    if (got !== layer.diffId) throw new BaseimgError('IMAGE', `${what} does not match the config's diff_id ${layer.diffId} (the tar hashes to ${got})`, hint);
  }
}

/** Clean components of an entry name; absolute names and ".." are refused. */
export function entryParts(name: string, what: string, role = 'entry'): string[] {
  if (name.startsWith('/')) {
    throw new BaseimgError('IMAGE', `${what}: ${role} ${JSON.stringify(name)} has an absolute path`, {
      hint: 'layer entries must be relative to the image root; the layer was made by a broken or hostile tool',
    });
  }
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new BaseimgError('IMAGE', `${what}: ${role} ${JSON.stringify(name)} climbs out of the image root with ".."`, {
        hint: 'the layer was made by a broken or hostile tool; do not unpack it with a tool that trusts it',
      });
    }
    if (part.includes('\0')) throw new BaseimgError('IMAGE', `${what}: ${role} ${JSON.stringify(name)} contains a NUL byte`);
    parts.push(part);
  }
  return parts;
}

function classify(e: TarEntry, ordinal: number, what: string): LayerEntry {
  const parts = entryParts(e.path, what);
  const base = parts[parts.length - 1] ?? '';
  let kind: LayerEntryKind = 'entry';
  let whiteoutOf: string | undefined;
  if (base.startsWith(WHITEOUT_PREFIX)) {
    if (base === OPAQUE_MARKER) kind = 'opaque';
    else if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) kind = 'ignored';
    else {
      kind = 'whiteout';
      whiteoutOf = base.slice(WHITEOUT_PREFIX.length);
      if (whiteoutOf === '.' || whiteoutOf === '..') throw new BaseimgError('IMAGE', `${what}: whiteout ${JSON.stringify(e.path)} names no file`);
    }
  }
  // Hard-link targets are archive names; a leading "/" means the image root (GNU tar strips it too).
  const linkParts = e.type === 'hardlink' && e.linkname !== undefined ? entryParts(e.linkname.replace(/^\/+/, ''), what, `hard link ${JSON.stringify(e.path)} → target`) : undefined;
  return {
    ordinal, rawPath: e.path, parts, kind, whiteoutOf, linkParts,
    type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, size: e.size, linkname: e.linkname,
    devmajor: e.devmajor, devminor: e.devminor, pax: e.pax, body: e.body, offset: e.offset,
  };
}
