/** Lock files: serialisation order, strict parsing, the spec-inputs digest and its change descriptions. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseLock, serializeLock } from '../../src/lock/format.js';
import { describeInputChanges, inputsDigest } from '../../src/lock/inputs.js';
import { LOCK_VERSION, type LockFile, type LockedPackage } from '../../src/lock/types.js';
import { BaseimgError } from '../../src/util/errors.js';

const HASH = (c: string): string => c.repeat(64);

function pkg(name: string, extra: Partial<LockedPackage> = {}): LockedPackage {
  return {
    name,
    version: '1.0-1',
    architecture: 'amd64',
    repository: 'bookworm',
    filename: `pool/main/${name[0]}/${name}/${name}_1.0-1_amd64.deb`,
    size: 1234,
    sha256: HASH('a'),
    checksum: null,
    source: { name, version: '1.0-1' },
    maintainer: 'Someone <someone@example.invalid>',
    installedSize: 4096,
    dependsOn: [],
    reason: 'requested',
    fields: { Package: name, Version: '1.0-1', Architecture: 'amd64' },
    ...extra,
  };
}

function sampleLock(): LockFile {
  const inputs = { arch: ['amd64'], 'packages.include': ['libc6'], 'source.distro': 'debian' };
  return {
    lockVersion: LOCK_VERSION,
    spec: { digest: inputsDigest(inputs), inputs },
    architectures: [
      {
        arch: 'amd64',
        sources: [{ repository: 'bookworm', url: 'http://mirror.example.invalid/debian', index: 'dists/bookworm/InRelease', date: 'Sat, 11 Jul 2026 10:16:37 UTC', sha256: HASH('b'), key: null }],
        packages: [pkg('libgcc-s1', { dependsOn: ['libc6'] }), pkg('libc6', { dependsOn: ['libgcc-s1'] })],
        auxiliary: [pkg('ca-certificates', { reason: 'CA bundle source (certificates only, not installed)' })],
      },
    ],
  };
}

/** Parses text that must fail and returns the LOCK error's message. */
function lockError(text: string): string {
  try {
    parseLock(text, 'x.lock.json');
  } catch (err) {
    assert.ok(err instanceof BaseimgError, String(err));
    assert.equal(err.code, 'LOCK');
    return err.message;
  }
  assert.fail('the lock was accepted');
}

function mutated(change: (doc: any) => void): string {
  const doc = JSON.parse(serializeLock(sampleLock()));
  change(doc);
  return JSON.stringify(doc, null, 2);
}

