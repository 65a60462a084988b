/**
 * `include = ["base.toml"]`: a spec made of other specs. Included files are
 * read (relative to the including file), merged in order, and the including
 * file is merged over the result:
 *  - tables merge key by key; on anything else (strings, numbers, most
 *    arrays such as entrypoint or suites) the including file wins;
 *  - lists of things append: packages.include/exclude, paths, files, strip,
 *    accounts.users/groups, ca-certificates.local, image.exposed-ports. An
 *    entry naming the same thing as an earlier one (package name, path,
 *    account name) replaces it in place;
 *  - a package the including file excludes is dropped from the included
 *    include lists, and one it includes from their exclude lists: the
 *    later file has the last word about a package;
 *  - name, tag and layers are never inherited: they describe this file's image.
 * Cycles and unreadable files are errors naming the include chain. Origins
 * remember which file each merged value came from, for messages and for
 * relative paths.
 */
import path from 'node:path';
import { BaseimgError } from '../util/errors.js';
import type { KeyPath } from './locate.js';
import { Origins, SpecSource } from './origins.js';
import { isTomlTable, parseToml, type TomlTable, type TomlValue } from './toml.js';
import { describe, describeFsError, dotted, type ReadLocal } from './validate-fields.js';

export interface ComposedSpec {
  table: TomlTable;
  origins: Origins;
  /** Absolute paths of the files this one includes directly, in order. */
  includes: string[];
}

/** Keys that describe one file's own image. */
const NOT_INHERITED = new Set(['name', 'tag', 'layers']);

/** Lists that append, and how their entries are told apart (undefined: never equal). */
type Identity = (item: TomlValue, origin: () => SpecSource) => string | undefined;
const byString: Identity = (v) => (typeof v === 'string' || typeof v === 'bigint' ? String(v) : undefined);
const byPackageName: Identity = (v) => (typeof v === 'string' ? v.split(/[=<>~]/, 1)[0] : undefined);
const byField = (key: string, normalise: (s: string) => string = (s) => s): Identity => (v) => {
  const field = isTomlTable(v) ? v[key] : undefined;
  return typeof field === 'string' ? normalise(field) : undefined;
};
const imagePath = (p: string): string => path.posix.normalize(p).replace(/(.)\/+$/, '$1');
/** "8080", 8080 and "8080/TCP" are one port. */
const byPort: Identity = (v) => {
  if (typeof v !== 'string' && typeof v !== 'bigint') return undefined;
  const port = String(v).toLowerCase();
  return port.includes('/') ? port : `${port}/tcp`;
};
const byLocalFile: Identity = (v, origin) => (typeof v === 'string' ? path.resolve(origin().dir, v) : undefined);

const APPEND: Record<string, Identity> = {
  'packages.include': byPackageName,
  'packages.exclude': byPackageName,
  paths: byField('path', imagePath),
  files: byField('path', imagePath),
  strip: byString,
  'accounts.users': byField('name'),
  'accounts.groups': byField('name'),
  'ca-certificates.local': byLocalFile,
  'image.exposed-ports': byPort,
};

/** Parse `text` (the spec named `file`), reading and merging everything it includes. */
export function composeSpec(text: string, file: string, readLocal: ReadLocal): ComposedSpec {
  return composeFile(new SpecSource(file, text), [], readLocal);
}

function composeFile(source: SpecSource, chain: SpecSource[], readLocal: ReadLocal): ComposedSpec {
  const table = parseToml(source.text, source.name);
  const includeAt: KeyPath = ['include'];
  const listed = includeList(source, table.include);
  delete table.include;
  const own: ComposedSpec = { table, origins: new Origins(source), includes: [] };
  if (listed.length === 0) return own;

  const here = [...chain, source];
  const parts = listed.map((name, i) => {
    const at = [...includeAt, i];
    const abs = path.resolve(source.dir, name);
    const shown = path.isAbsolute(name) ? name : path.join(path.dirname(source.name), name);
    const cycle = here.findIndex((s) => s.abs === abs);
    if (cycle >= 0) {
      fail(source, at, `include cycle: ${[...here.slice(cycle).map((s) => s.name), shown].join(' → ')}`);
    }
    let bytes: Buffer;
    try {
      bytes = readLocal(abs);
    } catch (e) {
      fail(source, at, `cannot read "${name}": ${describeFsError(e)}`, chainHint(here, `relative includes start at the including file's directory (${source.dir})`));
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      fail(source, at, `${shown} is not valid UTF-8 text`);
    }
    return composeFile(new SpecSource(shown, text), here, readLocal);
  });

  let merged = parts[0]!;
  for (const next of [...parts.slice(1), own]) merged = merge(merged, next);
  return { ...merged, includes: listed.map((name) => path.resolve(source.dir, name)) };
}

