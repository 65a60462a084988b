/**
 * Licenses for the SBOM: SPDX expressions, the DEP-5 parser and short-name
 * syntax, the Debian → SPDX name table, the per-package result (mapped
 * names, LicenseRefs with text, NOASSERTION), and Alpine's L: field.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { combine, formatExpression, parseExpression, usesOnlyKnownIds } from '../../src/sbom/license/expression.js';
import { parseDep5, parseShortNames, splitLicenseField } from '../../src/sbom/license/dep5.js';
import { mapDebianLeaf, spdxForDebianName } from '../../src/sbom/license/debian-names.js';
import { debianDeclaredLicense } from '../../src/sbom/license/debian.js';
import { alpineDeclaredLicense } from '../../src/sbom/license/alpine.js';
import { ExtractedLicenses } from '../../src/sbom/license/extracted.js';
import { SPDX_EXCEPTION_IDS, SPDX_LICENSE_IDS } from '../../src/sbom/license/spdx-ids.js';
import type { ImageFiles } from '../../src/sbom/image-files.js';
import { SCHEMAS_DIR } from '../helpers/sbom.js';

/** ImageFiles over a map of path → text, with optional symlinked directories. */
function memoryFiles(files: Record<string, string>, links: Record<string, string> = {}): ImageFiles {
  const resolve = (path: string): string => {
    for (const [from, to] of Object.entries(links)) if (path.startsWith(`${from}/`)) return to + path.slice(from.length);
    return path;
  };
  return {
    async readFile(path) {
      const text = files[resolve(path)];
      return text === undefined ? undefined : Buffer.from(text);
    },
    realpath: (path) => (files[resolve(path)] !== undefined ? resolve(path) : undefined),
    list: () => [],
  };
}

const FORMAT = 'Format: https://copyright-format.example.invalid/copyright-format/1.0/\n';

describe('SPDX expressions', () => {
  it('parses and prints with AND binding tighter than OR', () => {
    const e = parseExpression('mit or (apache-2.0 and bsd-3-clause) OR GPL-2.0-or-later WITH Classpath-exception-2.0')!;
    assert.equal(formatExpression(e), 'mit OR apache-2.0 AND bsd-3-clause OR GPL-2.0-or-later WITH Classpath-exception-2.0');
    assert.equal(formatExpression(parseExpression('(MIT OR Apache-2.0) AND Zlib')!), '(MIT OR Apache-2.0) AND Zlib');
  });

  it('rejects malformed expressions', () => {
    for (const bad of ['', 'MIT AND', '(MIT', 'MIT)', 'MIT Apache-2.0', 'WITH x', 'MIT WITH', 'a b c']) assert.equal(parseExpression(bad), undefined, bad);
  });

  it('combine flattens, deduplicates and sorts', () => {
    const a = parseExpression('MIT')!;
    const b = parseExpression('Zlib AND MIT')!;
    const c = parseExpression('GPL-2.0-only OR BSD-3-Clause')!;
    assert.equal(formatExpression(combine('and', [b, a, c, a])), '(GPL-2.0-only OR BSD-3-Clause) AND MIT AND Zlib');
  });

  it('knows the SPDX list (licenses and exceptions apart)', () => {
    assert.ok(SPDX_LICENSE_IDS.has('GPL-2.0-or-later') && SPDX_LICENSE_IDS.has('MIT') && SPDX_LICENSE_IDS.has('0BSD'));
    assert.ok(SPDX_EXCEPTION_IDS.has('GCC-exception-3.1') && !SPDX_LICENSE_IDS.has('GCC-exception-3.1'));
    assert.ok(usesOnlyKnownIds(parseExpression('MIT AND GPL-3.0-or-later WITH GCC-exception-3.1')!, false));
    assert.ok(!usesOnlyKnownIds(parseExpression('MIT AND LicenseRef-x')!, false));
    assert.ok(usesOnlyKnownIds(parseExpression('MIT AND LicenseRef-x')!, true));
  });

  it('the embedded list equals the CycloneDX schema\'s enum', () => {
    const schema = JSON.parse(readFileSync(join(SCHEMAS_DIR, 'cyclonedx', 'spdx.schema.json'), 'utf8')) as { enum: string[] };
    assert.deepEqual([...SPDX_LICENSE_IDS, ...SPDX_EXCEPTION_IDS], schema.enum);
  });
});

