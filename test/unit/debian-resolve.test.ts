import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter } from 'node:path';
import fc from 'fast-check';
import { BaseimgError } from '../../src/util/errors.js';
import type { DebPackage } from '../../src/distro/debian/types.js';
import {
  formatGroup,
  parseProvides,
  parseRelations,
  satisfiesRelation,
} from '../../src/distro/debian/relations.js';
import { resolveDebian, type DebianResolution } from '../../src/distro/debian/resolve.js';

const BASE = 'https://archive.example/debian';
const SUITES = ['bookworm', 'bookworm-updates', 'bookworm-security'];

/** One index paragraph; `fields` are extra control fields (Depends, Provides, ...). */
function deb(
  name: string,
  version: string,
  fields: Record<string, string> = {},
  where: { suite?: string; architecture?: string } = {},
): DebPackage {
  const architecture = where.architecture ?? 'amd64';
  const suite = where.suite ?? 'bookworm';
  const filename = `pool/main/${name[0]}/${name}/${name}_${version.replace(/^[0-9]+:/, '')}_${architecture}.deb`;
  return {
    name,
    version,
    architecture,
    filename,
    size: 1000 + name.length,
    sha256: createHash('sha256').update(`${suite}/${filename}`).digest('hex'),
    fields: { Package: name, Version: version, Architecture: architecture, ...fields },
    suite,
    component: 'main',
    baseUrl: suite.endsWith('-security') ? `${BASE}-security` : BASE,
  };
}

function resolve(packages: DebPackage[], include: string[], exclude: string[] = []): DebianResolution {
  return resolveDebian({ packages, include, exclude, arch: 'amd64', suites: SUITES });
}

const names = (r: DebianResolution): string[] => r.packages.map((p) => p.name);
const get = (r: DebianResolution, name: string) => {
  const found = r.packages.find((p) => p.name === name);
  assert.ok(found, `${name} resolved`);
  return found;
};

/** Assert a RESOLVE error with exactly this message and a hint matching `hint`. */
function assertResolveError(fn: () => unknown, message: string, hint: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BaseimgError, String(e));
    assert.equal(e.code, 'RESOLVE');
    assert.equal(e.message, message);
    assert.match(e.hint ?? '', hint);
    return true;
  });
}

describe('relations', () => {
  it('parses AND of OR-groups with versions and qualifiers', () => {
    assert.deepEqual(parseRelations('libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, python3:any'), [
      [{ name: 'libc6', op: '>=', version: '2.34' }],
      [{ name: 'debconf', op: '>=', version: '0.5' }, { name: 'debconf-2.0' }],
      [{ name: 'python3', archQualifier: 'any' }],
    ]);
  });

  it('tolerates folded lines, odd spacing, obsolete operators and restrictions', () => {
    const folded = ' foo(<<1:2.0~rc1) ,\n bar:native ( < 3 ) [amd64 !arm64] <!nocheck> |baz (> 1),\n qux (= 1) <stage1> <!cross>,';
    assert.deepEqual(parseRelations(folded), [
      [{ name: 'foo', op: '<<', version: '1:2.0~rc1' }],
      [
        { name: 'bar', archQualifier: 'native', op: '<=', version: '3' },
        { name: 'baz', op: '>=', version: '1' },
      ],
      [{ name: 'qux', op: '=', version: '1' }],
    ]);
    assert.deepEqual(parseRelations(undefined), []);
    assert.deepEqual(parseRelations('  '), []);
  });

  it('parses Provides with versions', () => {
    assert.deepEqual(parseProvides('libgcc1 (= 1:12.2.0-14), awk'), [
      { name: 'libgcc1', op: '=', version: '1:12.2.0-14' },
      { name: 'awk' },
    ]);
  });

  it('rejects malformed entries with a RESOLVE error that quotes them', () => {
    assert.throws(
      () => parseRelations('foo (>= )'),
      (e: unknown) => e instanceof BaseimgError && e.code === 'RESOLVE' && e.message.includes('"foo (>= )"'),
    );
    assert.throws(() => parseRelations('foo bar'), BaseimgError);
    assert.throws(() => parseRelations('a, | b'), BaseimgError);
  });

  it('checks versions against every operator', () => {
    const rel = (op: '<<' | '<=' | '=' | '>=' | '>>') => ({ name: 'x', op, version: '1.0-1' });
    assert.equal(satisfiesRelation('1.0-1', rel('=')), true);
    assert.equal(satisfiesRelation('1.0-1+b1', rel('=')), false);
    assert.equal(satisfiesRelation('1.0-1~deb12u1', rel('<<')), true);
    assert.equal(satisfiesRelation('1.0-1', rel('<<')), false);
    assert.equal(satisfiesRelation('1.0-1', rel('<=')), true);
    assert.equal(satisfiesRelation('1.0-1', rel('>=')), true);
    assert.equal(satisfiesRelation('1.0-1', rel('>>')), false);
    assert.equal(satisfiesRelation('1:0.1', rel('>>')), true);
    assert.equal(satisfiesRelation('0.1', { name: 'x' }), true);
  });

  it('formats groups back for messages', () => {
    assert.equal(formatGroup(parseRelations('a:any (>=1) | b')[0]!), 'a:any (>= 1) | b');
  });
});

