/**
 * The Debian dependency resolver: from the parsed indexes of every suite and
 * the spec's include/exclude lists to the closure over Pre-Depends and
 * Depends, in install order. Pure and deterministic: the result depends only
 * on package names, versions, fields and suite priority, never on the order
 * of paragraphs in an index.
 */
import { BaseimgError, didYouMean } from '../../util/errors.js';
import type { ResolvedPackage } from '../types.js';
import { formatGroup, formatRelation, parseRelations, satisfiesRelation, type Relation } from './relations.js';
import type { DebPackage } from './types.js';
import { compareVersions } from './version.js';
import { byName, field, packageIndexFor, type PackageIndex, type Provision } from './package-index.js';
import { installOrder as orderForInstall } from '../../util/install-order.js';

export interface DebianResolveInput {
  /** Packages from all suites (any architecture; others are ignored). */
  packages: DebPackage[];
  /** "name" or "name=version". */
  include: string[];
  exclude: string[];
  arch: string;
  /** Suite names, highest priority first: breaks ties between equal versions. */
  suites: string[];
}

/** A dependency left unsatisfied because the user excluded what would satisfy it. */
export interface DroppedDependency {
  from: string;
  relation: string;
  why: string;
}

export interface DebianResolution {
  /** Install order: dependencies before dependents, ties by name, cycles broken deterministically (see installOrder). */
  packages: ResolvedPackage[];
  dropped: DroppedDependency[];
}

interface Node {
  pkg: DebPackage;
  /** Names from a requested package down to this one (shortest discovered). */
  path: string[];
  reason: string;
  dependsOn: Set<string>;
}

/** A group is met by the selection, by a new package, dropped (exclusions), or unsatisfiable. */
type Choice =
  | { kind: 'selected'; name: string }
  | { kind: 'new'; pkg: DebPackage; note: string }
  | { kind: 'dropped' | 'unsatisfiable'; why: string };

type AlternativeResult = { pkg: DebPackage; note: string } | { excluded: boolean; why: string };

const PRIORITY_RANK: Record<string, number> = { required: 0, important: 1, standard: 2, optional: 3, extra: 4 };

const UNSATISFIABLE_HINT =
  'exclude the package that needs it (packages.exclude), pin other versions with name=version in packages.include, ' +
  'or add a suite that has it';

function fail(message: string, hint: string): never {
  throw new BaseimgError('RESOLVE', message, { hint });
}

function relationsOf(pkg: DebPackage, name: string): Relation[][] {
  try {
    return parseRelations(field(pkg, name));
  } catch (e) {
    if (!(e instanceof BaseimgError)) throw e;
    throw new BaseimgError('RESOLVE', `${name} of ${pkg.name} ${pkg.version}: ${e.message}`, { hint: e.hint });
  }
}

/** Does a provision meet a relation? Versioned relations need versioned provides. */
function provisionSatisfies(provision: Provision, rel: Relation): boolean {
  if (rel.op === undefined) return true;
  return provision.provides.version !== undefined && satisfiesRelation(provision.provides.version, rel);
}

function priorityRank(pkg: DebPackage): number {
  return PRIORITY_RANK[(field(pkg, 'Priority') ?? '').trim()] ?? Object.keys(PRIORITY_RANK).length;
}

class Resolver {
  private readonly index: PackageIndex;
  private readonly excluded: Set<string>;
  readonly selected = new Map<string, Node>();
  readonly dropped: DroppedDependency[] = [];

  constructor(private readonly input: DebianResolveInput) {
    this.index = packageIndexFor(input.packages, input.arch, input.suites);
    this.excluded = new Set(input.exclude.map((e) => e.trim()).filter((e) => e !== ''));
  }

