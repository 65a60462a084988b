/**
 * `baseimg lock` and `baseimg build --locked/--frozen` through the CLI
 * against the standard fixture archive on 127.0.0.1: a locked build from
 * the cache alone gives the original digest, a tampered hash is rejected,
 * --frozen notices a changed spec, a package gone from the mirror gets an
 * error that points at snapshots, and --offline names every missing file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, makeTempDir, runCli, sha256File, type CliResult } from '../helpers/cli.js';
import { parseLock } from '../../src/lock/format.js';

let work: string;
let repo: DebianRepo;
let server: TestServer;

interface Built {
  digest: string;
  sourceDateEpoch: number;
  packages: Array<{ name: string }>;
  sha256: string;
}

async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(args, { cwd: work, env });
}

async function build(spec: string, output: string, cache: string, extra: string[] = []): Promise<Built> {
  const run = await cli(['build', spec, '-o', output, '--cache-dir', cache, '--json', ...extra]);
  assert.equal(run.code, 0, describeRun(run));
  return { ...(JSON.parse(run.stdout) as Omit<Built, 'sha256'>), sha256: await sha256File(output) };
}

async function writeSpec(name: string, mirror: string, extra: { include?: string[]; topLevel?: string } = {}): Promise<string> {
  const path = join(work, `${name}.toml`);
  await writeFile(path, fixtureSpec({ mirror, keyring: repo.keyringPath, name, ...extra }));
  return path;
}

before(async () => {
  work = await makeTempDir('lock');
  repo = await standardFixtureRepo(join(work, 'repo'));
  server = await serveDirectory(repo.root);
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('baseimg lock + build --locked (fixture archive)', () => {
  it('locks, then builds from the lock and the cache alone with the server gone: same digest, same SOURCE_DATE_EPOCH', async () => {
    const own = await serveDirectory(repo.root);
    const spec = await writeSpec('offline', own.url);
    const cache = join(work, 'cache-offline');
    let original: Built;
    try {
      original = await build(spec, join(work, 'offline-1.tar'), cache);
      const locked = await cli(['lock', spec, '--cache-dir', cache]);
      assert.equal(locked.code, 0, describeRun(locked));
      assert.match(locked.stderr, /wrote offline\.lock\.json \(amd64: \d+ packages \+ 1 auxiliary\)/);
    } finally {
      await own.close();
    }
    const again = await build(spec, join(work, 'offline-2.tar'), cache, ['--locked', '--offline']);
    assert.equal(again.digest, original.digest);
    assert.equal(again.sha256, original.sha256);
    assert.equal(again.sourceDateEpoch, original.sourceDateEpoch, 'the derived SOURCE_DATE_EPOCH moved');
    assert.deepEqual(again.packages.map((p) => p.name), original.packages.map((p) => p.name));
  });

  it('writes the lock beside the spec with every package, its hash and edges; locking again changes nothing', async () => {
    const spec = await writeSpec('content', server.url);
    const first = await cli(['lock', spec, '--cache-dir', join(work, 'cache')]);
    assert.equal(first.code, 0, describeRun(first));
    const text = await readFile(join(work, 'content.lock.json'), 'utf8');
    const lock = parseLock(text, 'content.lock.json');
    const amd64 = lock.architectures[0]!;
    assert.equal(amd64.arch, 'amd64');
    assert.deepEqual(amd64.sources.map((s) => [s.repository, s.url, s.index, s.date]), [
      ['fixture', server.url, 'dists/fixture/InRelease', 'Sat, 09 Nov 2024 10:05:41 UTC'],
      ['fixture-security', server.url, 'dists/fixture-security/InRelease', 'Fri, 10 Jan 2025 08:00:00 UTC'],
    ]);
    for (const p of amd64.packages) {
      const built = repo.pkg(p.name, { suite: p.repository, architecture: 'amd64' });
      assert.equal(p.sha256, built.sha256, p.name);
      assert.equal(p.size, built.size, p.name);
      assert.equal(p.filename, built.poolPath, p.name);
    }
    assert.deepEqual(amd64.packages.find((p) => p.name === 'libgcc-s1')!.dependsOn, ['gcc-12-base', 'libc6']);
    // The spec wants the CA bundle without installing ca-certificates: it is locked as auxiliary.
    assert.deepEqual(amd64.auxiliary.map((p) => p.name), ['ca-certificates']);

    const second = await cli(['lock', spec, '--cache-dir', join(work, 'cache')]);
    assert.equal(second.code, 0, describeRun(second));
    assert.match(second.stderr, /unchanged: content\.lock\.json/);
    assert.equal(await readFile(join(work, 'content.lock.json'), 'utf8'), text);
  });

  it('downloads no index with --locked', async () => {
    const spec = await writeSpec('noindex', server.url);
    assert.equal((await cli(['lock', spec, '--cache-dir', join(work, 'cache')])).code, 0);
    const before = server.requests.length;
    await build(spec, join(work, 'noindex.tar'), join(work, 'cache-noindex'), ['--locked']);
    const paths = server.requests.slice(before).map((r) => r.path);
    assert.ok(paths.length > 0);
    assert.deepEqual(paths.filter((p) => !p.startsWith('/pool/')), [], 'a locked build fetched an index');
  });

  it('rejects a tampered hash in the lock', async () => {
    const spec = await writeSpec('tamper', server.url);
    assert.equal((await cli(['lock', spec, '--cache-dir', join(work, 'cache')])).code, 0);
    const lockPath = join(work, 'tamper.lock.json');
    const lock = JSON.parse(await readFile(lockPath, 'utf8'));
    const libc = lock.architectures[0].packages.find((p: { name: string }) => p.name === 'libc6');
    const forged = libc.sha256.replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
    libc.sha256 = forged;
    libc.fields.SHA256 = forged;
    await writeFile(lockPath, JSON.stringify(lock, null, 2));
    // A cache that holds the genuine file must not help: the forged hash names no cached blob.
    const run = await cli(['build', spec, '--locked', '-o', join(work, 'tamper.tar'), '--cache-dir', join(work, 'cache')]);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, /libc6/);
    assert.match(run.stderr, new RegExp(forged));
    assert.match(run.stderr, /sha256|SHA-256|checksum/i);
  });

  it('rejects a lock whose inputs were edited without the digest', async () => {
    const spec = await writeSpec('edited', server.url);
    assert.equal((await cli(['lock', spec, '--cache-dir', join(work, 'cache')])).code, 0);
    const lockPath = join(work, 'edited.lock.json');
    const lock = JSON.parse(await readFile(lockPath, 'utf8'));
    lock.spec.inputs['packages.include'].push('mime-support');
    await writeFile(lockPath, JSON.stringify(lock, null, 2));
    const run = await cli(['build', spec, '--locked', '-o', join(work, 'edited.tar'), '--cache-dir', join(work, 'cache')]);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, /edited\.lock\.json: spec\.digest: does not match spec\.inputs/);
  });

  it('--frozen fails when a package was added to the spec; --locked warns and builds the locked set', async () => {
    const spec = await writeSpec('frozen', server.url);
    assert.equal((await cli(['lock', spec, '--cache-dir', join(work, 'cache')])).code, 0);
    const locked = await build(spec, join(work, 'frozen-1.tar'), join(work, 'cache'), ['--frozen']);
    await writeSpec('frozen', server.url, { include: ['base-files', 'netbase', 'tzdata', 'media-types', 'libc6', 'libssl3', 'mime-support'] });

    const frozen = await cli(['build', spec, '--frozen', '-o', join(work, 'frozen-2.tar'), '--cache-dir', join(work, 'cache')]);
    assert.equal(frozen.code, 1, describeRun(frozen));
    assert.match(frozen.stderr, /no longer matches its lock .*frozen\.lock\.json: packages\.include: added mime-support/);
    assert.match(frozen.stderr, /hint: run baseimg lock/);

    const run = await cli(['build', spec, '--locked', '-o', join(work, 'frozen-3.tar'), '--cache-dir', join(work, 'cache'), '--json']);
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stderr, /changed since .*frozen\.lock\.json was written \(packages\.include: added mime-support\)/);
    assert.equal(JSON.parse(run.stdout).digest, locked.digest);
  });

  it('--frozen fails when the source changed', async () => {
    const spec = await writeSpec('suites', server.url);
    assert.equal((await cli(['lock', spec, '--cache-dir', join(work, 'cache')])).code, 0);
    await writeFile(spec, fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'suites', suites: ['fixture'] }));
    const run = await cli(['build', spec, '--frozen', '-o', join(work, 'suites.tar'), '--cache-dir', join(work, 'cache')]);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, /source\.suites: removed fixture-security/);
  });

  it('locks every architecture of the spec and builds each from the lock', async () => {
    const spec = await writeSpec('multi', server.url, { topLevel: 'arch = ["amd64", "arm64"]' });
    const run = await cli(['lock', spec, '--cache-dir', join(work, 'cache')]);
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stderr, /amd64: \d+ packages \+ 1 auxiliary, arm64: \d+ packages \+ 1 auxiliary/);
    const lock = parseLock(await readFile(join(work, 'multi.lock.json'), 'utf8'), 'multi.lock.json');
    assert.deepEqual(lock.architectures.map((a) => a.arch), ['amd64', 'arm64']);
    assert.equal(lock.architectures[1]!.packages.find((p) => p.name === 'libc6')!.architecture, 'arm64');
    const [amd64, arm64] = await Promise.all([
      build(spec, join(work, 'multi-amd64.tar'), join(work, 'cache'), ['--frozen', '--arch', 'amd64']),
      build(spec, join(work, 'multi-arm64.tar'), join(work, 'cache'), ['--frozen', '--arch', 'arm64']),
    ]);
    assert.notEqual(amd64.digest, arm64.digest);
  });

  it('says which locked packages the mirror no longer has, and suggests a snapshot or a new lock', async () => {
    const copy = join(work, 'moved-on');
    await cp(repo.root, copy, { recursive: true });
    const moved = await serveDirectory(copy);
    try {
      const spec = await writeSpec('gone', moved.url);
      assert.equal((await cli(['lock', spec, '--cache-dir', join(work, 'cache-gone')])).code, 0);
      // A point release replaced two packages: their old files left the pool.
      await unlink(join(copy, repo.pkg('libssl3', { suite: 'fixture-security', architecture: 'amd64' }).poolPath));
      await unlink(join(copy, repo.pkg('tzdata').poolPath));
      const run = await cli(['build', spec, '--locked', '-o', join(work, 'gone.tar'), '--cache-dir', join(work, 'cache-gone')]);
      assert.equal(run.code, 1, describeRun(run));
      assert.match(run.stderr, /2 locked packages are no longer on the mirror/);
      assert.match(run.stderr, /^ {2}libssl3 3\.0\.16-1~deb12u1: http:\/\/127\.0\.0\.1:\d+\/pool\//m);
      assert.match(run.stderr, /^ {2}tzdata 2024b-0\+deb12u1: /m);
      assert.match(run.stderr, /hint: .*snapshot.*source\.snapshot = "20250110T080000Z".*baseimg lock/);
    } finally {
      await moved.close();
    }
  });

  it('--offline names every missing file, for indexes and for locked packages', async () => {
    const spec = await writeSpec('missing', server.url);
    const empty = join(work, 'cache-empty');
    const resolveRun = await cli(['build', spec, '--offline', '-o', join(work, 'missing.tar'), '--cache-dir', empty]);
    assert.equal(resolveRun.code, 1, describeRun(resolveRun));
    assert.match(resolveRun.stderr, /offline: 2 files are missing from the cache:\n {2}InRelease of fixture: .*\n {2}InRelease of fixture-security: /);

    assert.equal((await cli(['lock', spec, '--cache-dir', join(work, 'cache')])).code, 0);
    const lock = parseLock(await readFile(join(work, 'missing.lock.json'), 'utf8'), 'missing.lock.json');
    const wanted = lock.architectures[0]!.packages.length + lock.architectures[0]!.auxiliary.length;
    const run = await cli(['build', spec, '--locked', '--offline', '-o', join(work, 'missing.tar'), '--cache-dir', empty]);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, new RegExp(`offline: ${wanted} files are missing from the cache:`));
    for (const p of [...lock.architectures[0]!.packages, ...lock.architectures[0]!.auxiliary]) {
      assert.ok(run.stderr.includes(`  ${p.name} ${p.version}: `), `${p.name} not listed:\n${run.stderr}`);
    }
    assert.match(run.stderr, /hint: run once without --offline/);
  });

  it('explains a missing lock and --lock without --locked', async () => {
    const spec = await writeSpec('nolock', server.url);
    const run = await cli(['build', spec, '--locked', '-o', join(work, 'nolock.tar'), '--cache-dir', join(work, 'cache')]);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, /no lock file .*nolock\.lock\.json\n {2}hint: create it with: baseimg lock /);
    const usage = await cli(['build', spec, '--lock', 'x.json', '-o', join(work, 'nolock.tar')]);
    assert.equal(usage.code, 2, describeRun(usage));
  });
});
