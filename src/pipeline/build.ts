/**
 * The build pipeline, one way through:
 *   spec → repository + resolve → fetch → unpack → strip → finalize → layer(s) → image tarball.
 * A platform image is an ordered list of layers, one per spec of the include
 * chain. This file resolves every level, then asks the image cache
 * (image-cache.ts) whether these exact inputs were built before; only when
 * not does it load build-trees.ts, where buildRoot makes each spec's
 * finished tree and layer-stack.ts turns the trees into layers. Distro
 * specifics stay behind DistroBackend; the image side only sees RootTrees.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Arch, Spec } from '../spec/types.js';
import type { BuildContext } from './context.js';
import type { DistroBackend, ResolvedPackage, Resolution } from '../distro/types.js';
import { backendFor } from '../distro/backends.js';
import type { LockedArch } from '../lock/types.js';
import type { SbomOptions } from '../sbom/build-sbom.js';
import type { StripResult } from '../finalize/strip.js';
import { specChain } from './spec-chain.js';
import { computeProgramIdentitySoon, imageCacheKey, reuseImage } from './image-cache.js';

export interface BuildOptions {
  arch: Arch;
  output: string;
  tag: string;
  /** From --source-date-epoch or $SOURCE_DATE_EPOCH (the flag wins); else the spec's; else derived. */
  sourceDateEpoch: number | undefined;
  /** SBOMs: where the beside-the-tarball copies go, and whether to list files (src/sbom). */
  sbom?: SbomOptions;
  /**
   * build --locked: install what this lock entry says instead of resolving (no index is downloaded).
   * `within`: the spec is a lower level of the locked spec's include chain; its packages are
   * resolved among the locked ones.
   */
  locked?: { entry: LockedArch; file: string; within?: boolean };
}

export interface BuildResult {
  output: string;
  tag: string;
  arch: Arch;
  /** Digest of the image manifest ("sha256:…"): what a registry would call the image. */
  digest: string;
  configDigest: string;
  /** Bytes of the output tarball. */
  size: number;
  sourceDateEpoch: number;
  /** Bottom first; `spec` names the spec of the include chain that made the layer. */
  layers: Array<{ digest: string; diffId: string; size: number; uncompressedSize: number; spec: string }>;
  packages: Array<{ name: string; version: string; architecture: string }>;
  /** The SBOMs written beside the tarball. */
  sbom: { spdx: string; cyclonedx: string };
  /** What the spec's `strip` removed. */
  stripped?: StripResult;
}


/** Run `fn` as a named stage and record its wall time. */
export async function stage<T>(ctx: BuildContext, name: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    ctx.reporter.timing(name, performance.now() - started);
  }
}

export async function resolveSpec(spec: Spec, arch: Arch, ctx: BuildContext, backend?: DistroBackend): Promise<Resolution> {
  const b = backend ?? (await backendFor(spec));
  return stage(ctx, 'resolve', () => b.resolve(spec, arch, ctx));
}

export async function buildImage(spec: Spec, options: BuildOptions, ctx: BuildContext): Promise<BuildResult> {
  // One tree per spec of the include chain; the lower specs get the same options except the lock entry,
  // which they read for their own packages (src/pipeline/layer-stack.ts).
  computeProgramIdentitySoon();
  const chain = await specChain(spec);
  const optionsFor = (level: Spec): BuildOptions => (level === spec ? options : lowerLevelOptions(options));
  if (!options.locked) await resolveChain(chain, options.arch, ctx);
  const plans = new Map<Spec, LevelPlan>();
  for (const level of chain) plans.set(level, await planLevel(level, optionsFor(level), ctx));

  const cacheKey = await imageCacheKey(
    {
      levels: chain.map((level) => ({ spec: level, resolution: plans.get(level)!.resolution, downloads: plans.get(level)!.downloads })),
      arch: options.arch,
      tag: options.tag,
      sourceDateEpoch: options.sourceDateEpoch,
      sbomFiles: options.sbom?.files ?? false,
      insecureSkipVerify: ctx.insecureSkipVerify,
    },
    ctx,
  );
  if (cacheKey !== undefined) {
    const reused = await stage(ctx, 'image cache', () => reuseImage(cacheKey, options.output, options.sbom?.dir, ctx));
    if (reused !== undefined) {
      ctx.reporter.info(`inputs unchanged since an earlier build: reused its image ${reused.digest} from the cache`);
      return reused;
    }
  }

  // Building trees needs most of the program; a build answered from the cache never loads it.
  const { buildAndWriteImage } = await import('./build-trees.js');
  return buildAndWriteImage(spec, chain, plans, options, optionsFor, cacheKey, ctx);
}

/**
 * Resolves every level of an include chain before building any, when the
 * backend can share its loaded indexes between them; each level's resolve
 * then reads the answer from the resolution cache.
 */
async function resolveChain(chain: Spec[], arch: Arch, ctx: BuildContext): Promise<void> {
  if (chain.length < 2) return;
  const backend = await backendFor(chain[0]!);
  const same = chain.filter((s) => s.source.distro === chain[0]!.source.distro);
  if (backend.resolveAll !== undefined) await stage(ctx, 'resolve', () => backend.resolveAll!(same, arch, ctx));
}

/** A spec below the built one in its include chain: with --locked its packages come from the same lock. */
function lowerLevelOptions(options: BuildOptions): BuildOptions {
  return options.locked ? { ...options, locked: { ...options.locked, within: true } } : options;
}

/** One spec's resolution, and the backend that made it (it keeps state for finalize). */
export interface LevelPlan {
  backend: DistroBackend;
  resolution: Resolution;
  /** The resolution's packages plus any the finalize stage reads (backend.downloads). */
  downloads: ResolvedPackage[];
}

/** Resolve one spec (or read its packages from the lock). */
export async function planLevel(spec: Spec, options: BuildOptions, ctx: BuildContext): Promise<LevelPlan> {
  const backend: DistroBackend = await backendFor(spec);
  const locked = options.locked;
  const resolution = locked
    ? await stage(ctx, 'resolve', async () => {
        const { resolveFromLock, resolveWithinLock } = await import('../lock/restore.js');
        return locked.within ? resolveWithinLock(backend, spec, locked.entry, ctx) : resolveFromLock(backend, spec, locked.entry, ctx);
      })
    : await resolveSpec(spec, options.arch, ctx, backend);
  ctx.reporter.info(`${locked ? `read ${locked.file}:` : 'resolved'} ${resolution.packages.length} packages for ${options.arch}${spec.layerParent !== undefined || spec.include.length > 0 ? ` (${spec.name})` : ''}`);
  return { backend, resolution, downloads: backend.downloads(resolution) };
}

/** A private scratch directory for one build; removed by the caller. */
export async function makeBuildTmpDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'baseimg-'));
}
