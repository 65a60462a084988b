/** Reporting every missing file at once: cache misses under --offline, and files the mirror no longer has. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheMissError, collectFailures, isCacheMiss, settleAll, type Failure } from '../../src/net/missing.js';
import { HttpStatusError } from '../../src/net/http.js';
import { createFetcher } from '../../src/net/fetcher.js';
import { BaseimgError } from '../../src/util/errors.js';

const miss = (name: string): CacheMissError => new CacheMissError(name, `http://m.example.invalid/${name}`, `http://m.example.invalid/${name}`, '/cache');

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('nothing was thrown');
}

let cacheDir: string;
before(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'baseimg-missing-'));
});
after(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

describe('collectFailures', () => {
  it('does nothing without failures', () => {
    collectFailures([]);
  });

  it('lists every cache miss in one error, in the order given', () => {
    const err = thrown(() => collectFailures([miss('a'), miss('b'), miss('c')].map((error, i) => ({ error, subject: i })))) as BaseimgError;
    assert.equal(err.code, 'NETWORK');
    assert.equal(err.message, 'offline: 3 files are missing from the cache:\n  a: http://m.example.invalid/a\n  b: http://m.example.invalid/b\n  c: http://m.example.invalid/c');
    assert.equal(err.hint, 'run once without --offline to fill the cache at /cache');
  });

  it('keeps a single miss as it is', () => {
    const only = miss('a');
    assert.equal(thrown(() => collectFailures([{ error: only, subject: 0 }])), only);
  });

  it('prefers an unexpected error over misses and 404s', () => {
    const boom = new BaseimgError('NETWORK', 'connection reset');
    const failures: Array<Failure<number>> = [
      { error: miss('a'), subject: 0 },
      { error: new HttpStatusError('http://x/y', 404), subject: 1 },
      { error: boom, subject: 2 },
    ];
    assert.equal(thrown(() => collectFailures(failures)), boom);
  });

  it('hands every 404 to notFound, and verification failures to mismatch', () => {
    const gone = [1, 2].map((i) => ({ error: new HttpStatusError(`http://x/${i}`, i === 1 ? 404 : 410), subject: `pkg${i}` }));
    const err = thrown(() => collectFailures(gone, { notFound: (g) => new BaseimgError('LOCK', g.map((f) => f.subject).join(',')) })) as BaseimgError;
    assert.equal(err.message, 'pkg1,pkg2');
    const bad = { error: new BaseimgError('VERIFY', 'checksum mismatch'), subject: 'pkg' };
    const reworded = thrown(() => collectFailures([bad], { mismatch: (f) => new BaseimgError('VERIFY', `${f.subject}: not as locked`) })) as BaseimgError;
    assert.equal(reworded.message, 'pkg: not as locked');
  });

  it('settleAll waits for every promise before reporting', async () => {
    let finished = false;
    const slow = new Promise<number>((resolve) => setTimeout(() => {
      finished = true;
      resolve(1);
    }, 20));
    await assert.rejects(settleAll([Promise.reject(miss('a')), slow, Promise.reject(miss('b'))]), /offline: 2 files are missing/);
    assert.ok(finished);
    assert.deepEqual(await settleAll([Promise.resolve(1), Promise.resolve(2)]), [1, 2]);
  });
});

describe('the fetcher offline', () => {
  it('throws CacheMissError for hashed and unhashed files alike', async () => {
    const { fetcher, close } = createFetcher({ cacheDir, offline: true });
    try {
      const hashed = await fetcher.fetchFile('http://m.example.invalid/a.deb', { sha256: 'ab'.repeat(32), what: 'a 1.0' }).catch((e: unknown) => e);
      assert.ok(isCacheMiss(hashed));
      assert.equal(hashed.what, 'a 1.0');
      assert.equal(hashed.message, `offline: a 1.0 is missing from the cache (http://m.example.invalid/a.deb, sha256 ${'ab'.repeat(32)})`);
      const latest = await fetcher.fetchFile('http://m.example.invalid/dists/x/InRelease', { what: 'InRelease of x' }).catch((e: unknown) => e);
      assert.ok(isCacheMiss(latest));
      assert.equal(latest.url, 'http://m.example.invalid/dists/x/InRelease');
    } finally {
      await close();
    }
  });
});
