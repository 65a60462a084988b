/**
 * Layers → one FsView, applied in order the way container runtimes unpack
 * them (containerd's applier, umoci):
 *  - a directory over a directory updates its metadata and keeps the
 *    contents; any other entry replaces what is there (a directory replaced
 *    by a file loses its whole subtree; a file may become a symlink);
 *  - symlinks in an entry's parent path are followed inside the image, so
 *    `bin/x` lands in /usr/bin/x when /bin -> usr/bin; missing parents are
 *    created 0755 root-owned; a parent that is a file is an error;
 *  - ".wh.<name>" removes <name> and ".wh..wh..opq" hides the directory's
 *    contents, but only what lower layers put there (OCI image spec: whiteouts
 *    apply to lower layers, so their position within the layer does not matter);
 *  - a hard link names a path already in the view, from this layer or a
 *    lower one, and shares its inode.
 */
import { Sha256Counter } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import { FsView, joinPath, MAX_SYMLINK_HOPS, splitPath, type DirNode, type FsNode } from './fs-view.js';
import { layerLabel, readLayer, type LayerEntry, type LayerReadStats } from './layer-stream.js';
import type { BlobSource } from './source.js';
import type { LayerRef, LayerStats } from './types.js';

export interface FlattenOptions {
  /** Compute the sha256 of every regular file (diff needs it; costs CPU, not I/O). */
  digests?: boolean;
  /** Keep the bytes of regular files at these canonical paths ("/var/lib/dpkg/status"). */
  capture?: (path: string) => boolean;
  /** Largest file `capture` keeps (default 64 MiB); bigger ones are read again on demand. */
  captureLimit?: number;
}

export interface Flattened {
  view: FsView;
  layers: LayerStats[];
  notes: string[];
}

export async function flattenLayers(source: BlobSource, layers: readonly LayerRef[], options: FlattenOptions = {}): Promise<Flattened> {
  const view = new FsView();
  const stats: LayerStats[] = [];
  const notes: string[] = [];
  for (const layer of layers) {
    if (!layer.blob) {
      stats.push({ compression: undefined, uncompressedSize: undefined, entries: 0, whiteouts: 0, skipped: true });
      notes.push(`layer ${layer.index + 1} (${layer.name}) is a foreign layer the archive does not include; skipped, so its files are missing from the view${layer.urls?.length ? ` (it is fetched from ${layer.urls.join(', ')})` : ''}`);
      continue;
    }
    if (layer.foreign) notes.push(`layer ${layer.index + 1} (${layer.name}) is a foreign layer; the archive includes it, so it is applied`);
    const read: LayerReadStats = { compression: 'none', uncompressedSize: undefined };
    const s: LayerStats = { compression: undefined, uncompressedSize: undefined, entries: 0, whiteouts: 0, skipped: false };
    const applier = new LayerApplier(view, layer.index, layerLabel(source, layer), options);
    for await (const entry of readLayer(source, layer, { verify: true, stats: read })) {
      s.entries++;
      if (entry.kind === 'whiteout' || entry.kind === 'opaque') s.whiteouts++;
      await applier.apply(entry);
    }
    s.compression = read.compression;
    s.uncompressedSize = read.uncompressedSize;
    stats.push(s);
  }
  return { view, layers: stats, notes };
}

class LayerApplier {
  constructor(
    private readonly view: FsView,
    private readonly layer: number,
    private readonly what: string,
    private readonly options: FlattenOptions,
  ) {}

  async apply(e: LayerEntry): Promise<void> {
    if (e.kind === 'ignored') return;
    const parentParts = e.parts.slice(0, -1);
    if (e.kind === 'whiteout' || e.kind === 'opaque') {
      const dir = this.dirAt(parentParts, false, e, 0);
      if (!dir) return;
      if (e.kind === 'opaque') this.prune(dir.node);
      else {
        const victim = dir.node.children.get(e.whiteoutOf!);
        if (victim && victim.layer < this.layer) remove(dir.node, e.whiteoutOf!);
        // This layer re-created it: the lower one is still gone, including anything below it.
        else if (victim?.kind === 'dir') this.prune(victim);
      }
      return;
    }
    if (e.parts.length === 0) {
      // The root's own entry ("./"): only its metadata matters.
      if (e.type === 'directory') Object.assign(this.view.root, this.meta(e), { layer: this.layer, implicit: false });
      return;
    }
    const parent = this.dirAt(parentParts, true, e, 0)!;
    const name = e.parts[e.parts.length - 1]!;
    const existing = parent.node.children.get(name);
    const path = joinPath([...parent.parts, name]);

    switch (e.type) {
      case 'directory':
        if (existing?.kind === 'dir') {
          Object.assign(existing, this.meta(e), { layer: this.layer, implicit: false });
          return;
        }
        this.place(parent.node, name, { kind: 'dir', ...this.meta(e), layer: this.layer, children: new Map(), implicit: false });
        return;
      case 'file':
        return this.placeFile(parent.node, name, path, e);
      case 'symlink':
        this.place(parent.node, name, { kind: 'symlink', ...this.meta(e), mode: 0o777, target: e.linkname ?? '', layer: this.layer });
        return;
      case 'hardlink':
        return this.placeHardlink(parent.node, name, existing, e);
      case 'char':
      case 'block':
      case 'fifo':
        this.place(parent.node, name, { kind: e.type, ...this.meta(e), devmajor: e.devmajor, devminor: e.devminor, layer: this.layer });
        return;
    }
  }

