/** Snapshot sources: the spec fields, the URLs they make, the time their Releases are judged at, and lock hints. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from '../../src/spec/load.js';
import { isSnapshotTimestamp } from '../../src/spec/validate.js';
import type { DebianSource } from '../../src/spec/types.js';
import { resolveDebianMirrorsDetailed, snapshotUrl } from '../../src/distro/debian/mirror.js';
import { snapshotTrustTime } from '../../src/distro/debian/repository.js';
import { suggestedSnapshot } from '../../src/lock/restore.js';
import type { LockedArch } from '../../src/lock/types.js';
import { BaseimgError } from '../../src/util/errors.js';

const BASE = 'http://snapshots.example.invalid';

function spec(...sourceLines: string[]): string {
  return ['[source]', 'distro = "debian"', 'suites = ["bookworm", "bookworm-security"]', ...sourceLines, '[packages]', 'include = []', ''].join('\n');
}

function specError(text: string): string {
  try {
    parseSpec(text, 'app.toml', () => Buffer.alloc(0));
  } catch (err) {
    assert.ok(err instanceof BaseimgError);
    assert.equal(err.code, 'SPEC');
    return `${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`;
  }
  assert.fail('the spec was accepted');
}

function source(extra: Partial<DebianSource>): DebianSource {
  return { distro: 'debian', mirror: undefined, securityMirror: undefined, suites: ['bookworm', 'bookworm-updates', 'bookworm-security'], components: ['main'], keyring: [], mergedUsr: true, ...extra };
}

describe('spec: source.snapshot', () => {
  it('accepts a timestamp and an optional base, and leaves both out of the spec when unset', () => {
    const s = parseSpec(spec('snapshot = "20260701T000000Z"', `snapshot-base = "${BASE}/"`), 'app.toml', () => Buffer.alloc(0));
    assert.equal(s.source.distro === 'debian' && s.source.snapshot, '20260701T000000Z');
    assert.equal(s.source.distro === 'debian' && s.source.snapshotBase, BASE);
    const plain = parseSpec(spec(), 'app.toml', () => Buffer.alloc(0));
    assert.ok(!('snapshot' in plain.source) && !('snapshotBase' in plain.source));
  });

  it('rejects malformed timestamps with the file, line and key', () => {
    for (const bad of ['2026-07-01', '20260701', '20260701T000000', '20260701t000000z', '20261301T000000Z', '20260230T000000Z', '20260701T240000Z', '20260701T006000Z', ' 20260701T000000Z']) {
      assert.match(specError(spec('snapshot = ' + JSON.stringify(bad))), /^app\.toml:4: source\.snapshot: ".*" is not a snapshot timestamp, expected YYYYMMDDTHHMMSSZ in UTC\nhint: for example snapshot = "\d{8}T\d{6}Z"$/, bad);
    }
    assert.match(specError(spec('snapshot = 20260701')), /^app\.toml:4: source\.snapshot: expected a string/);
  });

  it('refuses a mirror beside a snapshot, and a snapshot base without a snapshot', () => {
    assert.match(specError(spec('mirror = "http://m.example.invalid/debian"', 'snapshot = "20260701T000000Z"')), /^app\.toml:4: source\.mirror: cannot be combined with source\.snapshot/);
    assert.match(specError(spec('snapshot = "20260701T000000Z"', 'security-mirror = "http://m.example.invalid/s"')), /^app\.toml:5: source\.security-mirror: cannot be combined/);
    assert.match(specError(spec(`snapshot-base = "${BASE}"`)), /^app\.toml:4: source\.snapshot-base: is only used together with source\.snapshot/);
    assert.match(specError(spec('snapshot = "20260701T000000Z"', 'snapshot-base = "ftp://x"')), /^app\.toml:5: source\.snapshot-base: unsupported scheme/);
  });

  it('isSnapshotTimestamp checks the calendar', () => {
    assert.ok(isSnapshotTimestamp('20240229T235959Z'));
    assert.ok(!isSnapshotTimestamp('20230229T000000Z'));
    assert.ok(!isSnapshotTimestamp('19691231T000000Z'));
  });
});

describe('snapshot URLs', () => {
  it('puts main suites under archive/debian and security suites under archive/debian-security', () => {
    const mirrors = resolveDebianMirrorsDetailed(source({ snapshot: '20260701T000000Z', snapshotBase: BASE }), { env: {} });
    assert.deepEqual([...mirrors].map(([suite, m]) => [suite, m.url, m.origin]), [
      ['bookworm', `${BASE}/archive/debian/20260701T000000Z`, 'snapshot'],
      ['bookworm-updates', `${BASE}/archive/debian/20260701T000000Z`, 'snapshot'],
      ['bookworm-security', `${BASE}/archive/debian-security/20260701T000000Z`, 'snapshot'],
    ]);
  });

  it('takes the base from the spec before the environment, and ignores the mirror variables', () => {
    const env = { BASEIMG_DEBIAN_SNAPSHOT_BASE: 'http://env.example.invalid/snap/', BASEIMG_DEBIAN_MIRROR: 'http://m.example.invalid/debian' };
    const fromEnv = resolveDebianMirrorsDetailed(source({ snapshot: '20260701T000000Z' }), { env });
    assert.equal(fromEnv.get('bookworm')!.url, 'http://env.example.invalid/snap/archive/debian/20260701T000000Z');
    assert.match(fromEnv.get('bookworm')!.from, /BASEIMG_DEBIAN_SNAPSHOT_BASE/);
    const fromSpec = resolveDebianMirrorsDetailed(source({ snapshot: '20260701T000000Z', snapshotBase: BASE }), { env });
    assert.equal(fromSpec.get('bookworm-security')!.url, `${BASE}/archive/debian-security/20260701T000000Z`);
  });

  it('asks for a base when neither the spec nor the environment has one', () => {
    assert.throws(
      () => resolveDebianMirrorsDetailed(source({ snapshot: '20260701T000000Z' }), { env: {} }),
      (err: BaseimgError) => err.code === 'MIRROR' && /needs the base URL of a snapshot service/.test(err.message) && /BASEIMG_DEBIAN_SNAPSHOT_BASE/.test(err.hint!),
    );
  });

  it('snapshotUrl joins without doubled slashes', () => {
    assert.equal(snapshotUrl(`${BASE}//`, 'debian', '20250520T000000Z'), `${BASE}/archive/debian/20250520T000000Z`);
  });

  it('judges a snapshot\'s Releases at its own time, never later than now', () => {
    const now = new Date('2026-11-23T12:00:00Z');
    assert.equal(snapshotTrustTime('20250520T013000Z', now).toISOString(), '2025-05-20T01:30:00.000Z');
    assert.equal(snapshotTrustTime('20300101T000000Z', now), now);
  });
});

describe('snapshot suggestion for a lock whose files left the mirror', () => {
  it('is the newest index date of the locked sources', () => {
    const source = (date: string | null) => ({ repository: 'r', url: 'u', index: 'i', date, sha256: '0'.repeat(64), key: null });
    const locked: LockedArch = {
      arch: 'amd64',
      sources: [source('Sat, 09 Nov 2024 10:05:41 UTC'), source('Fri, 10 Jan 2025 08:00:00 UTC'), source(null), source('garbage')],
      packages: [],
      auxiliary: [],
    };
    assert.equal(suggestedSnapshot(locked), '20250110T080000Z');
    assert.equal(suggestedSnapshot({ ...locked, sources: [source(null)] }), undefined);
  });
});
