/**
 * The text of an APKINDEX: one paragraph per package, "X:value" lines,
 * paragraphs separated by blank lines (the last may lack its blank line).
 * Every field letter is kept, in the order written, repeated letters too.
 * Known letters (apk-package(5)): C checksum, P name, V version, A arch,
 * S file size, I installed size, T description, U url, L license,
 * o origin, m maintainer, t build time, c commit, k provider priority,
 * D depends, p provides, i install-if, r replaces, q replaces priority.
 */
import { BaseimgError } from '../../util/errors.js';

export interface ApkIndexEntry {
  /** Field letter → its values in the order written. */
  fields: Map<string, string[]>;
  /** 1-based line of the paragraph's first field, for errors. */
  line: number;
}

const FIELD_LINE = /^([A-Za-z]):(.*)$/;

/** Split the index text into entries; `what` names it in errors ("APKINDEX of <url>"). */
export function parseApkIndexText(text: string, what: string): ApkIndexEntry[] {
  const entries: ApkIndexEntry[] = [];
  let current: ApkIndexEntry | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '') {
      current = undefined;
      continue;
    }
    const m = FIELD_LINE.exec(line);
    if (m === null) {
      throw new BaseimgError('VERIFY', `${what}:${i + 1}: not an index line: ${JSON.stringify(line.slice(0, 80))}`, {
        hint: 'APKINDEX lines look like "P:busybox"; the index is damaged or not an APKINDEX',
      });
    }
    if (current === undefined) {
      current = { fields: new Map(), line: i + 1 };
      entries.push(current);
    }
    const values = current.fields.get(m[1]!);
    if (values === undefined) current.fields.set(m[1]!, [m[2]!]);
    else values.push(m[2]!);
  }
  return entries;
}

/** The single value of a field (the last one when a letter is repeated). */
export function fieldValue(entry: ApkIndexEntry, letter: string): string | undefined {
  const values = entry.fields.get(letter);
  return values === undefined ? undefined : values[values.length - 1];
}

/** A list field (D:, p:, i:, r:): repeated lines are concatenated. */
export function listField(entry: ApkIndexEntry, letter: string): string | undefined {
  const values = entry.fields.get(letter);
  return values === undefined ? undefined : values.join(' ');
}

/** The fields as one string each (repeated letters joined by newlines), for ResolvedPackage.fields. */
export function flatFields(entry: ApkIndexEntry): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [letter, values] of entry.fields) out[letter] = values.join('\n');
  return out;
}
