/**
 * Debian copyright short names → SPDX identifiers. Only mappings that are
 * certain: the DEP-5 names whose meaning the format itself fixes (GPL-2+,
 * Expat, BSD-3-clause, ...) and names that already are SPDX identifiers
 * (DEP-5 section 7.3 allows them). Anything else — "public-domain",
 * "permissive", an unversioned "GPL", "Artistic" (Perl's or the OSI one?) —
 * returns undefined and the caller falls back to the license text.
 */
import { canonicalExceptionId, canonicalLicenseId } from './expression.js';

export interface SpdxLeaf {
  id: string;
  exception?: string | undefined;
}

/** Families whose Debian names carry a version and "+" for "or later". */
const GNU_FAMILIES: Record<string, string> = { gpl: 'GPL', lgpl: 'LGPL', agpl: 'AGPL', gfdl: 'GFDL', 'gfdl-niv': 'GFDL' };

/** Debian names that differ from the SPDX spelling. Keys are lowercase. */
const RENAMED: Record<string, string> = {
  expat: 'MIT',
  cc0: 'CC0-1.0',
  'zope-2.1': 'ZPL-2.1',
  'zope-2.0': 'ZPL-2.0',
  'zope-1.1': 'ZPL-1.1',
};

/** Names that must not go through the generic version rule (their SPDX namesake is a different text). */
const AMBIGUOUS = new Set(['artistic', 'artistic-1', 'artistic-1.0', 'perl', 'python', 'bsd', 'mit/x11', 'gpl', 'lgpl']);

/** Deprecated SPDX spellings of the GNU licenses, rewritten to the -only/-or-later forms. */
const DEPRECATED_GNU = /^(A?GPL|LGPL|GFDL)-(\d\.\d)(\+)?$/;

/** The SPDX license for one Debian short name, or undefined when there is no certain match. */
export function spdxForDebianName(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (AMBIGUOUS.has(lower)) return undefined;
  const gnu = gnuLicense(name);
  if (gnu !== undefined) return gnu;
  const renamed = RENAMED[lower];
  if (renamed !== undefined) return renamed;

  const plus = name.endsWith('+') && !name.endsWith('++');
  const bare = plus ? name.slice(0, -1) : name;
  const direct = canonicalLicenseId(bare) ?? canonicalLicenseId(bare.replace(/-(\d+)$/, '-$1.0'));
  if (direct === undefined) return undefined;
  const deprecated = DEPRECATED_GNU.exec(direct);
  if (deprecated) return gnuId(deprecated[1]!, deprecated[2]!, plus || deprecated[3] === '+', false);
  return plus ? `${direct}+` : direct;
}

/** GPL-2, GPL-2+, LGPL-2.1+, AGPL-3, GFDL-1.3, GFDL-NIV-1.3+ ... */
function gnuLicense(name: string): string | undefined {
  const m = /^(a?gpl|lgpl|gfdl(?:-niv)?)-?v?(\d+(?:\.\d+)?)(\+|-or-later|-only)?$/i.exec(name);
  if (!m) return undefined;
  const family = m[1]!.toLowerCase();
  const version = m[2]!.includes('.') ? m[2]! : `${m[2]!}.0`;
  return gnuId(GNU_FAMILIES[family]!, version, m[3] === '+' || m[3]?.toLowerCase() === '-or-later', family === 'gfdl-niv');
}

function gnuId(family: string, version: string, orLater: boolean, noInvariants: boolean): string | undefined {
  const id = `${family}-${version}${noInvariants ? '-no-invariants' : ''}-${orLater ? 'or-later' : 'only'}`;
  return canonicalLicenseId(id);
}

/**
 * The SPDX exception for "<base> with <name> exception", or undefined. Some
 * Debian names depend on the license they modify (the Autoconf and Bison
 * exceptions have one text per GPL version).
 */
export function spdxExceptionFor(name: string, baseId: string): string | undefined {
  const lower = name.toLowerCase().replace(/\s+/g, '-');
  const gpl3 = /^GPL-3\.0/.test(baseId);
  const gpl2 = /^GPL-2\.0/.test(baseId);
  switch (lower) {
    case 'gcc-runtime-3.1':
    case 'gcc-runtime-library-3.1':
    case 'gcc-3.1':
      return 'GCC-exception-3.1';
    case 'autoconf':
      return gpl3 ? 'Autoconf-exception-3.0' : gpl2 ? 'Autoconf-exception-2.0' : undefined;
    case 'bison':
      return gpl3 ? 'Bison-exception-2.2' : undefined;
    case 'classpath':
      return 'Classpath-exception-2.0';
    case 'font':
      return 'Font-exception-2.0';
    default:
      return canonicalExceptionId(name) ?? canonicalExceptionId(`${lower}-exception`);
  }
}

/** Map a DEP-5 leaf; undefined when the name or its exception has no certain SPDX equivalent. */
export function mapDebianLeaf(name: string, exception: string | undefined): SpdxLeaf | undefined {
  const id = spdxForDebianName(name);
  if (id === undefined) return undefined;
  if (exception === undefined) return { id };
  const exceptionId = spdxExceptionFor(exception, id);
  return exceptionId === undefined ? undefined : { id, exception: exceptionId };
}

/**
 * base-files' copyright says Debian's /usr/share/common-licenses/Artistic "is
 * the one coming from Perl and its SPDX name is Artistic License 1.0 (Perl)".
 * So an unversioned Artistic whose text points at that file is
 * Artistic-1.0-Perl; without the pointer the name stays ambiguous.
 */
export function spdxFromCommonLicensePointer(name: string, text: string | undefined): string | undefined {
  if (!/^artistic(-1(\.0)?)?$/i.test(name) || text === undefined) return undefined;
  return /common-licenses\/Artistic\b/.test(text) ? 'Artistic-1.0-Perl' : undefined;
}
