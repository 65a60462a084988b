/**
 * Two flattened images compared path by path (content by sha256, so both
 * views must be flattened with digests), plus their package lists.
 * Modification times are not compared: rebuilding the same content moves them.
 */
import { compareVersions } from '../distro/debian/version.js';
import { compareNames } from '../rootfs/tree.js';
import { metaOf, pathInfo, type FsNode, type FsView, type PathInfo } from './fs-view.js';
import type { InstalledPackage } from './packages/index.js';

export type Change = 'type' | 'content' | 'mode' | 'owner' | 'target' | 'device';

export interface ChangedPath {
  path: string;
  changes: Change[];
  before: PathInfo;
  after: PathInfo;
}

export interface PackageChange {
  name: string;
  manager: InstalledPackage['manager'];
  before: string | undefined;
  after: string | undefined;
  kind: 'added' | 'removed' | 'upgraded' | 'downgraded';
}

export interface ImageDiff {
  added: PathInfo[];
  removed: PathInfo[];
  changed: ChangedPath[];
  packages: PackageChange[];
  size: { before: number; after: number; delta: number };
}

function flatMap(view: FsView): Map<string, FsNode> {
  const m = new Map<string, FsNode>();
  for (const [path, node] of view.walk()) if (path !== '/') m.set(path, node);
  return m;
}

function changesOf(a: FsNode, b: FsNode): Change[] {
  if (a.kind !== b.kind) return ['type'];
  const out: Change[] = [];
  if (a.kind === 'file' && b.kind === 'file') {
    const same = a.inode.size === b.inode.size && (a.inode.sha256 === undefined || a.inode.sha256 === b.inode.sha256);
    if (!same) out.push('content');
  }
  if (a.kind === 'symlink' && b.kind === 'symlink' && a.target !== b.target) out.push('target');
  if ((a.kind === 'char' || a.kind === 'block') && (b.kind === 'char' || b.kind === 'block') && (a.devmajor !== b.devmajor || a.devminor !== b.devminor)) out.push('device');
  const ma = metaOf(a);
  const mb = metaOf(b);
  if (a.kind !== 'symlink' && ma.mode !== mb.mode) out.push('mode');
  if (ma.uid !== mb.uid || ma.gid !== mb.gid) out.push('owner');
  return out;
}

export function diffViews(a: FsView, b: FsView, packagesA: readonly InstalledPackage[] = [], packagesB: readonly InstalledPackage[] = []): ImageDiff {
  const before = flatMap(a);
  const after = flatMap(b);
  const added: PathInfo[] = [];
  const removed: PathInfo[] = [];
  const changed: ChangedPath[] = [];
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort(compareNames);
  for (const path of paths) {
    const x = before.get(path);
    const y = after.get(path);
    if (x && !y) removed.push(pathInfo(path, x));
    else if (!x && y) added.push(pathInfo(path, y));
    else if (x && y) {
      const changes = changesOf(x, y);
      if (changes.length > 0) changed.push({ path, changes, before: pathInfo(path, x), after: pathInfo(path, y) });
    }
  }
  const sizeBefore = a.totals().bytes;
  const sizeAfter = b.totals().bytes;
  return { added, removed, changed, packages: diffPackages(packagesA, packagesB), size: { before: sizeBefore, after: sizeAfter, delta: sizeAfter - sizeBefore } };
}

export function diffPackages(a: readonly InstalledPackage[], b: readonly InstalledPackage[]): PackageChange[] {
  const key = (p: InstalledPackage): string => `${p.manager}\0${p.name}\0${p.architecture ?? ''}`;
  const left = new Map(a.map((p) => [key(p), p]));
  const right = new Map(b.map((p) => [key(p), p]));
  const out: PackageChange[] = [];
  for (const k of [...new Set([...left.keys(), ...right.keys()])].sort()) {
    const x = left.get(k);
    const y = right.get(k);
    const p = (x ?? y)!;
    const base = { name: p.name, manager: p.manager, before: x?.version, after: y?.version };
    if (!y) out.push({ ...base, kind: 'removed' });
    else if (!x) out.push({ ...base, kind: 'added' });
    else if (x.version !== y.version) {
      out.push({ ...base, kind: versionOrder(p.manager, x.version, y.version) < 0 ? 'upgraded' : 'downgraded' });
    }
  }
  return out;
}

/** dpkg's ordering for dpkg versions; apk versions (and anything dpkg rejects) compare numerically-aware. */
function versionOrder(manager: InstalledPackage['manager'], a: string, b: string): number {
  if (manager === 'dpkg') {
    try {
      return compareVersions(a, b);
    } catch {
      // not a valid Debian version: fall through
    }
  }
  return a.localeCompare(b, 'en', { numeric: true });
}
