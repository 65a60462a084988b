/**
 * Every failure the user can act on is a BaseimgError: a one-line message that
 * names the problem (file, line, field, package, URL...), and an optional hint
 * that says how to fix it. The CLI prints both and exits non-zero; anything
 * else reaching the top level is a bug and is printed with its stack.
 */
export type ErrorCode =
  | 'SPEC' // the spec file is malformed or invalid
  | 'USAGE' // bad command-line arguments
  | 'MIRROR' // no mirror configured / reachable
  | 'NETWORK' // download failed after retries
  | 'VERIFY' // checksum or signature mismatch
  | 'RESOLVE' // unknown package, unsatisfiable dependency
  | 'UNPACK' // malformed or hostile package archive
  | 'CONFLICT' // two packages ship one path
  | 'IMAGE' // image tarball malformed / unreadable
  | 'LOCK' // lockfile problems
  | 'INTERRUPTED' // SIGINT/SIGTERM
  | 'INTERNAL';

export class BaseimgError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BaseimgError';
    this.code = code;
    this.hint = options.hint;
  }

  /** Exit status the CLI uses: 2 for input the user must fix, 1 for everything else. */
  get exitCode(): number {
    // 128 + signal number, as a shell reports a process killed by it.
    if (this.code === 'INTERRUPTED') return /SIGTERM/.test(this.message) ? 143 : 130;
    return this.code === 'SPEC' || this.code === 'USAGE' ? 2 : 1;
  }
}

export function isBaseimgError(e: unknown): e is BaseimgError {
  return e instanceof BaseimgError;
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/**
 * Up to `limit` candidates close to `word`: small edit distance, or sharing a
 * prefix/substring (so "libssl" suggests "libssl3"). Sorted by closeness, then name.
 */
export function suggest(word: string, candidates: Iterable<string>, limit = 3): string[] {
  const w = word.toLowerCase();
  const maxDist = Math.max(2, Math.floor(w.length / 3));
  const scored: Array<[number, string]> = [];
  for (const c of candidates) {
    const lc = c.toLowerCase();
    let score: number;
    if (lc.startsWith(w) || w.startsWith(lc)) score = Math.abs(lc.length - w.length) * 0.5;
    else {
      const d = editDistance(w, lc);
      if (d <= maxDist) score = d;
      else if (w.length >= 4 && lc.includes(w)) score = maxDist + 0.5;
      else continue;
    }
    scored.push([score, c]);
  }
  scored.sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
  return scored.slice(0, limit).map((s) => s[1]);
}

/** " (did you mean a, b or c?)" or "" */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  if (s.length === 0) return '';
  const quoted = s.map((x) => `"${x}"`);
  const list = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
  return ` (did you mean ${list}?)`;
}
