/**
 * Both version comparators must be total orders on every string the
 * indexes can hold, or the resolver's choices (highest candidate, sorted
 * install order) would depend on the order it met the versions in:
 *  - reflexive: cmp(a, a) = 0, and the result is always -1, 0 or 1;
 *  - antisymmetric: sign(cmp(a, b)) = -sign(cmp(b, a));
 *  - transitive: a list sorted with cmp is ordered pairwise;
 *  - equality is consistent: cmp(a, b) = 0 ⇒ a and b compare alike with any c.
 * Inputs: versions from each grammar (epochs, tildes, suffixes, revisions,
 * huge numbers, leading zeros) and near-versions made of their tokens, so
 * invalid strings are ordered too. Never a throw.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareVersions } from '../../src/distro/debian/version.js';
import { compareApkVersions } from '../../src/distro/alpine/version.js';
import { fuzzParameters, testTimeout, tokenText, typedOnly } from '../helpers/fuzz.js';

type Compare = (a: string, b: string) => number;

const digits = fc.oneof(fc.stringMatching(/^[0-9]{1,3}$/), fc.stringMatching(/^0[0-9]{0,2}$/), fc.stringMatching(/^[1-9][0-9]{15,30}$/));

/** [epoch:]upstream[-revision] as Debian policy allows, plus the odd characters dpkg orders. */
const debianVersion = fc.oneof(
  fc.tuple(
    fc.option(digits, { nil: undefined }),
    fc.array(fc.oneof(digits, fc.constantFrom('.', '+', '~', '-', 'a', 'b', 'z', 'A', 'Z', '~~', '.0', 'dfsg', 'deb12u1')), { minLength: 0, maxLength: 6 }),
    fc.option(fc.array(fc.oneof(digits, fc.constantFrom('.', '+', '~', 'a', 'ubuntu', 'build')), { minLength: 1, maxLength: 4 }), { nil: undefined }),
  ).map(([epoch, up, rev]) => `${epoch === undefined ? '' : `${epoch}:`}${(up.length > 0 ? '1' : '0') + up.join('')}${rev === undefined ? '' : `-${rev.join('')}`}`),
  tokenText(['0', '1', '9', '10', '00', ':', '-', '.', '~', '+', 'a', 'Z', ' ', '1:', '-1', '~rc1'], 12),
);

const apkSuffix = fc.constantFrom('_alpha', '_beta', '_pre', '_rc', '_cvs', '_svn', '_git', '_hg', '_p', '_x');
/** number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}, and token soup around it. */
const apkVersion = fc.oneof(
  fc.tuple(
    fc.array(digits, { minLength: 1, maxLength: 4 }),
    fc.option(fc.constantFrom('a', 'b', 'z'), { nil: undefined }),
    fc.array(fc.tuple(apkSuffix, fc.option(digits, { nil: undefined })), { maxLength: 2 }),
    fc.option(fc.stringMatching(/^[0-9a-f]{1,8}$/), { nil: undefined }),
    fc.option(digits, { nil: undefined }),
  ).map(([nums, letter, suffixes, hash, rev]) =>
    nums.join('.') + (letter ?? '') + suffixes.map(([s, n]) => s + (n ?? '')).join('') + (hash === undefined ? '' : `~${hash}`) + (rev === undefined ? '' : `-r${rev}`)),
  tokenText(['1', '0', '01', '.', '_rc', '_p', '_alpha', 'a', '~', 'ab', '-r', '-r1', '-', '_', 'x'], 12),
);

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

function checkResult(cmp: Compare, a: string, b: string): number {
  const r = typedOnly(`compare(${JSON.stringify(a)}, ${JSON.stringify(b)})`, () => cmp(a, b));
  assert.ok(r === -1 || r === 0 || r === 1, `compare(${JSON.stringify(a)}, ${JSON.stringify(b)}) = ${String(r)}`);
  return r;
}

function totalOrderSuite(name: string, cmp: Compare, version: fc.Arbitrary<string>): void {
  describe(`${name}: a total order`, () => {
    it('reflexive, antisymmetric, -1/0/1 only', { timeout: testTimeout() }, () => {
      fc.assert(
        fc.property(version, version, (a, b) => {
          assert.equal(checkResult(cmp, a, a), 0, `compare(${JSON.stringify(a)}, itself)`);
          assert.equal(sign(checkResult(cmp, a, b)) + sign(checkResult(cmp, b, a)), 0, `${JSON.stringify(a)} vs ${JSON.stringify(b)}: not antisymmetric`);
        }),
        fuzzParameters(),
      );
    });

    it('transitive: a sorted list is ordered pairwise', { timeout: testTimeout() }, () => {
      fc.assert(
        fc.property(fc.array(version, { minLength: 3, maxLength: 7 }), (list) => {
          const sorted = [...list].sort(cmp);
          for (let i = 0; i < sorted.length; i++) {
            for (let j = i + 1; j < sorted.length; j++) {
              assert.ok(cmp(sorted[i]!, sorted[j]!) <= 0, `not transitive: ${sorted.map((v) => JSON.stringify(v)).join(' ≤ ')}`);
            }
          }
        }),
        fuzzParameters(),
      );
    });

    it('equal versions compare alike with everything', { timeout: testTimeout() }, () => {
      // Pairs that compare equal are rare by chance, so build them from each other.
      const equalPair = version.chain((v) => fc.constantFrom(v, `${v}`.replace(/(^|[^0-9])([1-9])/, '$10$2'), v.replace(/-r0$/, ''), v.replace(/^0:/, '')).map((w) => [v, w] as const));
      fc.assert(
        fc.property(equalPair, version, ([a, b], c) => {
          if (cmp(a, b) !== 0) return;
          assert.equal(sign(cmp(a, c)), sign(cmp(b, c)), `${JSON.stringify(a)} = ${JSON.stringify(b)} but they differ against ${JSON.stringify(c)}`);
        }),
        fuzzParameters(),
      );
    });
  });
}

totalOrderSuite('Debian compareVersions', compareVersions, debianVersion);
totalOrderSuite('apk compareApkVersions', (a, b) => compareApkVersions(a, b), apkVersion);

describe('known orders still hold (sanity for the generators above)', () => {
  it('Debian', () => {
    const ordered = ['0~rc1', '0', '1.0~~', '1.0~', '1.0', '1.0-0', '1.0-1', '1.0a', '1.0+b1', '1.00001', '1:0.1'];
    for (let i = 1; i < ordered.length; i++) assert.ok(compareVersions(ordered[i - 1]!, ordered[i]!) <= 0, `${ordered[i - 1]} ≤ ${ordered[i]}`);
  });
  it('apk', () => {
    const ordered = ['1.0_alpha', '1.0_rc1', '1.0', '1.0-r1', '1.0_p1', '1.0.1', '1.1'];
    for (let i = 1; i < ordered.length; i++) assert.ok(compareApkVersions(ordered[i - 1]!, ordered[i]!) < 0, `${ordered[i - 1]} < ${ordered[i]}`);
  });
});
