/**
 * The vocabulary validate*.ts is written in: a Section wraps one TOML table
 * with its key path, reads typed fields from it, and raises errors that say
 * where (FILE:LINE), which key (image.entrypoint, accounts.users[1].uid), what
 * is wrong and what was expected.
 */
import path from 'node:path';
import { BaseimgError, didYouMean, suggest } from '../util/errors.js';
import type { KeyPath } from './locate.js';
import { Origins, SpecSource } from './origins.js';
import { isTomlTable, type TomlTable, type TomlValue } from './toml.js';

export type ReadLocal = (absPath: string) => Buffer;

/** Keys of the spec's top-level table. */
export const TOP_LEVEL_KEYS: readonly string[] = [
  'name', 'tag', 'arch', 'source-date-epoch', 'include', 'layers', 'strip', 'source', 'packages', 'image', 'accounts', 'paths', 'files', 'ca-certificates', 'os-release',
];

/** The largest uid/gid: 2^32 - 1 is reserved as "no id" by the kernel. */
export const MAX_ID = 4294967294;

export class SpecContext {
  /** Absolute directory of the spec; relative paths in it start here. */
  readonly dir: string;
  /** Which file each value came from; one file unless the spec has includes (compose.ts). */
  readonly origins: Origins;

  constructor(
    /** The spec file name as the user gave it, for messages. */
    readonly file: string,
    text: string,
    private readonly readLocalFile: ReadLocal,
    origins?: Origins,
  ) {
    this.origins = origins ?? new Origins(new SpecSource(file, text));
    this.dir = this.origins.fallback.dir;
  }

  where(at: KeyPath): string {
    const { source, at: inFile } = this.origins.of(at);
    const line = source.lines.lineOf(inFile);
    return line === undefined ? source.name : `${source.name}:${line}`;
  }

  rawValue(at: KeyPath): string | undefined {
    const { source, at: inFile } = this.origins.of(at);
    return source.lines.rawValueOf(inFile);
  }

  /** "FILE:LINE: key.path: problem", naming the key as it is written in FILE. */
  fail(at: KeyPath, problem: string, hint?: string): never {
    return this.failPlain(at, `${dotted(this.origins.of(at).at)}: ${problem}`, hint);
  }

  /**
   * How a message refers to another key: as written in its file, plus where
   * when that file is not the one of `from` ("paths[3] at base.toml:12").
   */
  refer(at: KeyPath, from: KeyPath): string {
    const there = this.origins.of(at);
    const here = this.origins.of(from);
    return there.source === here.source ? dotted(there.at) : `${dotted(there.at)} at ${this.where(at)}`;
  }

  /** "FILE:LINE: message", for messages that name the key themselves. */
  failPlain(at: KeyPath, message: string, hint?: string): never {
    throw new BaseimgError('SPEC', oneLine(`${this.where(at)}: ${message}`), { hint: hint === undefined ? undefined : oneLine(hint) });
  }

  /** Absolute path of `name` as written at `at`: relative paths start at the directory of the file that wrote it. */
  localPath(at: KeyPath, name: string): string {
    if (name.trim() === '' || name.includes('\0')) this.fail(at, 'expected a file path, got an empty or malformed string');
    return path.resolve(this.origins.of(at).source.dir, name);
  }

  /** Reads a file named in the spec (relative to the directory of the spec file that names it). */
  readLocal(at: KeyPath, name: string): { absPath: string; data: Buffer } {
    const absPath = this.localPath(at, name);
    try {
      return { absPath, data: this.readLocalFile(absPath) };
    } catch (e) {
      this.fail(at, `cannot read "${name}": ${describeFsError(e)}`, `relative paths start at the spec's directory (${this.origins.of(at).source.dir})`);
    }
  }
}

