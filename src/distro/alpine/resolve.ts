/**
 * The Alpine dependency resolver: from the repositories' packages and the
 * spec's include/exclude lists to the closure over D: dependencies plus the
 * install_if packages it triggers, in install order.
 *
 * It follows apk's rules where they decide the outcome (see docs/DESIGN.md,
 * "Alpine"): "so:", "cmd:", "pc:" and path names are satisfied through p:
 * provides; a provides without a version is chosen only with a
 * provider_priority (k:); versioned provides make a package the one owner of
 * the name; "!name" conflicts; install_if. It is a greedy resolver, not
 * apk's backtracking solver: the first package chosen for a name stays, and a
 * later contradiction is reported rather than solved. Pure and deterministic.
 */
import { BaseimgError, didYouMean } from '../../util/errors.js';
import type { ResolvedPackage } from '../types.js';
import { ApkCatalog, autoSelectable, byName, compareOffers, type Offer } from './catalog.js';
import { formatDependency, parseDependency, versionMatches, type ApkDependency } from './dependency.js';
import { installOrder } from '../../util/install-order.js';
import type { ApkPackage } from './package.js';

export interface AlpineResolveInput {
  packages: readonly ApkPackage[];
  /** Names whose index entries were unusable, with the reason. */
  broken?: ReadonlyMap<string, string>;
  /** Names that exist only for other architectures. */
  otherArchs?: ReadonlyMap<string, ReadonlySet<string>>;
  /** Spec entries: "name", "name>=1.2", "so:libc.musl-x86_64.so.1"... */
  include: readonly string[];
  exclude: readonly string[];
  /** apk architecture, for messages ("x86_64"). */
  arch: string;
  /** Entries added on the spec's behalf (the CA bundle), with why. */
  extra?: ReadonlyArray<{ entry: string; reason: string }>;
}

export interface DroppedDependency {
  from: string;
  dependency: string;
  why: string;
}

export interface AlpineResolution {
  /** Install order: dependencies first, ties by name. */
  packages: ResolvedPackage[];
  /** The chosen packages themselves, by name. */
  chosen: Map<string, ApkPackage>;
  dropped: DroppedDependency[];
  /** What /etc/apk/world lists: the requested entries, sorted. */
  world: string[];
}

interface Node {
  pkg: ApkPackage;
  /** Package names from a requested package down to this one. */
  path: string[];
  reason: string;
  dependsOn: Set<string>;
}

type Choice = { kind: 'new'; pkg: ApkPackage; note: string } | { kind: 'dropped' | 'unsatisfiable'; why: string };

const UNSATISFIABLE_HINT =
  'exclude the package that needs it (packages.exclude), constrain versions in packages.include, or add the repository that has it';

class Resolver {
  private readonly catalog: ApkCatalog;
  private readonly excluded: Set<string>;
  readonly selected = new Map<string, Node>();
  /** Names with one owner: package names and versioned provides → the package holding them. */
  private readonly owners = new Map<string, string>();
  readonly dropped: DroppedDependency[] = [];

  constructor(private readonly input: AlpineResolveInput) {
    this.catalog = new ApkCatalog(input.packages);
    this.excluded = new Set(input.exclude);
  }

  run(): void {
    const requests = [
      ...this.input.include.map((entry) => ({ entry, reason: 'requested', where: 'in packages.include' })),
      ...(this.input.extra ?? []).map((e) => ({ ...e, where: `for ${e.reason}` })),
    ].sort((a, b) => byName(a.entry, b.entry));
    const queue: string[] = [];
    for (const { entry, reason, where } of requests) {
      const dep = parseDependency(entry, 'packages.include');
      if (this.excluded.has(dep.name)) {
        fail(`"${dep.name}" is both ${where} and in packages.exclude`, 'remove it from packages.exclude');
      }
      if (this.satisfiers(dep).length > 0) continue;
      const pkg = this.requested(dep, entry, where);
      const as = pkg.name === dep.name ? '' : ` (as ${dep.name})`;
      this.select(pkg, [pkg.name], `${reason}${as}`);
      queue.push(pkg.name);
    }
    this.closure(queue);
    this.addInstallIf();
    this.checkConflicts();
  }

  /** Follow the D: dependencies of everything in `queue` (breadth first: reasons are shortest chains). */
  private closure(queue: string[]): void {
    for (let head = 0; head < queue.length; head++) {
      const node = this.selected.get(queue[head]!)!;
      for (const dep of node.pkg.depends) {
        if (dep.conflict) continue;
        const existing = this.satisfiers(dep)[0];
        if (existing !== undefined) {
          if (existing !== node.pkg.name) node.dependsOn.add(existing);
          continue;
        }
        const choice = this.choose(dep);
        if (choice.kind === 'new') {
          const name = choice.pkg.name;
          this.select(choice.pkg, [...node.path, name], `${node.path.join(' → ')} → ${name}${choice.note}`);
          node.dependsOn.add(name);
          queue.push(name);
        } else if (choice.kind === 'dropped') {
          this.dropped.push({ from: node.pkg.name, dependency: formatDependency(dep), why: choice.why });
        } else {
          fail(`${[...node.path, formatDependency(dep)].join(' → ')}: ${choice.why}`, UNSATISFIABLE_HINT);
        }
      }
    }
  }

