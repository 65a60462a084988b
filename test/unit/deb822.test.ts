import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Deb822Parser,
  field,
  formatParagraph,
  parseDeb822Stream,
  parseDeb822Text,
  type Paragraph,
} from '../../src/distro/debian/deb822.js';
import { BaseimgError } from '../../src/util/errors.js';

const SAMPLE = [
  'Package: base-files',
  'Version: 12.4+deb12u8',
  'Description: Debian base system miscellaneous files',
  ' This package contains the basic filesystem hierarchy.',
  ' .',
  ' Second paragraph — with UTF-8: Šantiago, 日本.',
  'Tag: admin::configuring,',
  '\tsuite::debian',
  '',
  'Package: libc6',
  'Depends:   libgcc-s1  ',
  'SHA256:',
  ' 0123 456 main/binary-amd64/Packages',
  ' abcd 789 main/binary-arm64/Packages',
  '',
  '',
  'Package: last',
  'Version: 1',
].join('\n');

const EXPECTED: Paragraph[] = [
  {
    Package: 'base-files',
    Version: '12.4+deb12u8',
    Description:
      'Debian base system miscellaneous files\n This package contains the basic filesystem hierarchy.\n .\n Second paragraph — with UTF-8: Šantiago, 日本.',
    Tag: 'admin::configuring,\n\tsuite::debian',
  },
  {
    Package: 'libc6',
    Depends: 'libgcc-s1',
    SHA256: '\n 0123 456 main/binary-amd64/Packages\n abcd 789 main/binary-arm64/Packages',
  },
  { Package: 'last', Version: '1' },
];

function parseInChunks(text: string, cuts: number[]): Paragraph[] {
  const parser = new Deb822Parser();
  const out: Paragraph[] = [];
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    out.push(...parser.push(text.slice(from, cut)));
    from = cut;
  }
  out.push(...parser.end());
  return out;
}

async function collect(chunks: Array<Buffer | string>): Promise<Paragraph[]> {
  const out: Paragraph[] = [];
  for await (const p of parseDeb822Stream((async function* () {
    yield* chunks;
  })())) out.push(p);
  return out;
}

