/**
 * The upper layer between two root trees: what turns `lower` (a parent
 * spec's finished tree) into `upper` (the child's), as an OCI layer tree:
 *  - entries that are new or differ (type, mode, owner, content, link
 *    target, device numbers), with every directory on the way to them;
 *  - a whiteout `.wh.<name>` (an empty file, mode 0) for each entry of
 *    `lower` that `upper` lacks. An entry that changes between directory and
 *    non-directory needs none: the OCI layer spec has an applier remove
 *    whatever is at a path before writing an entry of another kind there
 *    (only two directories merge).
 * mtimes are not compared: files baseimg generates carry each spec's own
 * SOURCE_DATE_EPOCH, and a passwd that only got a later date is not a change.
 * The result shares `upper`'s bodies and node objects (hard links stay hard
 * links within the layer).
 */
import { createHash } from 'node:crypto';
import type { BodyStore } from './body-store.js';
import { RootTree } from './tree.js';
import type { DirNode, FileNode, TreeNode } from './types.js';

export const WHITEOUT_PREFIX = '.wh.';

export interface TreeDiff {
  /** The layer's tree: changed entries, their parents, whiteouts. */
  tree: RootTree;
  /** True when something other than `ignore`d paths changed. */
  changed: boolean;
  added: number;
  removed: number;
}

export interface DiffOptions {
  /** mtime of whiteout entries. */
  mtime: number;
  /** Paths whose change alone does not make the layer worth writing (the embedded SBOM). */
  ignore?: (path: string) => boolean;
}

export async function diffTrees(lower: RootTree, upper: RootTree, options: DiffOptions): Promise<TreeDiff> {
  const tree = new RootTree(upper.bodies, upper.root.meta);
  const whiteoutBody = await upper.bodies.put(Buffer.alloc(0));
  const state = { changed: false, added: 0, removed: 0 };
  const ignore = options.ignore ?? (() => false);
  const note = (path: string): void => {
    if (!ignore(path)) state.changed = true;
  };
  const whiteout = (out: DirNode, name: string): void => {
    const node: FileNode = { type: 'file', meta: { mode: 0, uid: 0, gid: 0, mtime: options.mtime }, owner: undefined, size: 0, body: whiteoutBody };
    out.children.set(`${WHITEOUT_PREFIX}${name}`, node);
  };
  const same = new SameContent(lower.bodies, upper.bodies);

  const walk = async (low: DirNode, up: DirNode, path: string, out: DirNode): Promise<boolean> => {
    let any = false;
    for (const name of new Set([...low.children.keys(), ...up.children.keys()])) {
      const here = `${path}/${name}`;
      const l = low.children.get(name);
      const u = up.children.get(name);
      if (u === undefined) {
        whiteout(out, name);
        state.removed++;
        note(here);
        any = true;
        continue;
      }
      if (l === undefined || (l.type === 'dir') !== (u.type === 'dir')) {
        out.children.set(name, copySubtree(u));
        state.added++;
        note(here);
        any = true;
        continue;
      }
      if (l.type === 'dir' && u.type === 'dir') {
        const sub: DirNode = { type: 'dir', meta: { ...u.meta }, owner: u.owner, children: new Map() };
        const below = await walk(l, u, here, sub);
        if (below || !sameMeta(l, u)) {
          out.children.set(name, sub);
          if (!sameMeta(l, u)) note(here);
          any = true;
        }
        continue;
      }
      if (!(await same.leaf(l, u))) {
        out.children.set(name, u);
        state.added++;
        note(here);
        any = true;
      }
    }
    return any;
  };
  await walk(lower.root, upper.root, '', tree.root);
  return { tree, ...state };
}

/** A directory's subtree with fresh directory nodes (so the layer tree never aliases upper's maps). */
function copySubtree(node: TreeNode): TreeNode {
  if (node.type !== 'dir') return node;
  const children = new Map<string, TreeNode>();
  for (const [name, child] of node.children) children.set(name, copySubtree(child));
  return { type: 'dir', meta: { ...node.meta }, owner: node.owner, children };
}

function sameMeta(a: TreeNode, b: TreeNode): boolean {
  return a.meta.mode === b.meta.mode && a.meta.uid === b.meta.uid && a.meta.gid === b.meta.gid;
}

/** Compares leaves across two trees; file bodies by SHA-256 (each body hashed once). */
class SameContent {
  private readonly hashes = new Map<object, string>();

  constructor(
    private readonly lowerBodies: BodyStore,
    private readonly upperBodies: BodyStore,
  ) {}

  async leaf(l: TreeNode, u: TreeNode): Promise<boolean> {
    if (l.type !== u.type || !sameMeta(l, u)) return false;
    switch (u.type) {
      case 'symlink':
        return l.type === 'symlink' && l.target === u.target;
      case 'char':
      case 'block':
      case 'fifo':
        return (l.type === 'char' || l.type === 'block' || l.type === 'fifo') && l.devmajor === u.devmajor && l.devminor === u.devminor;
      case 'file':
        return l.type === 'file' && l.size === u.size && (await this.hash(l, this.lowerBodies)) === (await this.hash(u, this.upperBodies));
      case 'dir':
        return false;
    }
  }

  private async hash(node: FileNode, store: BodyStore): Promise<string> {
    let h = this.hashes.get(node);
    if (h === undefined) {
      const hash = createHash('sha256');
      for await (const chunk of store.chunks(node.body)) hash.update(chunk);
      h = hash.digest('hex');
      this.hashes.set(node, h);
    }
    return h;
  }
}
