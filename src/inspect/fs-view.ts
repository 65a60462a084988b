/**
 * The flattened filesystem of an image: metadata only, with for each regular
 * file the place its bytes live (layer + entry ordinal), optionally its
 * sha256, and for a few small files (package databases) the bytes themselves.
 *
 * Hard links share one FileInode, so sizes count each file once, as du does.
 * Paths are absolute POSIX paths inside the image ("/usr/bin/x"). Lookups
 * resolve symlinks with chroot semantics: an absolute target starts at the
 * image root and ".." stops there, so nothing resolves outside the image.
 */
import { compareNames } from '../rootfs/tree.js';
import { BaseimgError } from '../util/errors.js';

export const MAX_SYMLINK_HOPS = 40;

export interface Meta {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

/** A regular file's identity: every hard link to it shares this object. */
export interface FileInode extends Meta {
  id: number;
  size: number;
  /** Layer (0-based) and entry ordinal whose body holds the bytes. */
  layer: number;
  entry: number;
  /** Path the entry had in its layer (to check a second read finds the same entry). */
  entryPath: string;
  /** "sha256:<hex>" of the content, when flattening was asked to hash. */
  sha256: string | undefined;
  /** The content itself, when flattening was asked to keep it (package databases). */
  content: Buffer | undefined;
  /** Number of paths naming this inode in the final view. */
  nlink: number;
}

interface Base {
  /** Layer (0-based) that last wrote this path. */
  layer: number;
}
export interface DirNode extends Base, Meta {
  kind: 'dir';
  children: Map<string, FsNode>;
  /** Created only because a deeper path needed it (no entry of its own). */
  implicit: boolean;
}
export interface FileNode extends Base {
  kind: 'file';
  inode: FileInode;
}
export interface SymlinkNode extends Base, Meta {
  kind: 'symlink';
  target: string;
}
export interface SpecialNode extends Base, Meta {
  kind: 'char' | 'block' | 'fifo';
  devmajor: number;
  devminor: number;
}
export type FsNode = DirNode | FileNode | SymlinkNode | SpecialNode;
export type NodeKind = FsNode['kind'];

export function metaOf(node: FsNode): Meta {
  return node.kind === 'file' ? node.inode : node;
}

export function sizeOf(node: FsNode): number {
  return node.kind === 'file' ? node.inode.size : 0;
}

/** Plain description of a path, as commands print it and --json emits it. */
export interface PathInfo {
  path: string;
  type: NodeKind;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkTarget?: string;
  nlink?: number;
  devmajor?: number;
  devminor?: number;
  sha256?: string;
}

export function pathInfo(path: string, node: FsNode): PathInfo {
  const m = metaOf(node);
  const info: PathInfo = { path, type: node.kind, mode: m.mode, uid: m.uid, gid: m.gid, size: sizeOf(node), mtime: m.mtime };
  if (node.kind === 'symlink') info.linkTarget = node.target;
  if (node.kind === 'file') {
    info.nlink = node.inode.nlink;
    if (node.inode.sha256) info.sha256 = node.inode.sha256;
  }
  if (node.kind === 'char' || node.kind === 'block') {
    info.devmajor = node.devmajor;
    info.devminor = node.devminor;
  }
  return info;
}

export function splitPath(path: string): string[] {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return parts;
}

export function joinPath(parts: readonly string[]): string {
  return '/' + parts.join('/');
}

export interface Resolved {
  node: FsNode;
  /** Canonical components (no symlinks in the parents; the final one as asked). */
  parts: string[];
}

export class FsView {
  readonly root: DirNode = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, layer: -1, children: new Map(), implicit: true };
  private nextInode = 1;

  newInode(fields: Omit<FileInode, 'id' | 'nlink'>): FileInode {
    return { ...fields, id: this.nextInode++, nlink: 0 };
  }

  /**
   * The node at `path`. Symlinks in the parents are always followed (inside
   * the image); a final symlink only with `followFinal`. undefined when missing.
   */
  lookup(path: string | readonly string[], followFinal = false): Resolved | undefined {
    return this.resolveParts(typeof path === 'string' ? splitPath(path) : [...path], followFinal, 0);
  }

  private resolveParts(parts: string[], followFinal: boolean, hops: number): Resolved | undefined {
    let dir: DirNode = this.root;
    const at: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      const node = dir.children.get(name);
      if (!node) return undefined;
      const last = i === parts.length - 1;
      if (node.kind === 'symlink' && (!last || followFinal)) {
        if (hops >= MAX_SYMLINK_HOPS) throw new BaseimgError('IMAGE', `too many levels of symbolic links at ${joinPath([...at, name])}`);
        const target = node.target.startsWith('/') ? node.target.split('/') : [...at, ...node.target.split('/')];
        return this.resolveParts([...splitPath(target.join('/')), ...parts.slice(i + 1)], followFinal, hops + 1);
      }
      at.push(name);
      if (last) return { node, parts: at };
      if (node.kind !== 'dir') return undefined;
      dir = node;
    }
    return { node: this.root, parts: [] };
  }

  /** Children of a directory in byte order of their names. */
  static sortedChildren(dir: DirNode): Array<[string, FsNode]> {
    return [...dir.children.entries()].sort((a, b) => compareNames(a[0], b[0]));
  }

  /** Every path below `start` (itself included), parents first, names in byte order. */
  *walk(start: Resolved = { node: this.root, parts: [] }, maxDepth = Infinity): Generator<[string, FsNode, number]> {
    const stack: Array<[string[], FsNode, number]> = [[start.parts, start.node, 0]];
    while (stack.length > 0) {
      const [parts, node, depth] = stack.pop()!;
      yield [joinPath(parts), node, depth];
      if (node.kind === 'dir' && depth < maxDepth) {
        const kids = FsView.sortedChildren(node);
        for (let i = kids.length - 1; i >= 0; i--) stack.push([[...parts, kids[i]![0]], kids[i]![1], depth + 1]);
      }
    }
  }

  /** Counts and bytes below `start`; each inode's bytes once. */
  totals(start?: Resolved): { entries: number; files: number; dirs: number; symlinks: number; others: number; bytes: number } {
    const t = { entries: 0, files: 0, dirs: 0, symlinks: 0, others: 0, bytes: 0 };
    const seen = new Set<FileInode>();
    for (const [, node] of this.walk(start)) {
      t.entries++;
      if (node.kind === 'file') {
        t.files++;
        if (!seen.has(node.inode)) {
          seen.add(node.inode);
          t.bytes += node.inode.size;
        }
      } else if (node.kind === 'dir') t.dirs++;
      else if (node.kind === 'symlink') t.symlinks++;
      else t.others++;
    }
    return t;
  }
}
