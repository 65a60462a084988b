/**
 * [[files]]: local files and directories copied into the image after
 * [[paths]], deterministically. Nothing about the host leaks in: owners are
 * the entry's uid/gid (default 0:0), mtimes SOURCE_DATE_EPOCH, modes the
 * entry's or, for files, 0755 when the host file is executable by anyone and
 * 0644 otherwise (the umask and setuid bits of the host never count);
 * directories get dir-mode (default 0755). A directory is walked in byte
 * order of names; symlinks inside it are copied as symlinks with their
 * target verbatim, sockets and devices are refused. Hard links on the host
 * become separate files.
 */
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { createReadStream, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { FileEntry } from '../spec/types.js';
import type { RootTree } from '../rootfs/tree.js';
import type { Meta } from '../rootfs/types.js';
import { compareNames } from '../rootfs/tree.js';
import { BaseimgError, isBaseimgError } from '../util/errors.js';
import { describeFsError } from '../spec/validate-fields.js';

export interface LocalFilesResult {
  files: number;
  bytes: number;
}

export async function addLocalFiles(root: RootTree, entries: readonly FileEntry[], options: { mtime: number; signal?: AbortSignal }): Promise<LocalFilesResult> {
  const result: LocalFilesResult = { files: 0, bytes: 0 };
  for (const entry of entries) {
    const fail = (what: string, cause?: unknown): never => {
      throw new BaseimgError('SPEC', `${entry.where}: files source ${entry.source}: ${what}`, {
        hint: 'relative sources start at the directory of the spec file that names them',
        cause,
      });
    };
    let top: Stats;
    try {
      top = await stat(entry.source); // the named source itself may be a link: follow it
    } catch (e) {
      return fail(describeFsError(e), e);
    }
    try {
      await copy(root, entry, entry.source, entry.path, top, options, result);
    } catch (e) {
      if (isBaseimgError(e) && e.code !== 'SPEC' && e.code !== 'INTERNAL' && e.code !== 'INTERRUPTED') fail(e.message, e);
      if (!isBaseimgError(e)) fail(describeFsError(e), e);
      throw e;
    }
  }
  return result;
}

async function copy(
  root: RootTree,
  entry: FileEntry,
  hostPath: string,
  imagePath: string,
  st: Stats,
  options: { mtime: number; signal?: AbortSignal },
  result: LocalFilesResult,
): Promise<void> {
  options.signal?.throwIfAborted();
  const meta = (mode: number): Meta => ({ mode, uid: entry.uid, gid: entry.gid, mtime: options.mtime });
  if (st.isDirectory()) {
    const existing = root.get(imagePath, false);
    if (existing && existing.type !== 'dir' && root.get(imagePath, true)?.type !== 'dir') root.remove(imagePath);
    const dir = root.addDirectory(imagePath, meta(entry.dirMode));
    dir.meta = meta(entry.dirMode);
    const names = (await readdir(hostPath)).sort(compareNames);
    for (const name of names) {
      const child = join(hostPath, name);
      await copy(root, entry, child, `${imagePath}/${name}`, await lstat(child), options, result);
    }
    return;
  }
  if (root.get(imagePath, false)?.type === 'dir') {
    throw new BaseimgError('CONFLICT', `${imagePath} is a directory in the image; a file cannot replace it`);
  }
  if (st.isSymbolicLink()) {
    root.addSymlink(imagePath, await readlink(hostPath), meta(0o777));
    result.files++;
    return;
  }
  if (!st.isFile()) throw new BaseimgError('UNPACK', `${hostPath} is not a regular file, directory or symlink`);
  const mode = entry.mode ?? ((st.mode & 0o111) !== 0 ? 0o755 : 0o644);
  const body = await root.bodies.putStream(createReadStream(hostPath, { highWaterMark: 1 << 20 }), st.size);
  root.addFile(imagePath, meta(mode), body, st.size);
  result.files++;
  result.bytes += st.size;
}
