import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore, defaultCacheDir, hashFile, normalizeSha256 } from '../../src/cache/cas.js';
import { BaseimgError } from '../../src/util/errors.js';

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

let root: string;
let n = 0;
const freshStore = (): ContentStore => new ContentStore(join(root, `store${n++}`));

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'baseimg-cas-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('defaultCacheDir', () => {
  it('uses XDG_CACHE_HOME when absolute, else ~/.cache', () => {
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/var/cache/me', HOME: '/home/u' }), '/var/cache/me/baseimg');
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: 'relative/path', HOME: '/home/u' }), '/home/u/.cache/baseimg');
    assert.equal(defaultCacheDir({ HOME: '/home/u' }), '/home/u/.cache/baseimg');
    assert.equal(defaultCacheDir({}), join(homedir(), '.cache', 'baseimg'));
  });
});

describe('ContentStore blobs', () => {
  it('stores by content at blobs/sha256/<2>/<64> and verifies on the way out', async () => {
    const store = freshStore();
    const data = Buffer.from('hello, cache\n');
    const put = await store.putBuffer(data);
    const hex = sha(data);
    assert.equal(put.sha256, hex);
    assert.equal(put.path, join(store.root, 'blobs', 'sha256', hex.slice(0, 2), hex));
    assert.deepEqual(await readFile(put.path), data);
    assert.deepEqual(await store.getVerified(hex.toUpperCase()), { path: put.path, size: data.length });
    assert.deepEqual(await readdir(join(store.root, 'tmp')), [], 'temp file left behind');
  });

  it('reports a missing blob as absent', async () => {
    assert.equal(await freshStore().getVerified(sha('nothing')), undefined);
  });

  it('deletes a corrupt blob and reports it as absent', async () => {
    const store = freshStore();
    const put = await store.putBuffer(Buffer.from('original'));
    await writeFile(put.path, 'bit rot');
    assert.equal(await store.getVerified(put.sha256), undefined);
    assert.equal(existsSync(put.path), false);
    // It can be stored again afterwards.
    await store.putBuffer(Buffer.from('original'));
    assert.ok(await store.getVerified(put.sha256));
  });

  it('rejects malformed hashes', async () => {
    await assert.rejects(freshStore().getVerified('abc'), (err: unknown) => err instanceof BaseimgError && err.code === 'VERIFY');
    assert.throws(() => normalizeSha256('z'.repeat(64)), /not a SHA-256 hex digest/);
  });

  it('lets concurrent writers store the same blob', async () => {
    const root2 = join(root, 'shared');
    const data = Buffer.alloc(256 * 1024, 7);
    const results = await Promise.all(Array.from({ length: 8 }, () => new ContentStore(root2).putBuffer(data)));
    assert.equal(new Set(results.map((r) => r.path)).size, 1);
    assert.deepEqual(await hashFile(results[0]!.path), { sha256: sha(data), size: data.length });
    assert.deepEqual(await readdir(join(root2, 'tmp')), []);
  });

  it('discards temp files that are not committed', async () => {
    const store = freshStore();
    const temp = await store.createTemp();
    await temp.handle.write('partial');
    await store.discardTemp(temp);
    assert.deepEqual(await readdir(join(store.root, 'tmp')), []);
  });

  it('cleans temp files older than a day, keeping fresh ones', async () => {
    const store = freshStore();
    const stale = await store.createTemp();
    const fresh = await store.createTemp();
    await stale.handle.close();
    await fresh.handle.close();
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await utimes(stale.path, twoDaysAgo, twoDaysAgo);
    assert.equal(await store.cleanStaleTemp(), 1);
    assert.equal(existsSync(stale.path), false);
    assert.equal(existsSync(fresh.path), true);
  });
});

describe('ContentStore derived data', () => {
  it('stores under derived/<sha256 of key> and reads it back', async () => {
    const store = freshStore();
    await store.putDerived('index/v1/abc', Buffer.from('parsed'));
    assert.ok(existsSync(join(store.root, 'derived', sha('index/v1/abc'))));
    assert.deepEqual(await store.getDerived('index/v1/abc'), Buffer.from('parsed'));
    assert.equal(await store.getDerived('index/v1/other'), undefined);
  });

  it('replaces an entry atomically', async () => {
    const store = freshStore();
    await store.putDerived('k', Buffer.from('one'));
    await store.putDerived('k', Buffer.from('two'));
    assert.deepEqual(await store.getDerived('k'), Buffer.from('two'));
  });

  it('treats a damaged entry as missing and removes it', async () => {
    const store = freshStore();
    await store.putDerived('k', Buffer.from('payload that will be damaged'));
    const path = join(store.root, 'derived', sha('k'));
    const raw = await readFile(path);
    raw[raw.length - 1] = raw[raw.length - 1]! ^ 0xff;
    await writeFile(path, raw);
    assert.equal(await store.getDerived('k'), undefined);
    assert.equal(existsSync(path), false);
    await writeFile(path, 'short');
    assert.equal(await store.getDerived('k'), undefined);
  });
});
