/**
 * The Alpine resolver: apk's rules on small made-up indexes (provides,
 * provider_priority, conflicts, install_if, exclusions, repository
 * preference, checksum pins), then the real Alpine v3.16 main index for
 * more than 20 requests: every D: of the closure met, one provider per
 * name, no conflicts, deterministic, and a few closures pinned.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { parseApkIndexText } from '../../src/distro/alpine/apkindex.js';
import { openApkIndex } from '../../src/distro/alpine/index-file.js';
import { parseKey } from '../../src/distro/alpine/keys.js';
import { packageFromEntry, type ApkPackage } from '../../src/distro/alpine/package.js';
import { resolveAlpine, type AlpineResolveInput } from '../../src/distro/alpine/resolve.js';
import { versionMatches, type ApkDependency } from '../../src/distro/alpine/dependency.js';
import { isBaseimgError } from '../../src/util/errors.js';
import { alpineFixturesMissing, fixture, fixtureKey } from '../helpers/alpine-repo.js';
import { fakeContext } from '../helpers/finalize-fixtures.js';

/** Packages from APKINDEX-style text ("C:" is made up when missing), in repository `repo`. */
function index(text: string, repo = 0): ApkPackage[] {
  let n = 0;
  const withChecksums = text
    .trim()
    .split(/\n\s*\n/)
    .map((entry) => entry.split('\n').map((l) => l.trim()).join('\n'))
    .map((entry) => (/^C:/m.test(entry) ? entry : `C:Q1${String(repo)}${String(++n).padStart(26, 'A')}=\n${entry}`))
    .map((entry) => (/^S:/m.test(entry) ? entry : `${entry}\nS:100`))
    .join('\n\n');
  const ref = { url: `http://127.0.0.1/repo${repo}`, index: repo, arch: 'x86_64' };
  return parseApkIndexText(withChecksums, `repo${repo}`).map((e) => packageFromEntry(e, ref, `repo${repo}`));
}

function resolve(packages: ApkPackage[], include: string[], extra: Partial<AlpineResolveInput> = {}) {
  return resolveAlpine({ packages, include, exclude: [], arch: 'x86_64', ...extra });
}

const names = (r: ReturnType<typeof resolve>): string[] => r.packages.map((p) => `${p.name}-${p.version}`).sort();
const resolveError = (pattern: RegExp) => (e: unknown): boolean => isBaseimgError(e) && e.code === 'RESOLVE' && pattern.test(e.message);