describe('resolveDebian: closure and order', () => {
  const index = [
    deb('app', '1.0-1', {
      Depends: 'libfoo (>= 1.0), tzdata',
      'Pre-Depends': 'libbar',
      Recommends: 'extra',
      'Installed-Size': '12',
      Source: 'app-src (0.9-1)',
      Maintainer: 'A <a@example.org>',
    }),
    deb('libfoo', '1.2-1', { Depends: 'libbar', Source: 'foo' }),
    deb('libbar', '2.0-1'),
    deb('tzdata', '2024a-0+deb12u1', {}, { architecture: 'all' }),
    deb('extra', '1'),
    deb('unrelated', '1', { Depends: 'missing-thing' }),
  ];

  it('follows Pre-Depends and Depends but not Recommends, dependencies first', () => {
    const r = resolve(index, ['app']);
    assert.deepEqual(names(r), ['libbar', 'libfoo', 'tzdata', 'app']);
    assert.deepEqual(r.dropped, []);
  });

  it('describes each package', () => {
    const r = resolve(index, ['app']);
    const app = get(r, 'app');
    assert.equal(app.reason, 'requested');
    assert.deepEqual(app.dependsOn, ['libbar', 'libfoo', 'tzdata']);
    assert.equal(app.url, `${BASE}/pool/main/a/app/app_1.0-1_amd64.deb`);
    assert.equal(app.installedSize, 12 * 1024);
    assert.deepEqual(app.source, { name: 'app-src', version: '0.9-1' });
    assert.equal(app.maintainer, 'A <a@example.org>');
    assert.equal(app.repository, 'bookworm');
    assert.equal(app.fields.Recommends, 'extra');
    assert.deepEqual(get(r, 'libfoo').source, { name: 'foo', version: '1.2-1' });
    assert.deepEqual(get(r, 'libbar').source, { name: 'libbar', version: '2.0-1' });
    assert.equal(get(r, 'libbar').installedSize, undefined);
    assert.equal(get(r, 'tzdata').architecture, 'all');
  });

  it('gives the shortest chain as the reason', () => {
    const r = resolve(index, ['app']);
    assert.equal(get(r, 'libbar').reason, 'app → libbar');
    assert.equal(get(r, 'libfoo').reason, 'app → libfoo');
    const deep = resolve([deb('a', '1', { Depends: 'b' }), deb('b', '1', { Depends: 'c' }), deb('c', '1')], ['a']);
    assert.equal(get(deep, 'c').reason, 'a → b → c');
  });

  it('breaks the libc6 <-> libgcc-s1 cycle deterministically, after what the cycle needs', () => {
    const packages = [
      deb('base-files', '12.4+deb12u5', { 'Pre-Depends': 'awk' }),
      deb('mawk', '1.3.4.20200120-3.1', { Provides: 'awk', Depends: 'libc6 (>= 2.29)', Priority: 'required' }),
      deb('libc6', '2.36-9+deb12u4', { Depends: 'libgcc-s1' }),
      deb('libgcc-s1', '12.2.0-14', { Depends: 'gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)' }),
      deb('gcc-12-base', '12.2.0-14'),
    ];
    const r = resolve(packages, ['base-files']);
    assert.deepEqual(names(r), ['gcc-12-base', 'libgcc-s1', 'libc6', 'mawk', 'base-files']);
    assert.equal(get(r, 'libgcc-s1').reason, 'base-files → mawk → libc6 → libgcc-s1');
  });

  it('places what a cycle needs before the cycle, and the cycle before its dependents', () => {
    const packages = [
      deb('top', '1', { Depends: 'c1' }),
      deb('c1', '1', { Depends: 'c2' }),
      deb('c2', '1', { 'Pre-Depends': 'c3' }),
      deb('c3', '1', { Depends: 'c1, zlib' }),
      deb('zlib', '1', { Depends: 'inner1' }),
      deb('inner1', '1', { Depends: 'inner2' }),
      deb('inner2', '1', { Depends: 'inner1' }),
    ];
    const r = resolve(packages, ['top']);
    // inner2 waits only on inner1, which waits back on it: that cycle breaks there.
    assert.deepEqual(names(r), ['inner2', 'inner1', 'zlib', 'c3', 'c2', 'c1', 'top']);
  });

  it('ignores packages of other architectures', () => {
    const r = resolve([deb('x', '1', { Depends: 'y' }), deb('y', '2', {}, { architecture: 'arm64' }), deb('y', '1')], ['x']);
    assert.equal(get(r, 'y').version, '1');
  });
});