  /** install_if: add every package whose trigger conditions the selection meets, until nothing changes. */
  private addInstallIf(): void {
    for (let changed = true; changed; ) {
      changed = false;
      for (const name of this.catalog.installIfNames) {
        if (this.selected.has(name) || this.excluded.has(name)) continue;
        const pkg = this.catalog.versions.get(name)!.find((p) => p.installIf.length > 0 && this.triggered(p) && this.blocker(p) === undefined);
        if (pkg === undefined) continue;
        const conditions = pkg.installIf.map(formatDependency).join(', ');
        this.select(pkg, [name], `installed with ${conditions} (install_if)`);
        this.closure([name]);
        changed = true;
      }
    }
  }

  private triggered(pkg: ApkPackage): boolean {
    return pkg.installIf.every((d) => (this.satisfiers(positive(d)).length > 0) !== d.conflict);
  }

  private select(pkg: ApkPackage, path: string[], reason: string): void {
    const blocked = this.blocker(pkg);
    if (blocked !== undefined) fail(`cannot add ${pkg.name} ${pkg.version} (${reason}): ${blocked}`, UNSATISFIABLE_HINT);
    this.selected.set(pkg.name, { pkg, path, reason, dependsOn: new Set() });
    for (const name of ownedNames(pkg)) this.owners.set(name, pkg.name);
  }

  /** The package for a requested entry, or a RESOLVE error that says what is wrong with the entry. */
  private requested(dep: ApkDependency, entry: string, where: string): ApkPackage {
    const choice = this.choose(dep);
    if (choice.kind === 'new') return choice.pkg;
    const offers = this.catalog.offers.get(dep.name);
    if (offers === undefined) {
      const broken = this.input.broken?.get(dep.name);
      if (broken !== undefined) fail(`"${entry}" ${where}: ${broken}`, 'the repository index is damaged; report it to the repository');
      const archs = this.input.otherArchs?.get(dep.name);
      if (archs !== undefined) {
        fail(`package "${dep.name}" ${where} is not available for ${this.input.arch} (only ${[...archs].sort(byName).join(', ')})`, 'remove it or build for an architecture that has it');
      }
      fail(`unknown package "${dep.name}" ${where}${didYouMean(dep.name, this.catalog.allNames())}`, 'check the name (apk search), or add the repository that has it');
    }
    return fail(`"${entry}" ${where}: ${choice.why}`, UNSATISFIABLE_HINT);
  }

  /** Selected packages that meet `dep` (ignoring "!"): the package of that name first, then providers by name. */
  private satisfiers(dep: ApkDependency): string[] {
    const found: string[] = [];
    const own = this.selected.get(dep.name);
    if (own !== undefined && versionMatches(dep, own.pkg.version, own.pkg.checksum)) found.push(dep.name);
    for (const offer of this.catalog.offers.get(dep.name) ?? []) {
      if (offer.real || this.selected.get(offer.pkg.name)?.pkg !== offer.pkg) continue;
      if (versionMatches(dep, offer.version, offer.pkg.checksum)) found.push(offer.pkg.name);
    }
    return found;
  }

  /** The best package to add for `dep`, or why there is none. */
  private choose(dep: ApkDependency): Choice {
    if (this.excluded.has(dep.name)) return { kind: 'dropped', why: `${dep.name} is excluded` };
    const offers = this.catalog.offers.get(dep.name) ?? [];
    const matching = offers.filter((o) => versionMatches(dep, o.version, o.pkg.checksum));
    const selectable = matching.filter((o) => autoSelectable(o, offers));
    const candidates: Offer[] = [];
    const excludedNames = new Set<string>();
    const blocked = new Map<string, string>();
    for (const offer of selectable) {
      if (this.excluded.has(offer.pkg.name)) {
        excludedNames.add(offer.pkg.name);
        continue;
      }
      const why = this.blocker(offer.pkg);
      if (why !== undefined) blocked.set(`${offer.pkg.name} ${offer.pkg.version}`, why);
      else candidates.push(offer);
    }
    if (candidates.length > 0) {
      const best = [...candidates].sort(compareOffers)[0]!;
      const others = [...new Set(candidates.filter((o) => o.pkg.name !== best.pkg.name).map((o) => o.pkg.name))];
      const note = best.real ? '' : ` (provides ${dep.name}${others.length > 0 ? `; other providers: ${others.join(', ')}` : ''})`;
      return { kind: 'new', pkg: best.pkg, note };
    }
    if (excludedNames.size > 0) return { kind: 'dropped', why: `provided only by excluded packages (${[...excludedNames].sort(byName).join(', ')})` };
    return { kind: 'unsatisfiable', why: this.explainMissing(dep, offers, matching, blocked) };
  }

