/**
 * Snapshot sources against a local stand-in for a snapshot service on
 * 127.0.0.1: the standard fixture archive laid out as
 * archive/debian/<timestamp>/ and archive/debian-security/<timestamp>/,
 * signed in the past, with a Valid-Until that has passed by now but had
 * not at the snapshot's time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { releaseDate, standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { generateTestKey } from '../helpers/pgp.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, FIXTURE_EXCLUDE, FIXTURE_INCLUDE, makeTempDir, runCli } from '../helpers/cli.js';
import { parseLock } from '../../src/lock/format.js';

const STAMP = '20250201T000000Z';
const SIGNED_AT = new Date('2025-01-15T00:00:00Z');

let work: string;
let repo: DebianRepo;
let server: TestServer;

function snapshotSpec(name: string, source: string): string {
  return [
    `name = "${name}"`,
    '[source]',
    'distro = "debian"',
    source,
    'suites = ["fixture", "fixture-security"]',
    `keyring = ${JSON.stringify(repo.keyringPath)}`,
    '[packages]',
    `include = ${JSON.stringify(FIXTURE_INCLUDE)}`,
    `exclude = ${JSON.stringify(FIXTURE_EXCLUDE)}`,
    '',
  ].join('\n');
}

async function writeSpec(name: string, source: string): Promise<string> {
  const path = join(work, `${name}.toml`);
  await writeFile(path, snapshotSpec(name, source));
  return path;
}

before(async () => {
  work = await makeTempDir('snapshot');
  const key = await generateTestKey({ name: 'Snapshot Test Archive', email: 'archive@example.invalid', date: new Date('2024-01-01T00:00:00Z') });
  const root = join(work, 'service');
  repo = await standardFixtureRepo(join(root, 'archive', 'debian', STAMP), { signingKeys: [key], architectures: ['amd64'] });
  // Security updates: valid for a week from their Date, long expired by now.
  await repo.rewriteRelease('fixture-security', { 'Valid-Until': releaseDate(new Date('2025-02-05T00:00:00Z')) });
  for (const suite of ['fixture', 'fixture-security']) await repo.resign(suite, { date: SIGNED_AT });
  await mkdir(join(root, 'archive', 'debian-security'));
  await symlink(join(root, 'archive', 'debian', STAMP), join(root, 'archive', 'debian-security', STAMP));
  server = await serveDirectory(root);
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('snapshot sources (local stand-in)', () => {
  it('takes every suite from <base>/archive/<archive>/<timestamp>/ and checks Releases as of that time', async () => {
    const spec = await writeSpec('snap', `snapshot = "${STAMP}"`);
    const before = server.requests.length;
    const run = await runCli(['build', spec, '-o', join(work, 'snap.tar'), '--cache-dir', join(work, 'cache'), '--json'], {
      env: { BASEIMG_DEBIAN_SNAPSHOT_BASE: `${server.url}/` },
    });
    assert.equal(run.code, 0, describeRun(run));
    const paths = server.requests.slice(before).map((r) => r.path);
    assert.ok(paths.includes(`/archive/debian/${STAMP}/dists/fixture/InRelease`), paths.join('\n'));
    assert.ok(paths.includes(`/archive/debian-security/${STAMP}/dists/fixture-security/InRelease`), paths.join('\n'));
    assert.ok(paths.some((p) => p.startsWith(`/archive/debian-security/${STAMP}/pool/`)), 'libssl3 comes from the security archive');
    assert.deepEqual(paths.filter((p) => !p.startsWith(`/archive/debian/${STAMP}/`) && !p.startsWith(`/archive/debian-security/${STAMP}/`)), []);

    // The same archive named as plain mirrors gives the same image.
    const mirrors = await writeSpec('snap', [
      `mirror = "${server.url}/archive/debian/${STAMP}"`,
      `security-mirror = "${server.url}/archive/debian-security/${STAMP}"`,
    ].join('\n'));
    const plain = await runCli(['build', mirrors, '-o', join(work, 'plain.tar'), '--cache-dir', join(work, 'cache'), '--json'], {
      env: { BASEIMG_DEBIAN_SNAPSHOT_BASE: server.url },
    });
    // ...except that a live mirror is checked as of now, and its Valid-Until has passed.
    assert.equal(plain.code, 1, describeRun(plain));
    assert.match(plain.stderr, /fixture-security\/InRelease: expired: Valid-Until 2025-02-05/);
  });

  it('takes the base from source.snapshot-base, and locks the snapshot URLs', async () => {
    const spec = await writeSpec('based', `snapshot = "${STAMP}"\nsnapshot-base = "${server.url}"`);
    const lock = await runCli(['lock', spec, '--cache-dir', join(work, 'cache')]);
    assert.equal(lock.code, 0, describeRun(lock));
    const locked = parseLock(await readFile(join(work, 'based.lock.json'), 'utf8'), 'based.lock.json');
    assert.equal(locked.spec.inputs['source.snapshot'], STAMP);
    assert.deepEqual(locked.architectures[0]!.sources.map((s) => s.url), [
      `${server.url}/archive/debian/${STAMP}`,
      `${server.url}/archive/debian-security/${STAMP}`,
    ]);
    const [fresh, frozen] = await Promise.all([
      runCli(['build', spec, '-o', join(work, 'based-1.tar'), '--cache-dir', join(work, 'cache'), '--json']),
      runCli(['build', spec, '--frozen', '-o', join(work, 'based-2.tar'), '--cache-dir', join(work, 'cache-frozen'), '--json']),
    ]);
    assert.equal(fresh.code, 0, describeRun(fresh));
    assert.equal(frozen.code, 0, describeRun(frozen));
    assert.equal(JSON.parse(frozen.stdout).digest, JSON.parse(fresh.stdout).digest);
  });

  it('refuses a snapshot taken before the archive was signed', async () => {
    const spec = await writeSpec('early', 'snapshot = "20250105T000000Z"');
    const run = await runCli(['build', spec, '-o', join(work, 'early.tar'), '--cache-dir', join(work, 'cache')], {
      env: { BASEIMG_DEBIAN_SNAPSHOT_BASE: server.url },
    });
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, /archive\/debian(-security)?\/20250105T000000Z\/dists\/fixture(-security)?\/InRelease/);
  });

  it('asks for a snapshot base when none is configured', async () => {
    const spec = await writeSpec('nobase', `snapshot = "${STAMP}"`);
    const run = await runCli(['build', spec, '-o', join(work, 'nobase.tar'), '--cache-dir', join(work, 'cache')]);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, new RegExp(`source\\.snapshot = "${STAMP}" needs the base URL of a snapshot service`));
    assert.match(run.stderr, /hint: set source\.snapshot-base in the spec or BASEIMG_DEBIAN_SNAPSHOT_BASE .*<base>\/archive\/<debian\|debian-security>\/<timestamp>\//);
  });
});