describe('DEP-5 short names', () => {
  it('parses and/or/with/comma as section 7.2 says', () => {
    const show = (s: string): string => JSON.stringify(parseShortNames(s));
    assert.equal(show('GPL-2+'), '{"kind":"leaf","name":"GPL-2+"}');
    assert.equal(show('GPL-2+ or Artistic and MIT'), JSON.stringify({ kind: 'or', terms: [{ kind: 'leaf', name: 'GPL-2+' }, { kind: 'and', terms: [{ kind: 'leaf', name: 'Artistic' }, { kind: 'leaf', name: 'MIT' }] }] }));
    assert.equal(show('GPL-2+ or Artistic, and MIT'), JSON.stringify({ kind: 'and', terms: [{ kind: 'or', terms: [{ kind: 'leaf', name: 'GPL-2+' }, { kind: 'leaf', name: 'Artistic' }] }, { kind: 'leaf', name: 'MIT' }] }));
    assert.equal(show('GPL-3+ with GCC-Runtime-3.1 exception'), '{"kind":"leaf","name":"GPL-3+","exception":"GCC-Runtime-3.1"}');
    assert.equal(show('BSD-3-clause with BINARY LIBRARY-LIKE PACKAGES exception'), '{"kind":"leaf","name":"BSD-3-clause","exception":"BINARY LIBRARY-LIKE PACKAGES"}');
    for (const bad of ['', 'GPL and', 'or MIT', 'Public Domain', 'GPL with exception']) assert.equal(parseShortNames(bad), undefined, bad);
  });

  it('maps Debian names only where the meaning is certain', () => {
    const cases: Record<string, string | undefined> = {
      'GPL-2': 'GPL-2.0-only', 'GPL-2+': 'GPL-2.0-or-later', 'GPL-3.0+': 'GPL-3.0-or-later', 'LGPL-2': 'LGPL-2.0-only',
      'LGPL-2.1+': 'LGPL-2.1-or-later', 'AGPL-3': 'AGPL-3.0-only', 'GFDL-1.3+': 'GFDL-1.3-or-later', 'GFDL-NIV-1.3+': 'GFDL-1.3-no-invariants-or-later',
      Expat: 'MIT', 'BSD-3-clause': 'BSD-3-Clause', 'BSD-2-clause': 'BSD-2-Clause', zlib: 'Zlib', 'Apache-2': 'Apache-2.0', 'Apache-2.0': 'Apache-2.0',
      'MPL-2.0': 'MPL-2.0', 'Artistic-2': 'Artistic-2.0', CC0: 'CC0-1.0', 'CC-BY-SA-4': 'CC-BY-SA-4.0', ISC: 'ISC', X11: 'X11', 'GPL-2.0-or-later': 'GPL-2.0-or-later',
      GPL: undefined, LGPL: undefined, Artistic: undefined, 'public-domain': undefined, permissive: undefined, 'MIT/X11': undefined, 'GPL-2+-autoconf-exception': undefined, BSD: undefined,
    };
    for (const [name, want] of Object.entries(cases)) assert.equal(spdxForDebianName(name), want, name);
  });

  it('maps exceptions, some by the license they modify', () => {
    assert.deepEqual(mapDebianLeaf('GPL-3+', 'GCC-Runtime-3.1'), { id: 'GPL-3.0-or-later', exception: 'GCC-exception-3.1' });
    assert.deepEqual(mapDebianLeaf('GPL-3+', 'Bison'), { id: 'GPL-3.0-or-later', exception: 'Bison-exception-2.2' });
    assert.deepEqual(mapDebianLeaf('GPL-2+', 'Autoconf'), { id: 'GPL-2.0-or-later', exception: 'Autoconf-exception-2.0' });
    assert.deepEqual(mapDebianLeaf('GPL-2+', 'Libtool'), { id: 'GPL-2.0-or-later', exception: 'Libtool-exception' });
    assert.equal(mapDebianLeaf('GPL-2+', 'Bison'), undefined, 'which Bison exception is unknown');
    assert.equal(mapDebianLeaf('GPL-2+', 'OpenSSL'), undefined);
  });

  it('splits a License field into names and text (" ." is a blank line)', () => {
    assert.deepEqual(splitLicenseField('GPL-2+\n This program is free.\n .\n More.'), { names: 'GPL-2+', text: 'This program is free.\n\nMore.' });
  });

  it('recognises the format only from the header', () => {
    assert.equal(parseDep5('This is the Debian prepackaged version of foo.\nFiles: *\nLicense: MIT\n'), undefined);
    const d = parseDep5(`${FORMAT}Upstream-Name: x\n\nFiles: *\nCopyright: me\nLicense: MIT\n\nLicense: MIT\n text\n`)!;
    assert.equal(d.files.length, 1);
    assert.equal(d.licenses.length, 1);
  });
});

