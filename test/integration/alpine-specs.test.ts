/**
 * specs/alpine/*.toml load, and their package lists resolve against the
 * real Alpine v3.16 main index served from 127.0.0.1 (the only real Alpine
 * index among the fixtures; the specs name v3.20, whose mirror is not
 * reachable here). The test rewrites the repository and key lines and drops
 * alpine-release, which Alpine split out of alpine-base in v3.17.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadSpec } from '../../src/spec/load.js';
import { describeRun, makeTempDir, PROJECT_ROOT, runCli } from '../helpers/cli.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { alpineFixturesMissing, fixture, fixtureKey, writeRepo } from '../helpers/alpine-repo.js';

const KEY = 'alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub';
let work: string;
let server: TestServer;

before(async () => {
  if (alpineFixturesMissing()) return;
  work = await makeTempDir('alpine-specs');
  await writeRepo(join(work, 'served'), { name: 'v3.16/main', index: await readFile(fixture('apkindex/alpine-v3.16-main-x86_64/APKINDEX.tar.gz')), apks: {} });
  server = await serveDirectory(join(work, 'served'));
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The spec text pointed at the served fixture index. */
function againstFixture(text: string): string {
  return text
    .replace(/^repositories = .*$/m, `repositories = ["${server.url}/v3.16/main"]`)
    .replace(/^keys = \[[^\]]*\]/m, `keys = [${JSON.stringify(fixtureKey(KEY))}]`)
    .replace('"alpine-release", ', '');
}

const EXPECTED: Record<string, string[]> = {
  static: ['alpine-baselayout-data', 'ca-certificates-bundle', 'tzdata'],
  base: ['alpine-baselayout-data', 'ca-certificates-bundle', 'libcrypto3', 'libssl3', 'musl', 'tzdata'],
};

describe('specs/alpine', { skip: alpineFixturesMissing() }, () => {
  for (const [flavour, expected] of Object.entries(EXPECTED)) {
    it(`${flavour}.toml loads and resolves against the v3.16 fixture index`, async () => {
      const path = join(PROJECT_ROOT, 'specs', 'alpine', `${flavour}.toml`);
      const spec = await loadSpec(path);
      assert.equal(spec.source.distro, 'alpine');
      assert.equal(spec.caCertificates.bundle, true);
      const copy = join(work, `${flavour}.toml`);
      await writeFile(copy, againstFixture(await readFile(path, 'utf8')));
      const r = await runCli(['resolve', copy, '--json', '--cache-dir', join(work, 'cache')]);
      assert.equal(r.code, 0, describeRun(r));
      const doc = JSON.parse(r.stdout) as { packages: Array<{ name: string }> };
      assert.deepEqual(doc.packages.map((p) => p.name).sort(), expected);
    });
  }
});
