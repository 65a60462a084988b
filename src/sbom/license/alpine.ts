/**
 * An Alpine package's declared license: its L: field (APKINDEX or
 * /lib/apk/db/installed), which abuild asks to be an SPDX expression. It is
 * kept when it parses and every identifier is on the SPDX list (spelling
 * normalised: "mit" → "MIT", deprecated "GPL-2.0+" → "GPL-2.0-or-later").
 * "custom", "Public-Domain", a bare list without operators...: NOASSERTION,
 * since the index carries no license text to put behind a LicenseRef.
 */
import { canonicalExceptionId, canonicalLicenseId, formatExpression, NOASSERTION, parseExpression, type LicenseExpr } from './expression.js';
import type { DeclaredLicense } from '../model.js';

const DEPRECATED_GNU = /^(A?GPL|LGPL|GFDL)-(\d\.\d)(\+)?$/;

export function alpineDeclaredLicense(field: string | undefined): DeclaredLicense {
  const value = field?.trim() ?? '';
  if (value === '') return { expression: NOASSERTION, how: 'none', comment: 'the package declares no license (no L: field)' };
  const parsed = parseExpression(value);
  const normalised = parsed === undefined ? undefined : normalise(parsed);
  if (normalised === undefined) {
    return { expression: NOASSERTION, how: 'none', comment: `license "${value}" is not an SPDX expression of listed identifiers` };
  }
  return { expression: formatExpression(normalised), how: 'index' };
}

function normalise(expr: LicenseExpr): LicenseExpr | undefined {
  if (expr.kind !== 'license') {
    const terms: LicenseExpr[] = [];
    for (const t of expr.terms) {
      const n = normalise(t);
      if (n === undefined) return undefined;
      terms.push(n);
    }
    return { kind: expr.kind, terms };
  }
  const plus = expr.id.endsWith('+');
  const id = canonicalLicenseId(plus ? expr.id.slice(0, -1) : expr.id);
  if (id === undefined) return undefined;
  const exception = expr.exception === undefined ? undefined : canonicalExceptionId(expr.exception);
  if (expr.exception !== undefined && exception === undefined) return undefined;
  const gnu = DEPRECATED_GNU.exec(id);
  const finalId = gnu
    ? canonicalLicenseId(`${gnu[1]!}-${gnu[2]!}-${plus || gnu[3] === '+' ? 'or-later' : 'only'}`)
    : plus
      ? `${id}+`
      : id;
  return finalId === undefined ? undefined : { kind: 'license', id: finalId, exception };
}