describe('lock file format', () => {
  it('round-trips: parse(serialize(lock)) is the lock, and serialising again gives the same bytes', () => {
    const lock = sampleLock();
    const text = serializeLock(lock);
    assert.deepEqual(parseLock(text, 'x.lock.json'), lock);
    assert.equal(serializeLock(parseLock(text, 'x.lock.json')), text);
    assert.ok(text.endsWith('}\n'));
  });

  it('writes keys in a fixed order whatever order the object was built in', () => {
    const lock = sampleLock();
    const shuffled = JSON.parse(JSON.stringify(lock), (_key, value) =>
      value && typeof value === 'object' && !Array.isArray(value) && !('Package' in value) ? Object.fromEntries(Object.entries(value).reverse()) : value,
    ) as LockFile;
    assert.equal(serializeLock(shuffled), serializeLock(lock));
    const keys = Object.keys(JSON.parse(serializeLock(lock)).architectures[0].packages[0]);
    assert.deepEqual(keys.slice(0, 7), ['name', 'version', 'architecture', 'repository', 'filename', 'size', 'sha256']);
  });

  it('keeps index fields in the order the index wrote them', () => {
    const lock = sampleLock();
    lock.architectures[0]!.packages[0]!.fields = { Package: 'x', Version: '1', Depends: 'y', Architecture: 'all' };
    const parsed = parseLock(serializeLock(lock), 'x.lock.json');
    assert.deepEqual(Object.keys(parsed.architectures[0]!.packages[0]!.fields), ['Package', 'Version', 'Depends', 'Architecture']);
  });

  it('refuses a newer lock version with a hint to upgrade, and other versions plainly', () => {
    assert.match(lockError(mutated((d) => (d.lockVersion = LOCK_VERSION + 1))), /version 2 is newer than this baseimg understands \(1\)/);
    assert.match(lockError(mutated((d) => (d.lockVersion = 0))), /x\.lock\.json: lockVersion: expected 1/);
    assert.match(lockError('{"lockVersion": 1,'), /x\.lock\.json: not valid JSON/);
  });

  it('names the key path of what is wrong', () => {
    assert.match(lockError(mutated((d) => (d.architectures[0].packages[1].sha256 = 'abc'))), /architectures\[0\]\.packages\[1\]\.sha256: "abc" is not a SHA-256/);
    assert.match(lockError(mutated((d) => (d.architectures[0].packages[0].size = -1))), /packages\[0\]\.size: expected a non-negative integer/);
    assert.match(lockError(mutated((d) => (d.architectures[0].sources[0].extra = 1))), /sources\[0\]\.extra: unknown key/);
    assert.match(lockError(mutated((d) => delete d.architectures[0].auxiliary)), /architectures\[0\]: missing key "auxiliary"/);
    assert.match(lockError(mutated((d) => (d.architectures[0].arch = 'mips'))), /unknown architecture "mips"/);
    assert.match(lockError(mutated((d) => d.architectures.push(d.architectures[0]))), /architecture amd64 is listed twice/);
  });

  it('refuses filenames that would leave the repository', () => {
    for (const bad of ['/etc/passwd', 'pool/../../x.deb', 'pool/x.deb?y', 'pool/a b.deb']) {
      assert.match(lockError(mutated((d) => (d.architectures[0].packages[0].filename = bad))), /packages\[0\]\.filename: .* is not a relative path inside the repository/, bad);
    }
  });

  it('checks references: repositories, dependency edges, duplicate packages', () => {
    assert.match(lockError(mutated((d) => (d.architectures[0].packages[0].repository = 'sid'))), /repository "sid" is not among this architecture's sources/);
    assert.match(lockError(mutated((d) => (d.architectures[0].packages[0].dependsOn = ['nope']))), /dependsOn names "nope", which is not a locked package/);
    assert.match(lockError(mutated((d) => (d.architectures[0].packages[1].name = 'libgcc-s1'))), /package "libgcc-s1" is listed twice/);
  });

  it('refuses inputs edited without their digest', () => {
    assert.match(lockError(mutated((d) => d.spec.inputs['packages.include'].push('curl'))), /spec\.digest: does not match spec\.inputs/);
  });
});

describe('spec inputs', () => {
  it('digests canonically: key order does not matter, values do', () => {
    assert.equal(inputsDigest({ a: [1], b: 'x' }), inputsDigest({ b: 'x', a: [1] }));
    assert.notEqual(inputsDigest({ a: [1], b: 'x' }), inputsDigest({ a: [1], b: 'y' }));
    assert.match(inputsDigest({}), /^sha256:[0-9a-f]{64}$/);
  });

  it('describes what changed', () => {
    const before = { 'packages.include': ['a', 'b'], 'source.suites': ['bookworm', 'bookworm-security'], 'source.mirror': null, 'ca-certificates.bundle': true };
    const after = { 'packages.include': ['a', 'c'], 'source.suites': ['bookworm-security', 'bookworm'], 'source.mirror': 'http://x', 'source.snapshot': '20250101T000000Z' };
    assert.deepEqual(describeInputChanges(before, after), [
      'ca-certificates.bundle: was true, now (not recorded)',
      'packages.include: added c; removed b',
      'source.mirror: was null, now "http://x"',
      'source.snapshot: was (not recorded), now "20250101T000000Z"',
      'source.suites: was ["bookworm","bookworm-security"], now ["bookworm-security","bookworm"]',
    ]);
    assert.deepEqual(describeInputChanges(before, before), []);
  });
});