  run(): void {
    const roots = this.requestedPackages();
    for (const [name, { pkg, as }] of [...roots].sort((a, b) => byName(a[0], b[0]))) {
      this.select(pkg, [name], as === undefined ? 'requested' : `requested (as ${as})`);
    }
    // Breadth-first, so each reason is a shortest chain from a requested package.
    const queue = [...this.selected.keys()];
    for (let head = 0; head < queue.length; head++) {
      const node = this.selected.get(queue[head]!)!;
      for (const fieldName of ['Pre-Depends', 'Depends']) {
        for (const group of relationsOf(node.pkg, fieldName)) {
          const known = this.selected.size;
          const target = this.resolveGroup(node, group);
          if (this.selected.size > known) queue.push(target!);
          if (target === undefined || target === node.pkg.name) continue;
          node.dependsOn.add(target);
        }
      }
    }
    this.checkConflicts();
  }

  private select(pkg: DebPackage, path: string[], reason: string): void {
    this.selected.set(pkg.name, { pkg, path, reason, dependsOn: new Set() });
  }

  /** Parse the include list into one chosen package per requested name. */
  private requestedPackages(): Map<string, { pkg: DebPackage; as?: string }> {
    const pins = new Map<string, string | undefined>();
    for (const entry of this.input.include) {
      const eq = entry.indexOf('=');
      const name = (eq < 0 ? entry : entry.slice(0, eq)).trim();
      const version = eq < 0 ? undefined : entry.slice(eq + 1).trim();
      if (name === '' || version === '') fail(`malformed entry "${entry}" in packages.include`, 'write "name" or "name=version"');
      if (pins.has(name) && pins.get(name) !== version) {
        fail(`package "${name}" is listed twice in packages.include with different versions`, 'keep one entry');
      }
      pins.set(name, version);
    }
    const roots = new Map<string, { pkg: DebPackage; as?: string }>();
    for (const [name, version] of pins) {
      if (this.excluded.has(name)) {
        fail(`package "${name}" is both in packages.include and in packages.exclude`, 'remove it from one of the two lists');
      }
      const root = this.requested(name, version);
      // An explicit include wins over the same package requested through a virtual name.
      if (root.as === undefined || !roots.has(root.pkg.name)) roots.set(root.pkg.name, root);
    }
    return roots;
  }

  private requested(name: string, version: string | undefined): { pkg: DebPackage; as?: string } {
    const candidates = this.index.versions.get(name);
    if (candidates === undefined) return this.requestedVirtual(name, version);
    if (version === undefined) return { pkg: candidates[0]! };
    const pinned =
      candidates.find((p) => p.version === version) ?? candidates.find((p) => compareVersions(p.version, version) === 0);
    if (pinned !== undefined) return { pkg: pinned };
    const available = [...new Set(candidates.map((p) => p.version))].join(', ');
    const hint = 'pin one of the available versions, or add the suite that has this one';
    fail(`version "${version}" of "${name}" in packages.include not found (available: ${available})`, hint);
  }

  /** A requested virtual package: fine when exactly one package provides it, as apt does. */
  private requestedVirtual(name: string, version: string | undefined): { pkg: DebPackage; as: string } {
    const provisions = (this.index.providers.get(name) ?? []).filter((p) => !this.excluded.has(p.pkg.name));
    const providerNames = [...new Set(provisions.map((p) => p.pkg.name))];
    if (providerNames.length === 1 && version === undefined) return { pkg: provisions[0]!.pkg, as: name };
    const providers = providerNames.join(', ');
    if (providers !== '') {
      fail(`"${name}" in packages.include is a virtual package provided by ${providers}`, 'include one of them instead');
    }
    const archs = this.index.otherArchs.get(name);
    if (archs !== undefined) {
      const only = [...archs].sort(byName).join(', ');
      const hint = 'remove it from packages.include or build for an architecture that has it';
      fail(`package "${name}" in packages.include is not available for ${this.input.arch} (only ${only})`, hint);
    }
    const hint = 'check the name (apt-cache search), or add the suite or component that has it';
    fail(`unknown package "${name}" in packages.include${didYouMean(name, this.index.allNames)}`, hint);
  }

