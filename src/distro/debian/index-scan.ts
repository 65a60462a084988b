/**
 * A Packages index read by scanning instead of parsing: one pass over the
 * decompressed bytes records where each paragraph and its key fields are
 * (Package, Version, Architecture, Filename, Size, SHA256, Provides); a
 * paragraph becomes a full field map only when someone asks for its fields,
 * which a resolution does for a few hundred of bookworm's 63,000 packages.
 *
 * Why: parsing every paragraph into objects took 0.5–0.9 s of CPU and
 * ~230 MB of heap for bookworm main (and 1.2 s more to encode the result
 * for the cache); the scan takes a fraction of that and keeps the index
 * as one Buffer plus a table of offsets.
 *
 * Same answers as the full parser (deb822.ts): every line is checked as the
 * parser checks it (continuation outside a field, empty or blank-containing
 * field names, a repeated key field), with the same messages and line
 * numbers; a paragraph that spells a key field in another case, or folds
 * one over several lines, takes its key values from the full parser. What
 * the scan does not check is a repeated non-key field in a paragraph
 * nobody reads; the full parser still rejects it when that paragraph is used.
 * The bytes have been checked against the signed Release before this runs.
 */
import { BaseimgError, type ErrorCode } from '../../util/errors.js';
import { Deb822Parser, field, type Paragraph } from './deb822.js';

/** Key fields, in the order of their slots. */
export const KEY_FIELDS = ['Package', 'Version', 'Architecture', 'Filename', 'Size', 'SHA256', 'Provides'] as const;
export type KeyField = (typeof KEY_FIELDS)[number];

const KEYS = KEY_FIELDS.map((name) => ({ exact: Buffer.from(name, 'latin1'), lower: Buffer.from(name.toLowerCase(), 'latin1') }));
/** Slots per paragraph: start, end, first line, flags, then start/end of each key field's value. */
const HEAD = 4;
const STRIDE = HEAD + 2 * KEY_FIELDS.length;
/** Flag: a key field is spelled in another case or continues over lines; use the full parser for it. */
const IRREGULAR = 1;

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

export interface ScanOptions {
  /** Names the index in error messages (its URL). */
  source: string;
  errorCode?: ErrorCode;
}

/** The scanned index: the bytes and, per paragraph, where things are. */
export class ScannedIndex {
  constructor(
    readonly text: Buffer,
    private readonly slots: Int32Array,
    readonly count: number,
    private readonly options: ScanOptions,
  ) {}

  /** The full field map of paragraph `i`, from the deb822 parser. */
  paragraph(i: number): Paragraph {
    const at = i * STRIDE;
    const parser = new Deb822Parser({ source: this.options.source, errorCode: this.options.errorCode, firstLine: this.slots[at + 2]! });
    const text = this.text.toString('utf8', this.slots[at]!, this.slots[at + 1]!);
    const found = [...parser.push(text), ...parser.end()];
    return found[0] ?? {};
  }

  /**
   * A key field's value as the parser would give it (exact spelling first,
   * then any case); undefined when absent.
   */
  key(i: number, name: KeyField): string | undefined {
    const at = i * STRIDE;
    if ((this.slots[at + 3]! & IRREGULAR) !== 0) {
      const p = this.paragraph(i);
      return Object.prototype.hasOwnProperty.call(p, name) ? p[name] : field(p, name);
    }
    const k = at + HEAD + 2 * KEY_FIELDS.indexOf(name);
    const start = this.slots[k]!;
    return start < 0 ? undefined : this.text.toString('utf8', start, this.slots[k + 1]!);
  }
}

/** Growable Int32Array. */
class Slots {
  data = new Int32Array(STRIDE * 4096);
  length = 0;
  grow(): void {
    const next = new Int32Array(this.data.length * 2);
    next.set(this.data);
    this.data = next;
  }
}

