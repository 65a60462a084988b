import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareVersions, isValidVersion, parseVersion } from '../../src/distro/debian/version.js';

/** Assert a < b (and the mirror image). */
function assertLess(a: string, b: string): void {
  assert.equal(compareVersions(a, b), -1, `${a} < ${b}`);
  assert.equal(compareVersions(b, a), 1, `${b} > ${a}`);
}

function assertSame(a: string, b: string): void {
  assert.equal(compareVersions(a, b), 0, `${a} == ${b}`);
  assert.equal(compareVersions(b, a), 0, `${b} == ${a}`);
}

describe('parseVersion', () => {
  it('splits epoch, upstream and revision', () => {
    assert.deepEqual(parseVersion('1:2.38.1-5+deb12u3'), { epoch: '1', upstream: '2.38.1', revision: '5+deb12u3' });
    assert.deepEqual(parseVersion('20230311'), { epoch: '0', upstream: '20230311', revision: '' });
    assert.deepEqual(parseVersion('3.0.11-1~deb12u2'), { epoch: '0', upstream: '3.0.11', revision: '1~deb12u2' });
  });

  it('takes the revision after the last hyphen and keeps earlier hyphens upstream', () => {
    assert.deepEqual(parseVersion('1.2-rc-3'), { epoch: '0', upstream: '1.2-rc', revision: '3' });
  });

  it('normalises the epoch without converting it to a Number', () => {
    assert.equal(parseVersion('007:1').epoch, '7');
    assert.equal(parseVersion('123456789012345678901234567890:1').epoch, '123456789012345678901234567890');
  });
});

describe('isValidVersion', () => {
  it('accepts real Debian versions', () => {
    const versions = ['1.0', '2.36-9+deb12u4', '1:2.38.1-5+deb12u3', '3.0.11-1~deb12u2', '20230311+deb12u1', '1.2-rc-3', '0', '2:1.0~rc1+dfsg-1'];
    for (const v of versions) assert.ok(isValidVersion(v), v);
  });

  it('rejects what policy forbids', () => {
    for (const v of ['', 'a1.0', '1.0-', '-1', 'x:1.0', ':1.0', '1.0_1', '1 .0', ' 1.0', '1.0-1_2', '1:a']) {
      assert.equal(isValidVersion(v), false, JSON.stringify(v));
    }
  });
});

describe('compareVersions: policy examples', () => {
  it('sorts a tilde before everything, even the end of the string', () => {
    assertLess('1.0~rc1', '1.0');
    assertLess('1.0~~', '1.0~~a');
    assertLess('1.0~~a', '1.0~');
    assertLess('1.0~', '1.0');
    assertLess('1.0', '1.0a');
  });

  it('lets the epoch dominate', () => {
    assertLess('2.0', '1:0.1');
    assertLess('1:9.9', '2:0.1');
    assertSame('0:1.0', '1.0');
  });

  it('compares revisions, digits numerically', () => {
    assertLess('1.0-1', '1.0-1ubuntu1');
    assertLess('2.30-3', '2.30-10');
    assertLess('1.0-1', '1.0-2');
    assertLess('1.9', '1.10');
  });

  it('sorts letters before non-letters', () => {
    assertLess('1.0a', '1.0+');
    assertLess('1.0z', '1.0.');
    assertLess('1.0Z', '1.0a');
    assertLess('1.0+', '1.0.');
  });

  it('ignores leading zeros and treats a missing revision like 0', () => {
    assertSame('1.0', '1.00');
    assertSame('1.01', '1.1');
    assertSame('1.0', '1.0-0');
  });

  it('handles digit runs longer than a Number can hold', () => {
    assertLess('1.99999999999999999999', '1.100000000000000000000');
    assertLess('1.18446744073709551615', '1.18446744073709551616');
    assertLess('99999999999999999999:1', '100000000000000000000:0');
  });
});

describe('compareVersions: real Debian versions', () => {
  const ordered: Array<[string, string]> = [
    ['2.36-9+deb12u4', '2.36-9+deb12u10'],
    ['3.0.11-1~deb12u2', '3.0.11-1'],
    ['3.0.11-1', '3.0.15-1~deb12u1'],
    ['2.38.1-5+deb12u3', '1:2.38.1-5+deb12u3'],
    ['1:2.38.1-5+deb12u2', '1:2.38.1-5+deb12u3'],
    ['20230311', '20230311+deb12u1'],
    ['12.4+deb12u5', '12.4+deb12u15'],
    ['252.30-1~deb12u2', '252.33-1~deb12u1'],
    ['3.11.2-1', '3.11.2-1+b1'],
    ['3.11.2-6', '3.11.2-6+deb12u5'],
    ['1:1.2.13.dfsg-1', '1:1.3.dfsg-3'],
    ['7.88.1-10+deb12u8', '7.88.1-10+deb12u12'],
    ['2.2.1-1', '2.2.1+dfsg-1'],
    ['1.35.0-4', '1:1.35.0-4'],
    ['0.0~git20230101-1', '0.0.1-1'],
    ['5.2.15-2', '5.2.15-2+b7'],
    ['72.1-3', '72.1-3+deb12u1'],
  ];
  for (const [older, newer] of ordered) {
    it(`${older} < ${newer}`, () => assertLess(older, newer));
  }
});

