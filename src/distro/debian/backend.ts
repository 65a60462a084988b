/**
 * The Debian family behind the DistroBackend interface: signed indexes →
 * resolver → .deb installer → finalize. One instance per build (it keeps the
 * opened indexes between resolve and finalize).
 */
import type { Arch, DebianSource, Spec } from '../../spec/types.js';
import type { BuildContext } from '../../pipeline/context.js';
import type { DistroBackend, FinalizeContext, InstalledPackage, ResolvedPackage, Resolution } from '../types.js';
import type { RootTree } from '../../rootfs/tree.js';
import { BaseimgError } from '../../util/errors.js';
import { fetchDebianReleases, loadDebianPackages } from './repository.js';
import { readCachedResolution, resolutionKey, writeCachedResolution, type CachedResolution } from './resolution-cache.js';
import { timed, type TimingSink } from '../../util/timings.js';
import { collectGarbage } from '../../util/collect-garbage.js';
import { resolveDebian } from './resolve.js';
import { parseRelations } from './relations.js';
import type { DebPackage, ReleaseInfo } from './types.js';
import type { LockInputs, LockedArch } from '../../lock/types.js';
import { debianLockInputs, resolveDebianLocked, resolveDebianWithinLock } from './lock.js';

const CA_PACKAGE = 'ca-certificates';

/** Directories merged into /usr, as debootstrap/mmdebstrap create them and trixie's base-files ships them. */
const MERGED_USR_DIRS: Record<Arch, string[]> = {
  amd64: ['bin', 'sbin', 'lib', 'lib64'],
  arm64: ['bin', 'sbin', 'lib'],
};

export class DebianBackend implements DistroBackend {
  readonly family = 'debian' as const;
  /** ca-certificates, when the bundle is wanted but the package is not installed. */
  private caPackage: ResolvedPackage | undefined;

  resolve(spec: Spec, arch: Arch, ctx: BuildContext): Promise<Resolution> {
    return this.resolveWith(spec, arch, ctx, undefined);
  }

  /**
   * Resolves an include chain's specs with each index loaded and indexed once
   * (python3's five levels read bookworm's 50 MB index once instead of five
   * times). The answers go to the resolution cache, where each level's own
   * resolve() finds them; the indexes are freed before any tree is built.
   */
  async resolveAll(specs: Spec[], arch: Arch, ctx: BuildContext): Promise<void> {
    const loaded = new Map<string, Promise<DebPackage[]>>();
    try {
      for (const spec of specs) await this.resolveWith(spec, arch, ctx, loaded);
    } finally {
      loaded.clear();
      collectGarbage();
    }
  }

  private async resolveWith(spec: Spec, arch: Arch, ctx: BuildContext, loaded: Map<string, Promise<DebPackage[]>> | undefined): Promise<Resolution> {
    const source = debianSource(spec);
    const releases = await fetchDebianReleases(source, ctx);
    // Same verified Releases and inputs as a previous run: its answer (resolution-cache.ts).
    const key = resolutionKey(source, spec, arch, releases);
    const cached = await timed(sink(ctx), 'resolve/cache', () => readCachedResolution(ctx, key));
    const result = cached ?? (await this.resolveFromIndexes(spec, source, arch, releases, ctx, loaded));
    // The indexes are garbage now; free them before unpacking (collect-garbage.ts).
    if (cached === undefined && loaded === undefined) collectGarbage();
    // Best effort: a cache that cannot be written must not fail the build.
    if (cached === undefined) await writeCachedResolution(ctx, key, result).catch((e: unknown) => ctx.reporter.debug(`resolution not cached: ${String(e)}`));
    for (const d of result.dropped) ctx.reporter.debug(`dropped ${d.from} → ${d.relation}: ${d.why}`);
    this.caPackage = result.caPackage;
    return {
      arch,
      packages: result.packages,
      sources: releases.map((r) => ({ url: `${r.baseUrl}/dists/${r.suite}/InRelease`, suite: r.suite, date: r.date, sha256: r.sha256, baseUrl: r.baseUrl })),
    };
  }

  private async resolveFromIndexes(
    spec: Spec,
    source: DebianSource,
    arch: Arch,
    releases: ReleaseInfo[],
    ctx: BuildContext,
    loaded: Map<string, Promise<DebPackage[]>> | undefined,
  ): Promise<CachedResolution> {
    // The same list object for the same indexes, so packageIndexFor() reuses its PackageIndex too.
    const indexes = JSON.stringify([releases.map((r) => [r.baseUrl, r.suite, r.sha256]), source.components, arch]);
    let pending = loaded?.get(indexes);
    if (pending === undefined) {
      pending = loadDebianPackages(source, arch, releases, ctx);
      loaded?.set(indexes, pending);
    }
    const packages = await pending;
    return timed(sink(ctx), 'resolve/resolver', async () => {
      const result = resolveDebian({
        packages,
        include: spec.packages.include,
        exclude: spec.packages.exclude,
        arch,
        suites: source.suites,
      });
      const installsCa = result.packages.some((p) => p.name === CA_PACKAGE);
      const caPackage = spec.caCertificates.bundle && !installsCa ? pickCaPackage(packages, arch, source.suites) : undefined;
      return { packages: result.packages, caPackage, dropped: result.dropped };
    });
  }

