/**
 * Dependency edges for packages known only from an image's database (no
 * resolution to ask): each Depends/Pre-Depends group (Debian) or D: entry
 * (Alpine) points at the first alternative present in the image, by name or
 * through Provides / p:. Version constraints are not checked: the database
 * records what was installed together, not what could have been.
 */
import type { DbPackage } from './package-db.js';

/** Names (sorted, deduplicated) of packages in `all` that `pkg` depends on. */
export function dependencyEdges(pkg: DbPackage, all: readonly DbPackage[]): string[] {
  const provider = providers(all);
  const out = new Set<string>();
  for (const group of relationGroups(pkg)) {
    for (const name of group) {
      const hit = provider.get(name);
      if (hit !== undefined) {
        if (hit !== pkg.name) out.add(hit);
        break;
      }
    }
  }
  return [...out].sort();
}

/** Alternatives per relation, as bare names. */
function relationGroups(pkg: DbPackage): string[][] {
  const raw = pkg.depends ?? '';
  if (pkg.family === 'deb') {
    return raw
      .split(',')
      .map((g) => g.split('|').map((alt) => alt.trim().replace(/\s*[([].*$/, '').replace(/:\w+$/, '')).filter((n) => n !== ''))
      .filter((g) => g.length > 0);
  }
  return raw
    .split(/\s+/)
    .filter((t) => t !== '' && !t.startsWith('!'))
    .map((t) => [t.replace(/[<>=~].*$/, '')]);
}

/** Name or provided name → the package that satisfies it (real names first). */
function providers(all: readonly DbPackage[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const p of all) {
    for (const token of (p.provides ?? '').split(p.family === 'deb' ? ',' : /\s+/)) {
      const name = token.trim().replace(/\s*\(.*$/, '').replace(/[<>=~].*$/, '');
      if (name !== '' && !map.has(name)) map.set(name, p.name);
    }
  }
  for (const p of all) map.set(p.name, p.name);
  return map;
}
