/**
 * The packages a resolution chooses from: for one architecture and suite
 * order, every name's candidates best first and who provides what. Building
 * it is most of a resolution's work, so it is made once per package list
 * (packageIndexFor) and shared by every resolution of a build.
 */
import { parseProvides, type Relation } from './relations.js';
import type { DebPackage } from './types.js';
import { compareVersions } from './version.js';
import { byName } from '../../util/compare.js';

export interface Provision {
  pkg: DebPackage;
  provides: Relation;
}

/** Field lookup that ignores case, as Debian field names are case-insensitive. */
export function field(pkg: DebPackage, name: string): string | undefined {
  // Index-backed packages answer without parsing their whole paragraph.
  if (pkg.lookup !== undefined) return pkg.lookup(name);
  const exact = pkg.fields[name];
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(pkg.fields)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

export { byName };

/** The usable packages of one architecture, best candidate first for every name. */
export class PackageIndex {
  readonly versions = new Map<string, DebPackage[]>();
  readonly providers = new Map<string, Provision[]>();
  /** Every package name in the indexes, any architecture (for suggestions). */
  readonly allNames = new Set<string>();
  /** Architectures of packages that exist only for other architectures. */
  readonly otherArchs = new Map<string, Set<string>>();

  constructor(packages: DebPackage[], arch: string, suites: string[]) {
    const rank = (suite: string): number => {
      const i = suites.indexOf(suite);
      return i < 0 ? suites.length : i;
    };
    // Highest version first; equal versions by suite priority; the rest only makes duplicates deterministic.
    const better = (a: DebPackage, b: DebPackage): number =>
      compareVersions(b.version, a.version) ||
      rank(a.suite) - rank(b.suite) ||
      byName(a.suite, b.suite) ||
      byName(a.component, b.component) ||
      byName(a.filename, b.filename) ||
      byName(a.sha256, b.sha256);
    for (const pkg of packages) {
      this.allNames.add(pkg.name);
      if (pkg.architecture === arch || pkg.architecture === 'all') {
        const list = this.versions.get(pkg.name) ?? [];
        list.push(pkg);
        this.versions.set(pkg.name, list);
      } else {
        const archs = this.otherArchs.get(pkg.name) ?? new Set<string>();
        archs.add(pkg.architecture);
        this.otherArchs.set(pkg.name, archs);
      }
    }
    for (const list of this.versions.values()) if (list.length > 1) list.sort(better);
    // Provisions ordered by provider name, then best version first. The default
    // sort compares UTF-16 code units, as byName does, without a JS callback.
    for (const name of [...this.versions.keys()].sort()) {
      for (const pkg of this.versions.get(name)!) {
        let provides: Relation[];
        try {
          provides = parseProvides(field(pkg, 'Provides'));
        } catch {
          continue; // a damaged Provides only matters if the package is chosen, and then Depends is parsed too
        }
        for (const p of provides) {
          if (p.name === pkg.name) continue;
          const list = this.providers.get(p.name) ?? [];
          list.push({ pkg, provides: p });
          this.providers.set(p.name, list);
        }
      }
    }
  }

  /** "not found", or why not for this architecture. */
  missing(name: string, arch: string): string {
    const archs = this.otherArchs.get(name);
    if (archs === undefined || this.versions.has(name)) return 'not found';
    return `not available for ${arch} (only ${[...archs].sort(byName).join(', ')})`;
  }
}

/**
 * PackageIndex per package list, architecture and suite order: a build
 * resolves the same indexes more than once (the spec, the CA bundle's
 * package, lower layers), and building the index is most of a resolution.
 * Keyed by the list itself: a package list is never changed once built.
 */
const indexCache = new WeakMap<readonly DebPackage[], Map<string, PackageIndex>>();

export function packageIndexFor(packages: DebPackage[], arch: string, suites: string[]): PackageIndex {
  let byKey = indexCache.get(packages);
  if (byKey === undefined) indexCache.set(packages, (byKey = new Map()));
  const key = JSON.stringify([arch, suites]);
  let index = byKey.get(key);
  if (index === undefined) byKey.set(key, (index = new PackageIndex(packages, arch, suites)));
  return index;
}

