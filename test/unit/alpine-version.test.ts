/**
 * apk version ordering. The table uses versions as they appear in real
 * Alpine indexes (v3.16 main: busybox 1.35.0-r17, ncurses 6.3_p20220521-r0,
 * gcc 11.2.1_git20220219-r2, openssl 1.1.1s-r0, tzdata 2023c-r0...) and the
 * rules of apk-package(5); each expectation was derived by hand from those
 * rules, token by token. Properties check that the order is total on valid
 * versions, which sorting candidates relies on.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareApkVersions, isValidApkVersion } from '../../src/distro/alpine/version.js';

const TABLE: Array<[string, '<' | '=' | '>', string]> = [
  // revisions compare as numbers; a revision beats none
  ['1.35.0-r17', '>', '1.35.0-r2'],
  ['1.35.0-r17', '<', '1.36.0-r0'],
  ['1.2.3-r2', '>', '1.2.3'],
  ['1.2.3-r0', '>', '1.2.3'],
  ['3.10.8-r0', '>', '3.9.16-r0'],
  ['20220614-r0', '>', '20211016-r1'],
  // more components beat a revision, and a longer version beats a shorter one
  ['1.2.3', '<', '1.2.3.1'],
  ['1.2.3-r9', '<', '1.2.3.1'],
  ['2.38-r1', '<', '2.38.1-r0'],
  // letters after the numbers
  ['1.1.1s-r0', '>', '1.1.1q-r0'],
  ['1.1.1s-r0', '>', '1.1.1-r5'],
  ['1.1.1', '<', '1.1.1a'],
  ['2023c-r0', '>', '2023b-r1'],
  ['2023c-r0', '<', '2024a-r0'],
  // suffixes: _alpha < _beta < _pre < _rc < none < _cvs < _svn < _git < _hg < _p
  ['2.0_alpha', '<', '2.0_beta'],
  ['2.0_beta', '<', '2.0_pre'],
  ['2.0_pre', '<', '2.0_rc'],
  ['2.0_rc', '<', '2.0'],
  ['2.0', '<', '2.0_cvs'],
  ['2.0_cvs', '<', '2.0_svn'],
  ['2.0_svn', '<', '2.0_git'],
  ['2.0_git', '<', '2.0_hg'],
  ['2.0_hg', '<', '2.0_p'],
  ['2.0_rc1', '<', '2.0_rc2'],
  ['2.0_rc10', '>', '2.0_rc9'],
  ['2.0_rc', '<', '2.0_rc1'],
  ['2.0_rc1', '<', '2.0-r0'],
  ['2.0_rc1', '<', '2.0.0'],
  ['2.4_alpha_pre1', '<', '2.4_alpha'],
  ['11.2.1_git20220219-r2', '>', '11.2.1-r2'],
  ['11.2.1_git20220219-r2', '<', '11.2.1_git20220220-r0'],
  ['6.3_p20220521-r0', '>', '6.3-r1'],
  ['6.3_p20220521-r0', '<', '6.3.1'],
  ['6.3_p20220521-r0', '<', '6.3_p20220521-r1'],
  ['1.0_p10-r0', '>', '1.0_p9-r0'],
  ['2.4_git20190330-r1', '>', '2.4-r1'],
  ['1.0.0_pre20191002222144-r0', '<', '1.0.0_pre20210530193627-r0'],
  // commit hashes sit between suffixes and the revision, and compare as strings
  ['1.0~abc123-r1', '<', '1.0~abc124-r1'],
  ['1.0~abc-r0', '>', '1.0-r0'],
  ['1.0~abc', '<', '1.0.1'],
  ['1.0_p1~ab', '>', '1.0_p1'],
  // a component with a leading zero compares as a string
  ['1.02', '<', '1.1'],
  ['1.02', '<', '1.2'],
  ['1.02', '>', '1.010'],
  ['1.0', '<', '1.00'],
  ['3.0.1', '>', '3.0.01'],
  // the first component is always a number
  ['01.0', '=', '1.0'],
  ['006', '>', '1.0.0'],
  // numbers of any length
  ['1.99999999999999999999', '>', '1.99999999999999999998'],
  ['2.100000000000000000000', '>', '2.99999999999999999999'],
  // equal
  ['1.35.0-r17', '=', '1.35.0-r17'],
  ['0.2.0-r1', '=', '0.2.0-r1'],
  ['1.0-r01', '=', '1.0-r1'],
  // invalid versions order below valid ones
  ['1.0', '<', '1.0ab'],
  ['', '<', '0'],
];

const sign = (n: number): string => (n < 0 ? '<' : n > 0 ? '>' : '=');

describe('compareApkVersions', () => {
  for (const [a, op, b] of TABLE) {
    it(`${a} ${op} ${b}`, () => {
      assert.equal(sign(compareApkVersions(a, b)), op);
      const reverse = op === '<' ? '>' : op === '>' ? '<' : '=';
      assert.equal(sign(compareApkVersions(b, a)), reverse);
    });
  }

  it('fuzzy matching compares only the tokens the shorter version has', () => {
    assert.equal(compareApkVersions('1.2.3', '1.2', true), 0);
    assert.equal(compareApkVersions('1.2_rc1', '1.2', true), 0);
    assert.equal(compareApkVersions('1.2-r5', '1.2', true), 0);
    assert.ok(compareApkVersions('1.20', '1.2', true) > 0, '1.20 is not 1.2.*');
    assert.ok(compareApkVersions('1.1.9', '1.2', true) < 0);
    assert.ok(compareApkVersions('1.2', '1.2.3', true) < 0, 'only the constraint may be a prefix');
  });
});

describe('isValidApkVersion', () => {
  for (const v of ['1', '1.2.3', '1.2a', '1.2_rc1', '1.2_alpha_pre2', '1.2_rc1_p2', '1.2~abc', '1.2-r0', '1.2_p1~deadbeef-r3', '20220614-r0']) {
    it(`accepts ${v}`, () => assert.equal(isValidApkVersion(v), true));
  }
  for (const v of ['', 'a1', '1.2ab', '1..2', '1.2.', '1.2-', '1.2-r', '1.2_foo', '1.2~', '1.2~xyz', '1.0b2', '1.2-r1-r2', '1.2.a', 'v2.4', '1.2 ']) {
    it(`rejects ${JSON.stringify(v)}`, () => assert.equal(isValidApkVersion(v), false));
  }
});

/** Valid versions by the grammar: number{.number}{letter}{_suffix{number}}{~hash}{-rN}. */
const versionArb = fc
  .record({
    numbers: fc.array(fc.oneof(fc.nat(30).map(String), fc.constantFrom('0', '00', '01', '010', '2022', '99999999999999999999')), { minLength: 1, maxLength: 4 }),
    letter: fc.option(fc.constantFrom('a', 'b', 'z'), { nil: undefined }),
    suffixes: fc.array(
      fc.tuple(fc.constantFrom('alpha', 'beta', 'pre', 'rc', 'cvs', 'svn', 'git', 'hg', 'p'), fc.option(fc.nat(20).map(String), { nil: undefined })),
      { maxLength: 2 },
    ),
    hash: fc.option(fc.constantFrom('0a', 'abc123', 'ff'), { nil: undefined }),
    revision: fc.option(fc.nat(20), { nil: undefined }),
  })
  .map((v) =>
    [
      v.numbers.join('.'),
      v.letter ?? '',
      v.suffixes.map(([s, n]) => `_${s}${n ?? ''}`).join(''),
      v.hash === undefined ? '' : `~${v.hash}`,
      v.revision === undefined ? '' : `-r${v.revision}`,
    ].join(''),
  );

describe('compareApkVersions is a total order on valid versions', () => {
  it('generated versions are valid', () => {
    fc.assert(fc.property(versionArb, (v) => isValidApkVersion(v)));
  });

  it('reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(versionArb, versionArb, (a, b) => {
        assert.equal(compareApkVersions(a, a), 0);
        assert.equal(Math.sign(compareApkVersions(a, b)) + Math.sign(compareApkVersions(b, a)), 0, `${a} vs ${b}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('transitive', () => {
    fc.assert(
      fc.property(versionArb, versionArb, versionArb, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(compareApkVersions);
        assert.ok(compareApkVersions(x!, z!) <= 0, `${x} <= ${y} <= ${z} but ${x} > ${z}`);
        if (compareApkVersions(x!, y!) === 0 && compareApkVersions(y!, z!) === 0) assert.equal(compareApkVersions(x!, z!), 0);
      }),
      { numRuns: 3000 },
    );
  });

  it('a higher revision of the same version is newer', () => {
    const noRevision = versionArb.map((v) => v.replace(/-r\d+$/, ''));
    fc.assert(fc.property(noRevision, fc.nat(50), (v, n) => compareApkVersions(`${v}-r${n + 1}`, `${v}-r${n}`) > 0));
  });
});
