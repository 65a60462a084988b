/**
 * The flattened root filesystem as one tar stream (what `docker export`
 * gives for a container), headers by src/image/tar-writer.ts.
 *
 * Order: every directory, symlink and device first (parents before
 * children), then regular files in the order their layers hold them (so a
 * compressed layer is decompressed once, not once per file), then hard links
 * (after the file they name). The root itself is not an entry, as in layers.
 */
import { encodeHeader, END_OF_ARCHIVE, padding, type TarHeader } from '../image/tar-writer.js';
import { BaseimgError } from '../util/errors.js';
import type { ContentReader } from './content.js';
import { metaOf, type FileInode, type FsView } from './fs-view.js';

export type Sink = (chunk: Buffer) => Promise<void>;

export interface ExportStats {
  entries: number;
  bytes: number;
}

/** mtimes before 1970 (they exist in the wild) cannot be written in ustar; 0 is the honest floor. */
const tarTime = (mtime: number): number => Math.max(0, Math.floor(mtime));

export async function writeRootfsTar(view: FsView, content: ContentReader, sink: Sink): Promise<ExportStats> {
  const firstPath = new Map<FileInode, string>();
  const links: TarHeader[] = [];
  const stats: ExportStats = { entries: 0, bytes: 0 };
  const emit = async (h: TarHeader): Promise<void> => {
    await sink(encodeHeader(h));
    stats.entries++;
  };

  for (const [path, node] of view.walk()) {
    if (path === '/') continue;
    const name = path.slice(1);
    const m = metaOf(node);
    const base = { name, mode: m.mode, uid: m.uid, gid: m.gid, mtime: tarTime(m.mtime), size: 0 };
    switch (node.kind) {
      case 'dir':
        await emit({ ...base, type: 'dir' });
        break;
      case 'symlink':
        await emit({ ...base, type: 'symlink', linkname: node.target });
        break;
      case 'char':
      case 'block':
        await emit({ ...base, type: node.kind, devmajor: node.devmajor, devminor: node.devminor });
        break;
      case 'fifo':
        await emit({ ...base, type: 'fifo' });
        break;
      case 'file': {
        const first = firstPath.get(node.inode);
        if (first === undefined) firstPath.set(node.inode, name);
        else links.push({ ...base, type: 'hardlink', linkname: first });
        break;
      }
    }
  }

  await content.forEach(firstPath.keys(), async (inode, body) => {
    const name = firstPath.get(inode)!;
    await emit({ name, type: 'file', mode: inode.mode, uid: inode.uid, gid: inode.gid, mtime: tarTime(inode.mtime), size: inode.size });
    let seen = 0;
    for await (const chunk of body) {
      seen += chunk.length;
      if (seen > inode.size) break;
      await sink(chunk);
    }
    if (seen !== inode.size) {
      throw new BaseimgError('IMAGE', `/${name}: read ${seen} bytes of content, the layer's header says ${inode.size}`);
    }
    const pad = padding(inode.size);
    if (pad.length > 0) await sink(pad);
    stats.bytes += inode.size;
  });

  for (const h of links) await emit(h);
  await sink(END_OF_ARCHIVE);
  return stats;
}
