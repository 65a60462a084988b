/**
 * Builds that stop half-way leave nothing behind: an archive that fails
 * verification (a tampered .deb or Packages index, a bad or untrusted InRelease
 * signature, an expired Valid-Until). Each gives a clear error and a
 * non-zero exit, and neither the output directory nor TMPDIR holds anything
 * afterwards. Each tampered archive is its own copy of the standard
 * fixture, served under its own path. Interrupted builds (SIGINT/SIGTERM
 * during download, unpack and write) are in hostile-interrupt.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURE_VERSIONS, standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { generateTestKey } from '../helpers/pgp.js';
import { describeRun, fixtureSpec, listDir, makeTempDir, startCli, type CliResult } from '../helpers/cli.js';

let work: string;
let archives: string;
let server: TestServer;
let pristine: DebianRepo;

/** Paths of one build: spec, output directory, private TMPDIR, cache. */
interface BuildDirs {
  spec: string;
  out: string;
  tmp: string;
  cache: string;
}

async function prepareBuild(name: string, archive: DebianRepo): Promise<BuildDirs> {
  const dir = join(work, 'builds', name);
  const dirs = { spec: join(dir, 'spec.toml'), out: join(dir, 'out'), tmp: join(dir, 'tmp'), cache: join(dir, 'cache') };
  await mkdir(dirs.out, { recursive: true });
  await mkdir(dirs.tmp);
  await writeFile(dirs.spec, fixtureSpec({ mirror: `${server.url}/${name}`, keyring: archive.keyringPath, name }));
  return dirs;
}

function startBuild(dirs: BuildDirs): ReturnType<typeof startCli> {
  return startCli(['build', dirs.spec, '-o', join(dirs.out, 'image.tar'), '--cache-dir', dirs.cache], { env: { TMPDIR: dirs.tmp } });
}

/** Neither the output's directory nor TMPDIR may keep anything from a failed build. */
async function assertNothingLeft(dirs: BuildDirs): Promise<void> {
  assert.deepEqual(await listDir(dirs.out), [], 'files left beside the output');
  assert.deepEqual(await listDir(dirs.tmp), [], 'scratch files left in TMPDIR');
}

/** A copy of the standard fixture at <archives>/<name>, signed like the pristine one, then damaged. */
async function damagedArchive(name: string, damage: (archive: DebianRepo) => Promise<void>): Promise<DebianRepo> {
  const archive = await standardFixtureRepo(join(archives, name), { signingKeys: pristine.signingKeys, architectures: ['amd64'] });
  await damage(archive);
  return archive;
}

/** Same size, other bytes: only the checksum can tell. */
const flipLastByte = (data: Buffer): Buffer => Buffer.concat([data.subarray(0, -1), Buffer.from([data[data.length - 1]! ^ 0xff])]);

const requestsUnder = (name: string, sub: string): number => server.requests.filter((r) => r.path.startsWith(`/${name}/${sub}`)).length;

/** Builds from the archive at `name` and returns the failure after the common checks. */
async function failingBuild(name: string, archive: DebianRepo): Promise<{ run: CliResult; message: string }> {
  const dirs = await prepareBuild(name, archive);
  const run = await startBuild(dirs).done;
  assert.equal(run.code, 1, describeRun(run));
  assert.doesNotMatch(run.stderr, /^\s+at /m, 'stack trace printed');
  await assertNothingLeft(dirs);
  const message = run.stderr.slice(run.stderr.indexOf('baseimg: error: '));
  assert.ok(message.startsWith('baseimg: error: '), describeRun(run));
  return { run, message };
}

before(async () => {
  work = await makeTempDir('aborted');
  archives = join(work, 'archives');
  pristine = await standardFixtureRepo(join(archives, 'pristine'), { architectures: ['amd64'] });
  server = await serveDirectory(archives);
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('verification failures', () => {
  it('a .deb in the pool that does not match its Packages entry', async () => {
    const archive = await damagedArchive('bad-deb', (a) => a.tamperFile(a.pkg('libc6').poolPath, flipLastByte));
    const { message } = await failingBuild('bad-deb', archive);
    const url = `${server.url}/bad-deb/${archive.pkg('libc6').poolPath}`;
    assert.ok(
      message.startsWith(`baseimg: error: libc6 ${FIXTURE_VERSIONS.libc6} (${url}): checksum mismatch: expected sha256 ${archive.pkg('libc6').sha256}, got `),
      message,
    );
  });

  it('a Packages index (.gz and .xz) that does not match the signed Release', async () => {
    const archive = await damagedArchive('bad-index', async (a) => {
      const dir = 'dists/fixture/main/binary-amd64';
      // Whichever compression the client prefers, and by hash (Acquire-By-Hash: yes) or by name: damage every copy.
      for (const name of ['Packages.xz', 'Packages.gz']) {
        const hash = createHash('sha256').update(await readFile(join(a.root, dir, name))).digest('hex');
        await a.tamperFile(`${dir}/${name}`, flipLastByte);
        await a.tamperFile(`${dir}/by-hash/SHA256/${hash}`, flipLastByte);
      }
    });
    const { message } = await failingBuild('bad-index', archive);
    assert.match(message, /Packages index of fixture\/main \(http:\/\/\S+\/bad-index\/dists\/fixture\/main\/binary-amd64\/\S+\): checksum mismatch/);
    assert.equal(requestsUnder('bad-index', 'pool/'), 0, 'packages were fetched from an unverified index');
  });

  it('an InRelease whose signed text was changed', async () => {
    const archive = await damagedArchive('bad-signature', (a) =>
      a.tamperFile('dists/fixture/InRelease', (data) => data.toString('utf8').replace('Codename: fixture\n', 'Codename: fixturf\n')));
    const { message } = await failingBuild('bad-signature', archive);
    assert.match(message, /bad-signature\/dists\/fixture\/InRelease: no valid signature from a trusted key \([0-9a-f]+: bad signature\)/);
    assert.equal(requestsUnder('bad-signature', 'dists/fixture/main/'), 0, 'an index was fetched on an unverified Release');
  });

  it('an InRelease signed by a key that is not in the keyring', async () => {
    const stranger = await generateTestKey({ name: 'Stranger', email: 'stranger@example.invalid' });
    const archive = await damagedArchive('unknown-key', (a) => a.resign('fixture', { keys: [stranger] }));
    const { message } = await failingBuild('unknown-key', archive);
    assert.match(message, /unknown-key\/dists\/fixture\/InRelease: no valid signature from a trusted key \([0-9a-f]+: unknown key\)/);
    assert.match(message, /hint: .*keyring/);
  });

  it('a Release past its Valid-Until', async () => {
    const archive = await damagedArchive('expired', (a) => a.rewriteRelease('fixture', { 'Valid-Until': 'Sat, 01 Jan 2022 00:00:00 UTC' }));
    const { message } = await failingBuild('expired', archive);
    assert.match(message, /expired\/dists\/fixture\/InRelease: expired: Valid-Until 2022-01-01T00:00:00\.000Z is before now/);
  });
});
