/**
 * Debian's machine-readable copyright format 1.0 ("DEP-5"): the paragraphs
 * of /usr/share/doc/<pkg>/copyright and the short-name syntax of their
 * License fields. Parsing is lenient (real files have stray comments and
 * repeated fields); what cannot be read is reported, never invented.
 */

export interface Dep5Paragraph {
  /** Field names lowercased; a repeated field keeps its first value. */
  fields: Map<string, string>;
}

export interface Dep5File {
  header: Dep5Paragraph;
  /** Paragraphs with a Files field, in file order. */
  files: Dep5Paragraph[];
  /** Stand-alone License paragraphs (License without Files), in file order. */
  licenses: Dep5Paragraph[];
}

/** A leaf of a License short-name expression: "GPL-2+", or "GPL-2+" with "OpenSSL" exception. */
export interface Dep5Leaf {
  kind: 'leaf';
  name: string;
  exception?: string | undefined;
}
export type Dep5Expr = Dep5Leaf | { kind: 'and' | 'or'; terms: Dep5Expr[] };

/** Split deb822-style text into paragraphs of fields (value = first line + "\n" + continuation lines). */
export function parseParagraphs(text: string): Dep5Paragraph[] {
  const out: Dep5Paragraph[] = [];
  let fields = new Map<string, string>();
  let current: string | undefined;
  const flush = (): void => {
    if (fields.size > 0) out.push({ fields });
    fields = new Map();
    current = undefined;
  };
  for (const raw of text.replace(/^\uFEFF/, '').split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (current !== undefined) fields.set(current, `${fields.get(current)!}\n${line}`);
      continue;
    }
    if (line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      current = undefined; // not a field: ignored, and so are its continuation lines
      continue;
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    if (fields.has(name)) {
      current = undefined;
      continue;
    }
    fields.set(name, line.slice(colon + 1).trim());
    current = name;
  }
  flush();
  return out;
}

/** The parsed file when its first paragraph declares the machine-readable format, else undefined. */
export function parseDep5(text: string): Dep5File | undefined {
  const paragraphs = parseParagraphs(text);
  const header = paragraphs[0];
  const format = header?.fields.get('format') ?? header?.fields.get('format-specification');
  if (!header || format === undefined || !/copyright-format|dep-?5/i.test(format)) return undefined;
  const rest = paragraphs.slice(1);
  return {
    header,
    files: rest.filter((p) => p.fields.has('files')),
    licenses: rest.filter((p) => !p.fields.has('files') && p.fields.has('license')),
  };
}

/** A License field's first line (the short-name expression) and its text (continuation lines, " ." as blank lines). */
export function splitLicenseField(value: string): { names: string; text: string } {
  const [first = '', ...more] = value.split('\n');
  const text = more
    .map((l) => l.replace(/^[ \t]/, ''))
    .map((l) => (l.trim() === '.' ? '' : l))
    .join('\n')
    .replace(/\s+$/, '');
  return { names: first.trim(), text };
}

/**
 * Parse a short-name expression (DEP-5 section 7.2): names joined by "and" /
 * "or" ("and" binds tighter), "with <X> exception" after a name, and a comma
 * that makes the following operator apply to everything before it
 * ("A or B, and C" = (A or B) and C). Undefined when it does not parse.
 */
export function parseShortNames(names: string): Dep5Expr | undefined {
  const segments = names.split(',').map((s) => s.trim());
  let result = parseSegment(segments[0] ?? '');
  for (const seg of segments.slice(1)) {
    const m = /^(and|or)\s+(.*)$/i.exec(seg);
    const right = parseSegment(m ? m[2]! : seg);
    if (result === undefined || right === undefined) return undefined;
    // Without an operator, a comma lists licenses that all apply.
    const op = m ? (m[1]!.toLowerCase() as 'and' | 'or') : 'and';
    result = { kind: op, terms: [result, right] };
  }
  return result;
}

function parseSegment(segment: string): Dep5Expr | undefined {
  const tokens = segment.split(/\s+/).filter((t) => t !== '');
  if (tokens.length === 0) return undefined;
  const orTerms: Dep5Expr[] = [];
  let andTerms: Dep5Expr[] = [];
  let expectName = true;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const lower = t.toLowerCase();
    if (expectName) {
      if (lower === 'and' || lower === 'or' || lower === 'with') return undefined;
      andTerms.push({ kind: 'leaf', name: t });
      expectName = false;
      continue;
    }
    if (lower === 'with') {
      const end = tokens.findIndex((x, j) => j > i && x.toLowerCase() === 'exception');
      const last = andTerms[andTerms.length - 1] as Dep5Leaf;
      if (end < 0 || end === i + 1 || last.exception !== undefined) return undefined;
      last.exception = tokens.slice(i + 1, end).join(' ');
      i = end;
    } else if (lower === 'and') {
      expectName = true;
    } else if (lower === 'or') {
      orTerms.push(andTerms.length === 1 ? andTerms[0]! : { kind: 'and', terms: andTerms });
      andTerms = [];
      expectName = true;
    } else {
      return undefined; // two names in a row: not the short-name syntax
    }
  }
  if (expectName) return undefined;
  orTerms.push(andTerms.length === 1 ? andTerms[0]! : { kind: 'and', terms: andTerms });
  return orTerms.length === 1 ? orTerms[0] : { kind: 'or', terms: orTerms };
}

/** "GPL-2+ with OpenSSL exception": a leaf as it would be written in the file. */
export function leafText(leaf: Dep5Leaf): string {
  return leaf.exception === undefined ? leaf.name : `${leaf.name} with ${leaf.exception} exception`;
}
