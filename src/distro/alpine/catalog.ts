/**
 * The packages of all repositories arranged for the resolver: every version
 * of a name best first, and for every name the offers that could satisfy a
 * dependency on it (the package of that name, and packages that provide it).
 * Orders depend only on package data and repository order, never on the
 * order of entries in an index.
 */
import { compareApkVersions } from './version.js';
import type { ApkPackage } from './package.js';
import { byName } from '../../util/compare.js';

/** A package offered for a name: as itself, or through a provides entry. */
export interface Offer {
  pkg: ApkPackage;
  /** The version it offers the name at; undefined for a provides entry without one. */
  version: string | undefined;
  /** True when the name is the package's own. */
  real: boolean;
}

export { byName };

/** Highest version first; equal versions: the more preferred repository, then by checksum. */
function betterPackage(a: ApkPackage, b: ApkPackage): number {
  return compareApkVersions(b.version, a.version) || a.repositoryIndex - b.repositoryIndex || byName(a.checksum, b.checksum);
}

/**
 * apk's provider preference (solver.c compare_providers, for a fresh
 * install): the higher offered version, then the higher version of the same
 * package, then the higher provider_priority, then the more preferred
 * repository. Name and checksum only make the order total. Negative when
 * `a` is better.
 */
export function compareOffers(a: Offer, b: Offer): number {
  if (a.version !== undefined && b.version !== undefined) {
    const r = compareApkVersions(b.version, a.version);
    if (r !== 0) return r;
  }
  if (a.pkg.name === b.pkg.name) {
    const r = compareApkVersions(b.pkg.version, a.pkg.version);
    if (r !== 0) return r;
  }
  return (
    (b.pkg.providerPriority ?? 0) - (a.pkg.providerPriority ?? 0) ||
    a.pkg.repositoryIndex - b.pkg.repositoryIndex ||
    byName(a.pkg.name, b.pkg.name) ||
    byName(a.pkg.checksum, b.pkg.checksum)
  );
}

/**
 * Whether apk would pick this offer on its own to satisfy a dependency: a
 * package for its own name or a versioned provides always; a provides
 * without a version when the package declares a provider_priority, or (the
 * apk-tools 2.x rule that Alpine <= 3.16 indexes rely on: busybox alone
 * provides "/bin/sh" there) when it is the only package offering the name.
 */
export function autoSelectable(offer: Offer, allOffers: readonly Offer[]): boolean {
  if (offer.real || offer.version !== undefined || offer.pkg.providerPriority !== undefined) return true;
  return allOffers.every((o) => o.pkg.name === offer.pkg.name);
}

export class ApkCatalog {
  /** Name → its packages, best first. */
  readonly versions = new Map<string, ApkPackage[]>();
  /** Name → every offer for it, in a fixed order (package name, then best version first). */
  readonly offers = new Map<string, Offer[]>();
  /** Names whose packages declare install_if, sorted. */
  readonly installIfNames: string[];

  constructor(packages: readonly ApkPackage[]) {
    const seen = new Set<string>();
    for (const pkg of packages) {
      // The same package (same identity) in two repositories is one package; the preferred repository keeps it.
      const identity = `${pkg.name}\0${pkg.checksum}`;
      if (seen.has(identity)) continue;
      seen.add(identity);
      const list = this.versions.get(pkg.name);
      if (list === undefined) this.versions.set(pkg.name, [pkg]);
      else list.push(pkg);
    }
    for (const list of this.versions.values()) list.sort(betterPackage);
    const names = [...this.versions.keys()].sort(byName);
    for (const name of names) {
      for (const pkg of this.versions.get(name)!) {
        this.offer(name, { pkg, version: pkg.version, real: true });
        for (const p of pkg.provides) if (p.name !== pkg.name) this.offer(p.name, { pkg, version: p.version, real: false });
      }
    }
    this.installIfNames = names.filter((n) => this.versions.get(n)!.some((p) => p.installIf.length > 0));
  }

  /** Every name a dependency could use: package names and provided names. */
  allNames(): IterableIterator<string> {
    return this.offers.keys();
  }

  private offer(name: string, offer: Offer): void {
    const list = this.offers.get(name);
    if (list === undefined) this.offers.set(name, [offer]);
    else list.push(offer);
  }
}
