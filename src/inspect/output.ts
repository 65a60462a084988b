/**
 * Human output for the inspect commands: aligned columns, ls-style modes,
 * dates, and colours that appear only on a terminal and never with NO_COLOR
 * (https://no-color.org: set and not empty) or TERM=dumb.
 */
import type { NodeKind } from './fs-view.js';

export { humanBytes } from '../util/reporter.js';

type Paint = (s: string) => string;

export interface Style {
  enabled: boolean;
  dir: Paint;
  link: Paint;
  exec: Paint;
  special: Paint;
  added: Paint;
  removed: Paint;
  changed: Paint;
  dim: Paint;
  bold: Paint;
}

const sgr = (code: string): Paint => (s) => `\x1b[${code}m${s}\x1b[0m`;
const plain: Paint = (s) => s;

export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

export function makeStyle(enabled: boolean): Style {
  const c = (code: string): Paint => (enabled ? sgr(code) : plain);
  return {
    enabled,
    dir: c('1;34'),
    link: c('36'),
    exec: c('32'),
    special: c('33'),
    added: c('32'),
    removed: c('31'),
    changed: c('33'),
    dim: c('2'),
    bold: c('1'),
  };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Display width of a string without its colour codes (one column per code point). */
export function visibleLength(s: string): number {
  return [...s.replace(ANSI, '')].length;
}

/**
 * Rows as aligned columns separated by two spaces; `align` says per column
 * whether it is left ('l') or right ('r') aligned. The last column is never padded.
 */
export function formatTable(rows: string[][], align: Array<'l' | 'r'> = []): string {
  if (rows.length === 0) return '';
  const cols = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, i) => Math.max(...rows.map((r) => visibleLength(r[i] ?? ''))));
  const lines = rows.map((row) =>
    row
      .map((cell, i) => {
        if (i === row.length - 1 && align[i] !== 'r') return cell;
        const pad = ' '.repeat(widths[i]! - visibleLength(cell));
        return align[i] === 'r' ? pad + cell : cell + pad;
      })
      .join('  ')
      .replace(/\s+$/, ''),
  );
  return lines.join('\n') + '\n';
}

const TYPE_CHAR: Record<NodeKind, string> = { dir: 'd', file: '-', symlink: 'l', char: 'c', block: 'b', fifo: 'p' };

/** "drwxr-xr-x", "-rwsr-xr-x", "drwxrwxrwt" as ls -l writes them. */
export function modeString(kind: NodeKind, mode: number): string {
  const bit = (mask: number, ch: string): string => (mode & mask ? ch : '-');
  const special = (exec: number, flag: number, on: string): string => {
    const x = mode & exec;
    if (mode & flag) return x ? on : on.toUpperCase();
    return x ? 'x' : '-';
  };
  return (
    TYPE_CHAR[kind] +
    bit(0o400, 'r') + bit(0o200, 'w') + special(0o100, 0o4000, 's') +
    bit(0o040, 'r') + bit(0o020, 'w') + special(0o010, 0o2000, 's') +
    bit(0o004, 'r') + bit(0o002, 'w') + special(0o001, 0o1000, 't')
  );
}

/** "0755"-style octal. */
export function octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** "2023-11-14 22:13" in UTC: images carry no time zone, and output must not depend on the host's. */
export function formatTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) return '?';
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

/** Colour a name the way ls does: directories, links, executables, devices. */
export function paintName(style: Style, kind: NodeKind, mode: number, name: string): string {
  if (kind === 'dir') return style.dir(name);
  if (kind === 'symlink') return style.link(name);
  if (kind === 'char' || kind === 'block' || kind === 'fifo') return style.special(name);
  if (mode & 0o111) return style.exec(name);
  return name;
}
