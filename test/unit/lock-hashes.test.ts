/** Locking packages whose index gives no SHA-256 (Alpine): they are fetched once and hashed. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ResolvedPackage, Resolution } from '../../src/distro/types.js';
import type { BuildContext, DownloadOptions } from '../../src/pipeline/context.js';
import { withFileHashes } from '../../src/lock/hashes.js';
import { createLock } from '../../src/lock/create.js';
import { DebianBackend } from '../../src/distro/debian/backend.js';
import { parseSpec } from '../../src/spec/load.js';

function pkg(name: string, sha256: string): ResolvedPackage {
  return {
    name, version: '1.0-r0', architecture: 'x86_64', url: `http://repo.example.invalid/x86_64/${name}-1.0-r0.apk`, filename: `${name}-1.0-r0.apk`,
    size: 10, sha256, source: undefined, maintainer: undefined, installedSize: undefined, repository: 'http://repo.example.invalid',
    dependsOn: [], reason: 'requested', fields: { C: `Q1${name}=` },
  };
}

function fakeContext(fetched: string[]): BuildContext {
  return {
    fetcher: {
      async fetchFile(url: string, options?: DownloadOptions) {
        assert.equal(options?.sha256, undefined);
        fetched.push(url);
        return { path: '/dev/null', sha256: url.endsWith('a-1.0-r0.apk') ? 'a'.repeat(64) : 'b'.repeat(64), size: 10 };
      },
      fetchBuffer: async () => Buffer.alloc(0),
    },
    derived: { get: async () => undefined, put: async () => undefined },
    reporter: { info() {}, warn() {}, debug() {}, task: () => ({ tick() {}, setTotal() {}, done() {} }), timing() {} },
    tmpDir: '/tmp',
    now: new Date(),
    signal: new AbortController().signal,
    insecureSkipVerify: false,
    offline: false,
  };
}

describe('withFileHashes', () => {
  it('downloads only the packages without a SHA-256 and fills it in, in the resolution too', async () => {
    const known = pkg('known', 'c'.repeat(64));
    const resolution: Resolution = { arch: 'amd64', packages: [pkg('a', ''), known], sources: [] };
    const fetched: string[] = [];
    const out = await withFileHashes(resolution, [...resolution.packages, pkg('b', '')], fakeContext(fetched));
    assert.deepEqual(fetched, ['http://repo.example.invalid/x86_64/a-1.0-r0.apk', 'http://repo.example.invalid/x86_64/b-1.0-r0.apk']);
    assert.deepEqual(out.resolution.packages.map((p) => p.sha256), ['a'.repeat(64), 'c'.repeat(64)]);
    assert.deepEqual(out.downloads.map((p) => p.sha256), ['a'.repeat(64), 'c'.repeat(64), 'b'.repeat(64)]);
  });

  it('leaves a fully hashed resolution alone', async () => {
    const resolution: Resolution = { arch: 'amd64', packages: [pkg('known', 'c'.repeat(64))], sources: [] };
    const fetched: string[] = [];
    const out = await withFileHashes(resolution, resolution.packages, fakeContext(fetched));
    assert.equal(out.resolution, resolution);
    assert.deepEqual(fetched, []);
  });

  it('createLock refuses a package whose SHA-256 is still unknown', () => {
    const spec = parseSpec('[source]\ndistro = "debian"\nsuites = ["bookworm"]\n[packages]\ninclude = []\n', 'x.toml', () => Buffer.alloc(0));
    const resolution: Resolution = { arch: 'amd64', packages: [{ ...pkg('a', ''), repository: 'bookworm' }], sources: [{ url: 'http://m/dists/bookworm/InRelease', suite: 'bookworm', date: undefined, sha256: 'd'.repeat(64), baseUrl: 'http://m' }] };
    assert.throws(() => createLock(spec, [{ resolution, downloads: resolution.packages, backend: new DebianBackend() }]), /a 1\.0-r0 has no SHA-256 to lock/);
  });
});
