/**
 * The root tree: the image's filesystem as metadata in memory. File bodies are
 * held by a BodyStore (in memory up to a budget, then spilled to one temp
 * file) so a large image does not need its whole content in RAM.
 *
 * Paths given to the tree are absolute POSIX paths inside the image ("/usr/bin/x");
 * the tree normalises them and never lets one resolve outside the root.
 */

export interface Meta {
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (integer). */
  mtime: number;
}

/** Where a file's bytes live; opaque outside BodyStore. */
export type BodyRef =
  /** In memory; `shared`: a view into a buffer the store holds for other bodies too. */
  | { kind: 'mem'; data: Buffer; shared?: true }
  | { kind: 'spill'; offset: number; length: number }
  /** Bytes of a file the store holds open (BodyStore.openSource), read in place. */
  | { kind: 'extent'; source: number; offset: number; length: number };

interface NodeBase {
  meta: Meta;
  /** Package that shipped this node (undefined: created by baseimg itself). */
  owner: string | undefined;
}

export interface FileNode extends NodeBase {
  type: 'file';
  size: number;
  body: BodyRef;
}

export interface DirNode extends NodeBase {
  type: 'dir';
  children: Map<string, TreeNode>;
}

export interface SymlinkNode extends NodeBase {
  type: 'symlink';
  target: string;
}

export interface DeviceNode extends NodeBase {
  type: 'char' | 'block' | 'fifo';
  devmajor: number;
  devminor: number;
}

/** A hard link is the same FileNode object reachable from two paths. */
export type TreeNode = FileNode | DirNode | SymlinkNode | DeviceNode;

/** What to do when a package writes a non-directory path that another package already owns. */
export type ConflictDecision = 'replace' | 'keep';
export type ConflictHandler = (path: string, existing: TreeNode, incomingOwner: string | undefined) => ConflictDecision;