// ---- property tests -------------------------------------------------------

/**
 * An independent model of the ordering, built differently on purpose: split
 * into [non-digit, digit] pairs, compare non-digit parts through a padded
 * weight list and digit parts as BigInt.
 */
function modelCompareFragment(a: string, b: string): number {
  const split = (s: string): Array<[string, bigint]> => {
    const parts: Array<[string, bigint]> = [];
    for (const m of s.matchAll(/([^0-9]*)([0-9]*)/g)) {
      if (m[0] === '') continue;
      parts.push([m[1]!, BigInt(m[2] === '' ? '0' : m[2]!)]);
    }
    return parts;
  };
  const weights = (s: string): number[] =>
    [...s].map((c) => (c === '~' ? -1 : /[A-Za-z]/.test(c) ? c.charCodeAt(0) : c.charCodeAt(0) + 256));
  const pa = split(a);
  const pb = split(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const [sa, na] = pa[i] ?? ['', 0n];
    const [sb, nb] = pb[i] ?? ['', 0n];
    const wa = weights(sa);
    const wb = weights(sb);
    for (let k = 0; k < Math.max(wa.length, wb.length); k++) {
      const x = wa[k] ?? 0;
      const y = wb[k] ?? 0;
      if (x !== y) return Math.sign(x - y);
    }
    if (na !== nb) return na < nb ? -1 : 1;
  }
  return 0;
}

function modelCompare(a: string, b: string): number {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  const ea = BigInt(va.epoch);
  const eb = BigInt(vb.epoch);
  if (ea !== eb) return ea < eb ? -1 : 1;
  return modelCompareFragment(va.upstream, vb.upstream) || modelCompareFragment(va.revision, vb.revision);
}

// Few distinct characters so generated versions collide and tie often.
const unit = fc.constantFrom('0', '1', '2', '9', '10', '99999999999999999999', 'a', 'b', 'Z', '.', '+', '~');
const leadingDigit = fc.constantFrom('0', '1', '2', '10', '18446744073709551616');
const versionArb: fc.Arbitrary<string> = fc
  .record({
    epoch: fc.option(fc.constantFrom('0', '1', '2', '00', '36893488147419103232'), { nil: undefined }),
    upstream: fc.tuple(leadingDigit, fc.string({ unit, maxLength: 5 })),
    upstreamHyphen: fc.boolean(),
    revision: fc.option(fc.string({ unit, minLength: 1, maxLength: 4 }), { nil: undefined }),
  })
  .map(({ epoch, upstream, upstreamHyphen, revision }) => {
    let v = upstream.join('');
    if (revision !== undefined && upstreamHyphen) v += '-1';
    if (revision !== undefined) v += `-${revision}`;
    return epoch === undefined ? v : `${epoch}:${v}`;
  });

const RUNS = { numRuns: 10000 };

describe('compareVersions: properties', () => {
  it('generates valid versions', () => {
    fc.assert(fc.property(versionArb, (v) => isValidVersion(v)), { numRuns: 1000 });
  });

  it('is reflexive, also across an explicit zero epoch', () => {
    fc.assert(
      fc.property(versionArb, (v) => {
        assert.equal(compareVersions(v, v), 0);
        if (!v.includes(':')) assert.equal(compareVersions(v, `0:${v}`), 0);
      }),
      RUNS,
    );
  });

  it('is antisymmetric', () => {
    fc.assert(
      fc.property(versionArb, versionArb, (a, b) => {
        assert.equal(compareVersions(a, b), -compareVersions(b, a) || 0);
      }),
      RUNS,
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(versionArb, versionArb, versionArb, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(compareVersions) as [string, string, string];
        assert.ok(compareVersions(x, y) <= 0 && compareVersions(y, z) <= 0);
        assert.ok(compareVersions(x, z) <= 0, `${x} <= ${z}`);
        if (compareVersions(x, y) === 0 && compareVersions(y, z) === 0) assert.equal(compareVersions(x, z), 0);
      }),
      RUNS,
    );
  });

  it('agrees with an independent model', () => {
    fc.assert(
      fc.property(versionArb, versionArb, (a, b) => {
        assert.equal(compareVersions(a, b), modelCompare(a, b), `${a} vs ${b}`);
      }),
      RUNS,
    );
  });

  it('is consistent with sort: every earlier element is <= every later one', () => {
    fc.assert(
      fc.property(fc.array(versionArb, { maxLength: 12 }), (versions) => {
        const sorted = [...versions].sort(compareVersions);
        for (let i = 0; i < sorted.length; i++) {
          for (let j = i + 1; j < sorted.length; j++) assert.ok(compareVersions(sorted[i]!, sorted[j]!) <= 0);
        }
        // Sorting an already sorted list by the model keeps it ordered the same way.
        const bySorted = [...sorted].sort(modelCompare);
        for (let i = 0; i < sorted.length; i++) assert.equal(compareVersions(sorted[i]!, bySorted[i]!), 0);
      }),
      RUNS,
    );
  });
});
