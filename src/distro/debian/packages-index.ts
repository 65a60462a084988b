/**
 * Loads one Packages index (suite × component × architecture) as DebPackage[].
 *
 * The file is chosen and checked against the verified Release: .xz, else
 * .gz, else uncompressed; fetched by hash (dists/…/by-hash/SHA256/<hex>) when
 * the archive supports it, because a mirror that updates between our
 * InRelease and Packages requests still serves the old file under its hash;
 * decompressed and parsed as a stream, with the uncompressed SHA-256 checked
 * too when the Release lists it.
 *
 * The parsed result is kept in the derived cache under the compressed
 * file's SHA-256 (taken from the signed Release), so a warm build neither
 * downloads nor parses the index.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { BuildContext, DownloadResult } from '../../pipeline/context.js';
import { BaseimgError } from '../../util/errors.js';
import { xzDecompress } from '../../util/xz.js';
import { isNotFoundError } from '../../net/http.js';
import { decodeParagraphs, encodeParagraphs, field, parseDeb822Stream, type Paragraph } from './deb822.js';
import type { DebPackage, ReleaseInfo } from './types.js';

/** Bump when the cached form or the DebPackage mapping changes. */
const CACHE_FORMAT = 'debian-packages/v1';

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
  ['Packages.xz', 'xz'],
  ['Packages.gz', 'gz'],
  ['Packages', 'none'],
];

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
  const cacheKey = `${CACHE_FORMAT}/${index.sha256}`;

  const cached = await ctx.derived.get(cacheKey);
  const decoded = cached === undefined ? undefined : decodeParagraphs(cached);
  if (decoded !== undefined) {
    ctx.reporter.debug(`${plainUrl}: ${decoded.length} packages (parsed copy from the cache)`);
    return decoded.map((p) => toDebPackage(p, where));
  }

  const file = await downloadIndex(ctx, release, index, plainUrl);
  const paragraphs = await parseIndexFile(file.path, index, plainUrl, ctx.signal);
  const packages = paragraphs.map((p) => toDebPackage(p, where));
  const encoded = encodeParagraphs(paragraphs);
  if (encoded !== undefined) await ctx.derived.put(cacheKey, encoded);
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

/** Decompresses and parses the index, checking the uncompressed checksum when known. */
async function parseIndexFile(path: string, index: PackagesIndexFile, url: string, signal: AbortSignal): Promise<Paragraph[]> {
  const hash = createHash('sha256');
  let size = 0;
  async function* counted(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      signal.throwIfAborted();
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  }
  const paragraphs: Paragraph[] = [];
  for await (const p of parseDeb822Stream(counted(decompressed(path, index.compression, url)), { source: url })) {
    paragraphs.push(p);
  }
  const expected = index.uncompressed;
  if (expected !== undefined) {
    const actual = hash.digest('hex');
    if (actual !== expected.sha256 || size !== expected.size) {
      throw new BaseimgError(
        'VERIFY',
        `${url}: decompressed index does not match the Release: expected sha256 ${expected.sha256} (${expected.size} bytes), got ${actual} (${size} bytes)`,
      );
    }
  }
  return paragraphs;
}

async function* decompressed(path: string, compression: Compression, url: string): AsyncGenerator<Buffer> {
  const file = createReadStream(path, { highWaterMark: 1 << 16 });
  if (compression === 'none') {
    yield* file as AsyncIterable<Buffer>;
  } else if (compression === 'xz') {
    yield* xzDecompress(file as AsyncIterable<Buffer>, { what: url, errorCode: 'VERIFY' });
  } else {
    const gunzip = createGunzip();
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

/** Exact spelling first (the common case), then case-insensitively. */
function get(p: Paragraph, name: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(p, name) ? p[name] : field(p, name);
}

function invalid(where: IndexLocation, p: Paragraph, what: string): never {
  throw new BaseimgError('VERIFY', `${where.indexUrl}: package "${get(p, 'Package') ?? '?'}" has no valid ${what}`, {
    hint: 'the index is damaged or not a Debian Packages file',
  });
}

/** Maps an index paragraph to a DebPackage; a paragraph missing what we need to fetch it is a VERIFY error. */
function toDebPackage(p: Paragraph, where: IndexLocation): DebPackage {
  const name = get(p, 'Package');
  const version = get(p, 'Version');
  const architecture = get(p, 'Architecture');
  const filename = get(p, 'Filename');
  const size = get(p, 'Size');
  const sha256 = get(p, 'SHA256');
  if (name === undefined || name === '') invalid(where, p, 'Package field');
  if (version === undefined) invalid(where, p, 'Version field');
  if (architecture === undefined) invalid(where, p, 'Architecture field');
  if (filename === undefined) invalid(where, p, 'Filename field');
  if (size === undefined) invalid(where, p, 'Size field');
  if (sha256 === undefined) invalid(where, p, 'SHA256 field');
  if (!DECIMAL.test(size) || !Number.isSafeInteger(Number(size))) invalid(where, p, `Size ("${size}")`);
  if (!SHA256_HEX.test(sha256)) invalid(where, p, `SHA256 ("${sha256}")`);
  // Filename is joined to the archive URL: keep it inside the archive.
  if (filename.startsWith('/') || (filename.includes('..') && filename.split('/').includes('..')) || /[\s?#]/.test(filename)) {
    invalid(where, p, `Filename ("${filename}")`);
  }
  return {
    name,
    version,
    architecture,
    filename,
    size: Number(size),
    sha256: sha256.toLowerCase(),
    fields: p,
    suite: where.suite,
    component: where.component,
    baseUrl: where.baseUrl,
  };
}
