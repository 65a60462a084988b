/**
 * Network failures through the CLI, against the fault-injecting server on
 * 127.0.0.1 (test/helpers/http-server.ts): DNS failure, refused connection,
 * 404, 5xx, a connection reset mid-body, a truncated body and a stalled
 * body. Transient faults are retried a bounded number of times with
 * backoff, then reported in one line naming the URL, the cause and the
 * attempts; a fault that clears in time is survived. After every failure
 * nothing is left beside the output or in TMPDIR, the cache holds only
 * whole blobs, and the file that failed is not among them. A cache entry
 * corrupted on disk is detected by its hash and fetched again.
 *
 * The client's own retry/backoff/timeout logic is unit-tested in
 * test/unit/http.test.ts; this file checks the same behaviour end to end,
 * with BASEIMG_HTTP_* (src/net/env.ts) keeping timeouts and backoff short.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { httpSettingsFromEnv } from '../../src/net/env.js';
import { BaseimgError } from '../../src/util/errors.js';
import { standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type Fault, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, listDir, makeTempDir, sha256File, type CliResult } from '../helpers/cli.js';
import { assertCacheHoldsOnlyWholeBlobs, assertNothingLeft, blobPath, errorOf, prepareDirs, startBuild, type BuildDirs } from '../helpers/hostile.js';

let work: string;
let repo: DebianRepo;
let server: TestServer;
let n = 0;

/** Three attempts, 20 ms first backoff, a stall noticed after 400 ms. */
// Builds here share caches and must download packages again: the image cache (which would
// answer a repeated build without any package) is off, so the download path is what is tested.
const FAST = { BASEIMG_HTTP_RETRIES: '2', BASEIMG_HTTP_BACKOFF_MS: '20', BASEIMG_HTTP_IDLE_TIMEOUT_MS: '400', BASEIMG_NO_IMAGE_CACHE: '1' };