  /** Pick what satisfies one OR-group of `node`; returns the chosen package name, if any. */
  private resolveGroup(node: Node, group: Relation[]): string | undefined {
    const choice = this.choose(group);
    switch (choice.kind) {
      case 'selected':
        return choice.name;
      case 'new': {
        const name = choice.pkg.name;
        this.select(choice.pkg, [...node.path, name], `${node.path.join(' → ')} → ${name}${choice.note}`);
        return name;
      }
      case 'dropped':
        this.dropped.push({ from: node.pkg.name, relation: formatGroup(group), why: choice.why });
        return undefined;
      case 'unsatisfiable':
        return fail(`${[...node.path, formatGroup(group)].join(' → ')}: ${choice.why}`, UNSATISFIABLE_HINT);
    }
  }

  private choose(group: Relation[]): Choice {
    // First any alternative the selection already satisfies, so OR-groups reuse what is there.
    for (const rel of group) {
      if (!this.archUsable(rel)) continue;
      const name = this.satisfiedBySelection(rel);
      if (name !== undefined) return { kind: 'selected', name };
    }
    const failures: Array<{ rel: Relation; excluded: boolean; why: string }> = [];
    for (const rel of group) {
      const result = this.chooseNew(rel);
      if ('pkg' in result) return { kind: 'new', pkg: result.pkg, note: result.note };
      failures.push({ rel, ...result });
    }
    const why =
      failures.length === 1 ? failures[0]!.why : failures.map((f) => `${formatRelation(f.rel)}: ${f.why}`).join('; ');
    // Nothing fits: if an exclusion is (part of) the reason, the user chose this, so the dependency is dropped.
    return { kind: failures.some((f) => f.excluded) ? 'dropped' : 'unsatisfiable', why };
  }

  /** Single-architecture builds: ":any", ":native" and our own architecture are all the same. */
  private archUsable(rel: Relation): boolean {
    const q = rel.archQualifier;
    return q === undefined || q === 'any' || q === 'native' || q === this.input.arch;
  }

  private satisfiedBySelection(rel: Relation): string | undefined {
    return this.selectedMatches(rel)[0];
  }

  /** Selected packages that meet `rel`: the real package first, then providers by name. */
  private selectedMatches(rel: Relation): string[] {
    const matches: string[] = [];
    const real = this.selected.get(rel.name);
    if (real !== undefined && satisfiesRelation(real.pkg.version, rel)) matches.push(rel.name);
    for (const p of this.index.providers.get(rel.name) ?? []) {
      if (this.selected.get(p.pkg.name)?.pkg === p.pkg && provisionSatisfies(p, rel)) matches.push(p.pkg.name);
    }
    return matches;
  }

  /** A package to add for one alternative: the real package first, else a provider. */
  private chooseNew(rel: Relation): AlternativeResult {
    if (!this.archUsable(rel)) {
      return { excluded: false, why: `architecture ${rel.archQualifier} is not part of this ${this.input.arch} build` };
    }
    if (this.excluded.has(rel.name)) return { excluded: true, why: `${rel.name} is excluded` };
    const selected = this.selected.get(rel.name);
    const versions = this.index.versions.get(rel.name) ?? [];
    let realWhy: string | undefined;
    if (selected !== undefined) {
      realWhy = `${rel.name} ${selected.pkg.version} already selected`;
    } else if (versions.length > 0) {
      const best = versions.find((p) => satisfiesRelation(p.version, rel));
      if (best !== undefined) return { pkg: best, note: '' };
      realWhy = `only ${[...new Set(versions.map((p) => p.version))].join(', ')} available`;
    }
    const provider = this.chooseProvider(rel);
    if (provider !== undefined && 'pkg' in provider) return provider;
    if (realWhy !== undefined) return { excluded: false, why: realWhy };
    return provider ?? { excluded: false, why: this.index.missing(rel.name, this.input.arch) };
  }