/** Values quoted into messages may hold line breaks; an error stays one line. */
function oneLine(s: string): string {
  return s.replace(/[\0-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** A file system error as a short phrase ("no such file"). */
export function describeFsError(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR') return 'a parent is not a directory';
  return e instanceof Error ? e.message : String(e);
}

/**
 * " (did you mean "x"?)" naming only the closest candidates: "nonrot" suggests
 * "nonroot", not also "root" which is one edit further away.
 */
export function nearest(word: string, candidates: Iterable<string>): string {
  const w = word.toLowerCase();
  if (w === '') return '';
  const distance = (c: string): number => typoDistance(w, c.toLowerCase());
  const related = (c: string): boolean => c.toLowerCase().startsWith(w) || w.startsWith(c.toLowerCase());
  // suggest() is generous with short words ("a" → "tag"); keep only plausible typos.
  const found = suggest(word, candidates).filter((c) => related(c) || distance(c) <= Math.max(1, Math.ceil(w.length / 3)));
  const best = Math.min(...found.map(distance));
  return didYouMean(word, found.filter((c) => distance(c) === best));
}

/** Edit distance counting a swap of neighbours as one typo ("nmae" is one away from "name"). */
function typoDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1]!;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/** image.env.LANG, accounts.users[1].uid, labels."org.opencontainers.image.title" */
export function dotted(at: KeyPath): string {
  let out = '';
  for (const part of at) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = /^[A-Za-z0-9_-]+$/.test(part) ? part : JSON.stringify(part);
      out += out === '' ? key : `.${key}`;
    }
  }
  return out;
}

/** "a string", "an integer", ... for "expected X, got Y". */
export function describe(v: TomlValue | undefined): string {
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'bigint') return 'an integer';
  if (typeof v === 'number') return 'a float';
  if (typeof v === 'boolean') return 'a boolean';
  if (Array.isArray(v)) return 'an array';
  if (isTomlTable(v)) return 'a table';
  if (v === undefined) return 'nothing';
  return 'a date/time';
}

