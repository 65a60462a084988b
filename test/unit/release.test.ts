import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildContext } from '../../src/pipeline/context.js';
import { createFetcher } from '../../src/net/fetcher.js';
import { isNotFoundError } from '../../src/net/http.js';
import { fetchRelease, parseRelease, parseReleaseDate } from '../../src/distro/debian/release.js';
import { BaseimgError } from '../../src/util/errors.js';
import { buildDebianRepo, releaseDate, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { generateTestKey, type TestKey } from '../helpers/pgp.js';

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const HOUR = 3600 * 1000;

let root: string;
let n = 0;
const closers: Array<() => Promise<void>> = [];
const warnings: string[] = [];

let archiveKey: TestKey;
let otherKey: TestKey;
let expiredKey: TestKey;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'baseimg-release-'));
  [archiveKey, otherKey, expiredKey] = await Promise.all([
    generateTestKey({ name: 'Release Test Archive', email: 'archive@example.org' }),
    generateTestKey({ name: 'Someone Else', email: 'other@example.org' }),
    generateTestKey({ name: 'Expired Archive Key', email: 'expired@example.org', expired: true }),
  ]);
});
after(async () => {
  for (const close of closers) await close();
  await rm(root, { recursive: true, force: true });
});

/** A one-suite archive served over HTTP, plus a context whose clock is `now`. */
async function setup(options: { signingKeys?: TestKey[]; trustedKeys?: TestKey[]; now?: Date; insecure?: boolean } = {}) {
  const dir = join(root, `repo${n++}`);
  const repo: DebianRepo = await buildDebianRepo(dir, {
    suites: [{ name: 'fixture', suite: 'stable', codename: 'fixture', version: '12.8', components: { main: [], contrib: [] } }],
    signingKeys: options.signingKeys ?? [archiveKey],
    trustedKeys: options.trustedKeys,
  });
  const server: TestServer = await serveDirectory(dir);
  const handle = createFetcher({ cacheDir: join(dir, '.cache'), offline: false, http: { sleep: async () => {}, env: {} } });
  closers.push(() => handle.close(), () => server.close());
  const ctx: BuildContext = {
    fetcher: handle.fetcher,
    derived: handle.derived,
    reporter: { info() {}, warn: (m) => warnings.push(m), debug() {}, task: () => ({ tick() {}, setTotal() {}, done() {} }), timing() {} },
    tmpDir: dir,
    now: options.now ?? new Date(),
    signal: new AbortController().signal,
    insecureSkipVerify: options.insecure ?? false,
    offline: false,
  };
  return { repo, server, ctx, dir };
}

async function expectVerifyError(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<BaseimgError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof BaseimgError, `expected BaseimgError, got ${String(caught)}`);
  assert.equal(caught.code, 'VERIFY', caught.message);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

const keyId = (key: TestKey): string => key.signingFingerprint.slice(-16).toLowerCase();