  /** Among packages providing rel.name: by Priority, then name; each at its best providing version. */
  private chooseProvider(rel: Relation): AlternativeResult | undefined {
    const all = this.index.providers.get(rel.name) ?? [];
    if (all.length === 0) return undefined;
    const usable = all.filter((p) => provisionSatisfies(p, rel));
    const best = new Map<string, DebPackage>();
    const excludedNames = new Set<string>();
    for (const p of usable) {
      if (this.excluded.has(p.pkg.name)) excludedNames.add(p.pkg.name);
      // A selected provider at a version that does not provide this cannot be swapped out.
      else if (!this.selected.has(p.pkg.name) && !best.has(p.pkg.name)) best.set(p.pkg.name, p.pkg);
    }
    const ranked = [...best.values()].sort((a, b) => priorityRank(a) - priorityRank(b) || byName(a.name, b.name));
    const chosen = ranked[0];
    if (chosen !== undefined) {
      const others = ranked.slice(1).map((p) => p.name);
      const alternatives = others.length === 0 ? '' : `; other providers: ${others.join(', ')}`;
      return { pkg: chosen, note: ` (provides ${rel.name}${alternatives})` };
    }
    if (excludedNames.size > 0) {
      return { excluded: true, why: `provided only by excluded packages (${[...excludedNames].sort(byName).join(', ')})` };
    }
    const offered = [...new Set(all.map((p) => formatRelation({ ...p.provides, name: p.pkg.name })))];
    return { excluded: false, why: `only provided as ${offered.join(', ')}` };
  }

  /** Conflicts, and Breaks whose version matches, between two selected packages are fatal. */
  private checkConflicts(): void {
    for (const name of [...this.selected.keys()].sort(byName)) {
      const node = this.selected.get(name)!;
      for (const fieldName of ['Conflicts', 'Breaks']) {
        for (const rel of relationsOf(node.pkg, fieldName).flat()) {
          // A package may conflict with a virtual name it provides itself: only others count.
          const other = this.selectedMatches(rel).find((n) => n !== name);
          if (other === undefined) continue;
          const them = this.selected.get(other)!;
          throw new BaseimgError(
            'RESOLVE',
            `${name} ${node.pkg.version} and ${other} ${them.pkg.version} cannot be installed together ` +
              `(${name} has "${fieldName}: ${formatRelation(rel)}"; ${name}: ${node.reason}; ${other}: ${them.reason})`,
            { hint: `exclude one of them in packages.exclude, or pin versions that do not conflict` },
          );
        }
      }
    }
  }
}

/** Dependencies before dependents (src/util/install-order.ts). */
function installOrder(nodes: Map<string, Node>): string[] {
  return orderForInstall(new Map([...nodes].map(([name, node]) => [name, node.dependsOn])));
}

function sourceOf(pkg: DebPackage): { name: string; version: string } {
  const raw = field(pkg, 'Source')?.trim();
  if (raw === undefined || raw === '') return { name: pkg.name, version: pkg.version };
  const match = /^(\S+)\s*(?:\(\s*([^)\s]+)\s*\))?$/.exec(raw);
  if (match === null) return { name: raw, version: pkg.version };
  return { name: match[1]!, version: match[2] ?? pkg.version };
}

function toResolved(node: Node): ResolvedPackage {
  const { pkg } = node;
  const installedKiB = Number.parseInt(field(pkg, 'Installed-Size') ?? '', 10);
  return {
    name: pkg.name,
    version: pkg.version,
    architecture: pkg.architecture,
    url: `${pkg.baseUrl}/${pkg.filename}`,
    filename: pkg.filename,
    size: pkg.size,
    sha256: pkg.sha256,
    source: sourceOf(pkg),
    maintainer: field(pkg, 'Maintainer'),
    installedSize: Number.isFinite(installedKiB) ? installedKiB * 1024 : undefined,
    repository: pkg.suite,
    dependsOn: [...node.dependsOn].sort(byName),
    reason: node.reason,
    fields: { ...pkg.fields },
  };
}

/** Resolve the spec's package lists against the indexes. Throws RESOLVE errors the user can act on. */
export function resolveDebian(input: DebianResolveInput): DebianResolution {
  const resolver = new Resolver(input);
  resolver.run();
  const packages = installOrder(resolver.selected).map((name) => toResolved(resolver.selected.get(name)!));
  return { packages, dropped: resolver.dropped };
}
