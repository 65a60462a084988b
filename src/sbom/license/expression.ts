/**
 * SPDX license expressions (SPDX 2.3 Annex D) as a small tree: parse,
 * check identifiers against the SPDX list, print with the fewest
 * parentheses. AND binds tighter than OR; operators are case-insensitive on
 * input and written in upper case.
 */
import { SPDX_EXCEPTION_IDS, SPDX_LICENSE_IDS } from './spdx-ids.js';

export type LicenseExpr =
  | { kind: 'license'; id: string; exception?: string | undefined }
  | { kind: 'and' | 'or'; terms: LicenseExpr[] };

export const NOASSERTION = 'NOASSERTION';

const REF_RE = /^(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$/;
const ID_RE = /^[A-Za-z0-9.-]+\+?$/;

export function isLicenseRef(id: string): boolean {
  return REF_RE.test(id);
}

/** "LicenseRef-" + the text reduced to the characters an idstring allows. */
export function licenseRefId(...parts: string[]): string {
  const body = parts
    .map((p) => p.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, ''))
    .filter((p) => p !== '')
    .join('-');
  return `LicenseRef-${body === '' ? 'unnamed' : body}`;
}

function tokenize(text: string): string[] {
  return text.replace(/([()])/g, ' $1 ').split(/\s+/).filter((t) => t !== '');
}

/** Parse an expression; returns undefined when it is not syntactically valid. */
export function parseExpression(text: string): LicenseExpr | undefined {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];
  const isOp = (t: string | undefined, op: string): boolean => t !== undefined && t.toUpperCase() === op;

  const primary = (): LicenseExpr | undefined => {
    const t = peek();
    if (t === undefined) return undefined;
    if (t === '(') {
      pos++;
      const inner = orExpr();
      if (inner === undefined || peek() !== ')') return undefined;
      pos++;
      return inner;
    }
    if (t === ')' || isOp(t, 'AND') || isOp(t, 'OR') || isOp(t, 'WITH')) return undefined;
    if (!ID_RE.test(t) && !REF_RE.test(t)) return undefined;
    pos++;
    if (isOp(peek(), 'WITH')) {
      pos++;
      const exception = peek();
      if (exception === undefined || !/^[A-Za-z0-9.-]+$/.test(exception)) return undefined;
      pos++;
      return { kind: 'license', id: t, exception };
    }
    return { kind: 'license', id: t };
  };
  const chain = (op: 'AND' | 'OR', next: () => LicenseExpr | undefined): LicenseExpr | undefined => {
    const first = next();
    if (first === undefined) return undefined;
    const terms = [first];
    while (isOp(peek(), op)) {
      pos++;
      const more = next();
      if (more === undefined) return undefined;
      terms.push(more);
    }
    return terms.length === 1 ? first : { kind: op === 'AND' ? 'and' : 'or', terms };
  };
  const andExpr = (): LicenseExpr | undefined => chain('AND', primary);
  const orExpr = (): LicenseExpr | undefined => chain('OR', andExpr);

  const result = orExpr();
  return result !== undefined && pos === tokens.length ? result : undefined;
}

/** Canonical spelling of a listed identifier (the list is case-insensitive), or undefined. */
export function canonicalLicenseId(id: string): string | undefined {
  return lookup(SPDX_LICENSE_IDS, id);
}

export function canonicalExceptionId(id: string): string | undefined {
  return lookup(SPDX_EXCEPTION_IDS, id);
}

const lowerIndex = new Map<ReadonlySet<string>, Map<string, string>>();
function lookup(set: ReadonlySet<string>, id: string): string | undefined {
  let index = lowerIndex.get(set);
  if (!index) {
    index = new Map([...set].map((s) => [s.toLowerCase(), s]));
    lowerIndex.set(set, index);
  }
  return index.get(id.toLowerCase());
}

/** Every leaf identifier (with "+" kept) of an expression. */
export function leaves(expr: LicenseExpr): Array<{ id: string; exception?: string | undefined }> {
  if (expr.kind === 'license') return [{ id: expr.id, exception: expr.exception }];
  return expr.terms.flatMap(leaves);
}

/** True when every identifier is on the SPDX list (or a LicenseRef, if allowed). */
export function usesOnlyKnownIds(expr: LicenseExpr, allowRefs: boolean): boolean {
  return leaves(expr).every(({ id, exception }) => {
    const idOk = isLicenseRef(id) ? allowRefs : SPDX_LICENSE_IDS.has(id.replace(/\+$/, ''));
    return idOk && (exception === undefined || SPDX_EXCEPTION_IDS.has(exception));
  });
}

/** Print with parentheses only where precedence needs them. */
export function formatExpression(expr: LicenseExpr): string {
  if (expr.kind === 'license') return expr.exception ? `${expr.id} WITH ${expr.exception}` : expr.id;
  const op = expr.kind === 'and' ? ' AND ' : ' OR ';
  return expr.terms
    .map((t) => (t.kind === 'or' && expr.kind === 'and' ? `(${formatExpression(t)})` : formatExpression(t)))
    .join(op);
}

/**
 * `kind` over `terms`, flattened (AND of ANDs is one AND), deduplicated by
 * printed form and sorted, so equal sets give equal strings.
 */
export function combine(kind: 'and' | 'or', terms: readonly LicenseExpr[]): LicenseExpr {
  const flat: LicenseExpr[] = [];
  for (const t of terms) {
    if (t.kind === kind) flat.push(...t.terms);
    else flat.push(t);
  }
  const byText = new Map<string, LicenseExpr>();
  for (const t of flat) byText.set(formatExpression(t), t);
  const unique = [...byText.keys()].sort(compareText).map((k) => byText.get(k)!);
  return unique.length === 1 ? unique[0]! : { kind, terms: unique };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
