/** `baseimg du IMG [PATH]`: where the bytes are, per directory or per installed package. */
import { withImage, printJson, printNotes, writeStdout, type ImageCommandOptions } from '../inspect/cli-common.js';
import { duByPackage, duDirectories, type DuRow, type UsageByPackage } from '../inspect/du.js';
import { colourEnabled, formatTable, humanBytes, makeStyle } from '../inspect/output.js';
import { isPackageDatabasePath, readPackageDatabase } from '../inspect/packages/index.js';
import { BaseimgError } from '../util/errors.js';
import { DEFAULT_DU_DEPTH } from '../inspect/commands.js';

export interface DuCommandOptions extends ImageCommandOptions {
  maxDepth?: number;
  byPackage?: boolean;
}

export { DEFAULT_DU_DEPTH };

export async function runDu(imagePath: string, path: string | undefined, opts: DuCommandOptions): Promise<void> {
  const target = path ?? '/';
  await withImage(imagePath, opts, async (img) => {
    const flat = await img.flatten(opts.byPackage ? { capture: isPackageDatabasePath } : {});
    const start = flat.view.lookup(target, true);
    if (!start) throw new BaseimgError('IMAGE', `${img.label}: ${target}: no such file or directory in the image`);
    const notes = [...img.notes, ...flat.notes];
    if (opts.byPackage) {
      const db = await readPackageDatabase(flat.view, (inode) => img.content.readBuffer(inode));
      notes.push(...db.notes);
      if (db.databases.length === 0) notes.push('no dpkg or apk package database found in the image; every file is unowned');
      const usage = duByPackage(flat.view, start, db.packages);
      if (opts.json) return printJson({ image: img.label, path: target, databases: db.databases, ...usage, notes });
      printNotes(notes, opts);
      return writeStdout(formatByPackage(usage));
    }
    const rows = duDirectories(start, opts.maxDepth ?? DEFAULT_DU_DEPTH);
    if (opts.json) return printJson({ image: img.label, path: target, total: { bytes: rows[0]!.bytes, files: rows[0]!.files }, rows, notes });
    printNotes(notes, opts);
    return writeStdout(formatDirectories(rows));
  });
}

const percent = (part: number, total: number): string => (total === 0 ? '-' : `${((100 * part) / total).toFixed(part === total ? 0 : 1)}%`);

export function formatDirectories(rows: DuRow[]): string {
  const total = rows[0]?.bytes ?? 0;
  return formatTable(rows.map((r) => [humanBytes(r.bytes), percent(r.bytes, total), r.path]), ['r', 'r', 'l']);
}

export function formatByPackage(u: UsageByPackage, style = makeStyle(colourEnabled(process.stdout))): string {
  const rows = u.packages.map((p) => [p.name, p.version, String(p.files), humanBytes(p.bytes), percent(p.bytes, u.total.bytes)]);
  rows.push([style.dim('(unowned)'), '', String(u.unowned.files), humanBytes(u.unowned.bytes), percent(u.unowned.bytes, u.total.bytes)]);
  rows.push([style.bold('total'), '', String(u.total.files), humanBytes(u.total.bytes), percent(u.total.bytes, u.total.bytes)]);
  return formatTable([['PACKAGE', 'VERSION', 'FILES', 'SIZE', '%'], ...rows], ['l', 'l', 'r', 'r', 'r']);
}