  lockInputs(spec: Spec): LockInputs {
    return debianLockInputs(debianSource(spec), spec);
  }

  async resolveLocked(spec: Spec, locked: LockedArch, ctx: BuildContext): Promise<Resolution> {
    const { resolution, caPackage } = resolveDebianLocked(debianSource(spec), spec, locked, ctx, CA_PACKAGE);
    this.caPackage = caPackage;
    return resolution;
  }

  async resolveWithinLocked(spec: Spec, locked: LockedArch, ctx: BuildContext): Promise<Resolution> {
    const { resolution, caPackage } = resolveDebianWithinLock(debianSource(spec), spec, locked, ctx, CA_PACKAGE);
    this.caPackage = caPackage;
    return resolution;
  }

  downloads(resolution: Resolution): ResolvedPackage[] {
    return this.caPackage ? [...resolution.packages, this.caPackage] : resolution.packages;
  }

  async prepareRoot(root: RootTree, spec: Spec, arch: Arch, _ctx: BuildContext): Promise<void> {
    if (!debianSource(spec).mergedUsr) return;
    const meta = { mode: 0o755, uid: 0, gid: 0, mtime: 0 };
    root.addDirectory('/usr', meta);
    for (const dir of MERGED_USR_DIRS[arch]) {
      root.addDirectory(`/usr/${dir}`, meta);
      root.addSymlink(`/${dir}`, `usr/${dir}`, meta);
    }
  }

  async install(pkg: ResolvedPackage, file: string, root: RootTree, ctx: BuildContext): Promise<InstalledPackage> {
    const { installDeb, debDataCacheFor } = await installModules();
    return installDeb(pkg, file, root, { reporter: ctx.reporter, dataCache: debDataCacheFor(ctx) });
  }

  async prepare(pkg: ResolvedPackage, file: string, ctx: BuildContext): Promise<void> {
    const { prepareDeb, debDataCacheFor } = await installModules();
    await prepareDeb(pkg, file, { reporter: ctx.reporter, dataCache: debDataCacheFor(ctx), signal: ctx.signal });
  }

  async finalize(root: RootTree, installed: InstalledPackage[], spec: Spec, arch: Arch, ctx: FinalizeContext): Promise<void> {
    const caDeb = this.caPackage ? ctx.auxiliaryFiles.get(this.caPackage.name) : undefined;
    const { finalizeDebian } = await import('./finalize.js');
    await finalizeDebian(root, installed, spec, arch, ctx, {
      sourceDateEpoch: ctx.sourceDateEpoch,
      caCertificates: this.caPackage && caDeb ? { pkg: this.caPackage, file: caDeb } : undefined,
    });
  }
}

/** Loaded on first use, once: a build answered from the image cache never unpacks. */
let installing: Promise<typeof import('./deb-install.js') & typeof import('./data-cache.js')> | undefined;
function installModules(): NonNullable<typeof installing> {
  installing ??= Promise.all([import('./deb-install.js'), import('./data-cache.js')]).then(([a, b]) => ({ ...a, ...b }));
  return installing;
}

function sink(ctx: BuildContext): TimingSink {
  return (stage, ms) => ctx.reporter.timing(stage, ms);
}

function debianSource(spec: Spec): DebianSource {
  if (spec.source.distro !== 'debian') throw new BaseimgError('INTERNAL', 'Debian backend given a non-Debian spec');
  return spec.source;
}

/**
 * ca-certificates alone, without its dependencies (openssl, debconf): only its
 * certificate files are read, to build the bundle its postinst would build.
 */
function pickCaPackage(packages: DebPackage[], arch: Arch, suites: string[]): ResolvedPackage {
  const deps = new Set<string>();
  for (const p of packages) {
    if (p.name !== CA_PACKAGE) continue;
    for (const field of ['Depends', 'Pre-Depends']) {
      for (const group of parseRelations(p.fields[field])) for (const rel of group) deps.add(rel.name);
    }
  }
  const picked = resolveDebian({ packages, include: [CA_PACKAGE], exclude: [...deps].sort(), arch, suites }).packages;
  const ca = picked.find((p) => p.name === CA_PACKAGE);
  if (!ca) throw new BaseimgError('RESOLVE', `${CA_PACKAGE} not found in the indexes`, { hint: 'set ca-certificates.bundle = false, or add a suite that has it' });
  return { ...ca, reason: 'CA bundle source (certificates only, not installed)' };
}
