/**
 * apk dependency atoms, as they appear in APKINDEX D:/i:/r: fields, in
 * .PKGINFO and in /etc/apk/world:
 *
 *   [!]name[op version]
 *
 * Names may carry a namespace ("so:libc.musl-x86_64.so.1", "cmd:sh",
 * "pc:zlib") or be a path ("/bin/sh"). Operators are built from the
 * characters < > = ~ as apk-tools does: "<", "<=", "=", ">=", ">", "~"
 * (also written "=~" or "~="), "<~", ">~", and "><", which pins a package
 * by its identity checksum ("name><Q1…"). "!" turns the atom into a conflict.
 */
import { BaseimgError } from '../../util/errors.js';
import { compareApkVersions } from './version.js';

export type VersionOp = '<' | '<=' | '=' | '>=' | '>' | '~' | '<~' | '>~' | '><';

export interface ApkDependency {
  name: string;
  op: VersionOp | undefined;
  /** The version (for "><" the "Q1…" checksum); undefined without an operator. */
  version: string | undefined;
  /** "!name": the named package must not be installed. */
  conflict: boolean;
}

/** A name a package provides, with a version ("so:libc.musl-x86_64.so.1=1") or without ("/bin/sh"). */
export interface Provision {
  name: string;
  version: string | undefined;
}

const OP_CHARS = /[<>=~]/;

/** The operator spelled by a run of <>=~ characters, as apk reads it (order does not matter). */
function operatorOf(text: string): VersionOp | undefined {
  const has = (c: string): boolean => text.includes(c);
  const less = has('<');
  const greater = has('>');
  const fuzzy = has('~');
  const equal = has('=') || fuzzy;
  if (less && greater) return equal ? undefined : '><';
  if (fuzzy) return less ? '<~' : greater ? '>~' : '~';
  if (less) return equal ? '<=' : '<';
  if (greater) return equal ? '>=' : '>';
  return equal ? '=' : undefined;
}

/** Parse one atom; `where` names its origin for errors ("D: of busybox 1.36.1-r2"). */
export function parseDependency(atom: string, where: string): ApkDependency {
  const conflict = atom.startsWith('!');
  const body = conflict ? atom.slice(1) : atom;
  const at = body.search(OP_CHARS);
  const name = at < 0 ? body : body.slice(0, at);
  const bad = (why: string): never => {
    throw new BaseimgError('RESOLVE', `${where}: invalid dependency "${atom}": ${why}`, {
      hint: 'dependencies look like "name", "name>=1.2-r0", "so:libc.musl-x86_64.so.1" or "!name"',
    });
  };
  if (name === '') bad('no package name');
  if (name.includes('@')) bad('repository tags (name@tag) are not supported');
  if (at < 0) return { name, op: undefined, version: undefined, conflict };
  const rest = body.slice(at);
  const opText = /^[<>=~]+/.exec(rest)![0];
  const version = rest.slice(opText.length);
  const op = operatorOf(opText);
  if (op === undefined) bad(`unknown operator "${opText}"`);
  if (op === '><') {
    if (!/^Q1[A-Za-z0-9+/]{27}=$/.test(version)) bad('"><" must be followed by a Q1 checksum');
  } else if (version === '') {
    // Nothing more is required: real indexes carry versions outside today's grammar ("0.99f7-r0", "pc:librtmp=v2.4").
    bad(`no version after "${opText}"`);
  }
  return { name, op, version, conflict };
}

/** A space-separated list of atoms (D:, i:, r:); empty or missing gives []. */
export function parseDependencyList(text: string | undefined, where: string): ApkDependency[] {
  if (text === undefined) return [];
  return text
    .split(/\s+/)
    .filter((a) => a !== '')
    .map((a) => parseDependency(a, where));
}

/** p: entries: "name" or "name=version". */
export function parseProvides(text: string | undefined, where: string): Provision[] {
  return parseDependencyList(text, where).map((d) => {
    if (d.conflict || (d.op !== undefined && d.op !== '=')) {
      throw new BaseimgError('RESOLVE', `${where}: invalid provides entry "${formatDependency(d)}"`, {
        hint: 'provides entries are "name" or "name=version"',
      });
    }
    return { name: d.name, version: d.version };
  });
}

export function formatDependency(d: ApkDependency): string {
  return `${d.conflict ? '!' : ''}${d.name}${d.op ?? ''}${d.version ?? ''}`;
}

/**
 * Does a package (or provision) of version `version` meet the dependency's
 * version constraint? `version` undefined is a provision without a version,
 * which apk counts as matching any constraint. The "><" checksum form is
 * matched against `checksum`, the package's identity (C:).
 */
export function versionMatches(dep: ApkDependency, version: string | undefined, checksum: string | undefined): boolean {
  if (dep.op === undefined) return true;
  if (dep.op === '><') return checksum !== undefined && checksum === dep.version;
  if (version === undefined) return true;
  const fuzzy = dep.op.includes('~');
  const r = compareApkVersions(version, dep.version!, fuzzy);
  switch (dep.op) {
    case '<':
      return r < 0;
    case '<=':
    case '<~':
      return r <= 0;
    case '=':
    case '~':
      return r === 0;
    case '>=':
    case '>~':
      return r >= 0;
    case '>':
      return r > 0;
  }
}
