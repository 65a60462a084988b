/**
 * SIGINT and SIGTERM during download, unpack and write: exit 130 / 143 with
 * "interrupted by SIG…; no output was written", no output file (nor its
 * temp file) beside the output, nothing left in TMPDIR, only whole blobs in
 * the cache (the interrupted download is not among them), and the next
 * build with the same directories succeeds.
 *
 * Download is caught by a server that stalls the libc6 body; unpack and
 * write by BASEIMG_TEST_PAUSE (src/util/test-pause.ts), which holds the
 * process after the first package is unpacked, or with the image tarball
 * fully written to its temp file but not yet renamed, and says so on
 * stderr. Each case first checks that the debris it expects to be cleaned
 * up really exists at that moment.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, listDir, makeTempDir } from '../helpers/cli.js';
import { assertCacheHoldsOnlyWholeBlobs, assertNothingLeft, blobPath, prepareDirs, startBuild, waitFor, type BuildDirs } from '../helpers/hostile.js';

let work: string;
let repo: DebianRepo;
let server: TestServer;
let n = 0;

before(async () => {
  work = await makeTempDir('interrupt');
  repo = await standardFixtureRepo(join(work, 'repo'), { architectures: ['amd64'] });
  server = await serveDirectory(repo.root);
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Phase {
  name: 'download' | 'unpack' | 'write';
  /** Sets up the trap and returns the env for the build. */
  arm(): Record<string, string>;
  /** Resolves once the build is inside the phase; checks the debris of that moment. */
  reached(dirs: BuildDirs, stderr: () => string): Promise<void>;
}

const stalled = (): string => `/${repo.pkg('libc6').poolPath}`;

const PHASES: Phase[] = [
  {
    name: 'download',
    arm: () => {
      server.setFault(stalled(), { stallAfterBytes: 512 });
      return {};
    },
    reached: async (dirs) => {
      await waitFor(() => server.requests.some((r) => r.path === stalled()), 15_000, `no request for ${stalled()}`);
      await waitFor(async () => (await listDir(join(dirs.cache, 'tmp'))).length > 0, 5_000, 'no partial download in the cache');
    },
  },
  {
    name: 'unpack',
    arm: () => ({ BASEIMG_TEST_PAUSE: 'unpack' }),
    reached: async (dirs, stderr) => {
      await waitFor(() => stderr().includes('baseimg-test: paused at unpack'), 30_000, 'never paused in unpack');
      assert.ok((await listDir(dirs.tmp)).some((d) => d.startsWith('baseimg-')), 'the scratch directory exists while unpacking');
    },
  },
  {
    name: 'write',
    arm: () => ({ BASEIMG_TEST_PAUSE: 'write' }),
    reached: async (dirs, stderr) => {
      await waitFor(() => stderr().includes('baseimg-test: paused at write'), 30_000, 'never paused in write');
      const beside = await listDir(dirs.out);
      assert.ok(beside.length === 1 && beside[0]!.startsWith('.image.tar.tmp-'), `the tarball's temp file exists while writing: ${beside.join(', ')}`);
    },
  },
];

describe('interrupted builds', () => {
  for (const phase of PHASES) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      it(`${signal} during ${phase.name}: exit 128+signo, nothing left, no partial cache entry, the next build succeeds`, async (t) => {
        const dirs = await prepareDirs(join(work, 'runs'), `${phase.name}-${signal}-${++n}`, fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'interrupted' }));
        t.after(() => server.clearFaults());
        const { child, done } = startBuild(dirs, { env: phase.arm() });
        let err = '';
        child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
        await phase.reached(dirs, () => err);

        const signalled = performance.now();
        child.kill(signal);
        const run = await done;
        const stopMs = performance.now() - signalled;
        assert.equal(run.code, signal === 'SIGINT' ? 130 : 143, describeRun(run));
        assert.match(run.stderr, new RegExp(`${signal} received, stopping and cleaning up`));
        assert.match(run.stderr, new RegExp(`baseimg: error: interrupted by ${signal}; no output was written`));
        assert.doesNotMatch(run.stderr, /^\s+at /m, 'stack trace printed');
        assert.ok(stopMs < 5_000, `took ${stopMs.toFixed(0)} ms to stop`);
        await assertNothingLeft(dirs);
        await assertCacheHoldsOnlyWholeBlobs(dirs.cache);
        assert.deepEqual(await listDir(join(dirs.cache, 'tmp')), [], 'temp files left in the cache');
        if (phase.name === 'download') assert.equal(existsSync(blobPath(dirs.cache, repo.pkg('libc6').sha256)), false, 'the stalled download is not in the cache');
        t.diagnostic(`stopped ${stopMs.toFixed(0)} ms after ${signal}`);

        server.clearFaults();
        const again = await startBuild(dirs).done;
        assert.equal(again.code, 0, describeRun(again));
        assert.deepEqual(await listDir(dirs.out), ['image.cdx.json', 'image.spdx.json', 'image.tar']);
        assert.deepEqual(await listDir(dirs.tmp), []);
      });
    }
  }
});