describe('resolveDebian: choosing among candidates', () => {
  it('lets the newest version win across suites', () => {
    const packages = [
      deb('libssl3', '3.0.11-1~deb12u2'),
      deb('libssl3', '3.0.15-1~deb12u1', {}, { suite: 'bookworm-security' }),
    ];
    const ssl = get(resolve(packages, ['libssl3']), 'libssl3');
    assert.equal(ssl.version, '3.0.15-1~deb12u1');
    assert.equal(ssl.repository, 'bookworm-security');
    assert.equal(ssl.url, `${BASE}-security/pool/main/l/libssl3/libssl3_3.0.15-1~deb12u1_amd64.deb`);
  });

  it('breaks equal versions by suite order, not index order', () => {
    const a = deb('tzdata', '2024a-0+deb12u1', {}, { suite: 'bookworm-updates' });
    const b = deb('tzdata', '2024a-0+deb12u1', {}, { suite: 'bookworm' });
    assert.equal(get(resolve([a, b], ['tzdata']), 'tzdata').repository, 'bookworm');
    assert.equal(get(resolve([b, a], ['tzdata']), 'tzdata').repository, 'bookworm');
  });

  it('pins a requested version', () => {
    const packages = [deb('libssl3', '3.0.11-1~deb12u2'), deb('libssl3', '3.0.15-1~deb12u1', {}, { suite: 'bookworm-security' })];
    assert.equal(get(resolve(packages, ['libssl3=3.0.11-1~deb12u2']), 'libssl3').version, '3.0.11-1~deb12u2');
    assertResolveError(
      () => resolve(packages, ['libssl3=3.0.9-1']),
      'version "3.0.9-1" of "libssl3" in packages.include not found (available: 3.0.15-1~deb12u1, 3.0.11-1~deb12u2)',
      /pin one of the available versions/,
    );
  });

  it('picks the highest version that satisfies a versioned relation', () => {
    const packages = [deb('x', '1', { Depends: 'libfoo (<< 2)' }), deb('libfoo', '1.0'), deb('libfoo', '1.5'), deb('libfoo', '2')];
    assert.equal(get(resolve(packages, ['x']), 'libfoo').version, '1.5');
  });

  it('takes OR-groups left to right, preferring what is already selected', () => {
    const packages = [deb('x', '1', { Depends: 'nowhere | b | c' }), deb('b', '1'), deb('c', '1')];
    assert.deepEqual(names(resolve(packages, ['x'])), ['b', 'x']);
    const both = resolve(packages, ['x', 'c']);
    assert.deepEqual(names(both), ['c', 'x']);
    assert.deepEqual(get(both, 'x').dependsOn, ['c']);
  });

  it('skips an alternative whose versions do not fit', () => {
    const packages = [deb('x', '1', { Depends: 'b (>= 2) | c' }), deb('b', '1'), deb('c', '1')];
    assert.deepEqual(names(resolve(packages, ['x'])), ['c', 'x']);
  });

  it('satisfies a virtual package by its only provider', () => {
    const packages = [deb('x', '1', { Depends: 'awk' }), deb('mawk', '1.3', { Provides: 'awk' })];
    const r = resolve(packages, ['x']);
    assert.deepEqual(names(r), ['mawk', 'x']);
    assert.equal(get(r, 'mawk').reason, 'x → mawk (provides awk)');
    assert.deepEqual(get(r, 'x').dependsOn, ['mawk']);
  });

  it('chooses among providers by priority, then name, and says so', () => {
    const packages = [
      deb('x', '1', { Depends: 'awk' }),
      deb('original-awk', '1', { Provides: 'awk', Priority: 'optional' }),
      deb('mawk', '1.3', { Provides: 'awk', Priority: 'required' }),
      deb('gawk', '5.2', { Provides: 'awk', Priority: 'optional' }),
    ];
    assert.equal(get(resolve(packages, ['x']), 'mawk').reason, 'x → mawk (provides awk; other providers: gawk, original-awk)');
    const samePriority = packages.filter((p) => p.name !== 'mawk');
    assert.deepEqual(names(resolve(samePriority, ['x'])), ['gawk', 'x']);
  });

  it('prefers a provider that is already selected', () => {
    const packages = [
      deb('x', '1', { Depends: 'awk' }),
      deb('mawk', '1.3', { Provides: 'awk', Priority: 'required' }),
      deb('gawk', '5.2', { Provides: 'awk', Priority: 'optional' }),
    ];
    assert.deepEqual(names(resolve(packages, ['x', 'gawk'])), ['gawk', 'x']);
  });

  it('prefers the real package over providers', () => {
    const packages = [deb('x', '1', { Depends: 'foo' }), deb('foo', '1'), deb('afoo', '1', { Provides: 'foo', Priority: 'required' })];
    assert.deepEqual(names(resolve(packages, ['x'])), ['foo', 'x']);
  });

  it('uses versioned provides for versioned relations only', () => {
    const packages = [
      deb('x', '1', { Depends: 'libgcc1 (>= 1:4.2)' }),
      deb('aaa-fake', '1', { Provides: 'libgcc1', Priority: 'required' }),
      deb('libgcc-s1', '12.2.0-14', { Provides: 'libgcc1 (= 1:12.2.0-14)' }),
    ];
    assert.deepEqual(names(resolve(packages, ['x'])), ['libgcc-s1', 'x']);
    const tooOld = [deb('x', '1', { Depends: 'libgcc1 (>= 1:20)' }), ...packages.slice(1)];
    assertResolveError(
      () => resolve(tooOld, ['x']),
      'x → libgcc1 (>= 1:20): only provided as aaa-fake, libgcc-s1 (= 1:12.2.0-14)',
      /add a suite/,
    );
  });

  it('accepts a requested virtual package with one provider', () => {
    const r = resolve([deb('mawk', '1.3', { Provides: 'awk' })], ['awk']);
    assert.equal(get(r, 'mawk').reason, 'requested (as awk)');
  });
});

