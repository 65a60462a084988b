/**
 * Path globs for `strip`: absolute image paths matched component by
 * component. `*` matches any run of characters within one component (dot
 * files too), `?` one character, and a component that is exactly `**`
 * matches zero or more components. Everything else is literal, including
 * `[`, `]`, `{` and `\`: Debian paths use them rarely and shell-style
 * classes would only add ways to be surprised.
 */

/** Why `pattern` is not a valid glob, or undefined. */
export function checkGlob(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return 'expected an absolute path pattern starting with "/"';
  if (pattern.includes('\0')) return 'contains a NUL character';
  const parts = components(pattern);
  if (parts.length === 0) return 'matches the root directory itself';
  for (const part of parts) {
    if (part === '.' || part === '..') return `"${part}" is not allowed in a pattern`;
    if (part.includes('**') && part !== '**') return '"**" must be a whole path component ("/usr/share/**", not "/usr/share/x**")';
  }
  // Each "**" multiplies the work of a match by the path's depth.
  if (parts.filter((p) => p === '**').length > 3) return 'at most three "**" components are allowed';
  return undefined;
}

export type PathMatcher = (path: string) => boolean;

/** A matcher for one valid pattern (see checkGlob); `path` is absolute and normalised. */
export function compileGlob(pattern: string): PathMatcher {
  const parts = components(pattern).map((p) => (p === '**' ? ANY_DEPTH : componentRegex(p)));
  return (path) => matchFrom(parts, 0, components(path), 0);
}

/** Any of several patterns. */
export function compileGlobs(patterns: readonly string[]): PathMatcher {
  const matchers = patterns.map(compileGlob);
  return (path) => matchers.some((m) => m(path));
}

const ANY_DEPTH = Symbol('**');
type Part = RegExp | typeof ANY_DEPTH;

function components(path: string): string[] {
  return path.split('/').filter((p) => p !== '');
}

function componentRegex(part: string): RegExp {
  const body = part.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : `\\${c}`));
  return new RegExp(`^${body}$`, 's');
}

function matchFrom(parts: Part[], i: number, path: string[], j: number): boolean {
  if (i === parts.length) return j === path.length;
  const part = parts[i]!;
  if (part === ANY_DEPTH) {
    for (let k = j; k <= path.length; k++) if (matchFrom(parts, i + 1, path, k)) return true;
    return false;
  }
  return j < path.length && part.test(path[j]!) && matchFrom(parts, i + 1, path, j + 1);
}
