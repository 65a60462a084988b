/**
 * The image cache: a finished image tarball and its two SBOMs, kept under a
 * key made of every input that decides their bytes, so a build whose inputs
 * did not change copies the earlier result instead of unpacking, layering
 * and compressing again (a warm base-debian12 build: ~1.2 s of stages →
 * a copy).
 *
 * The key covers:
 *  - this program: a SHA-256 over every file of its compiled code, and the
 *    versions of its runtime dependencies (pako decides gzip bytes);
 *  - every level of the include chain: the whole effective spec, and the
 *    whole resolution (each package's name, version, SHA-256, URL; the
 *    verified InRelease SHA-256s), so a new package version or a changed
 *    spec field is a new key;
 *  - local inputs by content: extra CA PEM files are hashed; specs with
 *    [[files]] are not cached at all (their trees are not walked here);
 *  - the build options: architecture, tag, SOURCE_DATE_EPOCH, --sbom-files,
 *    --insecure-skip-verify.
 * What the key leaves out must not change a byte, and the tests hold the
 * pipeline to that: environment (TZ, umask, locale), cache and working
 * directories, output path, clock (see build-reproducible.test.ts).
 *
 * Entries are blobs (re-hashed on every read, so damage is a miss) plus a
 * derived entry naming them; writing is best effort.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Arch, Spec } from '../spec/types.js';
import type { BuildContext } from './context.js';
import type { Resolution, ResolvedPackage } from '../distro/types.js';
import { TOOL } from '../version.js';
import { DEFLATE_ID } from '../image/gzip.js';
import { canonicalJson, hashFile } from '../util/digest.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { besideSbomPaths, SBOM_FORMATS } from '../sbom/render.js';
import type { BuildResult } from './build.js';

const FORMAT = 'image-build/v1';

export interface ImageCacheInput {
  levels: Array<{ spec: Spec; resolution: Resolution; downloads: ResolvedPackage[] }>;
  arch: Arch;
  tag: string;
  sourceDateEpoch: number | undefined;
  sbomFiles: boolean;
  insecureSkipVerify: boolean;
}

/** The key for these inputs, or undefined when the build cannot be cached. */
export async function imageCacheKey(input: ImageCacheInput, ctx: BuildContext): Promise<string | undefined> {
  if (ctx.blobs === undefined) return undefined;
  if (process.env.BASEIMG_NO_IMAGE_CACHE === '1') return undefined;
  if (input.levels.some((l) => l.spec.files.length > 0)) return undefined;
  const localCa: Record<string, string> = {};
  for (const l of input.levels) {
    for (const pem of l.spec.caCertificates.local) {
      const h = await hashFile(pem).catch(() => undefined);
      if (h === undefined) return undefined; // unreadable: let the build report it
      localCa[pem] = h.digest;
    }
  }
  const inputs = {
    format: FORMAT,
    program: await programIdentity(),
    arch: input.arch,
    tag: input.tag,
    sourceDateEpoch: input.sourceDateEpoch ?? null,
    sbomFiles: input.sbomFiles,
    insecureSkipVerify: input.insecureSkipVerify,
    localCa,
    levels: input.levels.map((l) => ({ spec: l.spec, resolution: l.resolution, downloads: l.downloads })),
  };
  return `${FORMAT}/${createHash('sha256').update(stableJson(inputs)).digest('hex')}`;
}

interface Entry {
  tarball: string;
  sbom: Record<string, string>;
  result: Omit<BuildResult, 'output' | 'sbom'>;
}

/**
 * Writes the cached image for `key` to `output` (and its SBOMs beside it, or
 * into sbomDir), atomically; undefined when there is none or it is damaged.
 */
export async function reuseImage(key: string, output: string, sbomDir: string | undefined, ctx: BuildContext): Promise<BuildResult | undefined> {
  const blobs = ctx.blobs;
  if (blobs === undefined) return undefined;
  const raw = await ctx.derived.get(key);
  if (raw === undefined) return undefined;
  let entry: Entry;
  try {
    entry = JSON.parse(raw.toString('utf8')) as Entry;
    if (typeof entry.tarball !== 'string' || typeof entry.result !== 'object' || entry.result === null) return undefined;
  } catch {
    return undefined;
  }
  const tarball = await blobs.get(entry.tarball);
  const paths = besideSbomPaths(output, sbomDir);
  const sboms: Array<[string, string]> = [];
  for (const format of SBOM_FORMATS) {
    const hex = entry.sbom?.[format];
    const path = typeof hex === 'string' ? await blobs.get(hex) : undefined;
    if (path === undefined) return undefined;
    sboms.push([path, paths[format]]);
  }
  if (tarball === undefined) return undefined;
  const written: string[] = [];
  try {
    // As writeBesideSbom does: --sbom-dir is created when missing.
    await mkdir(dirname(paths.spdx), { recursive: true });
    await copyAtomic(tarball, output, ctx.signal);
    written.push(output);
    for (const [from, to] of sboms) {
      await copyAtomic(from, to, ctx.signal);
      written.push(to);
    }
  } catch (e) {
    for (const p of written) await rm(p, { force: true });
    throw e;
  }
  return { ...entry.result, output, sbom: { spdx: paths.spdx, cyclonedx: paths.cyclonedx } } as BuildResult;
}

