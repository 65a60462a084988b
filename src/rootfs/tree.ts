/**
 * The image's root filesystem as an in-memory tree with dpkg-like placement
 * rules:
 *  - every path is resolved inside the root: ".." components are rejected and
 *    symlinks met on the way are followed as if the root were "/" (chroot
 *    semantics), so nothing can escape it;
 *  - an existing symlink to a directory is followed when a package ships that
 *    directory (merged /usr: ./bin/x lands in /usr/bin/x when /bin -> usr/bin);
 *  - an existing directory keeps its metadata when shipped again;
 *  - a non-directory path shipped twice asks the conflict handler.
 */
import { BaseimgError } from '../util/errors.js';
import type { BodyStore } from './body-store.js';
import type {
  BodyRef,
  ConflictHandler,
  DeviceNode,
  DirNode,
  FileNode,
  Meta,
  SymlinkNode,
  TreeNode,
} from './types.js';

const MAX_SYMLINK_HOPS = 40;

export interface AddOptions {
  /** Package that ships the entry (undefined = baseimg's own file, always replaces). */
  owner?: string | undefined;
}

/** Split an in-image path into clean components; ".." or NUL is an error. */
export function pathComponents(path: string): string[] {
  if (path.includes('\0')) throw new BaseimgError('UNPACK', `path contains a NUL byte: ${JSON.stringify(path)}`);
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new BaseimgError('UNPACK', `path escapes the root: ${path}`);
    out.push(part);
  }
  return out;
}

/** "/a/b" from components. */
export function joinComponents(parts: readonly string[]): string {
  return '/' + parts.join('/');
}

function dirMetaLike(meta: Meta): Meta {
  return { mode: 0o755, uid: 0, gid: 0, mtime: meta.mtime };
}

export class RootTree {
  readonly root: DirNode;
  readonly bodies: BodyStore;
  /** Called when a package writes a non-directory over another package's entry. */
  onConflict: ConflictHandler | undefined;

  constructor(bodies: BodyStore, rootMeta: Meta = { mode: 0o755, uid: 0, gid: 0, mtime: 0 }) {
    this.bodies = bodies;
    this.root = { type: 'dir', meta: { ...rootMeta }, owner: undefined, children: new Map() };
  }

  /** The node at `path`, following symlinks in the parents and, if asked, at the end. */
  get(path: string, followFinal = false): TreeNode | undefined {
    const parts = pathComponents(path);
    if (parts.length === 0) return this.root;
    const parent = this.walkTo(parts.slice(0, -1), false, undefined);
    if (!parent) return undefined;
    const node = parent.dir.children.get(parts[parts.length - 1]!);
    if (node && followFinal && node.type === 'symlink') {
      return this.followLink(parent.path, node, false, undefined, 0)?.node;
    }
    return node;
  }

  /**
   * The canonical path (no symlinks in it) that `path` resolves to, resolving
   * every symlink including a final one; undefined if something is missing.
   */
  realpath(path: string): string | undefined {
    const parts = pathComponents(path);
    if (parts.length === 0) return '/';
    const parent = this.walkTo(parts.slice(0, -1), false, undefined);
    if (!parent) return undefined;
    const name = parts[parts.length - 1]!;
    const node = parent.dir.children.get(name);
    if (!node) return undefined;
    if (node.type !== 'symlink') return joinComponents([...parent.path, name]);
    const target = this.followLink(parent.path, node, false, undefined, 0);
    return target ? joinComponents(target.path) : undefined;
  }

  /** Create or keep a directory; parents are created 0755 root-owned when missing. */
  addDirectory(path: string, meta: Meta, options: AddOptions = {}): DirNode {
    const parts = pathComponents(path);
    if (parts.length === 0) return this.root;
    const parent = this.walkTo(parts.slice(0, -1), true, meta)!;
    const name = parts[parts.length - 1]!;
    const existing = parent.dir.children.get(name);
    if (!existing) {
      const dir: DirNode = { type: 'dir', meta: { ...meta }, owner: options.owner, children: new Map() };
      parent.dir.children.set(name, dir);
      return dir;
    }
    if (existing.type === 'dir') return existing;
    if (existing.type === 'symlink') {
      const target = this.followLink(parent.path, existing, true, meta, 0);
      if (target && target.node.type === 'dir') return target.node;
    }
    throw new BaseimgError(
      'CONFLICT',
      `${who(options.owner)} ships directory ${path}, but ${describe(existing)} is already there`,
    );
  }

