/**
 * dpkg's databases in an image:
 *  - status.d (distroless, baseimg): one control file per package,
 *    /var/lib/dpkg/status.d/<pkg>, and its file list <pkg>.md5sums (regular
 *    files only; conffiles are not in md5sums, so they stay unowned);
 *  - status (a normal Debian root): one paragraph per package, files from
 *    info/<pkg>[:<arch>].list (or .md5sums), conffiles from the Conffiles field.
 */
import { field, parseDeb822Text, type Paragraph } from '../../distro/debian/deb822.js';
import { FsView, joinPath, type FileInode } from '../fs-view.js';
import type { InstalledPackage, PackageDatabase } from './types.js';

export const DPKG_STATUS = '/var/lib/dpkg/status';
export const DPKG_STATUS_D = '/var/lib/dpkg/status.d';
export const DPKG_INFO = '/var/lib/dpkg/info';

export interface DbReader {
  view: FsView;
  read(inode: FileInode): Promise<Buffer>;
  notes: string[];
}

/** Text of the regular file at `path` (symlinks followed), or undefined. */
export async function readText(db: DbReader, path: string): Promise<{ text: string; path: string } | undefined> {
  const found = db.view.lookup(path, true);
  if (!found || found.node.kind !== 'file') return undefined;
  return { text: (await db.read(found.node.inode)).toString('utf8'), path: joinPath(found.parts) };
}

function paragraphs(db: DbReader, text: string, path: string): Paragraph[] {
  try {
    return parseDeb822Text(text, { source: path, errorCode: 'IMAGE' });
  } catch (e) {
    db.notes.push(`${path} could not be parsed (${(e as Error).message}); its packages are left out`);
    return [];
  }
}

/** Paths listed in an md5sums file ("<md5>  usr/bin/x" → "/usr/bin/x"). */
export function md5sumsPaths(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^[0-9a-fA-F]{32} [ *](.+)$/.exec(line);
    if (m) out.push('/' + m[1]!.replace(/^\.?\/+/, ''));
  }
  return out;
}

function record(p: Paragraph, database: string, files: string[], filesFrom: string | undefined): InstalledPackage | undefined {
  const name = field(p, 'Package');
  const version = field(p, 'Version');
  if (!name || !version) return undefined;
  return {
    manager: 'dpkg',
    name,
    version,
    architecture: field(p, 'Architecture'),
    source: field(p, 'Source')?.replace(/\s*\(.*\)\s*$/, '') || undefined,
    license: undefined,
    database,
    fields: { ...p },
    files,
    filesFrom,
  };
}

export async function readStatusD(db: DbReader, out: PackageDatabase): Promise<void> {
  const dir = db.view.lookup(DPKG_STATUS_D, true);
  if (!dir || dir.node.kind !== 'dir') return;
  const dirPath = joinPath(dir.parts);
  const names = FsView.sortedChildren(dir.node).filter(([, n]) => n.kind === 'file').map(([name]) => name);
  const md5 = new Set(names.filter((n) => n.endsWith('.md5sums')));
  let count = 0;
  for (const name of names) {
    if (md5.has(name) || name.endsWith('.list')) continue;
    const control = await readText(db, `${dirPath}/${name}`);
    if (!control) continue;
    for (const p of paragraphs(db, control.text, control.path)) {
      const pkg = field(p, 'Package');
      const arch = field(p, 'Architecture');
      const listName = [`${name}.md5sums`, `${pkg}.md5sums`, `${pkg}:${arch}.md5sums`].find((n) => md5.has(n));
      const list = listName ? await readText(db, `${dirPath}/${listName}`) : undefined;
      const rec = record(p, control.path, list ? md5sumsPaths(list.text) : [], list?.path);
      if (rec) {
        out.packages.push(rec);
        count++;
      }
    }
  }
  if (count > 0) out.databases.push({ kind: 'dpkg-status.d', path: dirPath, packages: count });
}

export async function readStatus(db: DbReader, out: PackageDatabase): Promise<void> {
  const status = await readText(db, DPKG_STATUS);
  if (!status) return;
  let count = 0;
  for (const p of paragraphs(db, status.text, status.path)) {
    const state = (field(p, 'Status') ?? '').trim().split(/\s+/)[2];
    if (state === 'not-installed' || state === 'config-files') continue;
    const name = field(p, 'Package') ?? '';
    const arch = field(p, 'Architecture');
    let files: string[] = [];
    let filesFrom: string | undefined;
    for (const candidate of [`${name}:${arch}.list`, `${name}.list`, `${name}:${arch}.md5sums`, `${name}.md5sums`]) {
      const list = await readText(db, `${DPKG_INFO}/${candidate}`);
      if (!list) continue;
      files = candidate.endsWith('.list') ? list.text.split('\n').filter((l) => l.startsWith('/') && l !== '/.') : md5sumsPaths(list.text);
      filesFrom = list.path;
      break;
    }
    for (const line of (field(p, 'Conffiles') ?? '').split('\n')) {
      const path = line.trim().split(/\s+/)[0];
      if (path?.startsWith('/') && !files.includes(path)) files.push(path);
    }
    const rec = record(p, status.path, files, filesFrom);
    if (rec) {
      out.packages.push(rec);
      count++;
    }
  }
  out.databases.push({ kind: 'dpkg-status', path: status.path, packages: count });
}

/** Paths whose bytes the package reader will want; flatten keeps them in memory. */
export function isDpkgDatabasePath(path: string): boolean {
  return path === DPKG_STATUS || path.startsWith(`${DPKG_STATUS_D}/`) || (path.startsWith(`${DPKG_INFO}/`) && /\.(list|md5sums)$/.test(path));
}
