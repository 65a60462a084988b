/**
 * [[paths]]: directories, files and symlinks added to the image after the
 * packages. Paths are normalised so duplicates are caught however they are
 * spelled; file sources are read now so a build never starts with a missing
 * input.
 */
import path from 'node:path';
import type { KeyPath } from './locate.js';
import type { PathEntry } from './types.js';
import { describe, dotted, MAX_ID, nearest, type Section } from './validate-fields.js';

const PATH_KEYS = ['path', 'type', 'mode', 'uid', 'gid', 'content', 'source', 'target'];
const TYPES = ['directory', 'file', 'symlink'];
/** Keys that only make sense for some types. */
const ONLY_FOR: Record<string, string[]> = { mode: ['directory', 'file'], content: ['file'], source: ['file'], target: ['symlink'] };
const MAX_MODE = 0o7777;

export function validatePaths(top: Section, key: string): PathEntry[] {
  const seen = new Map<string, KeyPath>();
  return top.tables(key).map((entry) => {
    const result = pathEntry(entry);
    const first = seen.get(result.path);
    if (first !== undefined) entry.fail('path', `"${result.path}" is already declared by ${entry.ctx.refer(first, entry.path)}`);
    seen.set(result.path, entry.path);
    return result;
  });
}

function pathEntry(s: Section): PathEntry {
  s.allowOnly(PATH_KEYS);
  const target = imagePath(s);
  const type = s.requiredString('type', 'type = "directory", "file" or "symlink"');
  if (!TYPES.includes(type)) s.fail('type', `expected "directory", "file" or "symlink", got "${type}"${nearest(type, TYPES)}`);
  for (const [key, types] of Object.entries(ONLY_FOR)) {
    if (s.has(key) && !types.includes(type)) {
      s.ctx.failPlain(s.at(key), `${dotted(s.at(key))} is only for type = ${types.map((t) => `"${t}"`).join(' or ')}`);
    }
  }
  const uid = s.integer('uid', 0, MAX_ID) ?? 0;
  const gid = s.integer('gid', 0, MAX_ID) ?? 0;
  if (type === 'directory') return { type, path: target, mode: fileMode(s) ?? 0o755, uid, gid };
  if (type === 'file') return { type, path: target, mode: fileMode(s) ?? 0o644, uid, gid, content: fileContent(s) };
  const link = s.requiredString('target', 'target = "/usr/bin/example"');
  if (link === '' || link.includes('\0')) s.fail('target', 'expected a non-empty link target');
  return { type: 'symlink', path: target, target: link, uid, gid };
}

/** Absolute, without "..", normalised ("/a//b/./c/" → "/a/b/c"), and not "/" itself. */
export function imagePath(s: Section): string {
  const p = s.requiredString('path', 'path = "/data"');
  if (!p.startsWith('/')) s.fail('path', `expected an absolute path, got "${p}"`, `path = "/${p.replace(/^\.?\/*/, '')}"`);
  if (p.includes('\0')) s.fail('path', 'expected a path without NUL characters');
  if (p.split('/').includes('..')) s.fail('path', `"${p}" contains "..", expected a path without parent references`);
  const normal = path.posix.normalize(p).replace(/\/+$/, '');
  if (normal === '') s.fail('path', 'expected a path below "/", got the root itself');
  return normal;
}

/**
 * An octal string ("0755", "755", "01777", "0o755") or a TOML octal integer
 * (0o755). Decimal integers are refused: `mode = 755` would mean 0o1363.
 */
export function fileMode(s: Section, key = 'mode'): number | undefined {
  const v = s.get(key);
  if (v === undefined) return undefined;
  const hint = `write the mode as an octal string, e.g. ${key} = "0755", or as a TOML octal integer, ${key} = 0o755`;
  if (typeof v === 'string') {
    const m = /^(?:0o)?([0-7]{1,5})$/.exec(v);
    const mode = m === null ? NaN : parseInt(m[1]!, 8);
    if (!(mode <= MAX_MODE)) s.fail(key, `"${v}" is not a file mode, expected octal digits up to "7777"`, hint);
    return mode;
  }
  if (typeof v !== 'bigint') s.fail(key, `expected an octal string such as "0755", got ${describe(v)}`, hint);
  const raw = s.ctx.rawValue(s.at(key))?.replace(/_/g, '');
  if (raw !== undefined && v !== 0n && !raw.startsWith('0o')) {
    s.fail(key, `${raw} is not an octal mode (TOML reads it as decimal ${v} = 0o${v.toString(8)})`, hint);
  }
  if (v < 0n || v > BigInt(MAX_MODE)) s.fail(key, `0o${v.toString(8)} is out of range, expected at most 0o7777`);
  return Number(v);
}

function fileContent(s: Section): Buffer {
  const content = s.string('content');
  const source = s.string('source');
  if (content !== undefined && source !== undefined) {
    s.ctx.failPlain(s.at('source'), `${dotted(s.path)}: expected either content or source, not both`);
  }
  if (content !== undefined) return Buffer.from(content, 'utf8');
  if (source !== undefined) return s.ctx.readLocal(s.at('source'), source).data;
  return s.ctx.failPlain(s.path, `missing "content" or "source" in ${s.label}`, 'content = "inline text" or source = "files/app.conf"');
}