  /** Place a regular file. */
  addFile(path: string, meta: Meta, body: BodyRef, size: number, options: AddOptions = {}): FileNode {
    const node: FileNode = { type: 'file', meta: { ...meta }, owner: options.owner, size, body };
    this.place(path, node, options);
    return node;
  }

  addSymlink(path: string, target: string, meta: Meta, options: AddOptions = {}): SymlinkNode {
    if (target === '' || target.includes('\0')) {
      throw new BaseimgError('UNPACK', `${who(options.owner)} ships symlink ${path} with an invalid target`);
    }
    const node: SymlinkNode = { type: 'symlink', meta: { ...meta, mode: 0o777 }, owner: options.owner, target };
    this.place(path, node, options);
    return node;
  }

  addDevice(path: string, type: DeviceNode['type'], meta: Meta, devmajor: number, devminor: number, options: AddOptions = {}): DeviceNode {
    const node: DeviceNode = { type, meta: { ...meta }, owner: options.owner, devmajor, devminor };
    this.place(path, node, options);
    return node;
  }

  /**
   * Make `path` another name for the regular file at `targetPath` (a tar hard
   * link). The target is looked up inside the root without following a final
   * symlink; it must be a regular file that already exists.
   */
  addHardlink(path: string, targetPath: string, options: AddOptions = {}): FileNode {
    const target = this.get(targetPath, false);
    if (!target) {
      throw new BaseimgError('UNPACK', `${who(options.owner)} ships hard link ${path} to ${targetPath}, which does not exist`);
    }
    if (target.type !== 'file') {
      throw new BaseimgError('UNPACK', `${who(options.owner)} ships hard link ${path} to ${targetPath}, which is not a regular file`);
    }
    this.place(path, target, options);
    return target;
  }

  /** Remove the entry at `path` (a final symlink is removed, not followed). Returns whether it existed. */
  remove(path: string): boolean {
    const parts = pathComponents(path);
    if (parts.length === 0) throw new BaseimgError('INTERNAL', 'cannot remove the root directory');
    const parent = this.walkTo(parts.slice(0, -1), false, undefined);
    if (!parent) return false;
    const name = parts[parts.length - 1]!;
    const node = parent.dir.children.get(name);
    if (!node) return false;
    parent.dir.children.delete(name);
    return true;
  }

  /**
   * Every entry below the root in a deterministic order: depth first, children
   * sorted by the bytes of their names. The root itself is not yielded.
   */
  *walk(): Generator<[string, TreeNode]> {
    yield* walkDir(this.root, '');
  }

  private place(path: string, node: TreeNode, options: AddOptions): void {
    const parts = pathComponents(path);
    if (parts.length === 0) throw new BaseimgError('UNPACK', `${who(options.owner)} ships an entry at the root path`);
    const parent = this.walkTo(parts.slice(0, -1), true, node.meta)!;
    const name = parts[parts.length - 1]!;
    const existing = parent.dir.children.get(name);
    if (existing) {
      if (existing.type === 'dir') {
        throw new BaseimgError(
          'CONFLICT',
          `${who(options.owner)} ships ${describeKind(node)} ${path}, but a directory is already there`,
        );
      }
      if (options.owner !== undefined && existing.owner === options.owner && existing !== node) {
        throw new BaseimgError('UNPACK', `${who(options.owner)} ships ${path} twice`);
      }
      if (options.owner !== undefined && existing.owner !== undefined && existing.owner !== options.owner) {
        const decision = this.onConflict
          ? this.onConflict(joinComponents([...parent.path, name]), existing, options.owner)
          : 'replace';
        if (decision === 'keep') return;
      }
    }
    parent.dir.children.set(name, node);
  }

