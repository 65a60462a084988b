/**
 * Loads one Packages index (suite × component × architecture) as DebPackage[].
 *
 * The file is chosen and checked against the verified Release: .gz, else
 * .xz, else uncompressed; fetched by hash (dists/…/by-hash/SHA256/<hex>) when
 * the archive supports it, because a mirror that updates between our
 * InRelease and Packages requests still serves the old file under its hash;
 * decompressed with the uncompressed SHA-256 checked too when the Release
 * lists it, then scanned (index-scan.ts): each package's paragraph is parsed
 * only when its fields are read.
 *
 * .gz before .xz: bookworm main is 12.1 MB as .gz and 8.8 MB as .xz, but
 * gunzip (native zlib, off the main thread) takes ~0.13 s of CPU where our
 * WASM xz takes ~0.9–1.0 s, and xz can run only one stream at a time. On a
 * link slower than ~4 MB/s the larger download costs more than that.
 *
 * The verified index file stays in the download cache under its SHA-256
 * (from the signed Release), so a warm load neither downloads nor trusts
 * anything new; scanning it again is cheap, so nothing derived is cached.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { BuildContext, DownloadResult } from '../../pipeline/context.js';
import { BaseimgError } from '../../util/errors.js';
import { xzDecompress } from '../../util/xz.js';
import { isNotFoundError } from '../../net/http.js';
import { timed } from '../../util/timings.js';
import { field, type Paragraph } from './deb822.js';
import { KEY_FIELDS, scanPackagesIndex, type KeyField, type ScannedIndex } from './index-scan.js';
import type { DebPackage, ReleaseInfo } from './types.js';

type Compression = 'xz' | 'gz' | 'none';

export interface PackagesIndexFile {
  /** Path relative to dists/<suite>/ ("main/binary-amd64/Packages.xz"). */
  path: string;
  compression: Compression;
  sha256: string;
  size: number;
  /** Checksum of the decompressed index, when the Release lists it. */
  uncompressed: { sha256: string; size: number } | undefined;
}

const CANDIDATES: Array<[string, Compression]> = [
  ['Packages.gz', 'gz'],
  ['Packages.xz', 'xz'],
  ['Packages', 'none'],
];

/** Refuse an index that decompresses beyond this when the Release gives no size (bookworm main: 50 MB). */
const MAX_INDEX_BYTES = 1 << 30;

/** The best Packages file the Release lists for component/arch, or a MIRROR error. */
export function selectPackagesIndex(release: ReleaseInfo, component: string, arch: string): PackagesIndexFile {
  const dir = `${component}/binary-${arch}`;
  for (const [name, compression] of CANDIDATES) {
    const entry = release.files.get(`${dir}/${name}`);
    if (entry !== undefined) {
      return { path: `${dir}/${name}`, compression, ...entry, uncompressed: release.files.get(`${dir}/Packages`) };
    }
  }
  const archs = new Set<string>();
  for (const path of release.files.keys()) {
    const m = /^[^/]+(?:\/[^/]+)*\/binary-([^/]+)\/Packages/.exec(path);
    if (m !== null && path.startsWith(`${component}/`)) archs.add(m[1]!);
  }
  throw new BaseimgError('MIRROR', `${release.suite}/${component} has no Packages index for ${arch} in ${release.baseUrl}/dists/${release.suite}/Release`, {
    hint: archs.size > 0 ? `architectures listed for ${component}: ${[...archs].sort().join(', ')}` : undefined,
  });
}

interface IndexLocation {
  suite: string;
  component: string;
  baseUrl: string;
  /** For error messages. */
  indexUrl: string;
}

