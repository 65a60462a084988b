/**
 * TOML parsing for spec files: a thin wrapper over j-toml whose only job is to
 * turn its parse errors into one-line BaseimgErrors ("FILE:LINE: invalid
 * TOML: what is wrong, expected what") a user can act on.
 *
 * Integers are parsed as BigInt on purpose: j-toml's Number mode reads octal
 * and binary literals with parseInt and silently returns 0 for `0o755`, and it
 * cannot tell `1.0` from `1`. With BigInt, a `bigint` is always a TOML integer
 * and a `number` is always a TOML float; validate.ts converts and range-checks.
 */
import { LocalDate, LocalDateTime, LocalTime, OffsetDateTime, parse } from '@ltd/j-toml';
import { BaseimgError } from '../util/errors.js';

/** Dates and times come back as j-toml objects; the spec never uses them. */
export type TomlDate = object;
export type TomlValue = string | bigint | number | boolean | TomlDate | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

/** j-toml tables are objects with their own (null-rooted) prototype, so rule out the rest. */
export function isTomlTable(v: unknown): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isTomlDate(v);
}

export function isTomlDate(v: unknown): boolean {
  return v instanceof OffsetDateTime || v instanceof LocalDateTime || v instanceof LocalDate || v instanceof LocalTime;
}

export function parseToml(text: string, file: string): TomlTable {
  // j-toml rejects a byte order mark; editors on some systems add one.
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  try {
    return parse(source, { joiner: '\n', bigint: true }) as unknown as TomlTable;
  } catch (e) {
    const raw = e instanceof Error ? e.message : String(e);
    const { line, reason, sourceLine } = splitLocation(raw);
    const where = line === undefined ? file : `${file}:${line}`;
    const explained = explain(reason, sourceLine);
    throw new BaseimgError('SPEC', oneLine(`${where}: invalid TOML: ${explained.message}`), {
      hint: explained.hint === undefined ? undefined : oneLine(explained.hint),
      cause: e,
    });
  }
}

/** j-toml ends its messages with "…, which is found at line 7: <the line>". */
function splitLocation(message: string): { line: number | undefined; reason: string; sourceLine: string } {
  const m = /\bline (\d+): /.exec(message);
  if (m === null) return { line: undefined, reason: firstLine(message), sourceLine: '' };
  const before = message.slice(0, m.index);
  const reason = before.replace(/(?:,\s*(?:which|but)\b.*|\s+(?:meet\s+)?at|\s+from)\s*$/s, '');
  const line = Number(m[1]);
  return {
    line: line >= 1 ? line : undefined,
    reason: firstLine(reason),
    sourceLine: firstLine(message.slice(m.index + m[0].length)),
  };
}

