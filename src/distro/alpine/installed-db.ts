/**
 * apk's package database as apk-tools writes it (database.c,
 * apk_db_fdb_write), so apk, syft, trivy and grype see what is installed:
 *
 *   /lib/apk/db/installed   one record per package, in install order:
 *                           the index fields (C P V A S I T U L o m t c k
 *                           D p i), r:/q: from .PKGINFO's replaces, then
 *                           its files: F:<dir> [M:uid:gid:mode], and per
 *                           entry R:<name> [a:uid:gid:mode] [Z:Q1<sha1>]
 *   /etc/apk/world          the requested entries, one per line
 *   /etc/apk/repositories   the repository URLs, one per line
 *   /etc/apk/keys/<name>    the trusted keys
 *   /etc/apk/arch           the architecture
 *
 * M:/a: lines appear only when they differ from apk's defaults (0:0:755
 * for directories, 0:0:644 for files). A file that a later package took
 * over is listed under its new owner only. Not written: scripts.tar (the
 * scripts never ran) and triggers.
 */
import type { RootTree } from '../../rootfs/tree.js';
import { writeGeneratedFile } from '../../finalize/paths.js';
import type { InstalledPackage } from '../types.js';
import type { TrustedKey } from './keys.js';
import { infoList, infoValue, type PkgInfo } from './pkginfo.js';

export const INSTALLED_DB = '/lib/apk/db/installed';

export interface DbAcl {
  uid: number;
  gid: number;
  mode: number;
}

export interface DbFile {
  /** Name inside its directory. */
  name: string;
  /** Absolute path as the package names it, to check who owns it at the end. */
  path: string;
  acl: DbAcl;
  /** APK-TOOLS.checksum.SHA1 (hex), when the package recorded one. */
  sha1: string | undefined;
}

export interface DbDirectory {
  /** Path relative to the root as the package names it ("usr/bin"; "" for the root). */
  path: string;
  /** The directory's own entry, when the package has one. */
  meta: DbAcl | undefined;
  files: DbFile[];
}

export interface DbPackage {
  installed: InstalledPackage;
  pkginfo: PkgInfo;
  dirs: DbDirectory[];
}

/** Index letters in the order apk writes them, and whether apk writes the line even when empty. */
const INDEX_FIELDS: Array<[string, boolean]> = [
  ['C', true], ['P', true], ['V', true], ['A', false], ['S', true], ['I', true], ['T', true], ['U', true], ['L', true],
  ['o', false], ['m', false], ['t', false], ['c', false], ['k', false], ['D', false], ['p', false], ['i', false],
];

function acl(letter: string, a: DbAcl): string {
  return `${letter}:${a.uid}:${a.gid}:${(a.mode & 0o7777).toString(8)}\n`;
}

/** One package's record, ending with its blank line. */
export function renderRecord(db: DbPackage, root: RootTree): string {
  const { pkg } = db.installed;
  let out = '';
  for (const [letter, always] of INDEX_FIELDS) {
    const value = pkg.fields[letter]?.split('\n').join(' ');
    if (value !== undefined && value !== '') out += `${letter}:${value}\n`;
    else if (always) out += `${letter}:\n`;
  }
  const replaces = infoList(db.pkginfo, 'replaces');
  if (replaces.length > 0) out += `r:${replaces.join(' ')}\n`;
  const priority = Number(infoValue(db.pkginfo, 'replaces_priority') ?? 0);
  if (Number.isInteger(priority) && priority > 0) out += `q:${priority}\n`;
  for (const dir of db.dirs) {
    out += `F:${dir.path}\n`;
    if (dir.meta && (dir.meta.uid !== 0 || dir.meta.gid !== 0 || (dir.meta.mode & 0o7777) !== 0o755)) out += acl('M', dir.meta);
    for (const file of dir.files) {
      if (!ownedBy(root, file.path, pkg.name)) continue;
      out += `R:${file.name}\n`;
      if (file.acl.uid !== 0 || file.acl.gid !== 0 || (file.acl.mode & 0o7777) !== 0o644) out += acl('a', file.acl);
      if (file.sha1 !== undefined) out += `Z:Q1${Buffer.from(file.sha1, 'hex').toString('base64')}\n`;
    }
  }
  return `${out}\n`;
}

function ownedBy(root: RootTree, path: string, name: string): boolean {
  try {
    return root.get(path, false)?.owner === name;
  } catch {
    return false;
  }
}

export interface ApkDbFiles {
  packages: DbPackage[];
  world: string[];
  repositories: string[];
  keys: TrustedKey[];
  arch: string;
}

/** Write the database and /etc/apk (files 0644, directories 0755, root-owned). */
export async function writeApkDatabase(root: RootTree, db: ApkDbFiles, mtime: number): Promise<void> {
  const dir = { mode: 0o755, uid: 0, gid: 0, mtime };
  const file = { mode: 0o644, mtime };
  root.addDirectory('/lib/apk/db', dir);
  root.addDirectory('/etc/apk/keys', dir);
  const installed = db.packages.map((p) => renderRecord(p, root)).join('');
  await writeGeneratedFile(root, INSTALLED_DB, Buffer.from(installed, 'utf8'), file);
  await writeGeneratedFile(root, '/etc/apk/world', Buffer.from(db.world.map((w) => `${w}\n`).join('')), file);
  await writeGeneratedFile(root, '/etc/apk/repositories', Buffer.from(db.repositories.map((r) => `${r}\n`).join('')), file);
  await writeGeneratedFile(root, '/etc/apk/arch', Buffer.from(`${db.arch}\n`), file);
  for (const key of db.keys) await writeGeneratedFile(root, `/etc/apk/keys/${key.name}`, key.pem, file);
}
