/**
 * specs/alpine/*.toml (every flavour, its -debug and -nonroot variant, and
 * the fragments they include) load, and their package lists resolve against
 * the real Alpine v3.16 main index served from 127.0.0.1 (the only real Alpine
 * index among the fixtures; the specs name v3.20, whose mirror is not
 * reachable here). The test rewrites the repository and key lines and drops
 * alpine-release, which Alpine split out of alpine-base in v3.17.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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

const STATIC = ['alpine-baselayout-data', 'ca-certificates-bundle', 'tzdata'];
const BASE = [...STATIC, 'libcrypto3', 'libssl3', 'musl'];
const CC = [...BASE, 'libgcc', 'libstdc++'];
/** Packages each flavour must have (its closure may hold more: python3 and nodejs pull libraries). */
const EXPECTED: Record<string, { exact?: string[]; has?: string[] }> = {
  static: { exact: STATIC },
  base: { exact: BASE },
  cc: { exact: CC },
  python3: { has: [...CC, 'python3'] },
  nodejs: { has: [...CC, 'nodejs'] },
};
const FLAVOURS = Object.keys(EXPECTED);

/** Every spec of specs/alpine (fragments too) copied into the work dir, pointed at the fixture index. */
async function copySpecs(): Promise<void> {
  await mkdir(join(work, 'fragments'), { recursive: true });
  for (const dir of ['', 'fragments']) {
    for (const file of await readdir(join(PROJECT_ROOT, 'specs', 'alpine', dir))) {
      if (!file.endsWith('.toml')) continue;
      await writeFile(join(work, dir, file), againstFixture(await readFile(join(PROJECT_ROOT, 'specs', 'alpine', dir, file), 'utf8')));
    }
  }
}

async function resolved(name: string): Promise<string[]> {
  const r = await runCli(['resolve', join(work, `${name}.toml`), '--json', '--cache-dir', join(work, 'cache')]);
  assert.equal(r.code, 0, describeRun(r));
  return (JSON.parse(r.stdout) as { packages: Array<{ name: string }> }).packages.map((p) => p.name).sort();
}

describe('specs/alpine', { skip: alpineFixturesMissing() }, () => {
  before(copySpecs);

  for (const flavour of FLAVOURS) {
    it(`${flavour}.toml and its variants load and resolve against the v3.16 fixture index`, async () => {
      const path = join(PROJECT_ROOT, 'specs', 'alpine', `${flavour}.toml`);
      const spec = await loadSpec(path);
      assert.equal(spec.source.distro, 'alpine');
      assert.equal(spec.caCertificates.bundle, true);
      const names = await resolved(flavour);
      const { exact, has } = EXPECTED[flavour]!;
      if (exact) assert.deepEqual(names, [...exact].sort());
      for (const name of has ?? []) assert.ok(names.includes(name), `${flavour} lacks ${name}: ${names.join(' ')}`);
      assert.ok(!names.includes('busybox') || flavour !== 'static', 'static has no busybox');

      const debug = await loadSpec(join(PROJECT_ROOT, 'specs', 'alpine', `${flavour}-debug.toml`));
      assert.deepEqual(debug.image.entrypoint, ['/busybox/sh']);
      assert.equal(debug.layerParent, path);
      // busybox, and what install_if brings with it (ssl_client where libssl is in).
      const withDebug = await resolved(`${flavour}-debug`);
      for (const name of [...names, 'busybox']) assert.ok(withDebug.includes(name), `${flavour}-debug lacks ${name}`);

      const nonroot = await loadSpec(join(PROJECT_ROOT, 'specs', 'alpine', `${flavour}-nonroot.toml`));
      assert.deepEqual([nonroot.image.user, nonroot.image.workdir], ['nonroot', '/home/nonroot']);
      assert.deepEqual(await resolved(`${flavour}-nonroot`), names);
    });
  }

  it('has a debug and a nonroot variant of every flavour, and nothing else', async () => {
    const files = (await readdir(join(PROJECT_ROOT, 'specs', 'alpine'))).filter((f) => f.endsWith('.toml')).sort();
    assert.deepEqual(files, FLAVOURS.flatMap((f) => [`${f}.toml`, `${f}-debug.toml`, `${f}-nonroot.toml`]).sort());
  });
});