export async function loadPackagesIndex(
  ctx: BuildContext,
  release: ReleaseInfo,
  { component, arch }: { component: string; arch: string },
): Promise<DebPackage[]> {
  const index = selectPackagesIndex(release, component, arch);
  const plainUrl = `${release.baseUrl}/dists/${release.suite}/${index.path}`;
  const where: IndexLocation = { suite: release.suite, component, baseUrl: release.baseUrl, indexUrl: plainUrl };
  const sink = (stage: string, ms: number): void => ctx.reporter.timing(stage, ms);

  const file = await timed(sink, 'resolve/index download', () => downloadIndex(ctx, release, index, plainUrl));
  const text = await timed(sink, 'resolve/index decompress', () => readIndexFile(file.path, index, plainUrl, ctx.signal));
  const packages = await timed(sink, 'resolve/index scan', async () => toDebPackages(scanPackagesIndex(text, { source: plainUrl }), where));
  ctx.reporter.debug(`${plainUrl}: ${packages.length} packages`);
  return packages;
}

/** Fetches the index by hash when the archive offers it, else (or on 404) by name. */
async function downloadIndex(ctx: BuildContext, release: ReleaseInfo, index: PackagesIndexFile, plainUrl: string): Promise<DownloadResult> {
  const what = `Packages index of ${release.suite}/${index.path.split('/')[0]}`;
  const task = ctx.reporter.task(`${release.suite} ${index.path}`, index.size);
  const options = { sha256: index.sha256, size: index.size, what, onBytes: (n: number) => task.tick(n) };
  try {
    if (release.acquireByHash) {
      const dir = index.path.slice(0, index.path.lastIndexOf('/'));
      const byHashUrl = `${release.baseUrl}/dists/${release.suite}/${dir}/by-hash/SHA256/${index.sha256}`;
      try {
        return await ctx.fetcher.fetchFile(byHashUrl, options);
      } catch (err) {
        if (!isNotFoundError(err)) throw err;
        ctx.reporter.debug(`${byHashUrl} not found; using ${plainUrl}`);
      }
    }
    return await ctx.fetcher.fetchFile(plainUrl, options);
  } finally {
    task.done();
  }
}

/** Decompresses the whole index into one Buffer, checking the uncompressed checksum when known. */
async function readIndexFile(path: string, index: PackagesIndexFile, url: string, signal: AbortSignal): Promise<Buffer> {
  const hash = createHash('sha256');
  const expected = index.uncompressed;
  const limit = expected?.size ?? MAX_INDEX_BYTES;
  // With the size known, bytes go straight into their final buffer: gathering chunks and
  // concatenating them held the index twice (100 MB for bookworm main) at the peak.
  const whole = expected === undefined ? undefined : Buffer.allocUnsafe(expected.size);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of decompressed(path, index.compression, url)) {
    signal.throwIfAborted();
    if (size + chunk.length > limit) {
      throw new BaseimgError('VERIFY', `${url}: decompressed index is larger than ${expected ? `the ${limit} bytes the Release lists` : `${limit} bytes`}`);
    }
    hash.update(chunk);
    if (whole) chunk.copy(whole, size);
    else chunks.push(chunk);
    size += chunk.length;
  }
  if (expected !== undefined) {
    const actual = hash.digest('hex');
    if (actual !== expected.sha256 || size !== expected.size) {
      throw new BaseimgError(
        'VERIFY',
        `${url}: decompressed index does not match the Release: expected sha256 ${expected.sha256} (${expected.size} bytes), got ${actual} (${size} bytes)`,
      );
    }
  }
  if (whole) return whole;
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

async function* decompressed(path: string, compression: Compression, url: string): AsyncGenerator<Buffer> {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  if (compression === 'none') {
    yield* file as AsyncIterable<Buffer>;
  } else if (compression === 'xz') {
    yield* xzDecompress(file as AsyncIterable<Buffer>, { what: url, errorCode: 'VERIFY' });
  } else {
    // 1 MiB output chunks: with the default 16 KiB, per-chunk overhead tripled the time.
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    file.on('error', (err) => gunzip.destroy(err));
    file.pipe(gunzip);
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } catch (err) {
      if (err instanceof Error && 'errno' in err && (err as NodeJS.ErrnoException).code?.startsWith('Z_')) {
        throw new BaseimgError('VERIFY', `${url}: cannot decompress: ${err.message}`, { cause: err });
      }
      throw err;
    } finally {
      file.destroy();
    }
  }
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const DECIMAL = /^\d+$/;

