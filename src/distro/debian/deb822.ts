/**
 * Streaming parser for deb822 control data (Packages, Release, *.sources).
 *
 * Written here rather than taken from npm: the `debian-control` package is
 * GPL-3.0, several times slower on a 50 MB Packages file, and merges
 * paragraphs when fed in chunks.
 *
 * Value representation (so a paragraph can be written back verbatim):
 *  - the first line's value has its leading and trailing blanks removed, as
 *    dpkg does;
 *  - continuation lines are kept exactly as in the file, leading space and
 *    " ." placeholders included, joined with "\n". A field whose first line
 *    is empty ("SHA256:" followed by indented lines) therefore has a value
 *    that starts with "\n".
 *  - CR of CRLF line ends is dropped.
 * Lines holding only spaces/tabs separate paragraphs, like empty lines. A
 * field repeated (same spelling) within a paragraph is an error.
 * Packages indexes are scanned rather than parsed whole (index-scan.ts),
 * which gives the same answers and uses this parser for the paragraphs read.
 */
import { BaseimgError, type ErrorCode } from '../../util/errors.js';

export type Paragraph = Record<string, string>;

export interface Deb822Options {
  /** Skip lines starting with '#' (apt *.sources files allow comments; indexes do not). */
  comments?: boolean;
  /** Names the input in error messages ("Packages.xz of bookworm/main"). */
  source?: string;
  /** Error code for malformed input; VERIFY by default (indexes come from mirrors). */
  errorCode?: ErrorCode;
  /** Number of the first line, for text cut out of a larger file (error messages). */
  firstLine?: number;
}

const SPACE = 0x20;
const TAB = 0x09;
const HASH = 0x23;
const CR = 0x0d;
const BOM = 0xfeff;

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== SPACE && c !== TAB) return false;
  }
  return true;
}

/** Assigns without tripping over "__proto__" being a setter on plain objects. */
function setField(p: Paragraph, name: string, value: string): void {
  if (name === '__proto__') {
    Object.defineProperty(p, name, { value, enumerable: true, writable: true, configurable: true });
  } else {
    p[name] = value;
  }
}

/**
 * Incremental parser: feed string chunks split anywhere with push(), collect
 * the paragraphs completed so far, and call end() after the last chunk.
 */
export class Deb822Parser {
  private readonly comments: boolean;
  private readonly source: string;
  private readonly errorCode: ErrorCode;
  /** Incomplete last line of the previous chunk. */
  private pending = '';
  /** Whether the first character has been seen (a BOM is dropped only there, not at the start of every chunk). */
  private started = false;
  private lineNo = 0;
  private current: Paragraph | undefined;
  private fieldName: string | undefined;
  private fieldValue = '';
  private out: Paragraph[] = [];

  constructor(options: Deb822Options = {}) {
    this.comments = options.comments ?? false;
    this.source = options.source ?? 'deb822 input';
    this.errorCode = options.errorCode ?? 'VERIFY';
    this.lineNo = (options.firstLine ?? 1) - 1;
  }

