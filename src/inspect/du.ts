/**
 * Where the bytes are: per directory (like `du --apparent-size -d N`) or per
 * installed package. Sizes are the bytes of regular files; a hard-linked
 * file counts once, for the first of its paths in byte order (du does the
 * same). Directories, symlinks and devices count 0. Every byte is counted
 * exactly once, so per-package sizes plus "unowned" add up to the total.
 */
import { compareNames } from '../rootfs/tree.js';
import { FsView, joinPath, type FileInode, type FsNode, type Resolved } from './fs-view.js';
import { attributeFiles, type InstalledPackage } from './packages/index.js';

export interface DuRow {
  path: string;
  /** Depth below the starting path (0 = the start itself). */
  depth: number;
  bytes: number;
  /** Regular files (each inode once). */
  files: number;
}

interface Sized {
  path: string;
  depth: number;
  bytes: number;
  files: number;
  children: Sized[];
}

/**
 * Rows for the start and every directory below it down to `maxDepth`,
 * parents first; siblings largest first (then by name), so the tree reads
 * top-down and the costly branches come first.
 */
export function duDirectories(start: Resolved, maxDepth: number): DuRow[] {
  const seen = new Set<FileInode>();
  const measure = (node: FsNode, parts: string[], depth: number): Sized => {
    const me: Sized = { path: joinPath(parts), depth, bytes: 0, files: 0, children: [] };
    if (node.kind === 'file') {
      if (!seen.has(node.inode)) {
        seen.add(node.inode);
        me.bytes = node.inode.size;
        me.files = 1;
      }
      return me;
    }
    if (node.kind !== 'dir') return me;
    for (const [name, child] of FsView.sortedChildren(node)) {
      const c = measure(child, [...parts, name], depth + 1);
      me.bytes += c.bytes;
      me.files += c.files;
      if (child.kind === 'dir') me.children.push(c);
    }
    return me;
  };
  const rows: DuRow[] = [];
  const emit = (s: Sized): void => {
    rows.push({ path: s.path, depth: s.depth, bytes: s.bytes, files: s.files });
    if (s.depth >= maxDepth) return;
    const kids = [...s.children].sort((a, b) => b.bytes - a.bytes || compareNames(a.path, b.path));
    for (const k of kids) emit(k);
  };
  emit(measure(start.node, start.parts, 0));
  return rows;
}

export interface PackageUsage {
  name: string;
  version: string;
  manager: InstalledPackage['manager'];
  files: number;
  bytes: number;
}

export interface UsageByPackage {
  /** Largest first, then by name. */
  packages: PackageUsage[];
  unowned: { files: number; bytes: number };
  total: { files: number; bytes: number };
}

/**
 * Bytes below `start` per owning package. With `start` at the root every
 * installed package is listed, also those owning nothing (0 bytes).
 */
export function duByPackage(view: FsView, start: Resolved, packages: readonly InstalledPackage[]): UsageByPackage {
  const owners = attributeFiles(view, packages);
  const usage = new Map<InstalledPackage, PackageUsage>();
  const row = (p: InstalledPackage): PackageUsage => {
    let u = usage.get(p);
    if (!u) {
      u = { name: p.name, version: p.version, manager: p.manager, files: 0, bytes: 0 };
      usage.set(p, u);
    }
    return u;
  };
  if (start.parts.length === 0) for (const p of packages) row(p);
  const unowned = { files: 0, bytes: 0 };
  const total = { files: 0, bytes: 0 };
  const seen = new Set<FileInode>();
  for (const [, node] of view.walk(start)) {
    if (node.kind !== 'file' || seen.has(node.inode)) continue;
    seen.add(node.inode);
    const owner = owners.get(node.inode);
    const bucket = owner ? row(owner) : unowned;
    bucket.files++;
    bucket.bytes += node.inode.size;
    total.files++;
    total.bytes += node.inode.size;
  }
  const list = [...usage.values()].sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { packages: list, unowned, total };
}
