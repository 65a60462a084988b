/**
 * WWW-Authenticate challenges (RFC 7235): `Bearer realm="…",service="…",scope="…"`
 * or `Basic realm="…"`. Parameters may be quoted strings with backslash
 * escapes or bare tokens; several challenges may share one header.
 */
export interface Challenge {
  /** Lower case: "bearer", "basic". */
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) parseOne(value, out);
  return out;
}

function parseOne(text: string, out: Challenge[]): void {
  let rest = text.trim();
  let current: Challenge | undefined;
  while (rest.length > 0) {
    rest = rest.replace(/^[\s,]+/, '');
    const word = TOKEN.exec(rest)?.[0];
    if (word === undefined) return; // malformed: keep what was understood
    const after = rest.slice(word.length).replace(/^\s+/, '');
    if (after.startsWith('=') && current) {
      let value: string;
      let tail = after.slice(1).replace(/^\s+/, '');
      if (tail.startsWith('"')) {
        let i = 1;
        value = '';
        while (i < tail.length && tail[i] !== '"') {
          if (tail[i] === '\\' && i + 1 < tail.length) i++;
          value += tail[i];
          i++;
        }
        tail = tail.slice(i + 1);
      } else {
        value = TOKEN.exec(tail)?.[0] ?? '';
        tail = tail.slice(value.length);
      }
      current.params[word.toLowerCase()] = value;
      rest = tail;
    } else {
      current = { scheme: word.toLowerCase(), params: {} };
      out.push(current);
      rest = after;
    }
  }
}