function invalid(where: IndexLocation, name: string | undefined, what: string): never {
  throw new BaseimgError('VERIFY', `${where.indexUrl}: package "${name ?? '?'}" has no valid ${what}`, {
    hint: 'the index is damaged or not a Debian Packages file',
  });
}

/**
 * One DebPackage per paragraph. Every paragraph is checked for what we need
 * to fetch it (a VERIFY error otherwise), as if it had been fully parsed.
 */
function toDebPackages(index: ScannedIndex, where: IndexLocation): DebPackage[] {
  const out = new Array<DebPackage>(index.count);
  for (let i = 0; i < index.count; i++) {
    const name = index.key(i, 'Package');
    const version = index.key(i, 'Version');
    const architecture = index.key(i, 'Architecture');
    const filename = index.key(i, 'Filename');
    const size = index.key(i, 'Size');
    const sha256 = index.key(i, 'SHA256');
    if (name === undefined || name === '') invalid(where, name, 'Package field');
    if (version === undefined) invalid(where, name, 'Version field');
    if (architecture === undefined) invalid(where, name, 'Architecture field');
    if (filename === undefined) invalid(where, name, 'Filename field');
    if (size === undefined) invalid(where, name, 'Size field');
    if (sha256 === undefined) invalid(where, name, 'SHA256 field');
    if (!DECIMAL.test(size) || !Number.isSafeInteger(Number(size))) invalid(where, name, `Size ("${size}")`);
    if (!SHA256_HEX.test(sha256)) invalid(where, name, `SHA256 ("${sha256}")`);
    // Filename is joined to the archive URL: keep it inside the archive.
    if (filename.startsWith('/') || (filename.includes('..') && filename.split('/').includes('..')) || /[\s?#]/.test(filename)) {
      invalid(where, name, `Filename ("${filename}")`);
    }
    out[i] = new IndexedPackage(name, version, internArch(architecture), where, index, i);
  }
  return out;
}

const ARCHES = new Map<string, string>();
/** One string per architecture name instead of one per package. */
function internArch(arch: string): string {
  let shared = ARCHES.get(arch);
  if (shared === undefined) ARCHES.set(arch, (shared = arch));
  return shared;
}

const KEY_SET: ReadonlySet<string> = new Set(KEY_FIELDS);

/**
 * A package backed by its scanned index: name, version and architecture are
 * plain properties, the rest is read from the index bytes when asked for,
 * and the whole paragraph is parsed (once) only when `fields` is used.
 */
class IndexedPackage implements DebPackage {
  readonly suite: string;
  readonly component: string;
  readonly baseUrl: string;
  readonly #index: ScannedIndex;
  readonly #i: number;
  #fields: Paragraph | undefined;

  constructor(
    readonly name: string,
    readonly version: string,
    readonly architecture: string,
    where: IndexLocation,
    index: ScannedIndex,
    i: number,
  ) {
    this.suite = where.suite;
    this.component = where.component;
    this.baseUrl = where.baseUrl;
    this.#index = index;
    this.#i = i;
  }

  get filename(): string {
    return this.#index.key(this.#i, 'Filename')!;
  }

  get size(): number {
    return Number(this.#index.key(this.#i, 'Size'));
  }

  get sha256(): string {
    return this.#index.key(this.#i, 'SHA256')!.toLowerCase();
  }

  get fields(): Record<string, string> {
    return (this.#fields ??= this.#index.paragraph(this.#i));
  }

  lookup(name: string): string | undefined {
    if (this.#fields === undefined && KEY_SET.has(name)) return this.#index.key(this.#i, name as KeyField);
    const p = this.fields;
    return Object.prototype.hasOwnProperty.call(p, name) ? p[name] : field(p, name);
  }
}
