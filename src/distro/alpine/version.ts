/**
 * apk version ordering, as apk-tools 2.14 / 3 define it (apk-package(5)):
 *
 *   number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}
 *
 * A version is read as a sequence of tokens and compared token by token:
 *  - numbers compare numerically, except that a dotted component with a
 *    leading zero on either side compares as a string ("1.02" < "1.1"),
 *    as Gentoo does for fractional parts;
 *  - one letter after the numbers compares by character ("1.0a" < "1.0b");
 *  - suffixes order _alpha < _beta < _pre < _rc < (none) < _cvs < _svn <
 *    _git < _hg < _p, each optionally numbered;
 *  - "~hash" (a commit) compares as a string, "-rN" numerically.
 * When one version runs out first, the other is newer unless what it
 * continues with is a pre-release suffix ("1.0_rc1" < "1.0" < "1.0-r1" <
 * "1.0.1"). Invalid versions compare below valid ones.
 */

/** Token kinds in the order they may follow each other; the order also decides ties (see compare). */
const enum Token {
  Initial = 0,
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNumber = 4,
  CommitHash = 5,
  Revision = 6,
  End = 7,
  Invalid = 8,
}

/** Suffix ranks: pre-release ones below NONE (a bare version), post-release ones above. */
const SUFFIX_RANK: Record<string, number> = { alpha: 0, beta: 1, pre: 2, rc: 3, cvs: 5, svn: 6, git: 7, hg: 8, p: 9 };
const SUFFIX_NONE = 4;

interface TokenValue {
  kind: Token;
  /** The token's text (digits, letter, suffix name or hash). */
  text: string;
}

/** Reads a version one token at a time, validating the order of tokens as apk does. */
class Tokenizer {
  private at = 0;
  private last: Token = Token.Initial;

  constructor(private readonly s: string) {}

  first(): TokenValue {
    const digits = this.digits();
    this.last = digits === '' ? Token.Invalid : Token.Initial;
    return { kind: this.last, text: digits };
  }

  next(): TokenValue {
    const s = this.s;
    if (this.at >= s.length) return this.token(Token.End, '');
    const c = s[this.at]!;
    const prev = this.last;
    if (c >= 'a' && c <= 'z') {
      if (prev > Token.Digit) return this.invalid();
      this.at++;
      return this.token(Token.Letter, c);
    }
    if (c === '.' || (c >= '0' && c <= '9')) {
      if (c === '.') {
        if (prev > Token.Digit) return this.invalid();
        this.at++;
      }
      let kind: Token;
      if (prev === Token.Initial || prev === Token.Digit) kind = Token.Digit;
      else if (prev === Token.Suffix) kind = Token.SuffixNumber;
      else return this.invalid();
      const digits = this.digits();
      return digits === '' ? this.invalid() : this.token(kind, digits);
    }
    if (c === '_') {
      if (prev > Token.SuffixNumber) return this.invalid();
      this.at++;
      const name = this.span(/[a-z]/);
      return SUFFIX_RANK[name] === undefined ? this.invalid() : this.token(Token.Suffix, name);
    }
    if (c === '~') {
      if (prev >= Token.CommitHash) return this.invalid();
      this.at++;
      const hash = this.span(/[0-9a-f]/);
      return hash === '' ? this.invalid() : this.token(Token.CommitHash, hash);
    }
    if (c === '-') {
      if (prev >= Token.Revision || s[this.at + 1] !== 'r') return this.invalid();
      this.at += 2;
      const digits = this.digits();
      return digits === '' ? this.invalid() : this.token(Token.Revision, digits);
    }
    return this.invalid();
  }

  private token(kind: Token, text: string): TokenValue {
    this.last = kind;
    return { kind, text };
  }

  private invalid(): TokenValue {
    return this.token(Token.Invalid, '');
  }

  private digits(): string {
    return this.span(/[0-9]/);
  }

  private span(allowed: RegExp): string {
    const start = this.at;
    while (this.at < this.s.length && allowed.test(this.s[this.at]!)) this.at++;
    return this.s.slice(start, this.at);
  }
}

/** Numeric order of digit strings of any length ("007" = "7"). */
function compareNumbers(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Byte order, shorter first on a common prefix (apk's blob sort). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareTokens(a: TokenValue, b: TokenValue): number {
  switch (a.kind) {
    case Token.Digit:
      if (a.text.startsWith('0') || b.text.startsWith('0')) return compareStrings(a.text, b.text);
      return compareNumbers(a.text, b.text);
    case Token.Initial:
    case Token.SuffixNumber:
    case Token.Revision:
      return compareNumbers(a.text, b.text);
    case Token.Suffix:
      return Math.sign(SUFFIX_RANK[a.text]! - SUFFIX_RANK[b.text]!);
    default:
      return compareStrings(a.text, b.text);
  }
}

function isPreRelease(t: TokenValue): boolean {
  return t.kind === Token.Suffix && SUFFIX_RANK[t.text]! < SUFFIX_NONE;
}

/**
 * Compare two versions: negative, 0 or positive. With `fuzzy`, `b` matching
 * a prefix of `a` token by token counts as equal (apk's "~": "1.2.3" ~ "1.2",
 * but not "1.20").
 */
export function compareApkVersions(a: string, b: string, fuzzy = false): number {
  if (a === b) return 0;
  const ta = new Tokenizer(a);
  const tb = new Tokenizer(b);
  let x = ta.first();
  let y = tb.first();
  while (x.kind === y.kind && x.kind < Token.End) {
    const r = compareTokens(x, y);
    if (r !== 0) return r;
    x = ta.next();
    y = tb.next();
  }
  if (x.kind === y.kind) return 0;
  if (y.kind === Token.End && fuzzy) return 0;
  if (isPreRelease(x)) return -1;
  if (isPreRelease(y)) return 1;
  return x.kind > y.kind ? -1 : 1;
}

/** Whether `v` follows the version grammar in full. */
export function isValidApkVersion(v: string): boolean {
  const t = new Tokenizer(v);
  let token = t.first();
  while (token.kind < Token.End) token = t.next();
  return token.kind === Token.End;
}
