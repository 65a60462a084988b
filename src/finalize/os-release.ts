/**
 * os-release is the distribution's own file (Debian: base-files ships
 * /usr/lib/os-release and /etc/os-release -> ../usr/lib/os-release; Alpine:
 * alpine-release). It is kept as shipped; the spec may only rename the
 * image via PRETTY_NAME, which is rewritten in the canonical file with the
 * quoting the original line used. Scanners read ID and VERSION_ID, which
 * stay the distribution's.
 */
import type { RootTree } from '../rootfs/tree.js';
import { BaseimgError } from '../util/errors.js';

/** Where os-release(5) says to look, in order. */
const OS_RELEASE_PATHS = ['/etc/os-release', '/usr/lib/os-release'];

const PRETTY_NAME_LINE = /^PRETTY_NAME=(.*)$/;
/** Characters a shell reads literally without quotes. */
const BARE_SAFE = /^[A-Za-z0-9._/+:,@%-]+$/;

/** Quote `value` like `original` was quoted ("…", '…' or bare), falling back to "…" when that style cannot hold it. */
export function quoteLike(original: string, value: string): string {
  if (original.startsWith("'") && !value.includes("'")) return `'${value}'`;
  if (!original.startsWith('"') && !original.startsWith("'") && BARE_SAFE.test(value)) return value;
  return `"${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

/** The text with every PRETTY_NAME line rewritten (one is appended if there was none). */
export function setPrettyName(text: string, prettyName: string): string {
  if (/[\0-\x1f\x7f]/.test(prettyName)) {
    throw new BaseimgError('SPEC', 'os-release.pretty-name must be one line of text without control characters');
  }
  let found = false;
  const lines = text.split('\n').map((line) => {
    const m = PRETTY_NAME_LINE.exec(line);
    if (!m) return line;
    found = true;
    return `PRETTY_NAME=${quoteLike(m[1]!, prettyName)}`;
  });
  if (found) return lines.join('\n');
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${sep}PRETTY_NAME=${quoteLike('"', prettyName)}\n`;
}

/** The canonical path of the image's os-release file, or undefined when no package shipped one. */
export function findOsRelease(root: RootTree): string | undefined {
  for (const p of OS_RELEASE_PATHS) {
    const real = root.realpath(p);
    if (real !== undefined && root.get(real, false)?.type === 'file') return real;
  }
  return undefined;
}

/**
 * Rewrite PRETTY_NAME in the image's os-release. The file is edited in place:
 * it keeps its mode and its owning package (whose md5sums then show it as
 * locally modified, as dpkg --verify would on a real system). Returns the path
 * edited, or undefined when there is no os-release to edit.
 */
export async function overridePrettyName(root: RootTree, prettyName: string, mtime: number): Promise<string | undefined> {
  const path = findOsRelease(root);
  if (path === undefined) return undefined;
  const node = root.get(path, false);
  if (node?.type !== 'file') return undefined;
  const text = (await root.bodies.read(node.body)).toString('utf8');
  const body = Buffer.from(setPrettyName(text, prettyName), 'utf8');
  root.bodies.release(node.body);
  node.body = await root.bodies.put(body);
  node.size = body.length;
  node.meta = { ...node.meta, mtime };
  return path;
}
