/**
 * The Debian side of lock files (docs/lock.md): which spec settings the
 * resolution depends on, and rebuilding a resolution from a lock without
 * any index. Files are fetched from the mirror (or snapshot) the spec and
 * environment name now — every file is verified by its locked SHA-256, so
 * where the bytes come from does not matter — and from the URLs recorded in
 * the lock when nothing is configured here.
 */
import type { DebianSource, Spec } from '../../spec/types.js';
import type { BuildContext } from '../../pipeline/context.js';
import type { ResolvedPackage, Resolution } from '../types.js';
import type { LockInputs, LockedArch } from '../../lock/types.js';
import { repositoryUrls, resolvedFromLock, sourcesFromLock } from '../../lock/restore.js';
import { BaseimgError, isBaseimgError } from '../../util/errors.js';
import { resolveDebianMirrors } from './mirror.js';
import { resolveDebian } from './resolve.js';
import type { DebPackage } from './types.js';

export function debianLockInputs(source: DebianSource, spec: Spec): LockInputs {
  return {
    'source.suites': [...source.suites],
    'source.components': [...source.components],
    'source.mirror': source.mirror ?? null,
    'source.security-mirror': source.securityMirror ?? null,
    'source.snapshot': source.snapshot ?? null,
    'source.snapshot-base': source.snapshotBase ?? null,
    'ca-certificates.bundle': spec.caCertificates.bundle,
  };
}

export interface LockedDebianResolution {
  resolution: Resolution;
  /** ca-certificates to read the CA bundle from, when it is not installed. */
  caPackage: ResolvedPackage | undefined;
}

export function resolveDebianLocked(
  source: DebianSource,
  spec: Spec,
  locked: LockedArch,
  ctx: BuildContext,
  caPackageName: string,
): LockedDebianResolution {
  const urls = repositoryUrls(locked, currentMirrors(source, ctx));
  const toResolved = (entry: LockedArch['packages'][number]): ResolvedPackage => resolvedFromLock(entry, urls.get(entry.repository)!);
  const packages = locked.packages.map(toResolved);
  const caEntry = lockedCaPackage(spec, packages, locked.auxiliary, caPackageName, () =>
    new BaseimgError('LOCK', `the lock for ${locked.arch} has no ${caPackageName} to build the CA bundle from`, {
      hint: `run baseimg lock ${spec.file} again (the spec wants ca-certificates.bundle)`,
    }),
  );
  return { resolution: { arch: locked.arch, packages, sources: sourcesFromLock(locked) }, caPackage: caEntry && toResolved(caEntry) };
}

/**
 * A lower spec of a locked spec's include chain (its layer parent): its
 * include/exclude resolved by the normal resolver, but among the locked
 * packages only, so a --locked build downloads no index and installs
 * exactly the locked versions in every layer. A package the lower spec
 * needs that the lock does not have is a LOCK error.
 */
export function resolveDebianWithinLock(
  source: DebianSource,
  spec: Spec,
  locked: LockedArch,
  ctx: BuildContext,
  caPackageName: string,
): LockedDebianResolution {
  const urls = repositoryUrls(locked, currentMirrors(source, ctx));
  const candidates: DebPackage[] = [...locked.packages, ...locked.auxiliary].map((e) => ({
    name: e.name,
    version: e.version,
    architecture: e.architecture,
    filename: e.filename,
    size: e.size,
    sha256: e.sha256,
    fields: e.fields,
    suite: e.repository,
    component: '',
    baseUrl: urls.get(e.repository)!,
  }));
  let result;
  try {
    result = resolveDebian({ packages: candidates, include: spec.packages.include, exclude: spec.packages.exclude, arch: locked.arch, suites: source.suites });
  } catch (e) {
    if (!isBaseimgError(e) || e.code !== 'RESOLVE') throw e;
    throw new BaseimgError('LOCK', `${spec.file} (a lower layer of the locked spec) needs packages the lock does not have: ${e.message}`, {
      hint: 'the locked spec excludes something its include needs; build without --locked, or set layers = "flat"',
      cause: e,
    });
  }
  const ca = lockedCaPackage(spec, result.packages, [...locked.packages, ...locked.auxiliary], caPackageName, () =>
    new BaseimgError('LOCK', `the lock for ${locked.arch} has no ${caPackageName} to build the CA bundle of ${spec.file} from`),
  );
  const caPackage = ca === undefined ? undefined : resolvedFromLock(ca, urls.get(ca.repository)!);
  return { resolution: { arch: locked.arch, packages: result.packages, sources: sourcesFromLock(locked) }, caPackage };
}

/**
 * The lock entry to read the CA bundle from: needed when the spec wants the
 * bundle but does not install the package; `missing` says why it cannot be had.
 */
function lockedCaPackage(
  spec: Spec,
  installed: readonly ResolvedPackage[],
  candidates: readonly LockedArch['packages'][number][],
  caPackageName: string,
  missing: () => BaseimgError,
): LockedArch['packages'][number] | undefined {
  if (!spec.caCertificates.bundle || installed.some((p) => p.name === caPackageName)) return undefined;
  const entry = candidates.find((p) => p.name === caPackageName);
  if (entry === undefined) throw missing();
  return entry;
}

/** Suite → base URL as configured now; undefined when no mirror is configured here. */
function currentMirrors(source: DebianSource, ctx: BuildContext): Map<string, string> | undefined {
  try {
    return resolveDebianMirrors(source, { env: process.env });
  } catch (err) {
    if (!isBaseimgError(err) || err.code !== 'MIRROR') throw err;
    ctx.reporter.info(`no Debian mirror configured here (${err.message}); fetching from the URLs in the lock`);
    return undefined;
  }
}
