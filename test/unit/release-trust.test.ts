/**
 * A verified InRelease is remembered (release-trust.ts) and used again only
 * for the same bytes, the same keyring, within its time window, and never
 * under --insecure-skip-verify.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildContext } from '../../src/pipeline/context.js';
import { createFetcher } from '../../src/net/fetcher.js';
import { fetchRelease } from '../../src/distro/debian/release.js';
import { recallTrusted } from '../../src/distro/debian/release-trust.js';
import { buildDebianRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';

const HOUR = 3600 * 1000;
let root: string;
let repo: DebianRepo;
let server: TestServer;
const closers: Array<() => Promise<void>> = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'baseimg-trust-'));
  repo = await buildDebianRepo(join(root, 'repo'), { suites: [{ name: 'fixture', components: { main: [] } }] });
  server = await serveDirectory(join(root, 'repo'));
});
after(async () => {
  for (const close of closers) await close();
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

function context(cache: string, now = new Date(), insecure = false): BuildContext {
  const handle = createFetcher({ cacheDir: cache, offline: false, http: { sleep: async () => {}, env: {} } });
  closers.push(() => handle.close());
  return {
    fetcher: handle.fetcher,
    derived: handle.derived,
    reporter: { info() {}, warn() {}, debug() {}, task: () => ({ tick() {}, setTotal() {}, done() {} }), timing() {} },
    tmpDir: root,
    now,
    signal: new AbortController().signal,
    insecureSkipVerify: insecure,
    offline: false,
  };
}

describe('remembered InRelease verification', () => {
  it('is recalled for the same bytes and keyring, with the same result as a full check', async () => {
    const cache = join(root, 'cache-same');
    const first = await fetchRelease(context(cache), server.url, 'fixture', [repo.keyringPath]);
    const recalled = await recallTrusted(context(cache), first.sha256, [repo.keyringPath]);
    assert.ok(recalled, 'nothing remembered');
    assert.deepEqual(recalled.signedBy, first.signedBy);
    const second = await fetchRelease(context(cache), server.url, 'fixture', [repo.keyringPath]);
    assert.deepEqual(second, first);
  });

  it('is not used with another keyring, too late, before it was made, or with --insecure-skip-verify', async () => {
    const cache = join(root, 'cache-window');
    const now = new Date();
    const first = await fetchRelease(context(cache, now), server.url, 'fixture', [repo.keyringPath]);
    assert.ok(await recallTrusted(context(cache, new Date(now.getTime() + HOUR)), first.sha256, [repo.keyringPath]));
    assert.equal(await recallTrusted(context(cache, new Date(now.getTime() + 7 * HOUR)), first.sha256, [repo.keyringPath]), undefined);
    assert.equal(await recallTrusted(context(cache, new Date(now.getTime() - HOUR)), first.sha256, [repo.keyringPath]), undefined);
    assert.equal(await recallTrusted(context(cache, now, true), first.sha256, [repo.keyringPath]), undefined);
    const copy = join(root, 'keyring-copy.gpg');
    await writeFile(copy, Buffer.concat([await readFile(repo.keyringPath), Buffer.from([0])]));
    assert.equal(await recallTrusted(context(cache, now), first.sha256, [copy]), undefined);
  });

  it('is not written by a build that skipped verification', async () => {
    const cache = join(root, 'cache-insecure');
    const first = await fetchRelease(context(cache, new Date(), true), server.url, 'fixture', [repo.keyringPath]);
    assert.equal(await recallTrusted(context(cache), first.sha256, [repo.keyringPath]), undefined);
  });
});