describe('resolveDebian: exclude', () => {
  const packages = [
    deb('x', '1', { Depends: 'debconf (>= 0.5) | debconf-2.0, libc6' }),
    deb('debconf', '1.5.82', { Provides: 'debconf-2.0' }),
    deb('cdebconf', '0.270', { Provides: 'debconf-2.0' }),
    deb('libc6', '2.36-9'),
  ];

  it('skips excluded alternatives', () => {
    assert.deepEqual(names(resolve(packages, ['x'], ['debconf'])), ['cdebconf', 'libc6', 'x']);
  });

  it('drops a dependency whose alternatives are all excluded, and records it', () => {
    const r = resolve(packages, ['x'], ['debconf', 'cdebconf']);
    assert.deepEqual(names(r), ['libc6', 'x']);
    assert.deepEqual(r.dropped, [
      {
        from: 'x',
        relation: 'debconf (>= 0.5) | debconf-2.0',
        why: 'debconf (>= 0.5): debconf is excluded; debconf-2.0: provided only by excluded packages (cdebconf, debconf)',
      },
    ]);
    assert.deepEqual(get(r, 'x').dependsOn, ['libc6']);
  });

  it('refuses to exclude a requested package', () => {
    assertResolveError(
      () => resolve(packages, ['x', 'libc6'], ['libc6']),
      'package "libc6" is both in packages.include and in packages.exclude',
      /remove it from one/,
    );
  });
});