describe('resolveAlpine on made-up indexes', () => {
  const base = index(`
    P:musl
    V:1.2.3-r2
    p:so:libc.musl-x86_64.so.1=1

    P:app
    V:1.0-r0
    D:so:libc.musl-x86_64.so.1 so:libfoo.so.1 cmd:helper

    P:libfoo
    V:1.1-r0
    D:so:libc.musl-x86_64.so.1
    p:so:libfoo.so.1=1.1.0

    P:helpers
    V:2.0-r0
    p:cmd:helper=2.0-r0
  `);

  it('so: and cmd: names are met through versioned provides, with reasons and install order', () => {
    const r = resolve(base, ['app']);
    assert.deepEqual(r.packages.map((p) => p.name), ['helpers', 'musl', 'libfoo', 'app']);
    const reasons = Object.fromEntries(r.packages.map((p) => [p.name, p.reason]));
    assert.equal(reasons.app, 'requested');
    assert.equal(reasons.libfoo, 'app → libfoo (provides so:libfoo.so.1)');
    assert.equal(reasons.musl, 'app → musl (provides so:libc.musl-x86_64.so.1)');
    assert.deepEqual(r.packages.find((p) => p.name === 'app')!.dependsOn, ['helpers', 'libfoo', 'musl']);
    assert.deepEqual(r.world, ['app']);
  });

  it('a requested provided name names the package it chose', () => {
    const r = resolve(base, ['cmd:helper']);
    assert.equal(r.packages[0]!.reason, 'requested (as cmd:helper)');
  });

  it('the highest version wins over repositories; an equal version comes from the preferred one', () => {
    const packages = [...index('P:lib\nV:1.0-r0\n\nP:tool\nV:2.0-r0', 0), ...index('P:lib\nV:1.1-r0\n\nP:tool\nV:2.0-r0', 1)];
    const r = resolve(packages, ['lib', 'tool']);
    assert.deepEqual(names(r), ['lib-1.1-r0', 'tool-2.0-r0']);
    assert.equal(r.packages.find((p) => p.name === 'tool')!.repository, 'http://127.0.0.1/repo0');
  });

  it('version constraints choose the highest version that meets them', () => {
    const packages = index('P:lib\nV:1.9-r0\n\nP:lib\nV:2.0-r0\n\nP:app\nV:1\nD:lib<2');
    assert.deepEqual(names(resolve(packages, ['app'])), ['app-1', 'lib-1.9-r0']);
    assert.deepEqual(names(resolve(packages, ['lib~1'])), ['lib-1.9-r0']);
    assert.deepEqual(names(resolve(packages, ['lib>1.9'])), ['lib-2.0-r0']);
  });

  it('"><" pins a package by its identity checksum', () => {
    const packages = index('C:Q1aaaaaaaaaaaaaaaaaaaaaaaaaaa=\nP:lib\nV:1.0\n\nC:Q1bbbbbbbbbbbbbbbbbbbbbbbbbbb=\nP:lib\nV:2.0\n\nP:app\nV:1\nD:lib><Q1aaaaaaaaaaaaaaaaaaaaaaaaaaa=');
    assert.deepEqual(names(resolve(packages, ['app'])), ['app-1', 'lib-1.0']);
  });

  it('a versioned provides goes to the highest provided version', () => {
    const packages = index('P:a\nV:1\np:cmd:x=1\n\nP:b\nV:1\np:cmd:x=2\n\nP:app\nV:1\nD:cmd:x');
    assert.equal(resolve(packages, ['app']).packages.find((p) => p.name !== 'app')!.name, 'b');
  });

  it('unversioned provides need provider_priority (highest wins) when several offer the name', () => {
    const shells = 'P:dash\nV:1\np:/bin/sh\nk:100\n\nP:bbsh\nV:1\np:/bin/sh\nk:200\n\nP:app\nV:1\nD:/bin/sh';
    const r = resolve(index(shells), ['app']);
    assert.equal(r.packages.find((p) => p.name !== 'app')!.reason, 'app → bbsh (provides /bin/sh; other providers: dash)');
    const noPriority = index('P:dash\nV:1\np:/bin/sh\n\nP:bbsh\nV:1\np:/bin/sh\n\nP:app\nV:1\nD:/bin/sh');
    assert.throws(() => resolve(noPriority, ['app']), resolveError(/app → \/bin\/sh: provided only without a version and without provider_priority by bbsh, dash; include one of them/));
    assert.deepEqual(names(resolve(noPriority, ['app', 'dash'])), ['app-1', 'dash-1'], 'an included provider meets it');
  });

  it('a sole unversioned provider is chosen (apk-tools 2.x: busybox alone provides /bin/sh in v3.16)', () => {
    assert.deepEqual(names(resolve(index('P:busybox\nV:1\np:/bin/sh\n\nP:app\nV:1\nD:/bin/sh'), ['app'])), ['app-1', 'busybox-1']);
  });

  it('a name held through a versioned provides has one owner', () => {
    const packages = index('P:ssl-a\nV:1\np:so:libssl.so.3=3\n\nP:ssl-b\nV:1\np:so:libssl.so.3=3');
    assert.throws(() => resolve(packages, ['ssl-a', 'ssl-b']), resolveError(/"ssl-b" in packages.include: ssl-b 1: so:libssl\.so\.3 is already provided by ssl-a/));
  });

  it('conflicts ("!name") keep packages apart, either way round', () => {
    const packages = index('P:a\nV:1\nD:!b\n\nP:b\nV:1\n\nP:c\nV:1\nD:b');
    assert.throws(() => resolve(packages, ['a', 'b']), resolveError(/"b" in packages.include: b 1: a conflicts with it \(!b\)/));
    assert.throws(() => resolve(packages, ['a', 'c']), resolveError(/^c → b: b 1: a conflicts with it \(!b\)$/));
  });

  it('install_if adds a package once all its conditions are installed', () => {
    const packages = index(`
      P:busybox
      V:1.35.0-r17

      P:libssl
      V:3

      P:ssl_client
      V:1.35.0-r17
      i:busybox=1.35.0-r17 libssl
      D:libssl

      P:busybox-doc
      V:1.35.0-r17
      i:docs busybox=1.35.0-r17
    `);
    assert.deepEqual(names(resolve(packages, ['busybox'])), ['busybox-1.35.0-r17']);
    const r = resolve(packages, ['busybox', 'libssl']);
    assert.deepEqual(names(r), ['busybox-1.35.0-r17', 'libssl-3', 'ssl_client-1.35.0-r17']);
    assert.equal(r.packages.find((p) => p.name === 'ssl_client')!.reason, 'installed with busybox=1.35.0-r17, libssl (install_if)');
    assert.deepEqual(names(resolve(packages, ['busybox', 'libssl'], { exclude: ['ssl_client'] })), ['busybox-1.35.0-r17', 'libssl-3']);
  });

  it('excluded names drop the dependency (reported), they do not fail the build', () => {
    const r = resolve(base, ['app'], { exclude: ['helpers'] });
    assert.deepEqual(r.dropped, [{ from: 'app', dependency: 'cmd:helper', why: 'provided only by excluded packages (helpers)' }]);
    assert.throws(() => resolve(base, ['app'], { exclude: ['app'] }), resolveError(/"app" is both in packages.include and in packages.exclude/));
  });

  it('errors name the chain, the missing name, and close names', () => {
    const packages = index('P:lib\nV:1.0\n\nP:lib\nV:2.0\n\nP:app\nV:1\nD:lib>=3\n\nP:tool\nV:1\nD:so:libgone.so.1');
    assert.throws(() => resolve(packages, ['app']), resolveError(/^app → lib>=3: only 2\.0, 1\.0 available$/));
    assert.throws(() => resolve(packages, ['tool']), resolveError(/^tool → so:libgone\.so\.1: no package provides so:libgone\.so\.1$/));
    assert.throws(() => resolve(packages, ['libb']), resolveError(/unknown package "libb" in packages.include \(did you mean "lib"\?\)/));
    assert.throws(() => resolve(packages, ['arm'], { otherArchs: new Map([['arm', new Set(['aarch64'])]]) }), resolveError(/"arm" in packages.include is not available for x86_64 \(only aarch64\)/));
  });

  it('dependency cycles are installed in a fixed order, dependents of the cycle after it', () => {
    const packages = index('P:a\nV:1\nD:b\n\nP:b\nV:1\nD:a\n\nP:c\nV:1\nD:a');
    assert.deepEqual(resolve(packages, ['c']).packages.map((p) => p.name), ['b', 'a', 'c']);
  });

  it('the result does not depend on the order of index entries', () => {
    const packages = [...base, ...index('P:lib\nV:1\n\nP:lib\nV:2\nD:helpers\n\nP:other\nV:1\np:so:libfoo.so.1=1.0.0', 1)];
    const expected = JSON.stringify(resolve(packages, ['app', 'lib']).packages);
    fc.assert(fc.property(fc.shuffledSubarray(packages, { minLength: packages.length }), (shuffled) => JSON.stringify(resolve(shuffled, ['lib', 'app']).packages) === expected));
  });
});

