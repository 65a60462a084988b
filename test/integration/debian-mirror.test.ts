/**
 * Against the real Debian archive, located like the tool does (spec-less:
 * BASEIMG_DEBIAN_MIRROR, else the host's apt sources). Asserts properties,
 * not versions, since the archive moves on. Without a mirror the suite is
 * skipped, except under CI=true where that is a failure.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildContext } from '../../src/pipeline/context.js';
import type { DebianSource } from '../../src/spec/types.js';
import { createFetcher, type FetcherHandle } from '../../src/net/fetcher.js';
import { resolveDebianMirrors } from '../../src/distro/debian/mirror.js';
import { loadKeyring, parseRelease, verifyInRelease } from '../../src/distro/debian/release.js';
import { openDebianRepository } from '../../src/distro/debian/repository.js';
import { parseDeb822Stream } from '../../src/distro/debian/deb822.js';
import { xzDecompress } from '../../src/util/xz.js';
import { isBaseimgError } from '../../src/util/errors.js';

const source = (suites: string[]): DebianSource => ({
  distro: 'debian',
  mirror: undefined,
  securityMirror: undefined,
  suites,
  components: ['main'],
  keyring: [],
  mergedUsr: true,
});

function mirrorProblem(): string | undefined {
  try {
    resolveDebianMirrors(source(['bookworm', 'bookworm-security']), { env: process.env });
    return undefined;
  } catch (err) {
    if (isBaseimgError(err) && err.code === 'MIRROR') return err.message;
    throw err;
  }
}

const problem = mirrorProblem();
if (problem !== undefined && process.env.CI === 'true') {
  throw new Error(`CI=true but no Debian mirror is configured: ${problem}`);
}
const skip = problem === undefined ? false : `no Debian mirror configured (${problem}); set BASEIMG_DEBIAN_MIRROR to run`;

let cacheDir: string;
const handles: FetcherHandle[] = [];

function context(): BuildContext {
  const handle = createFetcher({ cacheDir, offline: false });
  handles.push(handle);
  return {
    fetcher: handle.fetcher,
    derived: handle.derived,
    reporter: { info() {}, warn() {}, debug() {}, task: () => ({ tick() {}, setTotal() {}, done() {} }), timing() {} },
    tmpDir: cacheDir,
    now: new Date(),
    signal: new AbortController().signal,
    insecureSkipVerify: false,
    offline: false,
  };
}

before(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'baseimg-mirror-it-'));
});
after(async () => {
  for (const h of handles) await h.close();
  await rm(cacheDir, { recursive: true, force: true });
});

describe('Debian archive (host mirror)', { skip, timeout: 600_000 }, () => {
  it('opens bookworm, bookworm-updates and bookworm-security', async (t) => {
    const suites = ['bookworm', 'bookworm-updates', 'bookworm-security'];
    const started = performance.now();
    const repo = await openDebianRepository(source(suites), 'amd64', context());
    const coldMs = performance.now() - started;

    assert.deepEqual(repo.releases.map((r) => r.suite), suites);
    for (const release of repo.releases) {
      assert.ok(release.signedBy.length >= 1, `${release.suite} has no accepted signature`);
      assert.equal(release.codename?.startsWith('bookworm'), true);
      assert.ok(release.files.has('main/binary-amd64/Packages.xz') || release.files.has('main/binary-amd64/Packages.gz'));
    }
    assert.ok(repo.releases[2]!.baseUrl.endsWith('-security'), 'security suite not served from a -security archive');
    assert.ok(repo.packages.length > 30000, `only ${repo.packages.length} packages`);
    const bySuite = new Set(repo.packages.map((p) => p.suite));
    assert.ok(bySuite.has('bookworm') && bySuite.has('bookworm-security'));

    const baseFiles = repo.packages.find((p) => p.name === 'base-files' && p.suite === 'bookworm');
    assert.ok(baseFiles, 'base-files missing');
    assert.equal(baseFiles.architecture, 'amd64');
    assert.match(baseFiles.version, /^12\./);
    assert.match(baseFiles.sha256, /^[0-9a-f]{64}$/);
    assert.match(baseFiles.filename, /^pool\/main\/b\/base-files\/base-files_.*_amd64\.deb$/);
    assert.ok(baseFiles.size > 10_000);

    const warmStart = performance.now();
    const warm = await openDebianRepository(source(suites), 'amd64', context());
    const warmMs = performance.now() - warmStart;
    assert.equal(warm.packages.length, repo.packages.length);
    t.diagnostic(`bookworm+updates+security main/amd64: ${repo.packages.length} packages; cold ${coldMs.toFixed(0)} ms, warm ${warmMs.toFixed(0)} ms`);
  });

  it('opens trixie with the host keyring', async () => {
    const repo = await openDebianRepository(source(['trixie']), 'amd64', context());
    assert.ok(repo.releases[0]!.signedBy.length >= 1);
    assert.equal(repo.releases[0]!.codename, 'trixie');
    assert.ok(repo.packages.length > 30000);
    assert.ok(repo.packages.some((p) => p.name === 'base-files'));
  });

  it('verifies bookworm InRelease quickly and parses its Packages at >= 50 MB/s', async (t) => {
    const mirror = resolveDebianMirrors(source(['bookworm']), { env: process.env }).get('bookworm')!;
    const ctx = context();
    const url = `${mirror}/dists/bookworm/InRelease`;
    const armored = (await ctx.fetcher.fetchBuffer(url)).toString('utf8');
    const keys = await loadKeyring([]);
    const timings: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      const { signedBy } = await verifyInRelease(armored, keys, ctx.now, url);
      timings.push(performance.now() - start);
      assert.ok(signedBy.length >= 2);
    }
    t.diagnostic(`InRelease verification: first ${timings[0]!.toFixed(1)} ms, best ${Math.min(...timings).toFixed(1)} ms`);

    // The Packages index is in the cache from the first test (or is fetched now).
    const { text } = await verifyInRelease(armored, keys, ctx.now, url);
    const info = parseRelease(text, { url, suite: 'bookworm', baseUrl: mirror, sha256: '', signedBy: [] });
    const xz = info.files.get('main/binary-amd64/Packages.xz')!;
    const file = await ctx.fetcher.fetchFile(`${mirror}/dists/bookworm/main/binary-amd64/Packages.xz`, xz);
    const chunks: Buffer[] = [];
    for await (const chunk of xzDecompress((async function* () {
      yield await readFile(file.path);
    })())) chunks.push(chunk);
    const bytes = chunks.reduce((sum, c) => sum + c.length, 0);
    let best = 0;
    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      let count = 0;
      for await (const _ of parseDeb822Stream((async function* () {
        yield* chunks;
      })())) count++;
      const seconds = (performance.now() - start) / 1000;
      best = Math.max(best, bytes / 1e6 / seconds);
      assert.ok(count > 30000);
    }
    t.diagnostic(`deb822 parse: ${(bytes / 1e6).toFixed(1)} MB at ${best.toFixed(0)} MB/s (best of 3)`);
    assert.ok(best >= 50, `parser throughput ${best.toFixed(0)} MB/s < 50 MB/s`);
  });
});
