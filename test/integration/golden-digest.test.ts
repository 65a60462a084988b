/**
 * Golden digest: the image built from the standard fixture archive with a
 * fixed spec and SOURCE_DATE_EPOCH must have exactly this manifest digest.
 *
 * When may GOLDEN_DIGEST change? Only when the image format changes on
 * purpose (layer tar headers, gzip, config or manifest JSON, what finalize
 * writes, a new file in every image such as an embedded SBOM), or when
 * package.json's version changes (the config's history records
 * "baseimg <version>"). Update it in the same commit as that change and say
 * why in the commit message. Anything else that moves it is a
 * reproducibility bug: find it, do not re-record.
 *
 * The fixture archive is regenerated for every run. Its .deb files are
 * byte-identical each time (fixed mtimes, deterministic compressors); its
 * InRelease signatures are not (a fresh key per run), and must not matter.
 * The embedded SBOM records each .deb's SHA-256, so a host whose xz, zstd or
 * Node zlib compress the fixture differently gets another digest: record it
 * on the CI image.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, makeTempDir, runCli, sha256File } from '../helpers/cli.js';
import { TOOL } from '../../src/version.js';

/** Recorded for baseimg 0.1.0 with 1 MiB gzip blocks (src/image/gzip.ts); see the file comment before changing it. */
const GOLDEN_DIGEST = 'sha256:891e14cc4e3bb648c8c10fe1bd93e5225176a51ba570bfeea4af0c1344eb870d';
const GOLDEN_VERSION = '0.1.0';
const SOURCE_DATE_EPOCH = '1700000000';

const SPEC_TABLES = `
[image]
user = "nonroot"
workdir = "/home/nonroot"
entrypoint = ["/usr/bin/app"]
env = { TZ = "UTC" }

[[paths]]
path = "/etc/app.conf"
type = "file"
content = "answer = 42\\n"
`;

/**
 * Each build runs in its own directory holding the archive as ./repo, and the
 * spec names it as file:///proc/self/cwd/repo: the same URL in every run and
 * on every machine (Linux), so nothing about this run's temp paths or ports
 * can reach the image through a recorded URL.
 */
const STABLE_MIRROR = 'file:///proc/self/cwd/repo';

let work: string;
const repos: DebianRepo[] = [];

before(async () => {
  work = await makeTempDir('golden');
  for (const name of ['run-1', 'run-2']) {
    await mkdir(join(work, name));
    repos.push(await standardFixtureRepo(join(work, name, 'repo')));
  }
  // Both repos may be signed within the same second (Ed25519 signatures are deterministic):
  // sign the second a few seconds later (still within the clock-skew allowance) so they certainly differ.
  const later = new Date(Date.now() + 5_000);
  for (const suite of ['fixture', 'fixture-security']) await repos[1]!.resign(suite, { date: later });
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Builds the golden spec with `mirror`, in `cwd`; returns the manifest digest. */
async function build(label: string, mirror: string, keyring: string, cwd: string): Promise<string> {
  const spec = join(work, `${label}.toml`);
  await writeFile(spec, fixtureSpec({ mirror, keyring, name: 'golden', tables: SPEC_TABLES }));
  const run = await runCli(['build', spec, '-o', join(work, `${label}.tar`), '--cache-dir', join(work, `cache-${label}`), '--json'], {
    cwd,
    env: { SOURCE_DATE_EPOCH },
  });
  assert.equal(run.code, 0, describeRun(run));
  return (JSON.parse(run.stdout) as { digest: string }).digest;
}

describe('golden digest', () => {
  it('the fixture archive builds byte-identical .debs every time; only the signatures differ', async () => {
    const [a, b] = repos as [DebianRepo, DebianRepo];
    assert.deepEqual(
      a.packages.map((p) => [p.suite, p.poolPath, p.sha256]),
      b.packages.map((p) => [p.suite, p.poolPath, p.sha256]),
    );
    for (const p of a.packages) assert.equal(await sha256File(p.debPath), p.sha256, p.poolPath);
    assert.notEqual(
      await sha256File(join(a.root, 'dists', 'fixture', 'InRelease')),
      await sha256File(join(b.root, 'dists', 'fixture', 'InRelease')),
      'expected a fresh signature per run',
    );
  });

  it(`the fixture image has the recorded digest (baseimg ${GOLDEN_VERSION}), whatever the signatures`, async (t) => {
    const [first, second] = await Promise.all(
      repos.map((repo, i) => build(`golden-${i}`, STABLE_MIRROR, repo.keyringPath, join(work, `run-${i + 1}`))),
    );
    assert.equal(second, first, 'two fixture archives that differ only in their signatures gave different images');
    if (TOOL.version !== GOLDEN_VERSION) {
      t.skip(`recorded for ${GOLDEN_VERSION}, this is ${TOOL.version}: record the new digest (${first}) with the version bump`);
      return;
    }
    assert.equal(first, GOLDEN_DIGEST, 'the image changed: see the comment at the top of this file');
  });

  it('does not depend on the URL the packages were fetched from', async () => {
    const repo = repos[0]!;
    const servers: TestServer[] = [await serveDirectory(repo.root), await serveDirectory(repo.root)];
    try {
      const viaIp = servers[0]!.url;
      const viaName = servers[1]!.url.replace('127.0.0.1', 'localhost');
      const [a, b] = await Promise.all([
        build('url-ip', viaIp, repo.keyringPath, work),
        build('url-name', viaName, repo.keyringPath, work),
      ]);
      assert.equal(b, a, `the same packages fetched from ${viaIp} and ${viaName} gave different images: a mirror URL reached the image`);
    } finally {
      for (const server of servers) await server.close();
    }
  });
});
