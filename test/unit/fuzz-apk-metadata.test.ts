/**
 * The Alpine metadata parsers on hostile text: APKINDEX entries
 * (parseApkIndexText, then packageFromEntry with its D:/p:/i: relations),
 * .PKGINFO (parsePkgInfo) and dependency atoms. An index is parsed only
 * after its signature verified, but a trusted repository can still publish
 * garbage, and allow-untrusted repositories publish anything: every input
 * gives a result or a BaseimgError naming the input, never a crash.
 * Round trips: index text written from parsed entries parses back to them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseApkIndexText, type ApkIndexEntry } from '../../src/distro/alpine/apkindex.js';
import { packageFromEntry } from '../../src/distro/alpine/package.js';
import { parsePkgInfo } from '../../src/distro/alpine/pkginfo.js';
import { formatDependency, parseDependency, parseDependencyList, parseProvides } from '../../src/distro/alpine/dependency.js';
import { BaseimgError } from '../../src/util/errors.js';
import { fuzzParameters, testTimeout, tokenText, typedOnly } from '../helpers/fuzz.js';

const WHAT = 'APKINDEX of fuzz';

const INDEX_TOKENS = [
  'C:Q1Vl3vU8cV22CofaOpqDJHyDPEzH8=\n', 'C:Q1short=\n', 'P:busybox\n', 'P:\n', 'P:bad name\n', 'V:1.36.1-r2\n', 'V:\n', 'V:1 2\n',
  'A:x86_64\n', 'A:noarch\n', 'S:123\n', 'S:-1\n', 'S:99999999999999999999999\n', 'I:4096\n', 'I:x\n', 'k:100\n',
  'D:so:libc.musl-x86_64.so.1 /bin/sh !foo busybox>=1.0 a<2 b~1.2 c><3 cmd:ls=1\n', 'D:>=\n', 'D:!\n', 'D:a==1\n',
  'p:cmd:ls=1.0 so:libz.so.1=1.2.13 /bin/sh\n', 'p:=1\n', 'i:busybox openrc\n', 'r:old\n', 'o:origin\n', 'm:Me <me@example.org>\n',
  '\n', '\r\n', 'Z:', ':', 'x', 'P:a\nP:b\n', '\u00e9', '\0', ' ',
];
const indexText = fc.oneof(tokenText(INDEX_TOKENS, 24), fc.string({ unit: 'binary', maxLength: 200 }));
const repo = { url: 'http://127.0.0.1/alpine/main', index: 0, arch: 'x86_64' };

describe('APKINDEX text', () => {
  it('entries, then packages, or BaseimgErrors', { timeout: testTimeout() }, () => {
    fc.assert(
      fc.property(indexText, (text) => {
        const entries = typedOnly('parseApkIndexText', () => parseApkIndexText(text, WHAT));
        for (const entry of entries ?? []) {
          assert.ok(entry.line >= 1 && entry.fields.size > 0);
          const pkg = typedOnly('packageFromEntry', () => packageFromEntry(entry, repo, WHAT));
          if (pkg === undefined) continue;
          assert.ok(Number.isSafeInteger(pkg.size), `size ${pkg.size}`);
          assert.ok(pkg.url.startsWith(`${repo.url}/x86_64/${pkg.name}-`), pkg.url);
          assert.doesNotMatch(pkg.name, /[/\s]/, 'a package name cannot leave the repository directory');
        }
      }),
      fuzzParameters(),
    );
  });

  it('written back from its entries, parses to the same entries', { timeout: testTimeout() }, () => {
    const letter = fc.constantFrom(...'CPVASITULomtcDpirqkZ');
    const value = fc.stringMatching(/^[^\n\r]{0,30}$/);
    const entry = fc.array(fc.tuple(letter, value), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 5 }), fc.boolean(), (entries, finalBlank) => {
        const text = entries.map((e) => e.map(([l, v]) => `${l}:${v}\n`).join('')).join('\n') + (finalBlank ? '\n' : '');
        const parsed = parseApkIndexText(text, WHAT);
        const back = parsed.map((p: ApkIndexEntry) => [...p.fields].flatMap(([l, vs]) => vs.map((v) => [l, v] as const)));
        const expected = entries.map((e) => {
          // Repeated letters are grouped under their first occurrence, in order.
          const order = [...new Set(e.map(([l]) => l))];
          return order.flatMap((l) => e.filter(([m]) => m === l));
        });
        assert.deepEqual(back, expected);
      }),
      fuzzParameters(),
    );
  });
});

describe('.PKGINFO', () => {
  const TOKENS = ['pkgname = busybox\n', 'pkgver = 1.36.1-r2\n', 'depend = so:libc.musl-x86_64.so.1\n', 'datahash = abc\n', '# comment\n', '=\n', ' = x\n', 'key=\n', '\r\n', '\n', 'x', ' ', '=', '\0'];
  it('a key → values map, or a BaseimgError naming the file and line', { timeout: testTimeout() }, () => {
    fc.assert(
      fc.property(fc.oneof(tokenText(TOKENS, 20), fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
        try {
          const info = parsePkgInfo(text, '.PKGINFO of fuzz');
          for (const [k, vs] of info) assert.ok(k !== '' && vs.length > 0 && vs.every((v) => typeof v === 'string'));
        } catch (e) {
          assert.ok(e instanceof BaseimgError, String(e));
          assert.match(e.message, /^\.PKGINFO of fuzz:\d+: /);
        }
      }),
      fuzzParameters(),
    );
  });
});

describe('dependency atoms', () => {
  const TOKENS = ['!', 'so:', 'cmd:', 'pc:', '/bin/sh', 'busybox', 'a-b_c.d+e', '<', '>', '=', '~', '><', '>=', '<~', '1.2', '-r3', '_rc1', '@edge', ' ', '', '\t', '.', '~abc'];
  it('parse, or a BaseimgError; what parses formats and parses back to itself', { timeout: testTimeout() }, () => {
    fc.assert(
      fc.property(tokenText(TOKENS, 10), (text) => {
        typedOnly('parseDependencyList', () => parseDependencyList(text, 'D: of fuzz'));
        typedOnly('parseProvides', () => parseProvides(text, 'p: of fuzz'));
        const atom = text.trim().split(/\s+/)[0] ?? '';
        const dep = typedOnly('parseDependency', () => parseDependency(atom, 'D: of fuzz'));
        if (dep !== undefined) assert.deepEqual(parseDependency(formatDependency(dep), 'again'), dep);
      }),
      fuzzParameters(),
    );
  });
});
