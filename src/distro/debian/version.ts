/**
 * Debian version strings: parsing, validation and ordering as in Debian
 * Policy 5.6.12 ([epoch:]upstream_version[-debian_revision]) and dpkg.
 */

export interface DebianVersion {
  /** Decimal digits without leading zeros ("0" when absent). A string so huge epochs cannot overflow. */
  epoch: string;
  upstream: string;
  /** "" when the version has no revision (which dpkg orders like "0"). */
  revision: string;
}

/**
 * Split a version the way dpkg does: the epoch ends at the first colon, the
 * revision starts after the last hyphen. Does not validate; see isValidVersion.
 */
export function parseVersion(version: string): DebianVersion {
  let rest = version.trim();
  let epoch = '0';
  const colon = rest.indexOf(':');
  if (colon >= 0 && /^[0-9]+$/.test(rest.slice(0, colon))) {
    epoch = stripLeadingZeros(rest.slice(0, colon));
    rest = rest.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  if (hyphen < 0) return { epoch, upstream: rest, revision: '' };
  return { epoch, upstream: rest.slice(0, hyphen), revision: rest.slice(hyphen + 1) };
}

const EPOCH = /^[0-9]+$/;
const UPSTREAM_WITH_REVISION = /^[0-9][A-Za-z0-9.+~-]*$/;
const UPSTREAM_ALONE = /^[0-9][A-Za-z0-9.+~]*$/;
const REVISION = /^[A-Za-z0-9.+~]+$/;

/**
 * True when `version` follows policy: optional numeric epoch, an upstream part
 * that starts with a digit (hyphens only when a revision follows), and a
 * non-empty revision after the last hyphen.
 */
export function isValidVersion(version: string): boolean {
  if (version.length === 0 || version !== version.trim()) return false;
  let rest = version;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    if (!EPOCH.test(rest.slice(0, colon))) return false;
    rest = rest.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  if (hyphen < 0) return UPSTREAM_ALONE.test(rest);
  return UPSTREAM_WITH_REVISION.test(rest.slice(0, hyphen)) && REVISION.test(rest.slice(hyphen + 1));
}

/** Negative, zero or positive as `a` sorts before, equal to, or after `b` (results are -1, 0 or 1). */
export function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  const va = parseVersion(a);
  const vb = parseVersion(b);
  return (
    compareDigitStrings(va.epoch, vb.epoch) ||
    compareFragment(va.upstream, vb.upstream) ||
    compareFragment(va.revision, vb.revision)
  );
}

function stripLeadingZeros(digits: string): string {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 0x30) i++;
  return digits.slice(i);
}

/** Numeric comparison of two digit strings of any length (leading zeros allowed). */
function compareDigitStrings(a: string, b: string): number {
  const x = stripLeadingZeros(a || '0');
  const y = stripLeadingZeros(b || '0');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/**
 * Sort weight of one character in a non-digit run: "~" before everything
 * (even the end of the string), then the end, then letters, then all other
 * characters. `code` is NaN past the end of the string.
 */
function weight(code: number): number {
  if (Number.isNaN(code)) return 0;
  if (code === 0x7e) return -1;
  if (isLetter(code)) return code;
  return code + 256;
}

/**
 * dpkg's comparison of an upstream or revision part: alternate non-digit runs
 * (compared character by character with `weight`) and digit runs (compared
 * as numbers, so "10" > "9" and "007" == "7").
 */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Non-digit run: a digit (or the end) on one side weighs 0, like the end.
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ca = i < a.length && !isDigit(a.charCodeAt(i)) ? weight(a.charCodeAt(i)) : 0;
      const cb = j < b.length && !isDigit(b.charCodeAt(j)) ? weight(b.charCodeAt(j)) : 0;
      if (ca !== cb) return ca < cb ? -1 : 1;
      if (i < a.length && !isDigit(a.charCodeAt(i))) i++;
      if (j < b.length && !isDigit(b.charCodeAt(j))) j++;
    }
    const startA = i;
    while (i < a.length && isDigit(a.charCodeAt(i))) i++;
    const startB = j;
    while (j < b.length && isDigit(b.charCodeAt(j))) j++;
    const byNumber = compareDigitStrings(a.slice(startA, i), b.slice(startB, j));
    if (byNumber !== 0) return byNumber;
  }
  return 0;
}