/** TOML spelling of a value, for hints ("write suites = [\"bookworm\"]"). */
export function tomlLiteral(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(tomlLiteral).join(', ')}]`;
  return String(v);
}

export class Section {
  constructor(
    readonly ctx: SpecContext,
    readonly table: TomlTable,
    readonly path: KeyPath,
  ) {}

  /** How messages name this table: [image] or accounts.users[1]. */
  get label(): string {
    if (this.path.length === 0) return 'the top-level table';
    return typeof this.path[this.path.length - 1] === 'number' ? dotted(this.path) : `[${dotted(this.path)}]`;
  }

  at(key: string | number): KeyPath {
    return [...this.path, key];
  }

  has(key: string): boolean {
    return this.table[key] !== undefined;
  }

  get(key: string): TomlValue | undefined {
    return this.table[key];
  }

  fail(key: string | number, problem: string, hint?: string): never {
    return this.ctx.fail(this.at(key), problem, hint);
  }

  /**
   * Rejects keys outside `allowed`. `elsewhere` maps keys that are valid in
   * another setting to that setting ("distro = \"alpine\"") for a clearer message.
   */
  allowOnly(allowed: readonly string[], elsewhere: Record<string, string> = {}): void {
    for (const key of Object.keys(this.table)) {
      if (allowed.includes(key)) continue;
      const onlyFor = Object.hasOwn(elsewhere, key) ? elsewhere[key] : undefined;
      if (onlyFor !== undefined) this.ctx.failPlain(this.at(key), `${dotted(this.at(key))} is only for ${onlyFor}`);
      const where = this.path.length === 0 ? 'at the top level' : `in ${this.label}`;
      // The classic TOML slip: a top-level key written below a [table] header lands in that table.
      const hint = this.path.length > 0 && TOP_LEVEL_KEYS.includes(key) ? `"${key}" is a top-level key: move it above the first [table] header` : undefined;
      this.ctx.failPlain(this.at(key), `unknown key "${key}" ${where}${nearest(key, allowed)}`, hint);
    }
  }

  missing(key: string, hint?: string): never {
    return this.ctx.failPlain(this.path, `missing required key "${key}" in ${this.label}`, hint);
  }

  section(key: string): Section | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (!isTomlTable(v)) this.fail(key, `expected a table, got ${describe(v)}`, `write [${dotted(this.at(key))}] on its own line, then its keys`);
    return new Section(this.ctx, v, this.at(key));
  }

  /** The sub-table, or an empty one so optional sections read their defaults the same way. */
  sectionOrEmpty(key: string): Section {
    return this.section(key) ?? new Section(this.ctx, Object.create(null) as TomlTable, this.at(key));
  }

  /** [[key]] entries (or key = [{...}, ...]). */
  tables(key: string): Section[] {
    const v = this.get(key);
    if (v === undefined) return [];
    const asArrayHint = `write [[${dotted(this.at(key))}]] before each entry`;
    if (!Array.isArray(v)) this.fail(key, `expected an array of tables, got ${describe(v)}`, asArrayHint);
    return v.map((item, i) => {
      if (!isTomlTable(item)) this.ctx.fail([...this.at(key), i], `expected a table, got ${describe(item)}`, asArrayHint);
      return new Section(this.ctx, item, [...this.at(key), i]);
    });
  }

  string(key: string): string | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') this.fail(key, `expected a string, got ${describe(v)}`, quoteHint(key, v));
    return v;
  }

  requiredString(key: string, hint?: string): string {
    return this.string(key) ?? this.missing(key, hint);
  }

  boolean(key: string): boolean | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(key, `expected true or false, got ${describe(v)}`);
    return v;
  }

  integer(key: string, min: number, max: number): number | undefined {
    const v = this.get(key);
    return v === undefined ? undefined : checkInteger(this.ctx, this.at(key), v, min, max);
  }

  /** An array of strings; a lone string is refused with a hint showing the array form. */
  strings(key: string): string[] | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      const hint = typeof v === 'string' ? `write ${key} = ${tomlLiteral(v === '' ? [] : [v])}` : undefined;
      this.fail(key, `expected an array of strings, got ${describe(v)}`, hint);
    }
    return v.map((item, i) => checkString(this.ctx, [...this.at(key), i], item));
  }

  /** A string or an array of strings, always returned as an array. */
  stringOrStrings(key: string): string[] | undefined {
    const v = this.get(key);
    if (typeof v === 'string') return [v];
    if (v !== undefined && !Array.isArray(v)) this.fail(key, `expected a string or an array of strings, got ${describe(v)}`);
    return this.strings(key);
  }

  /** A table of string values (env, labels, annotations), in source order. */
  stringMap(key: string): Array<[string, string]> | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (!isTomlTable(v)) this.fail(key, `expected a table of strings, got ${describe(v)}`, `write ${key} = { NAME = "value" }`);
    return Object.entries(v).map(([name, value]) => [name, checkString(this.ctx, [...this.at(key), name], value)]);
  }
}

export function checkString(ctx: SpecContext, at: KeyPath, v: TomlValue): string {
  if (typeof v !== 'string') ctx.fail(at, `expected a string, got ${describe(v)}`, quoteHint(at[at.length - 1], v));
  return v;
}

/** TOML integers arrive as bigint (see toml.ts); floats as number. */
export function checkInteger(ctx: SpecContext, at: KeyPath, v: TomlValue, min: number, max: number): number {
  if (typeof v === 'number') {
    const written = ctx.rawValue(at) ?? String(v);
    ctx.fail(at, `expected an integer, got a float (${written})`, Number.isInteger(v) ? `write ${v}` : undefined);
  }
  if (typeof v !== 'bigint') {
    const hint = typeof v === 'string' && /^-?\d+$/.test(v) ? `remove the quotes: ${v}` : undefined;
    ctx.fail(at, `expected an integer, got ${describe(v)}`, hint);
  }
  if (v < BigInt(min) || v > BigInt(max)) ctx.fail(at, `${v} is out of range, expected ${min}..${max}`);
  return Number(v);
}

function quoteHint(key: string | number | undefined, v: TomlValue): string | undefined {
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') {
    return typeof key === 'string' ? `quote it: ${key} = "${v}"` : `quote it: "${v}"`;
  }
  if (typeof key === 'string' && Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return `write ${key} = ${tomlLiteral(v[0])}`;
  return undefined;
}
