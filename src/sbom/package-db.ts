/**
 * The package database an image carries, read the way scanners read it:
 *  - Debian, distroless style: /var/lib/dpkg/status.d/<name> (control) and
 *    <name>.md5sums (its files), as baseimg writes them;
 *  - Debian, dpkg proper: /var/lib/dpkg/status (installed entries) with
 *    /var/lib/dpkg/info/<name>[:<arch>].list;
 *  - Alpine: /lib/apk/db/installed (P: V: A: L: m: o: D: and F:/R: file lists).
 * Used to check the build's SBOM against what the image says, to find the
 * packages a finalize step recorded, and to describe images built elsewhere.
 */
import type { ImageFiles } from './image-files.js';
import type { PackageFamily } from './model.js';
import { parseParagraphs } from './license/dep5.js';

export interface DbPackage {
  family: PackageFamily;
  name: string;
  version: string;
  architecture: string;
  maintainer: string | undefined;
  source: { name: string; version: string } | undefined;
  /** Alpine L:; Debian keeps licenses in copyright files. */
  license: string | undefined;
  /** Raw dependency field (Debian Depends + Pre-Depends joined by ", "; Alpine D:). */
  depends: string | undefined;
  /** Raw Provides (Debian) / p: (Alpine). */
  provides: string | undefined;
  /** Absolute paths of its files as the database lists them; undefined when it lists none. */
  files: string[] | undefined;
}

export const STATUS_D = '/var/lib/dpkg/status.d';
export const DPKG_STATUS = '/var/lib/dpkg/status';
export const APK_INSTALLED = '/lib/apk/db/installed';

/** Every package the image's databases list, sorted by name (status.d wins over status for a name). */
export async function readPackageDb(files: ImageFiles): Promise<DbPackage[]> {
  const byName = new Map<string, DbPackage>();
  for (const p of [...(await readApkInstalled(files)), ...(await readDpkgStatus(files)), ...(await readStatusD(files))]) byName.set(p.name, p);
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function readStatusD(files: ImageFiles): Promise<DbPackage[]> {
  const out: DbPackage[] = [];
  for (const entry of files.list(STATUS_D)) {
    if (entry.endsWith('.md5sums')) continue;
    const control = await files.readFile(`${STATUS_D}/${entry}`);
    if (control === undefined) continue;
    const fields = parseParagraphs(control.toString('utf8'))[0]?.fields;
    if (!fields?.get('package')) continue;
    const name = fields.get('package')!;
    const arch = fields.get('architecture') ?? '';
    const md5sums = (await files.readFile(`${STATUS_D}/${entry}.md5sums`)) ?? (await files.readFile(`${STATUS_D}/${name}:${arch}.md5sums`));
    out.push(debPackage(fields, md5sums === undefined ? undefined : md5sumsPaths(md5sums.toString('utf8'))));
  }
  return out;
}

async function readDpkgStatus(files: ImageFiles): Promise<DbPackage[]> {
  const status = await files.readFile(DPKG_STATUS);
  if (status === undefined) return [];
  const out: DbPackage[] = [];
  for (const { fields } of parseParagraphs(status.toString('utf8'))) {
    const name = fields.get('package');
    if (!name || !/\binstalled$/.test(fields.get('status') ?? '')) continue;
    const arch = fields.get('architecture') ?? '';
    const list = (await files.readFile(`/var/lib/dpkg/info/${name}:${arch}.list`)) ?? (await files.readFile(`/var/lib/dpkg/info/${name}.list`));
    const paths = list?.toString('utf8').split('\n').filter((l) => l.startsWith('/') && l !== '/.');
    out.push(debPackage(fields, paths));
  }
  return out;
}

function debPackage(fields: Map<string, string>, paths: string[] | undefined): DbPackage {
  const version = fields.get('version') ?? '';
  const rawSource = fields.get('source');
  const m = rawSource === undefined ? null : /^(\S+)\s*(?:\(\s*([^)\s]+)\s*\))?$/.exec(rawSource.trim());
  const depends = [fields.get('pre-depends'), fields.get('depends')].filter((d) => d !== undefined && d.trim() !== '').join(', ');
  return {
    family: 'deb',
    name: fields.get('package')!,
    version,
    architecture: fields.get('architecture') ?? '',
    maintainer: fields.get('maintainer'),
    source: m ? { name: m[1]!, version: m[2] ?? version } : { name: fields.get('package')!, version },
    license: undefined,
    depends: depends === '' ? undefined : depends.replace(/\s*\n\s*/g, ' '),
    provides: fields.get('provides'),
    files: paths,
  };
}

/** md5sums lines "<md5>  path/relative/to/root" → absolute paths. */
function md5sumsPaths(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^[0-9a-f]{32} [ *](.+)$/.exec(line);
    if (m) out.push(`/${m[1]!.replace(/^\.?\/+/, '')}`);
  }
  return out;
}

async function readApkInstalled(files: ImageFiles): Promise<DbPackage[]> {
  const data = await files.readFile(APK_INSTALLED);
  if (data === undefined) return [];
  const out: DbPackage[] = [];
  for (const record of data.toString('utf8').split(/\n\s*\n/)) {
    const one = (key: string): string | undefined => {
      for (const line of record.split('\n')) if (line.startsWith(`${key}:`)) return line.slice(key.length + 1);
      return undefined;
    };
    const name = one('P');
    if (!name) continue;
    const paths: string[] = [];
    let dir = '';
    for (const line of record.split('\n')) {
      if (line.startsWith('F:')) dir = line.slice(2);
      else if (line.startsWith('R:')) paths.push(`/${dir === '' ? '' : `${dir}/`}${line.slice(2)}`);
    }
    const version = one('V') ?? '';
    const origin = one('o');
    out.push({
      family: 'apk',
      name,
      version,
      architecture: one('A') ?? '',
      maintainer: one('m'),
      source: origin === undefined ? undefined : { name: origin, version },
      license: one('L'),
      depends: one('D'),
      provides: one('p'),
      files: paths.length > 0 ? paths : undefined,
    });
  }
  return out;
}