describe('resolveAlpine on the real Alpine v3.16 main index', { skip: alpineFixturesMissing() }, () => {
  let packages: ApkPackage[];
  before(async () => {
    const keyName = 'alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub';
    const key = parseKey(keyName, await readFile(fixtureKey(keyName)), keyName);
    const { ctx } = fakeContext('/nonexistent');
    const file = await openApkIndex(await readFile(fixture('apkindex/alpine-v3.16-main-x86_64/APKINDEX.tar.gz')), { keys: [key], allowUntrusted: false }, 'v3.16 main', ctx.reporter);
    packages = file.entries.map((e) => packageFromEntry(e, { url: 'http://127.0.0.1/v3.16/main', index: 0, arch: 'x86_64' }, 'v3.16 main'));
  });

  const REQUESTS = [
    'busybox', 'curl', 'openssl', 'python3', 'ca-certificates', 'alpine-base', 'bash', 'git', 'nginx', 'perl',
    'openssh', 'jq', 'coreutils', 'findutils', 'tar', 'gzip', 'wget', 'sqlite', 'zstd', 'xz', 'tzdata',
    'musl-utils', 'apk-tools', 'libstdc++', 'lua5.4', 'ruby', 'nodejs', 'postgresql14-client',
  ];

  /** Checks every D: is met inside the closure, one package per owned name, no "!" hit. */
  function checkClosure(chosen: Map<string, ApkPackage>): void {
    const all = [...chosen.values()];
    const meets = (d: ApkDependency, p: ApkPackage, version: string | undefined): boolean => versionMatches({ ...d, conflict: false }, version, p.checksum);
    for (const p of all) {
      for (const d of p.depends) {
        const hits = all.filter((q) => (q.name === d.name && meets(d, q, q.version)) || q.provides.some((pr) => pr.name === d.name && meets(d, q, pr.version)));
        if (d.conflict) assert.deepEqual(hits.filter((q) => q !== p).map((q) => q.name), [], `${p.name} conflicts with ${d.name}`);
        else assert.ok(hits.length > 0, `${p.name} ${p.version}: D:${d.name}${d.op ?? ''}${d.version ?? ''} is not met`);
      }
    }
    const owners = new Map<string, string>();
    for (const p of all) {
      for (const name of [p.name, ...p.provides.filter((x) => x.version !== undefined).map((x) => x.name)]) {
        const other = owners.get(name);
        assert.ok(other === undefined || other === p.name, `${name} is provided by both ${other} and ${p.name}`);
        owners.set(name, p.name);
      }
    }
  }

  for (const request of REQUESTS) {
    it(`${request}: closure complete, one provider per name, deterministic`, () => {
      const r = resolveAlpine({ packages, include: [request], exclude: [], arch: 'x86_64' });
      assert.ok(r.chosen.has(request));
      checkClosure(r.chosen);
      assert.deepEqual(r.dropped, []);
      const position = new Map(r.packages.map((p, i) => [p.name, i]));
      for (const p of r.packages) {
        for (const dep of p.dependsOn) {
          const cyclic = r.packages[position.get(dep)!]!.dependsOn.includes(p.name);
          if (!cyclic) assert.ok(position.get(dep)! < position.get(p.name)!, `${dep} is installed before ${p.name}`);
        }
      }
      const reversed = resolveAlpine({ packages: [...packages].reverse(), include: [request], exclude: [], arch: 'x86_64' });
      assert.deepEqual(reversed.packages, r.packages);
    });
  }

  it('all of them together', () => {
    const r = resolveAlpine({ packages, include: REQUESTS, exclude: [], arch: 'x86_64' });
    checkClosure(r.chosen);
    assert.ok(r.packages.length > 80, `${r.packages.length} packages`);
  });

  // Pinned closures, checked by hand against the index's D:, p: and i: lines
  // (awk over the unpacked APKINDEX): curl needs ca-certificates, musl (so:libc),
  // libcurl (so:libcurl.so.4) and zlib (so:libz.so.1); libcurl adds brotli-libs,
  // libcrypto1.1, nghttp2-libs and libssl1.1; ca-certificates needs /bin/sh, which
  // only busybox provides; ssl_client has i:busybox=1.35.0-r17 libssl1.1, both in.
  const PINNED: Record<string, string[]> = {
    busybox: ['busybox-1.35.0-r17', 'musl-1.2.3-r2'],
    curl: [
      'brotli-libs-1.0.9-r6', 'busybox-1.35.0-r17', 'ca-certificates-20220614-r0', 'curl-7.83.1-r4', 'libcrypto1.1-1.1.1s-r0',
      'libcurl-7.83.1-r4', 'libssl1.1-1.1.1s-r0', 'musl-1.2.3-r2', 'nghttp2-libs-1.47.0-r0', 'ssl_client-1.35.0-r17', 'zlib-1.2.12-r3',
    ],
    'openssl ca-certificates': [
      'busybox-1.35.0-r17', 'ca-certificates-20220614-r0', 'libcrypto1.1-1.1.1s-r0', 'libssl1.1-1.1.1s-r0', 'musl-1.2.3-r2',
      'openssl-1.1.1s-r0', 'ssl_client-1.35.0-r17',
    ],
  };
  for (const [request, expected] of Object.entries(PINNED)) {
    it(`pinned closure of ${request}`, () => {
      const r = resolveAlpine({ packages, include: request.split(' '), exclude: [], arch: 'x86_64' });
      assert.deepEqual(r.packages.map((p) => `${p.name}-${p.version}`).sort(), expected);
    });
  }

  it('alpine-base picks ifupdown-ng for ifupdown-any by provider_priority (900 over 200 and 100)', () => {
    const r = resolveAlpine({ packages, include: ['alpine-base'], exclude: [], arch: 'x86_64' });
    assert.match(r.packages.find((p) => p.name === 'ifupdown-ng')!.reason, /provides ifupdown-any; other providers: busybox-ifupdown, ifupdown/);
  });
});
