/** `baseimg diff IMG1 IMG2`: files added, removed and changed, package versions, size. */
import { withImage, printJson, printNotes, writeStdout, type ImageCommandOptions } from '../inspect/cli-common.js';
import { diffViews, type Change, type ChangedPath, type ImageDiff } from '../inspect/diff.js';
import type { Image } from '../inspect/image.js';
import { colourEnabled, formatTable, humanBytes, makeStyle, octalMode, type Style } from '../inspect/output.js';
import { isPackageDatabasePath, readPackageDatabase, type InstalledPackage } from '../inspect/packages/index.js';
import type { FsView } from '../inspect/fs-view.js';

export type DiffCommandOptions = ImageCommandOptions;

async function load(img: Image): Promise<{ view: FsView; packages: InstalledPackage[]; notes: string[] }> {
  const flat = await img.flatten({ digests: true, capture: isPackageDatabasePath });
  const db = await readPackageDatabase(flat.view, (inode) => img.content.readBuffer(inode));
  return { view: flat.view, packages: db.packages, notes: [...img.notes, ...flat.notes, ...db.notes] };
}

export async function runDiff(first: string, second: string, opts: DiffCommandOptions): Promise<void> {
  await withImage(first, opts, async (a) => {
    const left = await load(a);
    await withImage(second, opts, async (b) => {
      const right = await load(b);
      const diff = diffViews(left.view, right.view, left.packages, right.packages);
      const notes = [...left.notes.map((n) => `${a.label}: ${n}`), ...right.notes.map((n) => `${b.label}: ${n}`)];
      if (opts.json) return printJson({ before: { image: a.label, digest: a.digest ?? null }, after: { image: b.label, digest: b.digest ?? null }, ...diff, notes });
      printNotes(notes, opts);
      await writeStdout(formatDiff(diff));
    });
  });
}

function signed(n: number): string {
  return `${n < 0 ? '-' : '+'}${humanBytes(Math.abs(n))}`;
}

function describeChange(c: ChangedPath): string {
  const parts = c.changes.map((k: Change) => {
    switch (k) {
      case 'type':
        return `type ${c.before.type} → ${c.after.type}`;
      case 'content':
        return `content ${c.after.size === c.before.size ? '(same size)' : signed(c.after.size - c.before.size)}`;
      case 'mode':
        return `mode ${octalMode(c.before.mode)} → ${octalMode(c.after.mode)}`;
      case 'owner':
        return `owner ${c.before.uid}:${c.before.gid} → ${c.after.uid}:${c.after.gid}`;
      case 'target':
        return `target ${c.before.linkTarget} → ${c.after.linkTarget}`;
      case 'device':
        return 'device numbers';
    }
  });
  return parts.join(', ');
}

export function formatDiff(d: ImageDiff, style: Style = makeStyle(colourEnabled(process.stdout))): string {
  let out = '';
  const count = (kind: string): number => d.packages.filter((p) => p.kind === kind).length;
  const pkgSummary = ['upgraded', 'downgraded', 'added', 'removed'].map((k) => [count(k), k] as const).filter(([n]) => n > 0);
  out += `${style.bold('packages')} ${pkgSummary.length ? pkgSummary.map(([n, k]) => `${n} ${k}`).join(', ') : 'no changes'}\n`;
  if (d.packages.length > 0) {
    const mark = { added: style.added('+'), removed: style.removed('-'), upgraded: style.changed('~'), downgraded: style.changed('~') };
    out += formatTable(d.packages.map((p) => [`  ${mark[p.kind]}`, p.name, p.before ?? '', p.before && p.after ? '→' : '', p.after ?? '', p.kind]));
  }
  out += `${style.bold('files')} ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed\n`;
  const rows: string[][] = [
    ...d.added.map((p) => [`  ${style.added('+')}`, p.path + (p.type === 'dir' ? '/' : ''), p.type === 'file' ? humanBytes(p.size) : p.type]),
    ...d.removed.map((p) => [`  ${style.removed('-')}`, p.path + (p.type === 'dir' ? '/' : ''), p.type === 'file' ? humanBytes(p.size) : p.type]),
    ...d.changed.map((c) => [`  ${style.changed('~')}`, c.path, describeChange(c)]),
  ];
  rows.sort((x, y) => (x[1]! < y[1]! ? -1 : x[1]! > y[1]! ? 1 : 0));
  out += formatTable(rows);
  out += `${style.bold('size')} ${humanBytes(d.size.before)} → ${humanBytes(d.size.after)} (${signed(d.size.delta)})\n`;
  return out;
}
