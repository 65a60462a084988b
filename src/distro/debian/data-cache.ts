/**
 * Decompressed data.tar members of .deb files, kept in the build cache so a
 * warm build reads a plain tar instead of decompressing xz again (our WASM
 * xz manages ~50–70 MB/s; bookworm's libc6 alone is 12 MB of tar).
 *
 * Keyed by the .deb's SHA-256 (checked against the signed index before
 * anything is unpacked) and the member's name; the tar itself is a blob in
 * the content-addressed store under its own SHA-256, re-hashed before every
 * use, so a damaged entry is a miss and is made again. Beside it, the list
 * of entries the tar reader found (deb-data.ts replays it). The cost is
 * disk: the cache holds the uncompressed size of every package it unpacked.
 */
import type { BlobCache, BlobWriter, BuildContext, DerivedCache } from '../../pipeline/context.js';

/** Bump when the recorded entry list changes meaning (a tar reader that reports entries differently). */
const FORMAT = 'deb-data/v2';
const SHA256_HEX = /^[0-9a-f]{64}$/;
const TYPES = new Set(['file', 'directory', 'symlink', 'hardlink', 'char', 'block', 'fifo']);

/** One tar entry as the reader reported it: path, type, mode, uid, gid, mtime, size, link target, body offset. */
export type RecordedEntry = [string, string, number, number, number, number, number, string | null, number];

export interface CachedData {
  /** The plain tar (verified), its size, and the entries it holds. */
  path: string;
  size: number;
  entries: RecordedEntry[];
}

export interface DebDataCache {
  /** The cached member of the .deb with this SHA-256. */
  get(debSha256: string, member: string): Promise<CachedData | undefined>;
  /** Starts recording the decompressed member; keep() it only once it was read to its end. */
  record(debSha256: string, member: string): Promise<DataRecorder>;
}

export interface DataRecorder {
  write(chunk: Uint8Array): Promise<void>;
  keep(entries: RecordedEntry[]): Promise<void>;
  drop(): Promise<void>;
}

/** The build's data cache; undefined when the context has no blob cache. */
export function debDataCacheFor(ctx: Pick<BuildContext, 'derived' | 'blobs' | 'reporter'>): DebDataCache | undefined {
  const { blobs, derived, reporter } = ctx;
  if (blobs === undefined) return undefined;
  return {
    get: (debSha256, member) => lookup(blobs, derived, key(debSha256, member)),
    async record(debSha256, member) {
      let writer: BlobWriter | undefined;
      try {
        writer = await blobs.writer();
      } catch (e) {
        reporter.debug(`not caching ${member} of ${debSha256}: ${String(e)}`);
      }
      const w = writer;
      return {
        write: async (chunk) => w?.write(chunk),
        keep: async (entries) => {
          if (w === undefined) return;
          try {
            const blob = await w.commit();
            await derived.put(key(debSha256, member), Buffer.from(JSON.stringify({ sha256: blob.sha256, size: blob.size, entries })));
          } catch (e) {
            // A full or read-only cache must not fail the build that would have filled it.
            reporter.debug(`not caching ${member} of ${debSha256}: ${String(e)}`);
          }
        },
        drop: async () => w?.discard(),
      };
    },
  };
}

function key(debSha256: string, member: string): string {
  return `${FORMAT}/${debSha256}/${member}`;
}

async function lookup(blobs: BlobCache, derived: DerivedCache, k: string): Promise<CachedData | undefined> {
  const raw = await derived.get(k);
  if (raw === undefined) return undefined;
  let entry: { sha256?: unknown; size?: unknown; entries?: unknown };
  try {
    entry = JSON.parse(raw.toString('utf8')) as typeof entry;
  } catch {
    return undefined;
  }
  const { sha256, size, entries } = entry;
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256) || typeof size !== 'number' || !Array.isArray(entries) || !entries.every(isEntry)) {
    return undefined;
  }
  const path = await blobs.get(sha256);
  return path === undefined ? undefined : { path, size, entries };
}

function isEntry(e: unknown): e is RecordedEntry {
  if (!Array.isArray(e) || e.length !== 9) return false;
  const [path, type, mode, uid, gid, mtime, size, linkname, offset] = e as unknown[];
  return (
    typeof path === 'string' &&
    typeof type === 'string' &&
    TYPES.has(type) &&
    [mode, uid, gid, mtime, size, offset].every((n) => Number.isSafeInteger(n) && (n as number) >= 0) &&
    (linkname === null || typeof linkname === 'string')
  );
}