  /**
   * Walk directory components from the root, following symlinks. With
   * `create`, missing directories are made (root-owned 0755, `like`'s mtime).
   * Returns the directory reached and its canonical path.
   */
  private walkTo(parts: readonly string[], create: boolean, like: Meta | undefined): { dir: DirNode; path: string[] } | undefined {
    let dir = this.root;
    let path: string[] = [];
    for (const part of parts) {
      let child = dir.children.get(part);
      if (!child) {
        if (!create) return undefined;
        child = { type: 'dir', meta: dirMetaLike(like!), owner: undefined, children: new Map() };
        dir.children.set(part, child);
      }
      if (child.type === 'symlink') {
        const resolved = this.followLink(path, child, create, like, 0);
        if (!resolved || resolved.node.type !== 'dir') {
          if (!create) return undefined;
          throw new BaseimgError(
            'CONFLICT',
            `${joinComponents([...path, part])} is a symlink to ${child.target}, which is not a directory inside the image`,
          );
        }
        dir = resolved.node;
        path = resolved.path;
        continue;
      }
      if (child.type !== 'dir') {
        if (!create) return undefined;
        throw new BaseimgError('CONFLICT', `${joinComponents([...path, part])} is ${describe(child)}, not a directory`);
      }
      dir = child;
      path = [...path, part];
    }
    return { dir, path };
  }

  /**
   * Resolve a symlink found in directory `dirPath` to the node it names, with
   * the root acting as "/" (".." at the root stays at the root).
   */
  private followLink(
    dirPath: readonly string[],
    link: SymlinkNode,
    create: boolean,
    like: Meta | undefined,
    hops: number,
  ): { node: TreeNode; path: string[] } | undefined {
    if (hops >= MAX_SYMLINK_HOPS) {
      throw new BaseimgError('UNPACK', `too many levels of symbolic links at ${joinComponents(dirPath)} -> ${link.target}`);
    }
    const stack: string[] = link.target.startsWith('/') ? [] : [...dirPath];
    const todo = link.target.split('/').filter((p) => p !== '' && p !== '.');
    let node: TreeNode = this.dirAt(stack);
    for (let i = 0; i < todo.length; i++) {
      const part = todo[i]!;
      if (part === '..') {
        stack.pop();
        node = this.dirAt(stack);
        continue;
      }
      if (node.type !== 'dir') return undefined;
      let child = node.children.get(part);
      if (!child) {
        if (!create) return undefined;
        child = { type: 'dir', meta: dirMetaLike(like!), owner: undefined, children: new Map() };
        node.children.set(part, child);
      }
      if (child.type === 'symlink') {
        const r = this.followLink(stack, child, create, like, hops + 1);
        if (!r) return undefined;
        stack.length = 0;
        stack.push(...r.path);
        node = r.node;
        continue;
      }
      stack.push(part);
      node = child;
    }
    return { node, path: stack };
  }

  /** The directory at a canonical (symlink-free) path; the path was built by walking, so it exists. */
  private dirAt(parts: readonly string[]): DirNode {
    let dir = this.root;
    for (const p of parts) {
      const c = dir.children.get(p);
      if (!c || c.type !== 'dir') throw new BaseimgError('INTERNAL', `canonical path ${joinComponents(parts)} vanished`);
      dir = c;
    }
    return dir;
  }
}

function* walkDir(dir: DirNode, prefix: string): Generator<[string, TreeNode]> {
  const names = [...dir.children.keys()].sort(compareNames);
  for (const name of names) {
    const node = dir.children.get(name)!;
    const path = `${prefix}/${name}`;
    yield [path, node];
    if (node.type === 'dir') yield* walkDir(node, path);
  }
}

/** Byte-wise order of UTF-8 names (JS string order differs for astral characters). */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(a) && /^[\x00-\x7f]*$/.test(b)) return a < b ? -1 : 1;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function who(owner: string | undefined): string {
  return owner === undefined ? 'baseimg' : `package ${owner}`;
}

function describeKind(node: TreeNode): string {
  return node.type === 'file' ? 'file' : node.type === 'dir' ? 'directory' : node.type === 'symlink' ? 'symlink' : `${node.type} device`;
}

function describe(node: TreeNode): string {
  const owner = node.owner === undefined ? '' : ` from ${node.owner}`;
  if (node.type === 'symlink') return `a symlink to ${node.target}${owner}`;
  return `a ${describeKind(node)}${owner}`;
}
