/**
 * The part of a build that makes the image: for every spec of the include
 * chain (already resolved by build.ts) fetch → unpack → strip → finalize →
 * [[paths]] → [[files]] → embedded SBOM, then layers, config, the tarball
 * and the SBOMs beside it. Loaded by build.ts only when the image cache has
 * no answer.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Spec } from '../spec/types.js';
import type { BuildContext } from './context.js';
import type { InstalledPackage, ResolvedPackage, Resolution } from '../distro/types.js';
import { RootTree } from '../rootfs/tree.js';
import { BodyStore } from '../rootfs/body-store.js';
import { applyPaths } from '../finalize/paths.js';
import { resolveImageUser } from '../finalize/accounts.js';
import { buildImageConfig } from '../image/config.js';
import { writeImageTarball } from '../image/tarball.js';
import { collectFailures, type CollectOptions, type Failure } from '../net/missing.js';
import { goneFromMirror, notAsLocked } from '../lock/gone.js';
import { TOOL } from '../version.js';
import { embedSbom, writeBesideSbom } from '../sbom/build-sbom.js';
import type { SbomModel } from '../sbom/model.js';
import { stripTree, type StripResult } from '../finalize/strip.js';
import { addLocalFiles } from '../finalize/local-files.js';
import { buildLayerStack, type LevelTree } from './layer-stack.js';
import { startAhead, type Ahead } from './ahead.js';
import { gzipWorkerEngines } from '../image/gzip.js';
import { rememberImage } from './image-cache.js';
import { humanBytes } from '../util/reporter.js';
import { testPause } from '../util/test-pause.js';
import { planLevel, stage, type BuildOptions, type BuildResult, type LevelPlan } from './build.js';

export async function buildAndWriteImage(
  spec: Spec,
  chain: Spec[],
  plans: Map<Spec, LevelPlan>,
  options: BuildOptions,
  optionsFor: (level: Spec) => BuildOptions,
  cacheKey: string | undefined,
  ctx: BuildContext,
): Promise<BuildResult> {
  const ahead = startAhead(
    chain.flatMap((level) => {
      const plan = plans.get(level);
      return plan === undefined ? [] : [{ backend: plan.backend, installs: plan.resolution.packages, downloads: plan.downloads }];
    }),
    ctx,
  );
  let stack;
  try {
    stack = await buildLayerStack(chain, (level) => buildRoot(level, optionsFor(level), ctx, plans.get(level), ahead), ctx);
  } finally {
    await ahead.stop();
  }
  const { top } = stack;
  ctx.reporter.debug(`layers deflated by ${gzipWorkerEngines().map((e) => (e === 'zlib' ? 'node:zlib (writes pako\'s bytes)' : 'pako')).join(', ') || 'this thread (pako)'}`);
  try {
    const { sourceDateEpoch, resolution, sbomModel } = top;
    const layers = stack.layers;
    const configJson = buildImageConfig(
      {
        arch: options.arch,
        user: resolveImageUser(spec.image.user, spec.accounts),
        env: spec.image.env,
        entrypoint: spec.image.entrypoint,
        cmd: spec.image.cmd,
        workdir: spec.image.workdir,
        labels: spec.image.labels,
        exposedPorts: spec.image.exposedPorts,
        stopSignal: spec.image.stopSignal,
        createdBy: `${TOOL.name} ${TOOL.version} build ${spec.name}`,
        sourceDateEpoch,
        history:
          stack.steps.length > 1
            ? stack.steps.map((s) => ({ createdBy: `${TOOL.name} ${TOOL.version} build ${s.specName}`, sourceDateEpoch: s.sourceDateEpoch, emptyLayer: s.layer === undefined }))
            : undefined,
      },
      layers.map((l) => l.diffId),
    );
    const written = await stage(ctx, 'write', () =>
      writeImageTarball(options.output, {
        layers,
        configJson,
        manifestAnnotations: spec.image.annotations,
        tag: options.tag,
        sourceDateEpoch,
        signal: ctx.signal,
      }),
    );
    const sbom = await writeBesideSbom(sbomModel, { output: options.output, digest: written.digest, tag: options.tag }, options.sbom ?? {}, ctx.signal);

    const result: BuildResult = {
      output: options.output,
      tag: options.tag,
      arch: options.arch,
      digest: written.digest,
      configDigest: written.configDigest,
      size: written.size,
      sourceDateEpoch,
      layers: stack.steps.flatMap((s) =>
        s.layer === undefined ? [] : [{ digest: s.layer.digest, diffId: s.layer.diffId, size: s.layer.size, uncompressedSize: s.layer.uncompressedSize, spec: s.specName }],
      ),
      packages: resolution.packages.map((p) => ({ name: p.name, version: p.version, architecture: p.architecture })),
      sbom,
      ...(top.stripped ? { stripped: top.stripped } : {}),
    };
    if (cacheKey !== undefined) await stage(ctx, 'image cache', () => rememberImage(cacheKey, result, ctx));
    return result;
  } finally {
    await top.dispose();
    await stack.dispose();
  }
}


/**
 * Every package of a level, verified and cached, by name: the downloads
 * `ahead` started (src/pipeline/ahead.ts). All are awaited, so that missing
 * files (--offline, or gone from the mirror) are reported together;
 * `collect` says how (src/net/missing.ts).
 */