describe('resolveDebian: errors', () => {
  const packages = [
    deb('libssl3', '3.0.11-1'),
    deb('python3', '3.11.2-1', { Depends: 'libpython3.11-stdlib' }),
    deb('libpython3.11-stdlib', '3.11.2-6', { Depends: 'libffi8 (>= 3.4)' }),
    deb('armonly', '1', {}, { architecture: 'arm64' }),
  ];

  it('reports an unknown requested package with suggestions', () => {
    assertResolveError(
      () => resolve(packages, ['libssl']),
      'unknown package "libssl" in packages.include (did you mean "libssl3"?)',
      /check the name/,
    );
  });

  it('says when a requested package exists only for another architecture', () => {
    assertResolveError(
      () => resolve(packages, ['armonly']),
      'package "armonly" in packages.include is not available for amd64 (only arm64)',
      /architecture/,
    );
  });

  it('reports the chain to a missing dependency', () => {
    assertResolveError(
      () => resolve(packages, ['python3']),
      'python3 → libpython3.11-stdlib → libffi8 (>= 3.4): not found',
      /packages\.exclude.*name=version.*suite/,
    );
  });

  it('says when a dependency exists only for another architecture', () => {
    assertResolveError(
      () => resolve([deb('x', '1', { Depends: 'armonly' }), ...packages], ['x']),
      'x → armonly: not available for amd64 (only arm64)',
      /exclude/,
    );
  });

  it('reports which versions exist when none fits', () => {
    assertResolveError(
      () => resolve([...packages, deb('libffi8', '3.2-1'), deb('libffi8', '3.1-1')], ['python3']),
      'python3 → libpython3.11-stdlib → libffi8 (>= 3.4): only 3.2-1, 3.1-1 available',
      /add a suite/,
    );
  });

  it('reports a conflicting version that is already selected', () => {
    const withFfi = [...packages, deb('libffi8', '3.2'), deb('libffi8', '3.4.4-1')];
    assertResolveError(
      () => resolve(withFfi, ['python3', 'libffi8=3.2']),
      'python3 → libpython3.11-stdlib → libffi8 (>= 3.4): libffi8 3.2 already selected',
      /pin/,
    );
  });

  it('explains each failed alternative', () => {
    const p = [deb('x', '1', { Depends: 'a (>= 2) | b' }), deb('a', '1')];
    assertResolveError(() => resolve(p, ['x']), 'x → a (>= 2) | b: a (>= 2): only 1 available; b: not found', /exclude/);
  });

  it('rejects Conflicts between selected packages', () => {
    const p = [deb('a', '1', { Conflicts: 'b' }), deb('b', '2')];
    assertResolveError(
      () => resolve(p, ['a', 'b']),
      'a 1 and b 2 cannot be installed together (a has "Conflicts: b"; a: requested; b: requested)',
      /exclude one of them/,
    );
  });

  it('rejects Breaks only when the version matches', () => {
    const broken = [deb('a', '1', { Depends: 'b', Breaks: 'b (<< 2)' }), deb('b', '1.5')];
    assertResolveError(
      () => resolve(broken, ['a']),
      'a 1 and b 1.5 cannot be installed together (a has "Breaks: b (<< 2)"; a: requested; b: a → b)',
      /pin versions/,
    );
    assert.deepEqual(names(resolve([broken[0]!, deb('b', '2')], ['a'])), ['b', 'a']);
  });

  it('does not count a package conflicting with a virtual name it provides itself', () => {
    const p = [deb('exim4', '4.96', { Provides: 'mail-transport-agent', Conflicts: 'mail-transport-agent' })];
    assert.deepEqual(names(resolve(p, ['exim4'])), ['exim4']);
    const two = [...p, deb('postfix', '3.7', { Provides: 'mail-transport-agent', Conflicts: 'mail-transport-agent' })];
    assert.throws(() => resolve(two, ['exim4', 'postfix']), /exim4 4\.96 and postfix 3\.7 cannot be installed together/);
  });

  it('asks which provider to use for a requested virtual package with several', () => {
    const p = [deb('mawk', '1', { Provides: 'awk' }), deb('gawk', '1', { Provides: 'awk' })];
    const message = '"awk" in packages.include is a virtual package provided by gawk, mawk';
    assertResolveError(() => resolve(p, ['awk']), message, /include one of them/);
  });
});

