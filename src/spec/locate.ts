/**
 * Where in the source a key lives. j-toml returns values without positions, so
 * error messages find their line with this light scanner over the same text.
 * It understands what affects line numbers and key paths: [table] and
 * [[array.of.tables]] headers (with their running indexes), dotted and quoted
 * keys, inline tables, arrays spanning lines (with one index per item), all
 * four string forms and comments. It never throws and always makes progress,
 * so malformed input just yields fewer positions.
 */

export type KeyPath = ReadonlyArray<string | number>;

interface Position {
  line: number;
  /** Source text of a scalar value (numbers, booleans, dates), e.g. "0o755". */
  raw?: string;
}

export class SourceIndex {
  private constructor(private readonly positions: Map<string, Position>) {}

  static build(text: string): SourceIndex {
    const positions = new Map<string, Position>();
    try {
      new Scanner(text, positions).run();
    } catch {
      // Only absurd nesting can get here (stack overflow); keep what was found.
    }
    return new SourceIndex(positions);
  }

  /**
   * 1-based line of `path`; when the key itself is absent (a missing required
   * key) the line of the nearest enclosing key or table header.
   */
  lineOf(path: KeyPath): number | undefined {
    for (let n = path.length; n > 0; n--) {
      const found = this.positions.get(keyOf(path.slice(0, n)));
      if (found !== undefined) return found.line;
    }
    return undefined;
  }

  /** The literal text of a scalar value, when the scanner saw exactly this path. */
  rawValueOf(path: KeyPath): string | undefined {
    return this.positions.get(keyOf(path))?.raw;
  }
}

/** Convenience for one lookup: the 1-based line of `path` in `text`. */
export function locate(text: string, path: KeyPath): number | undefined {
  return SourceIndex.build(text).lineOf(path);
}

function keyOf(path: KeyPath): string {
  return JSON.stringify(path);
}

const BARE_KEY = /[A-Za-z0-9_-]/;
const SCALAR_END = /[ \t\r\n,\]}#]/;
const ESCAPES: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };

class Scanner {
  private pos = 0;
  private line = 1;
  /** Running count of [[x]] headers seen, per resolved array path. */
  private readonly arrayCounts = new Map<string, number>();

  constructor(
    private readonly text: string,
    private readonly positions: Map<string, Position>,
  ) {}

  run(): void {
    let table: Array<string | number> = [];
    while (this.skipBlank()) {
      const start = this.pos;
      if (this.peek() === '[') table = this.header() ?? table;
      else this.keyValue(table);
      this.skipRestOfLine();
      if (this.pos === start) this.advance();
    }
  }

  // ---- statements ----

  /** Returns the path of the table the header opens, or undefined when malformed. */
  private header(): Array<string | number> | undefined {
    const line = this.line;
    const isArray = this.startsWith('[[');
    this.pos += isArray ? 2 : 1;
    const keys = this.key();
    if (keys === undefined) return undefined;
    this.skipSpaces();
    if (!this.startsWith(isArray ? ']]' : ']')) return undefined;
    this.pos += isArray ? 2 : 1;

    if (!isArray) {
      const path = this.resolve(keys);
      for (let n = 1; n <= path.length; n++) this.record(path.slice(0, n), line);
      return path;
    }
    const parent = this.resolve(keys.slice(0, -1));
    const array = [...parent, keys[keys.length - 1]!];
    const index = this.arrayCounts.get(keyOf(array)) ?? 0;
    this.arrayCounts.set(keyOf(array), index + 1);
    for (let n = 1; n <= array.length; n++) this.record(array.slice(0, n), line);
    const path = [...array, index];
    this.record(path, line);
    return path;
  }

  /** Header keys refer to the latest element of any array of tables they pass through. */
  private resolve(keys: string[]): Array<string | number> {
    const out: Array<string | number> = [];
    for (const k of keys) {
      out.push(k);
      const count = this.arrayCounts.get(keyOf(out));
      if (count !== undefined) out.push(count - 1);
    }
    return out;
  }

  private keyValue(table: KeyPath): void {
    const line = this.line;
    const keys = this.key();
    if (keys === undefined) return;
    this.skipSpaces();
    if (this.peek() !== '=') return;
    this.pos++;
    this.skipSpaces();
    for (let n = 1; n <= keys.length; n++) this.record([...table, ...keys.slice(0, n)], line);
    this.value([...table, ...keys]);
  }

  // ---- keys ----

  /** A dotted key: bare, "basic" or 'literal' segments separated by dots. */
  private key(): string[] | undefined {
    const segments: string[] = [];
    for (;;) {
      this.skipSpaces();
      const segment = this.keySegment();
      if (segment === undefined) return undefined;
      segments.push(segment);
      this.skipSpaces();
      if (this.peek() !== '.') return segments;
      this.pos++;
    }
  }