function includeList(source: SpecSource, value: TomlValue | undefined): string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) return fail(source, ['include'], `expected an array of spec files, got ${describe(value)}`, 'include = ["base.toml"]');
  return list.map((item, i) => {
    if (typeof item !== 'string' || item.trim() === '' || item.includes('\0')) {
      fail(source, Array.isArray(value) ? ['include', i] : ['include'], `expected a spec file name, got ${typeof item === 'string' ? 'an empty string' : describe(item)}`);
    }
    return item;
  });
}

function fail(source: SpecSource, at: KeyPath, problem: string, hint?: string): never {
  const line = source.lines.lineOf(at);
  throw new BaseimgError('SPEC', `${source.name}${line === undefined ? '' : `:${line}`}: ${dotted(at)}: ${problem}`, { hint });
}

function chainHint(chain: SpecSource[], tail: string): string {
  return chain.length > 1 ? `include chain: ${chain.map((s) => s.name).join(' → ')}; ${tail}` : tail;
}

/** `over` merged onto `base`. */
function merge(base: ComposedSpec, over: ComposedSpec): ComposedSpec {
  const origins = new Origins(over.origins.fallback);
  const table = mergeTables(base.table, over.table, [], { base: base.origins, over: over.origins, out: origins });
  return { table, origins, includes: [] };
}

interface OriginSet {
  base: Origins;
  over: Origins;
  out: Origins;
}

function mergeTables(base: TomlTable, over: TomlTable, at: string[], o: OriginSet): TomlTable {
  const out = Object.create(null) as TomlTable;
  for (const key of new Set([...Object.keys(base), ...Object.keys(over)])) {
    const here = [...at, key];
    const b = at.length === 0 && NOT_INHERITED.has(key) ? undefined : base[key];
    const v = over[key];
    if (v === undefined) {
      if (b === undefined) continue;
      out[key] = b;
      o.out.copy(o.base, here, here);
    } else if (b === undefined) {
      out[key] = v;
      o.out.copy(o.over, here, here);
    } else if (isTomlTable(b) && isTomlTable(v)) {
      o.out.set(here, o.over.of(here));
      out[key] = key === 'packages' && at.length === 0 ? mergePackages(b, v, o) : mergeTables(b, v, here, o);
    } else {
      const identity = APPEND[here.join('.')];
      if (identity !== undefined && Array.isArray(b) && Array.isArray(v)) out[key] = appendList(b, v, here, identity, o);
      else {
        out[key] = v;
        o.out.copy(o.over, here, here);
      }
    }
  }
  return out;
}

/** [packages]: both lists append, and the later file's choice about a package name wins. */
function mergePackages(base: TomlTable, over: TomlTable, o: OriginSet): TomlTable {
  const nameOf = (x: TomlValue): string => byPackageName(x, () => o.base.fallback) ?? '';
  const names = (v: TomlValue | undefined): Set<string> => new Set((Array.isArray(v) ? v : []).map(nameOf));
  const droppedFrom: Record<string, Set<string>> = { include: names(over.exclude), exclude: names(over.include) };
  // Dropping entries shifts indexes, so the base lists' origins are remapped item by item.
  const trimmed = Object.create(null) as TomlTable;
  const origins = new Origins(o.base.fallback);
  for (const [key, value] of Object.entries(base)) {
    const here = ['packages', key];
    const dropped = droppedFrom[key];
    if (!Array.isArray(value) || dropped === undefined) {
      trimmed[key] = value;
      origins.copy(o.base, here, here);
      continue;
    }
    origins.set(here, o.base.of(here));
    const kept: TomlValue[] = [];
    value.forEach((item, i) => {
      if (dropped.has(nameOf(item))) return;
      origins.copy(o.base, [...here, i], [...here, kept.length]);
      kept.push(item);
    });
    trimmed[key] = kept;
  }
  return mergeTables(trimmed, over, ['packages'], { ...o, base: origins });
}

/**
 * Base items, then the over items. An over item with the identity of a base
 * item replaces it in place; duplicates within one side stay, so validation
 * reports them where they were written.
 */
function appendList(base: TomlValue[], over: TomlValue[], at: string[], identity: Identity, o: OriginSet): TomlValue[] {
  const out: TomlValue[] = [];
  const from: Array<{ src: Origins; at: KeyPath }> = [];
  const basePosition = new Map<string, number>();
  base.forEach((item, i) => {
    const id = identity(item, () => o.base.of([...at, i]).source);
    if (id !== undefined && !basePosition.has(id)) basePosition.set(id, out.length);
    out.push(item);
    from.push({ src: o.base, at: [...at, i] });
  });
  over.forEach((item, i) => {
    const id = identity(item, () => o.over.of([...at, i]).source);
    const replace = id === undefined ? undefined : basePosition.get(id);
    if (id !== undefined) basePosition.delete(id);
    const index = replace ?? out.length;
    out[index] = item;
    from[index] = { src: o.over, at: [...at, i] };
  });
  o.out.set(at, o.over.of(at));
  from.forEach((f, i) => o.out.copy(f.src, f.at, [...at, i]));
  return out;
}
