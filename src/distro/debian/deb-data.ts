/**
 * The entries of a .deb's data.tar for the installer, from the cheapest
 * place that has them:
 *
 *  - cached (data-cache.ts): the entry list recorded when the package was
 *    first unpacked, with file bodies read in place from the cached plain
 *    tar (BodyStore extents). Nothing is decompressed, parsed or copied;
 *  - else decompressed from the .deb and parsed (tar-reader.ts), while the
 *    plain tar and the entry list are recorded for the next build.
 *
 * The recorded list holds what the parser produced for this very tar, so a
 * replay places exactly the entries a fresh unpack would, through the same
 * checks in deb-install.ts.
 */
import type { ArArchive, ArMember } from '../../archive/ar-reader.js';
import { decompressStream, type CompressionKind } from '../../archive/decompress.js';
import { readTar, type TarEntry, type TarEntryType, type TarLimits } from '../../archive/tar-reader.js';
import type { Reporter } from '../../pipeline/context.js';
import type { RootTree } from '../../rootfs/tree.js';
import { timedIterable } from '../../util/timings.js';
import type { ResolvedPackage } from '../types.js';
import type { DebDataCache, RecordedEntry } from './data-cache.js';

export interface DataEntries {
  entries: AsyncIterable<TarEntry>;
  /** Set when the tar is a cached file opened in the tree's BodyStore: file bodies point into it. */
  source?: number;
  /** Every entry was placed: keep what was recorded for the cache. */
  succeeded(): Promise<void>;
  failed(): Promise<void>;
}

export interface DataOptions {
  maxBytes: number;
  maxEntries: number;
  cache: DebDataCache | undefined;
  reporter: Reporter | undefined;
}

const NO_BODY: AsyncIterable<Buffer> = { async *[Symbol.asyncIterator]() {} };
const nothing = async (): Promise<void> => undefined;

/** "unpack/decompress" (--timings) is the time spent waiting for the member's bytes. */
export async function dataEntries(
  ar: ArArchive,
  member: ArMember,
  pkg: ResolvedPackage,
  kind: CompressionKind,
  what: string,
  root: RootTree,
  options: DataOptions,
): Promise<DataEntries> {
  const limits = tarLimits(what, options);
  const cache = kind === 'none' ? undefined : options.cache;
  const hit = cache === undefined ? undefined : await cache.get(pkg.sha256, member.name);
  if (hit !== undefined && hit.size <= options.maxBytes && hit.entries.length <= options.maxEntries) {
    const source = await root.bodies.openSource(hit.path);
    return { entries: replay(hit.entries), source, succeeded: nothing, failed: nothing };
  }
  const decoded = decodedMember(ar, member, kind, what, options);
  if (cache === undefined) return { entries: readTar(decoded, limits), succeeded: nothing, failed: nothing };
  return recordEntries(decoded, cache, pkg.sha256, member.name, limits);
}

function tarLimits(what: string, options: DataOptions): TarLimits {
  return { what, maxEntries: options.maxEntries, maxTotalBytes: options.maxBytes };
}

/** The member's bytes, decompressed off the main thread (tar parsing and tree work go on meanwhile). */
function decodedMember(ar: ArArchive, member: ArMember, kind: CompressionKind, what: string, options: DataOptions): AsyncIterable<Buffer> {
  const time = (ms: number): void => options.reporter?.timing('unpack/decompress', ms);
  return timedIterable(decompressStream(ar.stream(member), kind, { maxOutputBytes: options.maxBytes, what, offThread: true }), time);
}

/**
 * Decompresses and parses the data member into the data cache without
 * placing anything, so that the install that follows replays it (used ahead
 * of the install, src/pipeline/ahead.ts). Errors propagate; the caller
 * leaves them for the install to meet. A cached member is left as it is.
 */
export async function prefillData(
  ar: ArArchive,
  member: ArMember,
  pkg: ResolvedPackage,
  kind: CompressionKind,
  what: string,
  options: DataOptions & { signal?: AbortSignal },
): Promise<void> {
  const cache = kind === 'none' ? undefined : options.cache;
  if (cache === undefined || (await cache.get(pkg.sha256, member.name)) !== undefined) return;
  const recording = await recordEntries(decodedMember(ar, member, kind, what, options), cache, pkg.sha256, member.name, tarLimits(what, options));
  try {
    for await (const _ of recording.entries) options.signal?.throwIfAborted(); // bodies are skipped: the recorder has the bytes
  } catch (e) {
    await recording.failed();
    throw e;
  }
  await recording.succeeded();
}

/** The tar's entries, while its bytes and the entry list are recorded for the data cache. */
async function recordEntries(decoded: AsyncIterable<Buffer>, cache: DebDataCache, debSha256: string, memberName: string, limits: TarLimits): Promise<DataEntries> {
  const recorder = await cache.record(debSha256, memberName);
  const list: RecordedEntry[] = [];
  let complete = false;
  async function* recordedBytes(): AsyncGenerator<Buffer> {
    for await (const chunk of decoded) {
      await recorder.write(chunk);
      yield chunk;
    }
    complete = true;
  }
  async function* recordedEntries(): AsyncGenerator<TarEntry> {
    for await (const entry of readTar(recordedBytes(), limits)) {
      list.push([entry.path, entry.type, entry.mode, entry.uid, entry.gid, entry.mtime, entry.size, entry.linkname ?? null, entry.offset]);
      yield entry;
    }
  }
  return {
    entries: recordedEntries(),
    // The tar reader reads its input to the end, so an incomplete recording means something stopped it.
    succeeded: () => (complete ? recorder.keep(list) : recorder.drop()),
    failed: () => recorder.drop(),
  };
}

async function* replay(list: RecordedEntry[]): AsyncGenerator<TarEntry> {
  for (const [path, type, mode, uid, gid, mtime, size, linkname, offset] of list) {
    yield {
      path,
      type: type as TarEntryType,
      mode,
      uid,
      gid,
      mtime,
      size,
      linkname: linkname ?? undefined,
      devmajor: 0,
      devminor: 0,
      pax: {},
      body: NO_BODY,
      offset,
    };
  }
}
