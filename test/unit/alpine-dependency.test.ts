/** apk dependency atoms: parsing every operator form, provides, and version matching. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDependency, parseDependency, parseDependencyList, parseProvides, versionMatches } from '../../src/distro/alpine/dependency.js';
import { isBaseimgError } from '../../src/util/errors.js';

const dep = (atom: string) => parseDependency(atom, 'test');

describe('parseDependency', () => {
  const cases: Array<[string, string, string | undefined, string | undefined, boolean]> = [
    ['busybox', 'busybox', undefined, undefined, false],
    ['so:libc.musl-x86_64.so.1', 'so:libc.musl-x86_64.so.1', undefined, undefined, false],
    ['/bin/sh', '/bin/sh', undefined, undefined, false],
    ['cmd:sh', 'cmd:sh', undefined, undefined, false],
    ['pc:zlib>=1.2', 'pc:zlib', '>=', '1.2', false],
    ['busybox=1.35.0-r17', 'busybox', '=', '1.35.0-r17', false],
    ['openrc>=0.24.1-r6', 'openrc', '>=', '0.24.1-r6', false],
    ['musl<=1.2.3', 'musl', '<=', '1.2.3', false],
    ['musl<1.3', 'musl', '<', '1.3', false],
    ['musl>1.2', 'musl', '>', '1.2', false],
    ['musl~1.2', 'musl', '~', '1.2', false],
    ['musl=~1.2', 'musl', '~', '1.2', false],
    ['musl~=1.2', 'musl', '~', '1.2', false],
    ['musl<~1.2', 'musl', '<~', '1.2', false],
    ['musl>~1.2', 'musl', '>~', '1.2', false],
    ['musl><Q1urwXkgPPIcs5UMkvCSYuNQIDTDo=', 'musl', '><', 'Q1urwXkgPPIcs5UMkvCSYuNQIDTDo=', false],
    ['!vlan', 'vlan', undefined, undefined, true],
    ['!busybox<1.0', 'busybox', '<', '1.0', true],
    ['pc:librtmp=v2.4', 'pc:librtmp', '=', 'v2.4', false],
  ];
  for (const [atom, name, op, version, conflict] of cases) {
    it(atom, () => {
      assert.deepEqual(dep(atom), { name, op, version, conflict });
      assert.equal(formatDependency(dep(atom)).replace('=~', '~').replace('~=', '~'), atom.replace('=~', '~').replace('~=', '~'));
    });
  }

  for (const bad of ['', '>=1.0', 'foo>=', 'foo<>=1', 'foo><1.0', 'foo@testing', '!']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => dep(bad), (e: unknown) => isBaseimgError(e) && e.code === 'RESOLVE' && /test: invalid dependency/.test(e.message));
    });
  }

  it('lists are space separated; empty and missing give []', () => {
    assert.deepEqual(parseDependencyList('a  b>=1\tc', 'x').map((d) => d.name), ['a', 'b', 'c']);
    assert.deepEqual(parseDependencyList('', 'x'), []);
    assert.deepEqual(parseDependencyList(undefined, 'x'), []);
  });

  it('provides are names with or without a version', () => {
    assert.deepEqual(parseProvides('/bin/sh cmd:sh=1.37.0-r20', 'x'), [
      { name: '/bin/sh', version: undefined },
      { name: 'cmd:sh', version: '1.37.0-r20' },
    ]);
    assert.throws(() => parseProvides('foo>=1', 'p: of x'), /p: of x: invalid provides entry "foo>=1"/);
  });
});

describe('versionMatches', () => {
  const m = (atom: string, version: string | undefined, checksum?: string) => versionMatches(dep(atom), version, checksum);
  it('each operator', () => {
    assert.equal(m('a', '1.0'), true);
    assert.equal(m('a=1.0-r0', '1.0-r0'), true);
    assert.equal(m('a=1.0-r0', '1.0-r1'), false);
    assert.equal(m('a>=1.0', '1.0'), true);
    assert.equal(m('a>=1.0', '0.9'), false);
    assert.equal(m('a>1.0', '1.0'), false);
    assert.equal(m('a>1.0', '1.0-r1'), true);
    assert.equal(m('a<1.0', '1.0_rc1'), true);
    assert.equal(m('a<=1.0', '1.0'), true);
    assert.equal(m('a<=1.0', '1.0.1'), false);
  });
  it('"~" matches a version by prefix, token by token', () => {
    assert.equal(m('a~1.2', '1.2.7-r3'), true);
    assert.equal(m('a~1.2', '1.20'), false);
    assert.equal(m('a<~1.2', '1.1'), true);
    assert.equal(m('a<~1.2', '1.2.9'), true);
    assert.equal(m('a<~1.2', '1.3'), false);
    assert.equal(m('a>~1.2', '1.2.0'), true);
    assert.equal(m('a>~1.2', '1.1.9'), false);
  });
  it('"><" matches the package identity, not a version', () => {
    const c = 'Q1urwXkgPPIcs5UMkvCSYuNQIDTDo=';
    assert.equal(m(`a><${c}`, '1.0', c), true);
    assert.equal(m(`a><${c}`, '1.0', 'Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc='), false);
    assert.equal(m(`a><${c}`, '1.0'), false);
  });
  it('a provides without a version meets any constraint, as in apk', () => {
    assert.equal(m('a>=9', undefined), true);
  });
});
