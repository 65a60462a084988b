/**
 * deb822 (src/distro/debian/deb822.ts) and what is parsed from it, on
 * hostile text: Release files and Packages indexes come from mirrors, and
 * a mirror's bytes are only trusted once a signature or hash says so.
 *  - any text: paragraphs of strings, or a BaseimgError, nothing else;
 *  - chunking never changes the result (the parser streams indexes);
 *  - paragraphs written by formatParagraph parse back to themselves;
 *  - Release text (parseRelease) and relation fields (parseRelations):
 *    typed errors only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Deb822Parser, formatParagraph, parseDeb822Text, type Paragraph } from '../../src/distro/debian/deb822.js';
import { parseRelease } from '../../src/distro/debian/release.js';
import { parseRelations } from '../../src/distro/debian/relations.js';
import { BaseimgError } from '../../src/util/errors.js';
import { fuzzParameters, testTimeout, tokenText, typedOnly } from '../helpers/fuzz.js';

/** Fragments of real deb822: field starts, continuations, blank and comment lines, CR, BOM, odd bytes. */
const TOKENS = [
  'Package: libc6\n', 'Version: 2.36-9\n', 'Depends: a (>= 1) | b, c\n', 'SHA256:\n', ' 0123abcd 12 main/x\n', ' .\n', ' continued\n',
  '\n', ' \n', '\t\n', '\r\n', '#comment\n', ':', ': ', 'Field', 'X-Y', '\t', ' ', '\uFEFF', '__proto__: x\n', 'constructor: y\n',
  'Package: libc6\n', 'package: dup\n', 'A:b', '\u00e9', '\0',
];
const deb822ish = fc.oneof(tokenText(TOKENS, 30), fc.string({ unit: 'binary', maxLength: 200 }));

function checkParagraphs(ps: Paragraph[]): void {
  for (const p of ps) for (const [k, v] of Object.entries(p)) assert.ok(typeof k === 'string' && typeof v === 'string');
}

/** parse(text) in pieces cut at `cuts`, as a stream delivers it. */
function parseChunked(text: string, cuts: number[], comments: boolean): Paragraph[] {
  const parser = new Deb822Parser({ comments, source: 'fuzz' });
  const out: Paragraph[] = [];
  let at = 0;
  for (const cut of [...cuts.map((c) => c % (text.length + 1))].sort((a, b) => a - b)) {
    out.push(...parser.push(text.slice(at, cut)));
    at = cut;
  }
  out.push(...parser.push(text.slice(at)), ...parser.end());
  return out;
}

function outcome(fn: () => Paragraph[]): { paragraphs?: Paragraph[]; error?: string } {
  try {
    return { paragraphs: fn() };
  } catch (e) {
    if (!(e instanceof BaseimgError)) throw e;
    return { error: e.message };
  }
}

describe('deb822 parser on hostile text', () => {
  it('returns paragraphs of strings or throws a BaseimgError', { timeout: testTimeout() }, () => {
    fc.assert(
      fc.property(deb822ish, fc.boolean(), (text, comments) => {
        const ps = typedOnly('parseDeb822Text', () => parseDeb822Text(text, { comments, source: 'fuzz' }));
        if (ps) checkParagraphs(ps);
      }),
      fuzzParameters(),
    );
  });

  it('gives the same result however the input is cut into chunks', { timeout: testTimeout() }, () => {
    fc.assert(
      fc.property(deb822ish, fc.array(fc.nat(400), { maxLength: 6 }), fc.boolean(), (text, cuts, comments) => {
        const whole = outcome(() => parseDeb822Text(text, { comments, source: 'fuzz' }));
        const chunked = outcome(() => parseChunked(text, cuts, comments));
        assert.deepEqual(chunked, whole);
      }),
      fuzzParameters(),
    );
  });

  it('parses formatParagraph output back to the same paragraph', { timeout: testTimeout() }, () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/);
    const firstLine = fc.stringMatching(/^[!-~]([ -~]{0,20}[!-~])?$/);
    const continuation = fc.stringMatching(/^[ \t]{1,2}[!-~][ -~]{0,20}$/);
    const value = fc.oneof(
      firstLine,
      fc.constant(''),
      fc.tuple(fc.option(firstLine, { nil: '' }), fc.array(continuation, { minLength: 1, maxLength: 3 })).map(([first, rest]) => `${first}\n${rest.join('\n')}`),
    );
    const paragraph = fc.uniqueArray(fc.tuple(name, value), { minLength: 1, maxLength: 8, selector: ([n]) => n.toLowerCase() }).map((fields) => Object.fromEntries(fields));
    fc.assert(
      fc.property(fc.array(paragraph, { minLength: 1, maxLength: 4 }), (ps) => {
        const text = ps.map(formatParagraph).join('\n');
        assert.deepEqual(parseDeb822Text(text), ps);
      }),
      fuzzParameters(),
    );
  });
});

describe('what is read from deb822 fields', () => {
  const meta = { url: 'http://127.0.0.1/debian/dists/stable/InRelease', suite: 'stable', baseUrl: 'http://127.0.0.1/debian', sha256: 'a'.repeat(64), signedBy: [] };
  const RELEASE_TOKENS = [
    'Suite: stable\n', 'Codename: stable\n', 'Date: Sat, 09 Nov 2024 10:05:41 UTC\n', 'Valid-Until: Sat, 16 Nov 2024 10:05:41 UTC\n',
    'Date: 31 Feb 2024 25:00:00 +9999\n', 'Acquire-By-Hash: yes\n', 'SHA256:\n', ` ${'0'.repeat(64)} 123 main/binary-amd64/Packages.xz\n`,
    ' zz 1 x\n', ` ${'f'.repeat(64)} -1 y\n`, ` ${'A'.repeat(64)} 99999999999999999999 z\n`, '\n', ' ', 'Suite:', 'x',
  ];

  it('parseRelease: a ReleaseInfo or a BaseimgError', { timeout: testTimeout() }, () => {
    fc.assert(
      fc.property(tokenText(RELEASE_TOKENS, 14), (text) => {
        const info = typedOnly('parseRelease', () => parseRelease(text, meta));
        if (info) for (const f of info.files.values()) assert.ok(Number.isSafeInteger(f.size) && /^[0-9a-f]{64}$/.test(f.sha256), JSON.stringify(f));
      }),
      fuzzParameters(),
    );
  });

  it('parseRelations: groups of named relations or a BaseimgError', { timeout: testTimeout() }, () => {
    const RELATION_TOKENS = ['libc6', ' (>= 2.36)', ' (<< 1:2~)', ' (= ', ')', '(', ',', ' | ', ':any', ':amd64', ' [amd64]', ' <!nocheck>', '\n ', 'a+b.c-d', '>>', '<', ' ', ''];
    fc.assert(
      fc.property(fc.oneof(tokenText(RELATION_TOKENS, 16), fc.string({ maxLength: 60 })), (text) => {
        const groups = typedOnly('parseRelations', () => parseRelations(text));
        for (const g of groups ?? []) for (const r of g) assert.match(r.name, /^[A-Za-z0-9][A-Za-z0-9+.\-_]*$/);
      }),
      fuzzParameters(),
    );
  });
});
