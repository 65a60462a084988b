/**
 * apk's installed database (Alpine, Wolfi, apko images): records separated by
 * blank lines, one "K:value" per line. P name, V version, A arch, o origin,
 * L license; F: a directory and the R: lines after it are its files.
 * apko keeps it in /usr/lib/apk/db with /lib/apk -> ../usr/lib/apk, so both
 * places are tried and the same file is read once.
 */
import { readText, type DbReader } from './dpkg.js';
import type { InstalledPackage, PackageDatabase } from './types.js';

export const APK_INSTALLED = ['/lib/apk/db/installed', '/usr/lib/apk/db/installed'];

/** Per-file keys (and F/R, handled apart) that are not package fields. */
const FILE_KEYS = new Set(['F', 'R', 'a', 'M', 'Z']);

export async function readApkInstalled(db: DbReader, out: PackageDatabase): Promise<void> {
  const seen = new Set<string>();
  for (const path of APK_INSTALLED) {
    const file = await readText(db, path);
    if (!file || seen.has(file.path)) continue;
    seen.add(file.path);
    const packages = parseApkInstalled(file.text, file.path);
    out.packages.push(...packages);
    out.databases.push({ kind: 'apk-installed', path: file.path, packages: packages.length });
  }
}

export function parseApkInstalled(text: string, database: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    const files: string[] = [];
    let dir = '';
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      if (colon !== 1) continue; // keys are one character
      const key = line[0]!;
      const value = line.slice(2);
      if (key === 'F') {
        dir = value.replace(/^\/+|\/+$/g, '');
        files.push(`/${dir}`);
      } else if (key === 'R') {
        files.push(dir ? `/${dir}/${value}` : `/${value}`);
      } else if (!FILE_KEYS.has(key) && !(key in fields)) {
        fields[key] = value;
      }
    }
    if (!fields.P || !fields.V) continue;
    out.push({
      manager: 'apk',
      name: fields.P,
      version: fields.V,
      architecture: fields.A,
      source: fields.o,
      license: fields.L,
      database,
      fields,
      files,
      filesFrom: files.length > 0 ? database : undefined,
    });
  }
  return out;
}

export function isApkDatabasePath(path: string): boolean {
  return APK_INSTALLED.includes(path);
}