function expectParseError(text: string, pattern: RegExp): void {
  assert.throws(() => parseDeb822Text(text, { source: 'Packages of test' }), (err: unknown) => {
    assert.ok(err instanceof BaseimgError);
    assert.equal(err.code, 'VERIFY');
    assert.match(err.message, /^Packages of test: line \d+: /);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('deb822 parsing', () => {
  it('parses paragraphs, continuation lines and empty first lines', () => {
    assert.deepEqual(parseDeb822Text(SAMPLE), EXPECTED);
  });

  it('treats CRLF like LF and whitespace-only lines as separators', () => {
    const crlf = SAMPLE.replace(/\n/g, '\r\n');
    assert.deepEqual(parseDeb822Text(crlf), EXPECTED);
    const blanks = 'A: 1\n \t \nB: 2\n\t\n\n   \nC: 3\n';
    assert.deepEqual(parseDeb822Text(blanks), [{ A: '1' }, { B: '2' }, { C: '3' }]);
  });

  it('yields the same paragraphs whatever the chunk boundaries', () => {
    for (const text of [SAMPLE, SAMPLE.replace(/\n/g, '\r\n')]) {
      for (let cut = 0; cut <= text.length; cut++) {
        assert.deepEqual(parseInChunks(text, [cut]), EXPECTED, `split at ${cut}`);
      }
      for (let cut = 1; cut < text.length; cut += 7) {
        assert.deepEqual(parseInChunks(text, [cut - 1, cut, Math.min(cut + 3, text.length)]), EXPECTED);
      }
    }
  });

  it('decodes UTF-8 split at any byte of a Buffer stream', async () => {
    const bytes = Buffer.from(SAMPLE);
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(await collect([bytes.subarray(0, cut), bytes.subarray(cut)]), EXPECTED, `split at byte ${cut}`);
    }
    // One byte at a time, too.
    assert.deepEqual(await collect([...bytes].map((b) => Buffer.from([b]))), EXPECTED);
  });

  it('handles a final paragraph without newline, empty input and stray blank lines', () => {
    assert.deepEqual(parseDeb822Text('A: b'), [{ A: 'b' }]);
    assert.deepEqual(parseDeb822Text(''), []);
    assert.deepEqual(parseDeb822Text('\n\n \n'), []);
    assert.deepEqual(parseDeb822Text('\n\nA: b\n\n\n'), [{ A: 'b' }]);
    assert.deepEqual(parseDeb822Text('\ufeffA: b\n'), [{ A: 'b' }]);
  });

  it('skips comment lines only when asked to', () => {
    const text = '# heading\nTypes: deb\n# inside\nURIs: http://example.org/debian\nSuites: bookworm\n# between\n bookworm-updates\n';
    assert.deepEqual(parseDeb822Text(text, { comments: true }), [
      { Types: 'deb', URIs: 'http://example.org/debian', Suites: 'bookworm\n bookworm-updates' },
    ]);
    expectParseError('# heading\n', /expected "Field: value"/);
  });

  it('keeps field names as written and looks them up case-insensitively', () => {
    const [p] = parseDeb822Text('package: x\nPRE-DEPENDS: y\n');
    assert.deepEqual(Object.keys(p!), ['package', 'PRE-DEPENDS']);
    assert.equal(field(p!, 'Package'), 'x');
    assert.equal(field(p!, 'pre-depends'), 'y');
    assert.equal(field(p!, 'Depends'), undefined);
    assert.equal(field(p!, 'toString'), undefined);
  });

  it('stores "__proto__" as an ordinary field', () => {
    const [p] = parseDeb822Text('__proto__: polluted\nA: b\n');
    assert.equal(Object.getPrototypeOf(p), Object.prototype);
    assert.deepEqual(Object.keys(p!), ['__proto__', 'A']);
    assert.equal(field(p!, '__proto__'), 'polluted');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('reports malformed input with the line number', () => {
    expectParseError(' leading continuation\n', /line 1: continuation line outside a field/);
    expectParseError('A: 1\nno colon here\n', /line 2: expected "Field: value"/);
    expectParseError('A: 1\n: empty name\n', /line 2: empty field name/);
    expectParseError('A: 1\nB: 2\nA: 3\n', /line 3: duplicate field "A"/);
    expectParseError('Bad Name: 1\n', /invalid field name "Bad Name"/);
  });
});

describe('formatParagraph', () => {
  it('writes paragraphs back verbatim', () => {
    const text = SAMPLE.replace('Depends:   libgcc-s1  ', 'Depends: libgcc-s1') + '\n';
    const paragraphs = parseDeb822Text(text);
    assert.equal(paragraphs.map(formatParagraph).join('\n'), text.replace(/\n\n\n/, '\n\n'));
  });

  it('round-trips generated paragraphs', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/);
    const firstLine = fc.oneof(fc.constant(''), fc.stringMatching(/^[^\s\r\n](?:[^\r\n]{0,30}[^\s\r\n])?$/));
    const continuation = fc.stringMatching(/^[ \t](?:[^\r\n]{0,30}[^\s\r\n]|\.)$/);
    const value = fc.tuple(firstLine, fc.array(continuation, { maxLength: 3 })).map(([first, rest]) =>
      rest.length === 0 && first === '' ? 'x' : [first, ...rest].join('\n'),
    );
    const paragraph = fc.uniqueArray(fc.tuple(name, value), { minLength: 1, maxLength: 6, selector: ([n]) => n }).map(
      (entries) => Object.fromEntries(entries) as Paragraph,
    );
    fc.assert(
      fc.property(fc.array(paragraph, { maxLength: 4 }), (paragraphs) => {
        const text = paragraphs.map(formatParagraph).join('\n');
        assert.deepEqual(parseDeb822Text(text), paragraphs);
      }),
    );
  });
});

describe('deb822 robustness', () => {
  const deb822ish = fc.array(
    fc.oneof(
      fc.constantFrom('\n', '\r\n', ' ', '\t', ':', '#', '.', 'A', 'b', 'Package', 'é', ' .\n', '\n\n'),
      fc.string({ maxLength: 8 }),
    ),
    { maxLength: 40 },
  ).map((parts) => parts.join(''));

  it('only ever throws BaseimgError, and chunking never changes the outcome', () => {
    fc.assert(
      fc.property(deb822ish, fc.array(fc.nat(), { maxLength: 4 }), (text, rawCuts) => {
        let whole: Paragraph[] | BaseimgError;
        try {
          whole = parseDeb822Text(text, { comments: text.length % 2 === 0 });
        } catch (err) {
          assert.ok(err instanceof BaseimgError, `unexpected ${String(err)}`);
          whole = err;
        }
        const cuts = rawCuts.map((c) => c % (text.length + 1)).sort((a, b) => a - b);
        const parser = new Deb822Parser({ comments: text.length % 2 === 0 });
        let chunked: Paragraph[] | BaseimgError;
        try {
          const out: Paragraph[] = [];
          let from = 0;
          for (const cut of [...cuts, text.length]) {
            out.push(...parser.push(text.slice(from, cut)));
            from = cut;
          }
          out.push(...parser.end());
          chunked = out;
        } catch (err) {
          assert.ok(err instanceof BaseimgError);
          chunked = err;
        }
        if (whole instanceof BaseimgError) {
          assert.ok(chunked instanceof BaseimgError);
          assert.equal(chunked.message, whole.message);
        } else {
          assert.deepEqual(chunked, whole);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('handles arbitrary unicode without throwing anything but BaseimgError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        try {
          parseDeb822Text(text);
        } catch (err) {
          assert.ok(err instanceof BaseimgError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('does not rescan a long line delivered in many chunks', () => {
    const parser = new Deb822Parser();
    const piece = 'x'.repeat(1000);
    const start = performance.now();
    parser.push('Long: ');
    for (let i = 0; i < 20_000; i++) parser.push(piece);
    const [p] = parser.end();
    assert.equal(p!.Long!.length, 20_000_000);
    assert.ok(performance.now() - start < 5000, 'quadratic behaviour on long lines');
  });
});