  private keySegment(): string | undefined {
    const c = this.peek();
    if (c === '"') return this.basicString();
    if (c === "'") return this.literalString();
    const start = this.pos;
    while (this.pos < this.text.length && BARE_KEY.test(this.text[this.pos]!)) this.pos++;
    return this.pos > start ? this.text.slice(start, this.pos) : undefined;
  }

  // ---- values ----

  private value(path: KeyPath): void {
    if (this.startsWith('"""')) this.multilineString('"""');
    else if (this.startsWith("'''")) this.multilineString("'''");
    else if (this.peek() === '"') this.basicString();
    else if (this.peek() === "'") this.literalString();
    else if (this.peek() === '[') this.array(path);
    else if (this.peek() === '{') this.inlineTable(path);
    else this.scalar(path);
  }

  private scalar(path: KeyPath): void {
    const line = this.line;
    const start = this.pos;
    this.skipUntil(SCALAR_END);
    // A date-time may use a space instead of "T": 1979-05-27 07:32:00.
    if (/^\d{4}-\d{2}-\d{2}$/.test(this.text.slice(start, this.pos)) && /^ \d{2}:/.test(this.text.slice(this.pos, this.pos + 4))) {
      this.pos++;
      this.skipUntil(SCALAR_END);
    }
    if (this.pos > start) this.record(path, line, this.text.slice(start, this.pos));
  }

  private array(path: KeyPath): void {
    this.pos++; // [
    for (let index = 0; this.skipBlank(); index++) {
      if (this.peek() === ']') {
        this.pos++;
        return;
      }
      const start = this.pos;
      const item = [...path, index];
      this.record(item, this.line);
      this.value(item);
      this.skipBlank();
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== ']' && this.pos === start) this.advance();
    }
  }

  private inlineTable(path: KeyPath): void {
    this.pos++; // {
    while (this.skipBlank()) {
      if (this.peek() === '}') {
        this.pos++;
        return;
      }
      const start = this.pos;
      this.keyValue(path);
      this.skipBlank();
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== '}' && this.pos === start) this.advance();
    }
  }

  // ---- strings ----

  private basicString(): string {
    this.pos++; // "
    let out = '';
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c === '\n' || c === '"') break;
      if (c === '\\') {
        out += this.escape();
        continue;
      }
      out += c;
      this.pos++;
    }
    if (this.peek() === '"') this.pos++;
    return out;
  }

  /** Decodes one backslash escape starting at pos (for quoted keys). */
  private escape(): string {
    const kind = this.text[this.pos + 1] ?? '';
    const width = kind === 'u' ? 4 : kind === 'U' ? 8 : 0;
    if (width > 0) {
      const hex = /^[0-9A-Fa-f]*/.exec(this.text.slice(this.pos + 2, this.pos + 2 + width))![0];
      this.pos += 2 + hex.length;
      const code = hex.length === width ? parseInt(hex, 16) : NaN;
      return code <= 0x10ffff ? String.fromCodePoint(code) : '';
    }
    if (kind === '\n' || kind === '') {
      this.pos++;
      return '';
    }
    this.pos += 2;
    return ESCAPES[kind] ?? kind;
  }

  private literalString(): string {
    this.pos++; // '
    const start = this.pos;
    while (this.pos < this.text.length && this.text[this.pos] !== "'" && this.text[this.pos] !== '\n') this.pos++;
    const out = this.text.slice(start, this.pos);
    if (this.peek() === "'") this.pos++;
    return out;
  }

  private multilineString(delimiter: '"""' | "'''"): void {
    this.pos += 3;
    while (this.pos < this.text.length) {
      if (delimiter === '"""' && this.peek() === '\\') {
        this.advance();
        if (this.pos < this.text.length) this.advance();
      } else if (this.startsWith(delimiter)) {
        this.pos += 3;
        // Up to two quotes may sit right before the closing delimiter: """a""""".
        for (let extra = 0; extra < 2 && this.peek() === delimiter[0]; extra++) this.pos++;
        return;
      } else this.advance();
    }
  }

  // ---- low level ----

  private record(path: KeyPath, line: number, raw?: string): void {
    const key = keyOf(path);
    const existing = this.positions.get(key);
    if (existing === undefined) this.positions.set(key, raw === undefined ? { line } : { line, raw });
    else if (raw !== undefined && existing.raw === undefined && existing.line === line) existing.raw = raw;
  }

  /** Skips spaces, newlines and comments; false at the end of the text. */
  private skipBlank(): boolean {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c === '#') this.skipUntil(/\n/);
      else if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.advance();
      else return true;
    }
    return false;
  }

  private skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  private skipRestOfLine(): void {
    this.skipUntil(/\n/);
  }

  /** Moves to the next character matching `stop` (not consuming it) or the end. */
  private skipUntil(stop: RegExp): void {
    while (this.pos < this.text.length && !stop.test(this.text[this.pos]!)) this.pos++;
  }

  private advance(): void {
    // Lines are counted like j-toml splits them: on "\n" (so "\r\n" counts once).
    if (this.text[this.pos] === '\n') this.line++;
    this.pos++;
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }
}
