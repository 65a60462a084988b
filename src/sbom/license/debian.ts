/**
 * A Debian package's declared license, from /usr/share/doc/<pkg>/copyright
 * as installed in the image (libgcc-s1's doc directory is a symlink to
 * gcc-12-base's: the link is followed).
 *
 *  - Machine-readable (DEP-5) file: each Files paragraph's License field
 *    becomes an SPDX expression; the paragraphs are joined with AND,
 *    duplicates dropped. A name with no certain SPDX identifier becomes
 *    LicenseRef-<doc dir>-<name>, with the text the file gives for it (its
 *    stand-alone License paragraph, or the Files paragraph's own text).
 *  - A name with no SPDX identifier and no text anywhere in the file, or a
 *    Files paragraph without License: NOASSERTION for the package.
 *  - Free-form file: LicenseRef-<doc dir>-copyright with the whole file as
 *    its text. It states the license in prose we do not interpret.
 *  - No file: NOASSERTION.
 */
import type { ImageFiles } from '../image-files.js';
import { parseDep5, parseShortNames, splitLicenseField, leafText, type Dep5Expr, type Dep5File } from './dep5.js';
import { mapDebianLeaf, spdxFromCommonLicensePointer } from './debian-names.js';
import { combine, formatExpression, licenseRefId, NOASSERTION, type LicenseExpr } from './expression.js';
import type { ExtractedLicenses } from './extracted.js';
import type { DeclaredLicense } from '../model.js';

export function copyrightPath(pkg: string): string {
  return `/usr/share/doc/${pkg}/copyright`;
}

export async function debianDeclaredLicense(files: ImageFiles, pkg: string, extracted: ExtractedLicenses): Promise<DeclaredLicense> {
  const path = copyrightPath(pkg);
  const data = await files.readFile(path);
  if (data === undefined) return { expression: NOASSERTION, how: 'none', comment: `no ${path} in the image` };
  const real = files.realpath(path) ?? path;
  const docDir = real.split('/').slice(-2, -1)[0] ?? pkg;
  const text = data.toString('utf8');
  const dep5 = parseDep5(text);
  if (dep5 === undefined) {
    const id = extracted.add(licenseRefId(docDir, 'copyright'), `${docDir} copyright file`, text.replace(/\s+$/, ''), real);
    return { expression: id, how: 'copyright-text', comment: `${real} is not in the machine-readable format; ${id} is its full text` };
  }
  return fromDep5(dep5, docDir, real, extracted);
}

function fromDep5(dep5: Dep5File, docDir: string, source: string, extracted: ExtractedLicenses): DeclaredLicense {
  const paragraphs = dep5.files.length > 0 ? dep5.files : dep5.header.fields.has('license') ? [dep5.header] : [];
  if (paragraphs.length === 0) return { expression: NOASSERTION, how: 'none', comment: `${source} has no Files paragraph with a License` };
  const terms: LicenseExpr[] = [];
  for (const p of paragraphs) {
    const value = p.fields.get('license');
    if (value === undefined) return noassert(source, `the Files paragraph for "${firstLine(p.fields.get('files'))}" has no License field`);
    const { names, text } = splitLicenseField(value);
    const parsed = parseShortNames(names);
    if (parsed === undefined) {
      // Not the short-name syntax ("MIT/X11", a sentence): the whole first line is one name.
      const ref = textFor(dep5, names, text);
      if (ref === undefined) return noassert(source, `License "${names}" has no SPDX identifier and no text`);
      terms.push({ kind: 'license', id: extracted.add(licenseRefId(docDir, names), names, ref, source) });
      continue;
    }
    const single = parsed.kind === 'leaf' ? text : '';
    const expr = toSpdx(parsed, dep5, docDir, source, single, extracted);
    if (typeof expr === 'string') return noassert(source, expr);
    terms.push(expr);
  }
  return { expression: formatExpression(combine('and', terms)), how: 'dep5' };
}

/** The SPDX tree for a parsed short-name expression, or the reason it cannot be given. */
function toSpdx(expr: Dep5Expr, dep5: Dep5File, docDir: string, source: string, inlineText: string, extracted: ExtractedLicenses): LicenseExpr | string {
  if (expr.kind !== 'leaf') {
    const terms: LicenseExpr[] = [];
    for (const t of expr.terms) {
      const r = toSpdx(t, dep5, docDir, source, '', extracted);
      if (typeof r === 'string') return r;
      terms.push(r);
    }
    return combine(expr.kind, terms);
  }
  const mapped = mapDebianLeaf(expr.name, expr.exception);
  if (mapped !== undefined) return { kind: 'license', id: mapped.id, exception: mapped.exception };
  const name = leafText(expr);
  const text = textFor(dep5, name, inlineText);
  const pointed = expr.exception === undefined ? spdxFromCommonLicensePointer(expr.name, text) : undefined;
  if (pointed !== undefined) return { kind: 'license', id: pointed };
  if (text === undefined) return `License "${name}" has no SPDX identifier and no text`;
  return { kind: 'license', id: extracted.add(licenseRefId(docDir, name), name, text, source) };
}

/** The text the file gives for license `name`: the Files paragraph's own, else a stand-alone paragraph's. */
function textFor(dep5: Dep5File, name: string, inlineText: string): string | undefined {
  if (inlineText.trim() !== '') return inlineText;
  const wanted = normalise(name);
  for (const p of dep5.licenses) {
    const { names, text } = splitLicenseField(p.fields.get('license')!);
    if (normalise(names) === wanted && text.trim() !== '') return text;
  }
  return undefined;
}

function normalise(name: string): string {
  return name.trim().replace(/\s+/g, ' ').toLowerCase();
}

function firstLine(value: string | undefined): string {
  return (value ?? '').split('\n')[0]!.trim();
}

function noassert(source: string, why: string): DeclaredLicense {
  return { expression: NOASSERTION, how: 'none', comment: `${source}: ${why}` };
}
