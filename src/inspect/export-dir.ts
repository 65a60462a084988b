/**
 * The flattened root filesystem written into a directory, without ever
 * writing outside it:
 *  - the target must be empty (or not exist), so nothing in it predates us;
 *  - every path comes from the view, whose names are single components
 *    (no "/", ".", ".." or NUL: the layer reader refused those) and whose
 *    parents are real directories, which we create ourselves (mkdir fails on
 *    anything already there, including a symlink);
 *  - files are opened O_CREAT|O_EXCL|O_NOFOLLOW, so a symlink in their place
 *    is an error, not a way out; symlinks are created last-but-not-followed
 *    (symlink(2) never follows), hard links name files we wrote;
 *  - directories are made 0700 and get their real modes at the end, children
 *    first, so a read-only directory does not stop its own contents.
 * Owners are applied only when running as root (like tar); devices and
 * FIFOs are skipped (Node cannot mknod), and reported.
 */
import { constants } from 'node:fs';
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, open, readdir, realpath, symlink, utimes } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { BaseimgError } from '../util/errors.js';
import type { ContentReader } from './content.js';
import { metaOf, type FileInode, type FsView, type Meta } from './fs-view.js';

export interface DirExportResult {
  entries: number;
  bytes: number;
  /** Paths not written, with why. */
  skipped: Array<{ path: string; why: string }>;
  /** Whether owners were applied (only as root). */
  owners: boolean;
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export async function exportToDirectory(view: FsView, content: ContentReader, target: string): Promise<DirExportResult> {
  const root = await prepareTarget(target);
  const owners = typeof process.getuid === 'function' && process.getuid() === 0;
  const result: DirExportResult = { entries: 0, bytes: 0, skipped: [], owners };
  const host = (path: string): string => {
    const p = join(root, ...path.split('/').filter(Boolean));
    if (p !== root && !p.startsWith(root + sep)) throw new BaseimgError('INTERNAL', `export path ${path} resolves outside ${root}`);
    return p;
  };
  const dirs: Array<[string, Meta]> = [];
  const firstPath = new Map<FileInode, string>();
  const links: Array<[string, string, Meta]> = [];

  for (const [path, node] of view.walk()) {
    const m = metaOf(node);
    if (path === '/') {
      dirs.push([root, m]);
      continue;
    }
    const p = host(path);
    switch (node.kind) {
      case 'dir':
        await mkdir(p, { mode: 0o700 });
        dirs.push([p, m]);
        break;
      case 'symlink':
        await symlink(node.target, p);
        if (owners) await lchown(p, m.uid, m.gid);
        await lutimes(p, m.mtime, m.mtime);
        break;
      case 'file':
        if (!firstPath.has(node.inode)) firstPath.set(node.inode, p);
        else links.push([firstPath.get(node.inode)!, p, m]);
        continue; // counted when written
      default:
        result.skipped.push({ path, why: `${node.kind === 'fifo' ? 'FIFO' : `${node.kind} device`} (cannot be created without mknod)` });
        continue;
    }
    result.entries++;
  }

  await content.forEach(firstPath.keys(), async (inode, body) => {
    const p = firstPath.get(inode)!;
    const fh = await open(p, WRITE_FLAGS, 0o600);
    try {
      let seen = 0;
      for await (const chunk of body) {
        seen += chunk.length;
        await fh.write(chunk);
      }
      if (seen !== inode.size) throw new BaseimgError('IMAGE', `${p}: read ${seen} bytes of content, the layer's header says ${inode.size}`);
      if (owners) await fh.chown(inode.uid, inode.gid);
      await fh.chmod(inode.mode); // after chown, which would clear setuid bits
      await fh.utimes(inode.mtime, inode.mtime);
    } finally {
      await fh.close();
    }
    result.entries++;
    result.bytes += inode.size;
  });

  for (const [from, to] of links) {
    await link(from, to);
    result.entries++;
  }

  // Children before parents: a directory's mtime changes whenever something is created in it.
  for (const [p, m] of dirs.reverse()) {
    if (!(await lstat(p)).isDirectory()) throw new BaseimgError('IMAGE', `${p} is no longer a directory; something else is writing into ${root}`);
    if (owners) await chown(p, m.uid, m.gid);
    await chmod(p, m.mode);
    await utimes(p, m.mtime, m.mtime);
  }
  return result;
}

/** The real path of an empty (or new) target directory. */
async function prepareTarget(target: string): Promise<string> {
  const st = await lstat(target).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!st) await mkdir(target, { recursive: true, mode: 0o755 });
  else {
    const real = await realpath(target);
    if (!(await lstat(real)).isDirectory()) throw new BaseimgError('USAGE', `${target} exists and is not a directory`);
    if ((await readdir(real)).length > 0) {
      throw new BaseimgError('USAGE', `${target} is not empty`, { hint: 'export into a new or empty directory, so no existing file or symlink can be written through' });
    }
  }
  return realpath(target);
}
