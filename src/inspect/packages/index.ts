/**
 * The packages installed in a flattened image, from whichever databases it
 * carries (dpkg status.d, dpkg status, apk installed), and which package owns
 * each file.
 */
import { FsView, joinPath, type FileInode, type FsNode } from '../fs-view.js';
import { isApkDatabasePath, readApkInstalled } from './apk.js';
import { isDpkgDatabasePath, readStatus, readStatusD, type DbReader } from './dpkg.js';
import type { InstalledPackage, PackageDatabase } from './types.js';

export type { DatabaseKind, InstalledPackage, PackageDatabase, PackageManager } from './types.js';
export { parseApkInstalled } from './apk.js';
export { md5sumsPaths } from './dpkg.js';

export const SBOM_DIR = '/var/lib/db/sbom';

/** For FlattenOptions.capture: keep the package databases' bytes while flattening. */
export function isPackageDatabasePath(path: string): boolean {
  return isDpkgDatabasePath(path) || isApkDatabasePath(path);
}

/**
 * Read every package database in `view`. `read` returns a file's bytes
 * (Image.content.readBuffer); files captured while flattening cost nothing.
 */
export async function readPackageDatabase(view: FsView, read: (inode: FileInode) => Promise<Buffer>): Promise<PackageDatabase> {
  const out: PackageDatabase = { packages: [], databases: [], sbom: undefined, notes: [] };
  const db: DbReader = { view, read, notes: out.notes };
  await readStatusD(db, out);
  await readStatus(db, out);
  await readApkInstalled(db, out);
  const sbom = view.lookup(SBOM_DIR, true);
  if (sbom?.node.kind === 'dir') {
    const files = FsView.sortedChildren(sbom.node).filter(([, n]) => n.kind === 'file').map(([name]) => name);
    out.sbom = { path: joinPath(sbom.parts), files };
  }
  return out;
}

/** What each non-directory node belongs to; hard links share their inode's owner. */
export type OwnerKey = FileInode | FsNode;

export function ownerKey(node: FsNode): OwnerKey {
  return node.kind === 'file' ? node.inode : node;
}

/**
 * The package owning each file. Listed paths are looked up with symlinked
 * parents followed (a package listing /lib/x owns /usr/lib/x under merged
 * /usr). A file claimed by two packages (dpkg Replaces, diversions) goes to
 * the first in name order, so every file is counted once.
 */
export function attributeFiles(view: FsView, packages: readonly InstalledPackage[]): Map<OwnerKey, InstalledPackage> {
  const owners = new Map<OwnerKey, InstalledPackage>();
  const ordered = [...packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : 1));
  for (const pkg of ordered) {
    for (const path of pkg.files) {
      let found;
      try {
        found = view.lookup(path, false);
      } catch {
        continue; // a symlink loop in the image: the path names nothing
      }
      if (!found || found.node.kind === 'dir') continue;
      const key = ownerKey(found.node);
      if (!owners.has(key)) owners.set(key, pkg);
    }
  }
  return owners;
}