describe('a Debian package\'s declared license', () => {
  it('DEP-5: Files paragraphs joined with AND, deduplicated, names mapped', async () => {
    const text = `${FORMAT}\nFiles: *\nCopyright: a\nLicense: GPL-2+\n\nFiles: lib/*\nCopyright: b\nLicense: LGPL-2.1+ or MPL-1.1\n\n` +
      `Files: debian/*\nCopyright: c\nLicense: GPL-2+\n\nLicense: GPL-2+\n See /usr/share/common-licenses/GPL-2.\n`;
    const ex = new ExtractedLicenses();
    const r = await debianDeclaredLicense(memoryFiles({ '/usr/share/doc/p/copyright': text }), 'p', ex);
    assert.deepEqual(r, { expression: 'GPL-2.0-or-later AND (LGPL-2.1-or-later OR MPL-1.1)', how: 'dep5' });
    assert.deepEqual(ex.list(), []);
  });

  it('an unmapped name becomes LicenseRef-<doc dir>-<name> with the text the file gives', async () => {
    const text = `${FORMAT}\nFiles: *\nCopyright: a\nLicense: public-domain\n\nFiles: x\nCopyright: b\nLicense: ad-hoc\n Do what you like.\n\n` +
      `License: public-domain\n The author placed this in the public domain.\n`;
    const ex = new ExtractedLicenses();
    const r = await debianDeclaredLicense(memoryFiles({ '/usr/share/doc/tz/copyright': text }), 'tz', ex);
    assert.equal(r.expression, 'LicenseRef-tz-ad-hoc AND LicenseRef-tz-public-domain');
    assert.deepEqual(ex.list().map((l) => [l.id, l.name, l.text, l.sources]), [
      ['LicenseRef-tz-ad-hoc', 'ad-hoc', 'Do what you like.', ['/usr/share/doc/tz/copyright']],
      ['LicenseRef-tz-public-domain', 'public-domain', 'The author placed this in the public domain.', ['/usr/share/doc/tz/copyright']],
    ]);
  });

  it('Debian\'s "Artistic" pointing at common-licenses is Artistic-1.0-Perl; without the pointer it is not guessed', async () => {
    const withPointer = `${FORMAT}\nFiles: *\nCopyright: a\nLicense: Artistic or GPL-1+\n\nLicense: Artistic\n On Debian systems see /usr/share/common-licenses/Artistic.\n`;
    const r = await debianDeclaredLicense(memoryFiles({ '/usr/share/doc/perl/copyright': withPointer }), 'perl', new ExtractedLicenses());
    assert.equal(r.expression, 'Artistic-1.0-Perl OR GPL-1.0-or-later');
    const without = withPointer.replace(' On Debian systems see /usr/share/common-licenses/Artistic.', ' The Artistic License.');
    const r2 = await debianDeclaredLicense(memoryFiles({ '/usr/share/doc/perl/copyright': without }), 'perl', new ExtractedLicenses());
    assert.equal(r2.expression, 'GPL-1.0-or-later OR LicenseRef-perl-Artistic');
  });

  it('a name with neither an SPDX id nor a text: NOASSERTION, and the comment says why', async () => {
    const text = `${FORMAT}\nFiles: *\nCopyright: a\nLicense: MIT\n\nFiles: x\nCopyright: b\nLicense: GPL\n`;
    const r = await debianDeclaredLicense(memoryFiles({ '/usr/share/doc/p/copyright': text }), 'p', new ExtractedLicenses());
    assert.equal(r.expression, 'NOASSERTION');
    assert.match(r.comment!, /License "GPL" has no SPDX identifier and no text/);
  });

  it('free-form copyright: LicenseRef-<doc dir>-copyright holding the whole file; shared through a doc-dir symlink', async () => {
    const text = 'This is the Debian GNU/Linux prepackaged version of the GNU compiler collection.\n\nGPL-3+ with runtime exception...\n';
    const files = memoryFiles({ '/usr/share/doc/gcc-12-base/copyright': text }, { '/usr/share/doc/libgcc-s1': '/usr/share/doc/gcc-12-base' });
    const ex = new ExtractedLicenses();
    const a = await debianDeclaredLicense(files, 'gcc-12-base', ex);
    const b = await debianDeclaredLicense(files, 'libgcc-s1', ex);
    assert.equal(a.expression, 'LicenseRef-gcc-12-base-copyright');
    assert.equal(b.expression, a.expression);
    assert.equal(a.how, 'copyright-text');
    assert.equal(ex.list().length, 1);
    assert.equal(ex.list()[0]!.text, text.trimEnd());
  });

  it('no copyright file: NOASSERTION', async () => {
    const r = await debianDeclaredLicense(memoryFiles({}), 'x', new ExtractedLicenses());
    assert.deepEqual(r, { expression: 'NOASSERTION', how: 'none', comment: 'no /usr/share/doc/x/copyright in the image' });
  });

  it('different texts under one name get distinct ids', () => {
    const ex = new ExtractedLicenses();
    assert.equal(ex.add('LicenseRef-p-PD', 'PD', 'one', '/a'), 'LicenseRef-p-PD');
    assert.equal(ex.add('LicenseRef-p-PD', 'PD', 'two', '/a'), 'LicenseRef-p-PD-2');
    assert.equal(ex.add('LicenseRef-p-PD', 'PD', 'one', '/b'), 'LicenseRef-p-PD');
    assert.deepEqual(ex.usedBy(['MIT AND LicenseRef-p-PD-2']).map((l) => l.id), ['LicenseRef-p-PD-2']);
  });
});

describe('an Alpine package\'s declared license (L:)', () => {
  it('keeps SPDX expressions, normalising spelling and deprecated GNU ids', () => {
    assert.equal(alpineDeclaredLicense('MIT').expression, 'MIT');
    assert.equal(alpineDeclaredLicense('mit and bsd-2-clause').expression, 'MIT AND BSD-2-Clause');
    assert.equal(alpineDeclaredLicense('GPL-2.0+').expression, 'GPL-2.0-or-later');
    assert.equal(alpineDeclaredLicense('GPL-2.0 OR MIT').expression, 'GPL-2.0-only OR MIT');
    assert.equal(alpineDeclaredLicense('GPL-2.0-or-later WITH Linux-syscall-note').expression, 'GPL-2.0-or-later WITH Linux-syscall-note');
  });

  it('anything else is NOASSERTION with the reason', () => {
    for (const l of ['custom', 'Public-Domain', 'MIT BSD', 'GPL2', '', undefined]) {
      const r = alpineDeclaredLicense(l);
      assert.equal(r.expression, 'NOASSERTION', String(l));
      assert.ok(r.comment);
    }
  });
});