describe('resolveDebian: determinism', () => {
  const CA_DEPENDS = 'openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0';
  const packages = [
    deb('base-files', '12.4+deb12u5', { 'Pre-Depends': 'awk', Depends: 'debconf | debconf-2.0' }),
    deb('base-files', '12.4+deb12u6', { 'Pre-Depends': 'awk', Depends: 'debconf | debconf-2.0' }, { suite: 'bookworm-updates' }),
    deb('mawk', '1.3.4', { Provides: 'awk', Depends: 'libc6 (>= 2.29)', Priority: 'required' }),
    deb('gawk', '5.2.1', { Provides: 'awk', Depends: 'libc6', Priority: 'optional' }),
    deb('debconf', '1.5.82', { Provides: 'debconf-2.0', Priority: 'required' }, { architecture: 'all' }),
    deb('cdebconf', '0.270', { Provides: 'debconf-2.0', Depends: 'libc6' }),
    deb('libc6', '2.36-9+deb12u4', { Depends: 'libgcc-s1' }),
    deb('libc6', '2.36-9+deb12u10', { Depends: 'libgcc-s1' }, { suite: 'bookworm-security' }),
    deb('libc6', '2.36-9+deb12u10', { Depends: 'libgcc-s1' }, { suite: 'bookworm-updates' }),
    deb('libgcc-s1', '12.2.0-14', { Depends: 'gcc-12-base, libc6 (>= 2.35)', Provides: 'libgcc1 (= 1:12.2.0-14)' }),
    deb('gcc-12-base', '12.2.0-14'),
    deb('ca-certificates', '20230311', { Depends: CA_DEPENDS }, { architecture: 'all' }),
    deb('ca-certificates', '20230311+deb12u1', { Depends: CA_DEPENDS }, { architecture: 'all', suite: 'bookworm-updates' }),
    deb('openssl', '3.0.15-1~deb12u1', { Depends: 'libc6, libssl3 (>= 3.0.9)' }),
    deb('libssl3', '3.0.15-1~deb12u1', { Depends: 'libc6 (>= 2.34)' }),
  ];
  const include = ['ca-certificates', 'base-files'];

  it('gives the same result whatever the order of the index', () => {
    const expected = resolve(packages, include, ['cdebconf']);
    assert.deepEqual(names(expected), [
      'debconf', 'gcc-12-base', 'libgcc-s1', 'libc6', 'libssl3', 'mawk', 'base-files', 'openssl', 'ca-certificates',
    ]);
    assert.equal(get(expected, 'libc6').repository, 'bookworm-updates');
    fc.assert(
      fc.property(fc.shuffledSubarray(packages, { minLength: packages.length }), (shuffled) => {
        assert.deepEqual(resolve(shuffled, include, ['cdebconf']), expected);
        assert.deepEqual(resolve(shuffled, [...include].reverse(), ['cdebconf']), expected);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- optional: a real Packages index -------------------------------------

/** Minimal Packages parser for this test only (the real one lives elsewhere). */
function readPackagesFile(path: string, suite: string): DebPackage[] {
  const result: DebPackage[] = [];
  for (const paragraph of readFileSync(path, 'utf8').split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let key = '';
    for (const line of paragraph.split('\n')) {
      if (/^\s/.test(line) && key !== '') fields[key] += `\n${line}`;
      else if (line.includes(':')) {
        key = line.slice(0, line.indexOf(':'));
        fields[key] = line.slice(line.indexOf(':') + 1).trim();
      }
    }
    if (fields.Package === undefined) continue;
    result.push({
      name: fields.Package,
      version: fields.Version!,
      architecture: fields.Architecture!,
      filename: fields.Filename!,
      size: Number(fields.Size),
      sha256: fields.SHA256!,
      fields,
      suite,
      component: 'main',
      baseUrl: BASE,
    });
  }
  return result;
}

describe('resolveDebian: real index (BASEIMG_TEST_PACKAGES)', () => {
  const files = (process.env.BASEIMG_TEST_PACKAGES ?? '').split(delimiter).filter((f) => f !== '');
  const skip =
    files.length === 0 || !files.every(existsSync)
      ? 'set BASEIMG_TEST_PACKAGES to a Packages file (or several, highest-priority suite first) to run this'
      : false;
  if (skip) console.log(`skipping the real-index resolver test: ${skip}`);

  it('closes over every Depends of a realistic selection', { skip }, () => {
    const suites = files.map((_, i) => `suite${i}`);
    const packages = files.flatMap((f, i) => readPackagesFile(f, suites[i]!));
    const include = ['base-files', 'python3', 'libssl3', 'ca-certificates', 'bash', 'coreutils', 'tzdata', 'curl', 'git'];
    const r = resolveDebian({ packages, include, exclude: [], arch: 'amd64', suites });
    const selected = new Map(r.packages.map((p) => [p.name, p]));
    const provided = new Map<string, Array<{ version?: string }>>();
    for (const p of r.packages) {
      for (const prov of parseProvides(p.fields.Provides)) {
        provided.set(prov.name, [...(provided.get(prov.name) ?? []), { version: prov.version }]);
      }
    }
    const position = new Map(r.packages.map((p, i) => [p.name, i]));
    for (const p of r.packages) {
      for (const group of [...parseRelations(p.fields['Pre-Depends']), ...parseRelations(p.fields.Depends)]) {
        const ok = group.some((rel) => {
          const real = selected.get(rel.name);
          if (real !== undefined && satisfiesRelation(real.version, rel)) return true;
          const provides = provided.get(rel.name) ?? [];
          return provides.some((v) => rel.op === undefined || (v.version !== undefined && satisfiesRelation(v.version, rel)));
        });
        const dropped = r.dropped.some((d) => d.from === p.name && d.relation === formatGroup(group));
        assert.ok(ok || dropped, `${p.name}: ${formatGroup(group)} unsatisfied`);
      }
      // Install order: a dependency may only come later when it depends back (a cycle).
      for (const dep of p.dependsOn) {
        if (position.get(dep)! > position.get(p.name)!) assert.ok(reaches(selected, dep, p.name), `${dep} before ${p.name}`);
      }
    }
    for (const name of include) assert.equal(selected.get(name)?.reason, 'requested');
    assert.ok(r.packages.length > 20);
  });
});

/** Does a chain of dependsOn edges lead from `from` to `to`? */
function reaches(selected: Map<string, { dependsOn: string[] }>, from: string, to: string): boolean {
  const seen = new Set<string>([from]);
  const queue = [from];
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (next === to) return true;
    for (const d of selected.get(next)?.dependsOn ?? []) if (!seen.has(d)) seen.add(d), queue.push(d);
  }
  return false;
}