describe('fetchRelease', () => {
  it('verifies a good InRelease and parses it', async () => {
    const { repo, server, ctx, dir } = await setup();
    const info = await fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]);
    assert.equal(info.suite, 'fixture');
    assert.equal(info.codename, 'fixture');
    assert.equal(info.version, '12.8');
    assert.equal(info.baseUrl, server.url);
    assert.equal(info.acquireByHash, true);
    assert.ok(info.dateParsed instanceof Date && Math.abs(info.dateParsed.getTime() - Date.now()) < HOUR);
    assert.equal(info.validUntil, undefined);
    assert.deepEqual(info.signedBy, [archiveKey.fingerprint.toLowerCase()]);
    assert.equal(info.sha256, sha(await readFile(join(dir, 'dists/fixture/InRelease'))));
    const xz = info.files.get('main/binary-amd64/Packages.xz');
    const onDisk = await readFile(join(dir, 'dists/fixture/main/binary-amd64/Packages.xz'));
    assert.deepEqual(xz, { size: onDisk.length, sha256: sha(onDisk) });
    assert.ok(info.files.has('contrib/binary-amd64/Packages.gz'));
  });

  it('accepts the file when any one signature verifies', async () => {
    const { repo, server, ctx } = await setup({ signingKeys: [otherKey, archiveKey], trustedKeys: [archiveKey] });
    const info = await fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]);
    assert.deepEqual(info.signedBy, [archiveKey.fingerprint.toLowerCase()]);
  });

  it('rejects tampered text (bad signature)', async () => {
    const { repo, server, ctx } = await setup();
    await repo.tamperFile('dists/fixture/InRelease', (d) => d.toString().replace('Version: 12.8', 'Version: 12.9'));
    await expectVerifyError(fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]), /InRelease: no valid signature/, new RegExp(`${keyId(archiveKey)}: bad signature`));
  });

  it('rejects a file signed only by unknown keys, naming the key IDs', async () => {
    const { repo, server, ctx } = await setup({ signingKeys: [otherKey], trustedKeys: [archiveKey] });
    const err = await expectVerifyError(fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]), new RegExp(`${keyId(otherKey)}: unknown key`));
    assert.ok(err.message.includes(`${server.url}/dists/fixture/InRelease`));
    assert.match(err.hint!, /keyring/);
  });

  it('rejects a signature by a key that has expired since', async () => {
    const { repo, server, ctx } = await setup({ signingKeys: [expiredKey] });
    await expectVerifyError(fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]), new RegExp(`${keyId(expiredKey)}: key not valid on`));
  });

  it('accepts that key when the clock is set inside its lifetime, then applies Date/Valid-Until', async () => {
    const signedAt = new Date(expiredKey.created.getTime() + 60_000);
    const { repo, server, ctx } = await setup({ signingKeys: [expiredKey], now: new Date(signedAt.getTime() + 3600_000) });
    await repo.rewriteRelease('fixture', { Date: releaseDate(signedAt) });
    await repo.resign('fixture', { date: signedAt });
    const info = await fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]);
    assert.deepEqual(info.signedBy, [expiredKey.fingerprint.toLowerCase()]);
  });

  it('tolerates a clock a few minutes behind the signer', async () => {
    const established = await generateTestKey({ name: 'Established Key', email: 'old@example.org', date: new Date(Date.now() - 24 * HOUR) });
    const { repo, server, ctx } = await setup({ signingKeys: [established], now: new Date(Date.now() - 3 * 60_000) });
    assert.equal((await fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath])).signedBy.length, 1);
  });

  it('rejects a signature made long after the clock', async () => {
    const established = await generateTestKey({ name: 'Established Key', email: 'old@example.org', date: new Date(Date.now() - 24 * HOUR) });
    const { repo, server, ctx } = await setup({ signingKeys: [established], now: new Date(Date.now() - 2 * HOUR) });
    await expectVerifyError(fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]), /no valid signature/, /in the future/);
  });

  it('rejects a Release whose Valid-Until has passed, giving both dates', async () => {
    const { repo, server, ctx } = await setup();
    const validUntil = new Date(Math.floor(Date.now() / 1000) * 1000 - 2 * HOUR);
    await repo.rewriteRelease('fixture', { 'Valid-Until': releaseDate(validUntil) });
    await expectVerifyError(
      fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]),
      /expired: Valid-Until/,
      new RegExp(validUntil.toISOString().replace(/\./g, '\\.')),
      new RegExp(ctx.now.toISOString().replace(/\./g, '\\.')),
    );
  });

  it('accepts a Valid-Until in the future', async () => {
    const { repo, server, ctx } = await setup();
    await repo.rewriteRelease('fixture', { 'Valid-Until': releaseDate(new Date(Date.now() + 7 * 24 * HOUR)) });
    const info = await fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]);
    assert.ok(info.validUntil!.getTime() > Date.now());
  });

  it('rejects a Date more than 10 minutes in the future, tolerating less', async () => {
    const { repo, server, ctx } = await setup();
    await repo.rewriteRelease('fixture', { Date: releaseDate(new Date(Date.now() + 5 * 60_000)) });
    await fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]);
    await repo.rewriteRelease('fixture', { Date: releaseDate(new Date(Date.now() + 2 * HOUR)) });
    await expectVerifyError(fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]), /Date .* is in the future/);
  });

  it('falls back to Release + Release.gpg when there is no InRelease', async () => {
    const { repo, server, ctx, dir } = await setup();
    await unlink(join(dir, 'dists/fixture/InRelease'));
    const info = await fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]);
    assert.equal(info.sha256, sha(await readFile(join(dir, 'dists/fixture/Release'))));
    assert.deepEqual(info.signedBy, [archiveKey.fingerprint.toLowerCase()]);
    assert.ok(server.requests.some((r) => r.path === '/dists/fixture/Release.gpg'));
  });

  it('rejects a Release that does not match its detached signature', async () => {
    const { repo, server, ctx, dir } = await setup();
    await unlink(join(dir, 'dists/fixture/InRelease'));
    await repo.tamperFile('dists/fixture/Release', (d) => d.toString().replace('Version: 12.8', 'Version: 12.9'));
    await expectVerifyError(fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]), /Release: no valid signature/, /bad signature/);
  });

  it('refuses a Release without any signature', async () => {
    const { repo, server, ctx, dir } = await setup();
    await unlink(join(dir, 'dists/fixture/InRelease'));
    await unlink(join(dir, 'dists/fixture/Release.gpg'));
    await expectVerifyError(fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]), /Release is not signed/);
  });

  it('reports a suite with neither InRelease nor Release as not found', async () => {
    const { repo, server, ctx } = await setup();
    await assert.rejects(fetchRelease(ctx, server.url, 'nosuch', [repo.keyringPath]), (err: unknown) => isNotFoundError(err) && /dists\/nosuch\/InRelease/.test(String(err)));
  });

  it('refuses a Release that describes another suite', async () => {
    const { repo, server, ctx, dir } = await setup();
    await cp(join(dir, 'dists/fixture'), join(dir, 'dists/impostor'), { recursive: true });
    await expectVerifyError(fetchRelease(ctx, server.url, 'impostor', [repo.keyringPath]), /describes suite "stable" \(codename "fixture"\), not "impostor"/);
    // The Suite alias is as good as the codename.
    await cp(join(dir, 'dists/fixture'), join(dir, 'dists/stable'), { recursive: true });
    assert.equal((await fetchRelease(ctx, server.url, 'stable', [repo.keyringPath])).suite, 'stable');
  });

  it('reads armored keyrings and several keyring files', async () => {
    const { server, ctx, dir } = await setup({ signingKeys: [archiveKey], trustedKeys: [otherKey] });
    const asc = join(dir, 'archive.asc');
    await writeFile(asc, archiveKey.armoredPublic);
    const info = await fetchRelease(ctx, server.url, 'fixture', [join(dir, 'keyring.gpg'), asc]);
    assert.deepEqual(info.signedBy, [archiveKey.fingerprint.toLowerCase()]);
  });

  it('explains a missing or unreadable keyring', async () => {
    const { server, ctx, dir } = await setup();
    const err = await expectVerifyError(fetchRelease(ctx, server.url, 'fixture', [join(dir, 'missing.gpg')]), /keyring .*missing\.gpg not found/);
    assert.match(err.hint!, /debian-archive-keyring/);
    assert.match(err.hint!, /source\.keyring/);
    await writeFile(join(dir, 'junk.gpg'), 'not a key');
    await expectVerifyError(fetchRelease(ctx, server.url, 'fixture', [join(dir, 'junk.gpg')]), /cannot read keyring/);
  });

  it('rejects an InRelease that is not a signed document', async () => {
    const { repo, server, ctx, dir } = await setup();
    await writeFile(join(dir, 'dists/fixture/InRelease'), await readFile(join(dir, 'dists/fixture/Release')));
    await expectVerifyError(fetchRelease(ctx, server.url, 'fixture', [repo.keyringPath]), /not a signed InRelease file/);
  });

  it('with insecureSkipVerify, parses an unverifiable file but warns', async () => {
    const { server, ctx } = await setup({ signingKeys: [otherKey], trustedKeys: [archiveKey], insecure: true });
    warnings.length = 0;
    const info = await fetchRelease(ctx, server.url, 'fixture', ['/nonexistent/keyring.gpg']);
    assert.deepEqual(info.signedBy, []);
    assert.match(warnings.join('\n'), /NOT verifying the signature/);
  });
});