  private meta(e: LayerEntry): { mode: number; uid: number; gid: number; mtime: number } {
    return { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
  }

  private place(dir: DirNode, name: string, node: FsNode): void {
    if (dir.children.has(name)) remove(dir, name);
    dir.children.set(name, node);
    if (node.kind === 'file') node.inode.nlink++;
  }

  private async placeFile(dir: DirNode, name: string, path: string, e: LayerEntry): Promise<void> {
    const capture = this.options.capture?.(path) === true && e.size <= (this.options.captureLimit ?? 64 << 20);
    let sha256: string | undefined;
    let content: Buffer | undefined;
    if (capture || this.options.digests) {
      const hash = this.options.digests ? new Sha256Counter() : undefined;
      const chunks: Buffer[] = [];
      for await (const chunk of e.body) {
        hash?.update(chunk);
        if (capture) chunks.push(chunk);
      }
      sha256 = hash?.digest();
      if (capture) content = Buffer.concat(chunks);
    }
    const inode = this.view.newInode({ ...this.meta(e), size: e.size, layer: this.layer, entry: e.ordinal, entryPath: e.rawPath, sha256, content });
    this.place(dir, name, { kind: 'file', inode, layer: this.layer });
  }

  private placeHardlink(dir: DirNode, name: string, existing: FsNode | undefined, e: LayerEntry): void {
    const target = this.view.lookup(e.linkParts ?? [], false);
    const shown = `hard link ${JSON.stringify(e.rawPath)} → ${JSON.stringify(e.linkname)}`;
    if (!target) throw new BaseimgError('IMAGE', `${this.what}: ${shown} points at a path that does not exist in the image at that layer`);
    if (target.node === existing) return; // a link to itself
    const t = target.node;
    if (t.kind === 'dir') throw new BaseimgError('IMAGE', `${this.what}: ${shown} points at a directory`);
    // A hard link to a symlink or device is a copy of it; only regular files share content.
    const node: FsNode = t.kind === 'file' ? { kind: 'file', inode: t.inode, layer: this.layer } : { ...t, layer: this.layer };
    this.place(dir, name, node);
  }

  /** Hide what lower layers put below `dir` (an opaque whiteout). */
  private prune(dir: DirNode): void {
    for (const [name, child] of [...dir.children]) {
      if (child.layer < this.layer) remove(dir, name);
      else if (child.kind === 'dir') this.prune(child);
    }
  }

  /**
   * The directory at `parts`, following symlinks inside the image; with
   * `create`, missing directories are made (0755, root). A file in the way is an error.
   */
  private dirAt(parts: readonly string[], create: boolean, e: LayerEntry, hops: number): { node: DirNode; parts: string[] } | undefined {
    let dir = this.view.root;
    let at: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      let node = dir.children.get(name);
      if (!node) {
        if (!create) return undefined;
        node = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, layer: this.layer, children: new Map(), implicit: true };
        dir.children.set(name, node);
      }
      if (node.kind === 'symlink') {
        if (hops >= MAX_SYMLINK_HOPS) throw new BaseimgError('IMAGE', `${this.what}: too many levels of symbolic links under ${JSON.stringify(e.rawPath)}`);
        const base = node.target.startsWith('/') ? [] : at;
        const rest = parts.slice(i + 1);
        return this.dirAt([...splitPath([...base, node.target].join('/')), ...rest], create, e, hops + 1);
      }
      if (node.kind !== 'dir') {
        throw new BaseimgError('IMAGE', `${this.what}: ${JSON.stringify(e.rawPath)} needs ${joinPath([...at, name])} to be a directory, but it is a ${node.kind === 'file' ? 'regular file' : node.kind}`, {
          hint: 'container runtimes refuse this layer too (ENOTDIR); the image was built incorrectly',
        });
      }
      dir = node;
      at = [...at, name];
    }
    return { node: dir, parts: at };
  }
}

/** Drop `name` from `dir`, keeping hard-link counts right. */
function remove(dir: DirNode, name: string): void {
  const node = dir.children.get(name);
  if (!node) return;
  dir.children.delete(name);
  const stack: FsNode[] = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.kind === 'file') n.inode.nlink--;
    else if (n.kind === 'dir') stack.push(...n.children.values());
  }
}