  /** Parses `chunk` and returns the paragraphs it completed. */
  push(chunk: string): Paragraph[] {
    // A long line arriving in many chunks is only scanned once.
    if (this.pending.length > 0 && chunk.indexOf('\n') === -1) {
      this.pending += chunk;
      return EMPTY;
    }
    let text = this.pending.length > 0 ? this.pending + chunk : chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === BOM) text = text.slice(1);
    }
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      const end = nl > start && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
      this.line(text.slice(start, end));
      start = nl + 1;
    }
    this.pending = start === 0 ? text : text.slice(start);
    return this.take();
  }

  /** Flushes the final line and paragraph (input need not end with a newline). */
  end(): Paragraph[] {
    if (this.pending.length > 0) {
      const last = this.pending;
      this.pending = '';
      this.line(last.charCodeAt(last.length - 1) === CR ? last.slice(0, -1) : last);
    }
    this.closeParagraph();
    return this.take();
  }

  private take(): Paragraph[] {
    if (this.out.length === 0) return EMPTY;
    const done = this.out;
    this.out = [];
    return done;
  }

  private line(line: string): void {
    this.lineNo++;
    if (line.length === 0) {
      this.closeParagraph();
      return;
    }
    const first = line.charCodeAt(0);
    if (first === SPACE || first === TAB) {
      if (isBlank(line)) {
        this.closeParagraph();
        return;
      }
      if (this.fieldName === undefined) this.fail('continuation line outside a field');
      this.fieldValue += '\n' + line;
      return;
    }
    // Comment lines are dropped as if absent, so a field may continue after one.
    if (first === HASH && this.comments) return;
    const colon = line.indexOf(':');
    if (colon <= 0) this.fail(colon === 0 ? 'empty field name' : 'expected "Field: value"');
    this.flushField();
    const name = line.slice(0, colon);
    if (name.indexOf(' ') !== -1 || name.indexOf('\t') !== -1) this.fail(`invalid field name "${name}"`);
    if (this.current === undefined) this.current = {};
    else if (Object.prototype.hasOwnProperty.call(this.current, name)) this.fail(`duplicate field "${name}"`);
    this.fieldName = name;
    this.fieldValue = trimBlanks(line, colon + 1);
  }

  private flushField(): void {
    if (this.fieldName !== undefined && this.current !== undefined) {
      setField(this.current, this.fieldName, this.fieldValue);
    }
    this.fieldName = undefined;
    this.fieldValue = '';
  }

  private closeParagraph(): void {
    this.flushField();
    if (this.current !== undefined) {
      this.out.push(this.current);
      this.current = undefined;
    }
  }

  private fail(problem: string): never {
    throw new BaseimgError(this.errorCode, `${this.source}: line ${this.lineNo}: ${problem}`);
  }
}

const EMPTY: Paragraph[] = [];

/** line.slice(from) without leading/trailing spaces and tabs. */
function trimBlanks(line: string, from: number): string {
  let s = from;
  let e = line.length;
  while (s < e && (line.charCodeAt(s) === SPACE || line.charCodeAt(s) === TAB)) s++;
  while (e > s && (line.charCodeAt(e - 1) === SPACE || line.charCodeAt(e - 1) === TAB)) e--;
  return s === 0 && e === line.length ? line : line.slice(s, e);
}

/** Parses a whole document held in memory. */
export function parseDeb822Text(text: string, options: Deb822Options = {}): Paragraph[] {
  const parser = new Deb822Parser(options);
  const first = parser.push(text);
  const rest = parser.end();
  return rest.length === 0 ? first : first.concat(rest);
}

/**
 * Parses a stream of Buffers (UTF-8) or strings, yielding each paragraph as
 * soon as it is complete. Multi-byte characters split across chunks are fine.
 */
export async function* parseDeb822Stream(
  input: AsyncIterable<Uint8Array | string>,
  options: Deb822Options = {},
): AsyncGenerator<Paragraph, void, undefined> {
  const parser = new Deb822Parser(options);
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    for (const p of parser.push(text)) yield p;
  }
  const tail = decoder.decode();
  if (tail.length > 0) for (const p of parser.push(tail)) yield p;
  for (const p of parser.end()) yield p;
}

/** Case-insensitive field lookup (deb822 field names are case-insensitive). */
export function field(p: Paragraph, name: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(p, name)) return p[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(p)) {
    if (key.toLowerCase() === lower) return p[key];
  }
  return undefined;
}

/**
 * Writes a paragraph back in deb822 form, ending with "\n" (no blank line;
 * join paragraphs with "\n"). Values use the representation described at the
 * top of this file, so parse(format(p)) returns p.
 */
export function formatParagraph(fields: Paragraph): string {
  let out = '';
  for (const name of Object.keys(fields)) {
    const value = fields[name]!;
    out += value.length === 0 || value.charCodeAt(0) === 0x0a ? `${name}:${value}\n` : `${name}: ${value}\n`;
  }
  return out;
}