describe('parseRelease', () => {
  const meta = { url: 'http://example.org/debian/dists/bookworm/InRelease', suite: 'bookworm', baseUrl: 'http://example.org/debian', sha256: 'a'.repeat(64), signedBy: [] };
  const text = [
    'Origin: Debian',
    'Suite: oldstable',
    'Codename: bookworm',
    'Date: Sat, 11 Jul 2026 10:16:37 UTC',
    'Valid-Until: Sat, 18 Jul 2026 10:16:37 UTC',
    'MD5Sum:',
    ' 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all',
    'SHA256:',
    ` ${'B'.repeat(64)}  8790396 main/binary-amd64/Packages.xz`,
    ` ${'c'.repeat(64)} 50060337 main/binary-amd64/Packages`,
  ].join('\n');

  it('reads dates, checksums and flags', () => {
    const info = parseRelease(text, meta);
    assert.equal(info.dateParsed!.toISOString(), '2026-07-11T10:16:37.000Z');
    assert.equal(info.validUntil!.toISOString(), '2026-07-18T10:16:37.000Z');
    assert.equal(info.acquireByHash, false);
    assert.deepEqual([...info.files], [
      ['main/binary-amd64/Packages.xz', { size: 8790396, sha256: 'b'.repeat(64) }],
      ['main/binary-amd64/Packages', { size: 50060337, sha256: 'c'.repeat(64) }],
    ]);
  });

  it('accepts legacy <codename>/updates names and requires SHA256', () => {
    assert.equal(parseRelease(text, { ...meta, suite: 'bookworm/updates' }).suite, 'bookworm/updates');
    assert.throws(() => parseRelease(text.split('\nSHA256:')[0]!, meta), /no SHA256 checksums/);
    assert.throws(() => parseRelease(`${text}\n broken line`, meta), /malformed SHA256 line/);
    assert.throws(() => parseRelease(text.replace('Sat, 18 Jul', 'someday'), meta), /cannot parse Valid-Until/);
  });

  it('parses dates strictly', () => {
    assert.equal(parseReleaseDate('Sat, 11 Jul 2026 10:16:37 UTC')?.toISOString(), '2026-07-11T10:16:37.000Z');
    assert.equal(parseReleaseDate('1 Jan 2026 00:00:00 GMT')?.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(parseReleaseDate('Thu, 01 Jan 2026 02:30:00 +0230')?.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(parseReleaseDate('Thu, 01 Jan 2026 00:00:00 -0100')?.toISOString(), '2026-01-01T01:00:00.000Z');
    for (const bad of ['1 2', 'someday 2026 10:16:37 UTC', '31 Feb 2026 00:00:00 UTC', '1 Foo 2026 00:00:00 UTC', '1 Jan 2026 24:00:00 UTC', '2026-01-01T00:00:00Z']) {
      assert.equal(parseReleaseDate(bad), undefined, bad);
    }
  });
});