before(async () => {
  work = await makeTempDir('network');
  repo = await standardFixtureRepo(join(work, 'repo'), { architectures: ['amd64'] });
  server = await serveDirectory(repo.root);
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const libc6 = (): { path: string; url: string; sha256: string } => {
  const p = repo.pkg('libc6');
  return { path: `/${p.poolPath}`, url: `${server.url}/${p.poolPath}`, sha256: p.sha256 };
};

async function run(mirror = server.url, env: Record<string, string> = FAST): Promise<{ run: CliResult; dirs: BuildDirs }> {
  const dirs = await prepareDirs(join(work, 'runs'), `b${++n}`, fixtureSpec({ mirror, keyring: repo.keyringPath, name: `net${n}` }));
  return { run: await startBuild(dirs, { env }).done, dirs };
}

/** A build that must fail with exit 1 and leave nothing behind; returns its error text. */
async function failing(mirror?: string): Promise<{ message: string; dirs: BuildDirs; run: CliResult }> {
  const { run: r, dirs } = await run(mirror);
  assert.equal(r.code, 1, describeRun(r));
  await assertNothingLeft(dirs);
  if (existsSync(dirs.cache)) await assertCacheHoldsOnlyWholeBlobs(dirs.cache);
  return { message: errorOf(r), dirs, run: r };
}

const requestsFor = (path: string): number => server.requests.filter((r) => r.path === path).length;

describe('unreachable mirrors', () => {
  it('a host name that does not resolve: retried, then one error naming the URL and the DNS failure', async () => {
    const { message, run: r } = await failing('http://baseimg-test.invalid/debian');
    // ENOTFOUND where a resolver answers; EAI_AGAIN in a sandbox without one.
    assert.match(message, /^baseimg: error: cannot download http:\/\/baseimg-test\.invalid\/debian\/dists\/fixture\/InRelease: host name (not found \(DNS lookup failed, ENOTFOUND\)|lookup failed temporarily \(DNS, EAI_AGAIN\)) \(3 attempts\)$/m);
    const retries = r.stderr.match(/^retrying http:\/\/baseimg-test\.invalid\/debian\/dists\/fixture\/InRelease in \d+\.\d s \(attempt [23]\): host name/gm) ?? [];
    assert.equal(retries.length, 2, r.stderr);
  });

  it('a refused connection', async () => {
    const port = await closedPort();
    const { message } = await failing(`http://127.0.0.1:${port}/debian`);
    assert.match(message, new RegExp(`cannot download http://127\\.0\\.0\\.1:${port}/debian/dists/fixture/InRelease: ECONNREFUSED \\(3 attempts\\)`));
    assert.match(message, /hint: check the network connection and the mirror URL/);
  });
});

describe('faults on a package download', () => {
  const permanent: Array<[string, Fault, RegExp, number]> = [
    ['404: not retried, reported as missing', { status: 404 }, /not found \(HTTP 404\)/, 1],
    ['503 every time: retried, then reported', { status: 503 }, /: HTTP 503 \(3 attempts\)/, 3],
    // undici reports a reset as "other side closed"; the bytes already sent may be lost with the RST.
    ['a connection reset mid-body every time', { resetAfterBytes: 700 }, /: connection closed by the server after \d+ of \d+ bytes \(3 attempts\)/, 3],
    ['a body cut short every time', { truncateTo: 700 }, /: connection closed by the server after \d+ of \d+ bytes \(3 attempts\)/, 3],
    ['a body that stalls every time', { stallAfterBytes: 700 }, /timeout: download stalled for 0\.4 s after 700 of \d+ bytes \(3 attempts\)/, 3],
  ];
  for (const [what, fault, pattern, attempts] of permanent) {
    it(what, async (t) => {
      const { path, url, sha256 } = libc6();
      server.setFault(path, fault);
      t.after(() => server.clearFaults());
      const before = requestsFor(path);
      const { message, dirs } = await failing();
      assert.ok(message.includes(url), message);
      assert.match(message, pattern);
      assert.equal(requestsFor(path) - before, attempts, 'attempts made');
      assert.equal(existsSync(blobPath(dirs.cache, sha256)), false, 'the failed file must not be in the cache');
      assert.deepEqual(await listDir(join(dirs.cache, 'tmp')), [], 'no partial download left in the cache');
    });
  }

  const transient: Array<[string, Fault]> = [
    ['500 twice', { status: 500, times: 2 }],
    ['a reset once', { resetAfterBytes: 700, times: 1 }],
    ['a truncated body once', { truncateTo: 700, times: 1 }],
    ['a stall once', { stallAfterBytes: 700, times: 1 }],
  ];
  for (const [what, fault] of transient) {
    it(`survives ${what}, with a retry line`, async (t) => {
      const { path, url } = libc6();
      server.setFault(path, fault);
      t.after(() => server.clearFaults());
      const { run: r, dirs } = await run();
      assert.equal(r.code, 0, describeRun(r));
      assert.match(r.stderr, new RegExp(`retrying ${url.replace(/[.+]/g, '\\$&')} in \\d+\\.\\d s \\(attempt 2\\)`));
      assert.deepEqual(await listDir(dirs.out), ['image.cdx.json', 'image.spdx.json', 'image.tar']);
      await assertCacheHoldsOnlyWholeBlobs(dirs.cache);
    });
  }
});

describe('the cache', () => {
  it('a corrupted or truncated cache entry is detected by its hash and downloaded again; the image is the same', async () => {
    const { path, sha256 } = libc6();
    const first = await run();
    assert.equal(first.run.code, 0, describeRun(first.run));
    const image = await sha256File(join(first.dirs.out, 'image.tar'));
    const blob = blobPath(first.dirs.cache, sha256);
    const good = await readFile(blob);
    const damages: Array<[string, () => Promise<void>]> = [
      ['one byte flipped', () => writeFile(blob, Buffer.concat([good.subarray(0, 100), Buffer.from([good[100]! ^ 1]), good.subarray(101)]))],
      ['cut short', () => truncate(blob, 1000)],
    ];
    for (const [what, damage] of damages) {
      await damage();
      const before = requestsFor(path);
      await rm(first.dirs.out, { recursive: true });
      await mkdir(first.dirs.out);
      const again = await startBuild(first.dirs, { env: FAST }).done;
      assert.equal(again.code, 0, `${what}: ${describeRun(again)}`);
      assert.equal(requestsFor(path) - before, 1, `${what}: fetched again`);
      assert.deepEqual(await readFile(blob), good, `${what}: the entry is whole again`);
      assert.equal(await sha256File(join(first.dirs.out, 'image.tar')), image, `${what}: same image`);
    }
  });
});

describe('configuration', () => {
  it('BASEIMG_HTTP_* are read as whole numbers within bounds', () => {
    assert.deepEqual(httpSettingsFromEnv({}), {});
    assert.deepEqual(httpSettingsFromEnv({ BASEIMG_HTTP_IDLE_TIMEOUT_MS: '250', BASEIMG_HTTP_RETRIES: '0', BASEIMG_HTTP_BACKOFF_MS: ' 10 ' }), { idleTimeoutMs: 250, retries: 0, backoffBaseMs: 10 });
    for (const [name, value] of [['BASEIMG_HTTP_IDLE_TIMEOUT_MS', '0'], ['BASEIMG_HTTP_RETRIES', '101'], ['BASEIMG_HTTP_BACKOFF_MS', '-5'], ['BASEIMG_HTTP_RETRIES', '1e3']] as const) {
      assert.throws(() => httpSettingsFromEnv({ [name]: value }), (e: unknown) => e instanceof BaseimgError && e.code === 'USAGE' && e.message.startsWith(`${name}="${value}"`));
    }
  });

  it('a malformed BASEIMG_HTTP_* value is a usage error naming the variable', async () => {
    const { run: r } = await run(server.url, { BASEIMG_HTTP_IDLE_TIMEOUT_MS: '5s' });
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /baseimg: error: BASEIMG_HTTP_IDLE_TIMEOUT_MS="5s" is not an integer from 1 to 3600000/);
  });
});

/** A local port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