  private explainMissing(dep: ApkDependency, offers: Offer[], matching: Offer[], blocked: Map<string, string>): string {
    if (blocked.size > 0) return [...blocked].map(([what, why]) => `${what}: ${why}`).join('; ');
    if (offers.length === 0) {
      const broken = this.input.broken?.get(dep.name);
      if (broken !== undefined) return `its index entry is unusable: ${broken}`;
      const archs = this.input.otherArchs?.get(dep.name);
      if (archs !== undefined) return `not available for ${this.input.arch} (only ${[...archs].sort(byName).join(', ')})`;
      return dep.name.includes(':') || dep.name.startsWith('/') ? `no package provides ${dep.name}` : `package ${dep.name} not found`;
    }
    if (matching.length === 0) {
      const versions = [...new Set(offers.map((o) => (o.real ? o.pkg.version : `${o.pkg.name} ${o.version ?? '(no version)'}`)))];
      return `only ${versions.join(', ')} available`;
    }
    const providers = [...new Set(matching.map((o) => o.pkg.name))].sort(byName);
    return `provided only without a version and without provider_priority by ${providers.join(', ')}; include one of them`;
  }

  /** Why `pkg` cannot join the selection, or undefined when it can. */
  private blocker(pkg: ApkPackage): string | undefined {
    const same = this.selected.get(pkg.name);
    if (same !== undefined) return `${pkg.name} ${same.pkg.version} is already selected`;
    for (const name of ownedNames(pkg)) {
      const owner = this.owners.get(name);
      if (owner !== undefined && owner !== pkg.name) return `${name} is already provided by ${owner}`;
    }
    for (const dep of pkg.depends) {
      if (!dep.conflict) continue;
      const hit = this.satisfiers(positive(dep))[0];
      if (hit !== undefined) return `it conflicts with ${hit} (${formatDependency(dep)})`;
    }
    for (const node of this.selected.values()) {
      const dep = node.pkg.depends.find((d) => d.conflict && offersFor(pkg, d));
      if (dep !== undefined) return `${node.pkg.name} conflicts with it (${formatDependency(dep)})`;
    }
    return undefined;
  }

  /** "!name" entries of the selection must match nothing else in it. */
  private checkConflicts(): void {
    for (const name of [...this.selected.keys()].sort(byName)) {
      const node = this.selected.get(name)!;
      for (const dep of node.pkg.depends) {
        if (!dep.conflict) continue;
        const other = this.satisfiers(positive(dep)).find((n) => n !== name);
        if (other === undefined) continue;
        const them = this.selected.get(other)!;
        throw new BaseimgError(
          'RESOLVE',
          `${name} ${node.pkg.version} and ${other} ${them.pkg.version} cannot be installed together ` +
            `(${name} depends on ${formatDependency(dep)}; ${name}: ${node.reason}; ${other}: ${them.reason})`,
          { hint: 'exclude one of them in packages.exclude, or constrain versions in packages.include' },
        );
      }
    }
  }
}

function fail(message: string, hint: string): never {
  throw new BaseimgError('RESOLVE', message, { hint });
}

function positive(dep: ApkDependency): ApkDependency {
  return { ...dep, conflict: false };
}

/** Names a package holds alone: its own and its versioned provides. */
function ownedNames(pkg: ApkPackage): string[] {
  return [pkg.name, ...pkg.provides.filter((p) => p.version !== undefined && p.name !== pkg.name).map((p) => p.name)];
}

/** Does `pkg` (by name or provides) meet `dep`, ignoring "!"? */
function offersFor(pkg: ApkPackage, dep: ApkDependency): boolean {
  const d = positive(dep);
  if (pkg.name === dep.name && versionMatches(d, pkg.version, pkg.checksum)) return true;
  return pkg.provides.some((p) => p.name === dep.name && versionMatches(d, p.version, pkg.checksum));
}

function toResolved(node: Node, arch: string): ResolvedPackage {
  const { pkg } = node;
  return {
    name: pkg.name,
    version: pkg.version,
    architecture: pkg.arch ?? arch,
    url: pkg.url,
    filename: `${pkg.name}-${pkg.version}.apk`,
    size: pkg.size,
    // APKINDEX carries no file hash; the backend fills it in once the file is known (see backend.ts).
    sha256: '',
    source: { name: pkg.origin ?? pkg.name, version: pkg.version },
    maintainer: pkg.maintainer,
    installedSize: pkg.installedSize,
    repository: pkg.repository,
    dependsOn: [...node.dependsOn].sort(byName),
    reason: node.reason,
    fields: { ...pkg.fields },
  };
}

export function resolveAlpine(input: AlpineResolveInput): AlpineResolution {
  const resolver = new Resolver(input);
  resolver.run();
  const order = installOrder(new Map([...resolver.selected].map(([name, node]) => [name, node.dependsOn])));
  return {
    packages: order.map((name) => toResolved(resolver.selected.get(name)!, input.arch)),
    chosen: new Map([...resolver.selected].map(([name, node]) => [name, node.pkg])),
    dropped: resolver.dropped,
    world: [...input.include, ...(input.extra ?? []).map((e) => e.entry)].sort(byName),
  };
}