/** Keeps a finished build's tarball and SBOMs under `key` (best effort). */
export async function rememberImage(key: string, result: BuildResult, ctx: BuildContext): Promise<void> {
  const blobs = ctx.blobs;
  if (blobs === undefined) return;
  try {
    const store = async (path: string): Promise<string> => {
      const hex = (await hashFile(path)).digest.slice('sha256:'.length);
      await blobs.put(path, hex);
      return hex;
    };
    const tarball = await store(result.output);
    const sbom = { spdx: await store(result.sbom.spdx), cyclonedx: await store(result.sbom.cyclonedx) };
    const { output: _output, sbom: _sbom, ...rest } = result;
    const entry: Entry = { tarball, sbom, result: rest };
    await ctx.derived.put(key, Buffer.from(JSON.stringify(entry)));
  } catch (e) {
    ctx.reporter.debug(`image not cached: ${String(e)}`);
  }
}

async function copyAtomic(from: string, to: string, signal: AbortSignal): Promise<void> {
  await writeFileAtomic(
    to,
    async (out) => {
      for await (const chunk of createReadStream(from, { highWaterMark: 1 << 20 })) await out.write(chunk as Buffer);
    },
    { signal },
  );
}

let identity: Promise<string> | undefined;

/**
 * Computes programIdentity() on the next turn of the event loop: called as a
 * build starts, it runs while the Release files are on the way (~15 ms of
 * file reads that would otherwise sit between resolving and the cache lookup).
 */
export function computeProgramIdentitySoon(): void {
  setImmediate(() => void programIdentity().catch(() => undefined));
}

/** SHA-256 over this program's code files and its runtime dependencies' versions. */
function programIdentity(): Promise<string> {
  identity ??= (async () => {
    const hash = createHash('sha256').update(`${TOOL.name} ${TOOL.version}\0${DEFLATE_ID}\0`);
    // This file is <code root>/pipeline/image-cache.{ts,js}: hash everything under <code root>.
    const root = dirname(dirname(fileURLToPath(import.meta.url)));
    // Synchronous reads: ~190 small files, twice as fast as awaiting each one.
    for (const file of codeFiles(root)) {
      const data = readFileSync(file);
      hash.update(`${relative(root, file)}\0${data.length}\0`).update(data);
    }
    const require = createRequire(import.meta.url);
    // The project root is above src/ (tsx) or above dist/src/ (compiled).
    const projectRoot = basename(dirname(root)) === 'dist' ? dirname(dirname(root)) : dirname(root);
    const pkg = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8').catch(() => '{}')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {}).sort()) {
      let version = 'unknown';
      try {
        version = (require(`${dep}/package.json`) as { version: string }).version;
      } catch {
        // Some packages do not export package.json; their range in ours still counts.
        version = `range ${pkg.dependencies![dep]}`;
      }
      hash.update(`${dep}@${version}\0`);
    }
    return hash.digest('hex');
  })();
  return identity;
}

function codeFiles(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...codeFiles(path));
    else if (/\.(?:[cm]?js|ts|json)$/.test(e.name) && !e.name.endsWith('.map')) out.push(path);
  }
  return out;
}

/** Canonical JSON (sorted keys) of a value made JSON-safe: bigints as strings, Maps and Sets as arrays, Buffers by hash. */
function stableJson(value: unknown): string {
  return canonicalJson(normalize(value));
}

function normalize(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return null;
  if (Buffer.isBuffer(value)) return { sha256: createHash('sha256').update(value).digest('hex') };
  if (value instanceof Map) return { map: [...value].map(([k, v]) => [normalize(k), normalize(v)]) };
  if (value instanceof Set) return { set: [...value].map(normalize) };
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}
