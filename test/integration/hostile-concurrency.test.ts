/**
 * Eight `baseimg build` processes at once, sharing one cold cache
 * directory: every one succeeds and writes byte-identical output (image and
 * SBOMs), and the cache ends with whole blobs only and no temp files. The
 * server delays each answer a little so that the processes really download
 * the same files at the same moment and race to store them
 * (src/cache/cas.ts: temp file, fsync, rename; renaming over an identical
 * blob is harmless).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, listDir, makeTempDir, sha256File } from '../helpers/cli.js';
import { assertCacheHoldsOnlyWholeBlobs, blobPath, prepareDirs, startBuild } from '../helpers/hostile.js';

const BUILDS = 8;

let work: string;
let repo: DebianRepo;
let server: TestServer;

before(async () => {
  work = await makeTempDir('concurrency');
  repo = await standardFixtureRepo(join(work, 'repo'), { architectures: ['amd64'] });
  server = await serveDirectory(repo.root, { faults: [[/./, { delayMs: 30 }]] });
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe(`${BUILDS} builds sharing one cold cache`, () => {
  it('all succeed with identical outputs; the cache holds whole blobs only', { timeout: 300_000 }, async (t) => {
    const cache = join(work, 'shared-cache');
    const spec = fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'concurrent' });
    const all = await Promise.all(Array.from({ length: BUILDS }, (_, i) => prepareDirs(join(work, 'runs'), `b${i}`, spec, cache)));
    const started = performance.now();
    const runs = await Promise.all(all.map((dirs) => startBuild(dirs, { timeoutMs: 240_000 }).done));
    t.diagnostic(`${BUILDS} builds in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    runs.forEach((r, i) => assert.equal(r.code, 0, `build ${i}: ${describeRun(r)}`));
    const outputs = await Promise.all(all.map(async (dirs) => {
      assert.deepEqual(await listDir(dirs.out), ['image.cdx.json', 'image.spdx.json', 'image.tar']);
      assert.deepEqual(await listDir(dirs.tmp), [], 'scratch left in TMPDIR');
      return Promise.all(['image.tar', 'image.spdx.json', 'image.cdx.json'].map((f) => sha256File(join(dirs.out, f))));
    }));
    for (const [i, o] of outputs.entries()) assert.deepEqual(o, outputs[0], `build ${i} differs from build 0`);

    await assertCacheHoldsOnlyWholeBlobs(cache);
    assert.deepEqual(await listDir(join(cache, 'tmp')), [], 'temp files left in the cache');
    const debs = [...new Set(server.requests.filter((r) => r.path.endsWith('.deb')).map((r) => r.path.slice(1)))];
    assert.ok(debs.length >= 6, `only ${debs.length} packages fetched`);
    for (const poolPath of debs) {
      const pkg = repo.packages.find((p) => p.poolPath === poolPath)!;
      assert.ok(existsSync(blobPath(cache, pkg.sha256)), `${poolPath} is not in the cache`);
    }
    // Processes share downloads only within themselves, so the race is real: several requests per file.
    t.diagnostic(`${server.requests.filter((r) => r.path.endsWith('.deb')).length} .deb requests for ${debs.length} files`);
  });
});
