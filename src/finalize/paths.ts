/**
 * The spec's `paths` entries applied to the root tree, after everything the
 * packages and finalize wrote, so the user has the last word:
 *  - a directory is created, or an existing one gets the given mode/owner;
 *    an existing symlink to a directory is followed (as dpkg does), so a
 *    merged-/usr link such as /bin -> usr/bin is never broken by an entry;
 *  - a file or symlink replaces whatever non-directory is at its path (the
 *    path itself is replaced, a symlink there is not followed);
 *  - missing parents are created 0755 root:root.
 * Entries apply in spec order, so a later entry wins over an earlier one.
 */
import type { PathEntry } from '../spec/types.js';
import type { RootTree } from '../rootfs/tree.js';
import type { Meta } from '../rootfs/types.js';
import { BaseimgError, isBaseimgError } from '../util/errors.js';

export interface WriteOptions {
  /** mtime (seconds) of everything written: the build's SOURCE_DATE_EPOCH. */
  mtime: number;
}

/** Place a generated regular file (root-owned unless told otherwise), replacing any non-directory there. */
export async function writeGeneratedFile(
  root: RootTree,
  path: string,
  body: Buffer,
  meta: { mode: number; mtime: number; uid?: number; gid?: number },
): Promise<void> {
  const ref = await root.bodies.put(body);
  root.addFile(path, { mode: meta.mode, uid: meta.uid ?? 0, gid: meta.gid ?? 0, mtime: meta.mtime }, ref, body.length);
}

export async function applyPaths(root: RootTree, entries: readonly PathEntry[], options: WriteOptions): Promise<void> {
  for (const entry of entries) {
    try {
      await applyEntry(root, entry, options.mtime);
    } catch (e) {
      if (!isBaseimgError(e) || e.code === 'INTERNAL') throw e;
      throw new BaseimgError('SPEC', `paths entry ${entry.path} (${entry.type}): ${e.message}`, {
        hint: e.hint ?? 'a file or symlink cannot replace a directory, and every parent must be a directory',
        cause: e,
      });
    }
  }
}

async function applyEntry(root: RootTree, entry: PathEntry, mtime: number): Promise<void> {
  switch (entry.type) {
    case 'directory': {
      const meta: Meta = { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime };
      const existing = root.get(entry.path, false);
      // A file or a dangling/non-directory symlink is replaced; a symlink to a directory is followed.
      if (existing && existing.type !== 'dir' && root.get(entry.path, true)?.type !== 'dir') root.remove(entry.path);
      const dir = root.addDirectory(entry.path, meta);
      dir.meta = { ...meta };
      return;
    }
    case 'file':
      refuseDirectory(root, entry.path);
      await writeGeneratedFile(root, entry.path, entry.content, { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime });
      return;
    case 'symlink':
      refuseDirectory(root, entry.path);
      root.addSymlink(entry.path, entry.target, { mode: 0o777, uid: entry.uid, gid: entry.gid, mtime });
      return;
  }
}

function refuseDirectory(root: RootTree, path: string): void {
  if (root.get(path, false)?.type === 'dir') {
    throw new BaseimgError('CONFLICT', 'a directory is already there', {
      hint: 'remove the entry, or give it a path that is not a directory in the image',
    });
  }
}