export async function fetchPackages(packages: ResolvedPackage[], ahead: Ahead, collect: CollectOptions<ResolvedPackage> = {}): Promise<Map<string, string>> {
  const settled = await Promise.allSettled(packages.map((pkg) => ahead.fetch(pkg)));
  const failures: Array<Failure<ResolvedPackage>> = settled.flatMap((r, i) => (r.status === 'rejected' ? [{ error: r.reason as unknown, subject: packages[i]! }] : []));
  collectFailures(failures, collect);
  return new Map(settled.flatMap((r, i) => (r.status === 'fulfilled' ? [[packages[i]!.name, r.value.path] as const] : [])));
}


/** One spec's finished root tree, before it becomes a layer; dispose() frees its scratch files. */
export interface BuiltRoot extends LevelTree {
  resolution: Resolution;
  sbomModel: SbomModel;
  /** What `strip` removed, when the spec strips. */
  stripped: StripResult | undefined;
}


/** resolve → fetch → unpack → strip → finalize → [[paths]] → [[files]] → embedded SBOM, for one spec. */
export async function buildRoot(spec: Spec, options: BuildOptions, ctx: BuildContext, plan: LevelPlan | undefined, ahead: Ahead): Promise<BuiltRoot> {
  const { backend, resolution, downloads: toFetch } = plan ?? (await planLevel(spec, options, ctx));
  const locked = options.locked;
  const collect: CollectOptions<ResolvedPackage> = locked
    ? { notFound: (gone) => goneFromMirror(gone, spec, locked.entry, locked.file), mismatch: (f) => notAsLocked(f, spec, locked.file) }
    : {};
  const files = await stage(ctx, 'fetch', () => fetchPackages(toFetch, ahead, collect));

  const scratch = await mkdtemp(join(ctx.tmpDir, 'root-'));
  const root = new RootTree(new BodyStore({ dir: scratch }));
  const dispose = async (): Promise<void> => {
    await root.bodies.close();
    await rm(scratch, { recursive: true, force: true });
  };
  try {
    const installed = await stage(ctx, 'unpack', async () => {
      await backend.prepareRoot(root, spec, options.arch, ctx);
      const task = ctx.reporter.task(`unpacking ${resolution.packages.length} packages`, resolution.packages.length);
      const out: InstalledPackage[] = [];
      for (const pkg of resolution.packages) {
        ctx.signal.throwIfAborted();
        await ahead.ready(pkg);
        out.push(await backend.install(pkg, files.get(pkg.name)!, root, ctx));
        if (out.length === 1) await testPause('unpack', ctx.signal);
        task.tick(1);
      }
      task.done();
      return out;
    });

    const stripped = spec.strip.length > 0 ? stripTree(root, spec.strip) : undefined;
    if (stripped) ctx.reporter.info(`strip saved ${humanBytes(stripped.bytes)}: removed ${stripped.files} files and ${stripped.directories} directories`);

    const sourceDateEpoch = options.sourceDateEpoch ?? spec.sourceDateEpoch ?? derivedSourceDateEpoch(installed);
    const installedNames = new Set(resolution.packages.map((p) => p.name));
    const auxiliaryFiles = new Map([...files].filter(([name]) => !installedNames.has(name)));

    await stage(ctx, 'finalize', async () => {
      await backend.finalize(root, installed, spec, options.arch, { ...ctx, sourceDateEpoch, auxiliaryFiles });
      await applyPaths(root, spec.paths, { mtime: sourceDateEpoch });
      const added = await addLocalFiles(root, spec.files, { mtime: sourceDateEpoch, signal: ctx.signal });
      if (spec.files.length > 0) ctx.reporter.info(`files: added ${added.files} local files (${humanBytes(added.bytes)})`);
      stampUndatedEntries(root, sourceDateEpoch);
    });

    const auxiliary = toFetch.filter((p) => !installedNames.has(p.name));
    const sbomModel = await stage(ctx, 'sbom', () =>
      embedSbom(root, {
        family: backend.family,
        installed,
        auxiliary,
        imageName: spec.name,
        architecture: options.arch,
        sourceDateEpoch,
        withFiles: options.sbom?.files ?? false,
        insecureSkipVerify: ctx.insecureSkipVerify,
      }),
    );

    return { root, sourceDateEpoch, resolution, sbomModel, stripped, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/**
 * Default SOURCE_DATE_EPOCH: the newest file time shipped by any installed
 * package. It depends only on what is installed, so it moves when a package
 * changes and not when an index is merely re-signed (Release Date changes
 * daily on -updates and -security even when nothing we use changed).
 */
export function derivedSourceDateEpoch(installed: InstalledPackage[]): number {
  let newest = 0;
  for (const p of installed) newest = Math.max(newest, p.newestMtime);
  return newest;
}

/**
 * Entries baseimg laid down before any package was unpacked (merged-/usr
 * links, their target directories) are created with mtime 0 because the
 * timestamp is only known once packages are in; give them SOURCE_DATE_EPOCH
 * like every other generated file.
 */
function stampUndatedEntries(root: RootTree, sourceDateEpoch: number): void {
  for (const [, node] of root.walk()) {
    if (node.owner === undefined && node.meta.mtime === 0) node.meta.mtime = sourceDateEpoch;
  }
}