/** Scans a whole Packages index (decompressed). Throws like the deb822 parser on malformed lines. */
export function scanPackagesIndex(text: Buffer, options: ScanOptions): ScannedIndex {
  if (text.length >= 0x7fffffff) {
    throw new BaseimgError(options.errorCode ?? 'VERIFY', `${options.source}: index of ${text.length} bytes is too large`);
  }
  const fail = (line: number, problem: string): never => {
    throw new BaseimgError(options.errorCode ?? 'VERIFY', `${options.source}: line ${line}: ${problem}`);
  };
  const slots = new Slots();
  let d = slots.data;
  let para = -1; // slot offset of the open paragraph, -1 when between paragraphs
  let inField = false; // a continuation line may follow (the parser's fieldName !== undefined)
  let currentKey = -1; // slot of the key field being continued, -1 when the field is not a key
  let lineNo = 0;
  // A UTF-8 byte order mark is dropped, as the parser drops U+FEFF.
  let pos = text.length >= 3 && text[0] === 0xef && text[1] === 0xbb && text[2] === 0xbf ? 3 : 0;
  const n = text.length;

  const close = (): void => {
    inField = false;
    currentKey = -1;
    para = -1;
  };

  while (pos < n) {
    lineNo++;
    let nl = text.indexOf(LF, pos);
    const next = nl === -1 ? n : nl + 1;
    if (nl === -1) nl = n;
    const end = nl > pos && text[nl - 1] === CR ? nl - 1 : nl;
    const first = text[pos];
    if (end === pos) {
      close();
    } else if (first === SPACE || first === TAB) {
      let blank = true;
      for (let i = pos + 1; i < end; i++) {
        const c = text[i];
        if (c !== SPACE && c !== TAB) {
          blank = false;
          break;
        }
      }
      if (blank) close();
      else {
        if (!inField) fail(lineNo, 'continuation line outside a field');
        d[para + 1] = next;
        if (currentKey >= 0) d[para + 3]! |= IRREGULAR;
      }
    } else {
      // The field name: up to the first colon, no blanks in it.
      let colon = -1;
      let blankInName = false;
      let nonAscii = false;
      for (let i = pos; i < end; i++) {
        const c = text[i]!;
        if (c === COLON) {
          colon = i;
          break;
        }
        if (c === SPACE || c === TAB) blankInName = true;
        else if (c >= 0x80) nonAscii = true;
      }
      if (colon <= pos) fail(lineNo, colon === pos ? 'empty field name' : 'expected "Field: value"');
      if (blankInName) fail(lineNo, `invalid field name "${text.toString('utf8', pos, colon)}"`);
      if (para < 0) {
        if (slots.length + STRIDE > d.length) {
          slots.grow();
          d = slots.data;
        }
        para = slots.length;
        slots.length += STRIDE;
        d[para] = pos;
        d[para + 2] = lineNo;
        d[para + 3] = 0;
        d.fill(-1, para + HEAD, para + STRIDE);
      }
      d[para + 1] = next;
      inField = true;
      currentKey = -1;
      // A non-ASCII name might still lowercase to a key name (toLowerCase is Unicode-aware).
      if (nonAscii) d[para + 3]! |= IRREGULAR;
      const k = keyIndex(text, pos, colon);
      if (k >= 0) {
        const slot = para + HEAD + 2 * (k >> 1);
        if ((k & 1) === 0) {
          // Exact spelling: a second one is the parser's duplicate-field error.
          if (d[slot]! >= 0) fail(lineNo, `duplicate field "${KEY_FIELDS[k >> 1]}"`);
          let s = colon + 1;
          let e = end;
          while (s < e && (text[s] === SPACE || text[s] === TAB)) s++;
          while (e > s && (text[e - 1] === SPACE || text[e - 1] === TAB)) e--;
          d[slot] = s;
          d[slot + 1] = e;
          currentKey = slot;
        } else {
          d[para + 3]! |= IRREGULAR;
        }
      }
    }
    pos = next;
  }
  return new ScannedIndex(text, slots.data.subarray(0, slots.length), slots.length / STRIDE, options);
}

/**
 * Which key field the name text[start, end) is: 2 × its index for the exact
 * spelling, 2 × index + 1 for another case, -1 for none.
 */
function keyIndex(text: Buffer, start: number, end: number): number {
  const len = end - start;
  for (let k = 0; k < KEYS.length; k++) {
    const { exact, lower } = KEYS[k]!;
    if (exact.length !== len) continue;
    let same = true;
    let folded = true;
    for (let i = 0; i < len; i++) {
      const c = text[start + i]!;
      if (c !== exact[i]) same = false;
      // ASCII case folding; the key names are letters and digits only.
      const l = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
      if (l !== lower[i]) {
        folded = false;
        break;
      }
    }
    if (same) return 2 * k;
    if (folded) return 2 * k + 1;
  }
  return -1;
}