/** Source text quoted into a message may hold control characters; keep the error one clean line. */
function oneLine(s: string): string {
  return s.replace(/[\0-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

function firstLine(s: string): string {
  const line = s.split(/\r?\n/, 1)[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

interface Explained {
  message: string;
  hint?: string;
}

type Rule = [RegExp, (m: RegExpExecArray, sourceLine: string) => Explained];

const VALUE_KINDS = 'a "string", number, true/false, [array] or { inline table }';

/** j-toml's reasons (first match wins) rephrased as "what is wrong, expected what". */
const RULES: Rule[] = [
  [/^Value can not be missing/, () => ({ message: `missing value after "=", expected ${VALUE_KINDS}` })],
  [/^Keys must equal something/, () => ({ message: 'key without a value, expected key = value' })],
  [
    /^Duplicate property definition/,
    (_m, src) => ({ message: `key ${quoteKey(src)}defined twice, expected each key once per table` }),
  ],
  [
    /^Duplicate Table definition/,
    (_m, src) => ({ message: `table ${headerOf(src)} defined twice, expected each [table] header once` }),
  ],
  [
    /^(Static Array|Multi-line Basic String|Multi-line Literal String|Inline Table|.+?) is not close until the end of the file/,
    (m) => {
      const what = (m[1] ?? '').toLowerCase().replace('static ', '');
      return { message: `${what} starting here is never closed, expected ${closerOf(what)}` };
    },
  ],
  [
    /^Bad (multi-line )?basic string/,
    () => ({
      message: 'bad string, expected a closing " on the same line and only valid escapes',
      hint: 'valid escapes are \\" \\\\ \\n \\t \\r \\b \\f \\uXXXX; use a \'literal string\' for backslashes',
    }),
  ],
  [/^Bad literal string$/, () => ({ message: "bad literal string, expected a closing ' on the same line" })],
  [
    /^(Bad (bare|literal string) key|Empty bare key)/,
    () => ({
      message: 'bad key, expected letters, digits, "_" or "-"',
      hint: 'quote keys with other characters: "my key" = 1',
    }),
  ],
  [
    /^Unexpect charachtor after key\/value pair/,
    () => ({
      message: 'unexpected text after the value, expected the end of the line or a # comment',
      hint: 'put each key = value on its own line',
    }),
  ],
  [
    /^Unexpect charachtor after table header/,
    () => ({ message: 'unexpected text after the table header, expected the end of the line or a # comment' }),
  ],
  [/^Unexpect character in static array/, () => ({ message: 'bad array item, expected a value followed by "," or "]"' })],
  [
    /^Inline Table is intended to appear on a single line/,
    () => ({
      message: 'inline table is broken across lines, expected { ... } on one line',
      hint: 'use a [table] section for longer tables',
    }),
  ],
  [/^The last property of an Inline Table/, () => ({ message: 'trailing comma in inline table, expected "}" after the last value' })],
  [/^Table header is not closed/, () => ({ message: 'table header is not closed, expected "]"' })],
  [/^Square brackets of Table definition/, () => ({ message: 'mismatched brackets, expected [table] or [[array.of.tables]]' })],
  [/^Integer .*not includes (\S+)/, (m) => ({ message: `integer ${m[1]} is out of range, expected a 64-bit integer` })],
  [
    /^Invalid Float (\S*)/,
    (m, src) =>
      /^\s*\[/.test(src)
        ? { message: `"${src.trim()}" looks like a table header inside an unclosed array, expected "]" to close the array above` }
        : {
            message: `bad value ${m[1]}, expected ${VALUE_KINDS}`,
            hint: /^[A-Za-z]/.test(m[1] ?? '') ? `strings need quotes: "${m[1]}"` : undefined,
          },
  ],
  [/^Invalid (Integer|Local Date-Time|Local Date|Local Time|Offset Date-Time) (\S*)/, (m) => ({ message: `bad ${m[1]!.toLowerCase()} ${m[2]}` })],
  [/^Float (\S+) has/, (m) => ({ message: `float ${m[1]} cannot be represented exactly` })],
  [/^Invalid Unicode Scalar (\S+)/, (m) => ({ message: `bad unicode escape ${m[1]}, expected a Unicode scalar value` })],
  [/^Control characters other than Tab/, () => ({ message: 'control character in text, expected printable characters (use escapes in "strings")' })],
  [/^A TOML doc must be/, () => ({ message: 'the file is not valid UTF-8 text' })],
  [
    /^(Trying to|A table defined implicitly)/,
    (_m, src) => ({
      message: `${src.trim() === '' ? 'this' : `"${src.trim()}"`} conflicts with an earlier definition of the same key, expected each table defined in one place`,
    }),
  ],
];

function explain(reason: string, sourceLine: string): Explained {
  for (const [pattern, make] of RULES) {
    const m = pattern.exec(reason);
    if (m !== null) return make(m, sourceLine);
  }
  const cleaned = reason.replace(/charachtor/g, 'character').replace(/euqal/g, 'equal').replace(/\bUnexpect\b/g, 'Unexpected');
  return { message: cleaned.charAt(0).toLowerCase() + cleaned.slice(1) };
}

function quoteKey(sourceLine: string): string {
  const m = /^\s*([^=]+?)\s*=/.exec(sourceLine);
  return m === null ? '' : `"${m[1]}" `;
}

function headerOf(sourceLine: string): string {
  return sourceLine.replace(/#.*$/, '').trim() || 'header';
}

function closerOf(what: string): string {
  if (what.includes('basic string')) return '"""';
  if (what.includes('literal string')) return "'''";
  if (what.includes('table')) return '"}"';
  return '"]"';
}
