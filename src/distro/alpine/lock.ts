/**
 * The Alpine side of lock files (docs/lock.md). An APKINDEX gives no file
 * SHA-256, so `baseimg lock` hashes each .apk once (src/lock/hashes.ts); a
 * --locked build then fetches every file by that hash and still checks C:
 * and the package signature when installing it.
 */
import type { AlpineSource, Arch, Spec } from '../../spec/types.js';
import type { ResolvedPackage, Resolution } from '../types.js';
import type { LockInputs, LockedArch } from '../../lock/types.js';
import { repositoryUrls, resolvedFromLock, sourcesFromLock } from '../../lock/restore.js';
import { apkArch } from './arch.js';
import { byName } from './catalog.js';
import { CA_BUNDLE_PACKAGE } from './ca-bundle.js';

export function alpineLockInputs(source: AlpineSource, spec: Spec): LockInputs {
  return {
    'source.repositories': [...source.repositories],
    'source.allow-untrusted': source.allowUntrusted,
    'ca-certificates.bundle': spec.caCertificates.bundle,
  };
}

export interface LockedAlpineResolution {
  resolution: Resolution;
  /** What /etc/apk/world lists, rebuilt as the resolver would have written it. */
  world: string[];
}

export function resolveAlpineLocked(source: AlpineSource, spec: Spec, locked: LockedArch, arch: Arch): LockedAlpineResolution {
  // Repositories the spec names now are fetched from; others from the URL they were locked from.
  const current = new Map(source.repositories.map((url) => [url, `${url}/${apkArch(arch)}`]));
  const urls = repositoryUrls(locked, current);
  const packages: ResolvedPackage[] = locked.packages.map((entry) => resolvedFromLock(entry, urls.get(entry.repository)!));
  const addedForBundle = packages.some((p) => p.name === CA_BUNDLE_PACKAGE && p.reason.startsWith('CA bundle'));
  const world = [...spec.packages.include, ...(addedForBundle ? [CA_BUNDLE_PACKAGE] : [])].sort(byName);
  return { resolution: { arch: locked.arch, packages, sources: sourcesFromLock(locked) }, world };
}
