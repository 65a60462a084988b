/**
 * A lock written today is read by the same version tomorrow: the checked-in
 * test/fixtures/lock-example.lock.json was written by `baseimg lock` for
 * test/fixtures/lock-example.toml against the standard fixture archive.
 * This test reads it, and checks that locking the same spec today writes
 * the same document.
 *
 * Per-run values are not compared: the server's port (sources[].url) and
 * the InRelease hashes (a fresh signing key per run). Neither are package
 * sizes and hashes: the fixture .debs are identical run to run on one host,
 * but another host's xz, zstd or Node zlib may compress them differently.
 *
 * To regenerate the checked-in lock (only when the format changes on
 * purpose, with LOCK_VERSION bumped if old readers would misread it):
 *   BASEIMG_UPDATE_FIXTURES=1 node --import tsx --test test/integration/lock-format.test.ts
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { standardFixtureRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, makeTempDir, PROJECT_ROOT, runCli } from '../helpers/cli.js';
import { parseLock, serializeLock } from '../../src/lock/format.js';
import type { LockFile } from '../../src/lock/types.js';
import { loadSpec } from '../../src/spec/load.js';
import { backendFor } from '../../src/distro/backends.js';
import { checkSpecAgainstLock } from '../../src/lock/restore.js';

const FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures');
const EXAMPLE_SPEC = join(FIXTURES, 'lock-example.toml');
const EXAMPLE_LOCK = join(FIXTURES, 'lock-example.lock.json');

let work: string;
let server: TestServer;
let todayText: string;

before(async () => {
  work = await makeTempDir('lock-format');
  const repo = await standardFixtureRepo(join(work, 'repo'));
  server = await serveDirectory(repo.root);
  await copyFile(EXAMPLE_SPEC, join(work, 'lock-example.toml'));
  await copyFile(repo.keyringPath, join(work, 'keyring.gpg'));
  const run = await runCli(['lock', join(work, 'lock-example.toml'), '--cache-dir', join(work, 'cache')], {
    env: { BASEIMG_DEBIAN_MIRROR: server.url, BASEIMG_DEBIAN_SECURITY_MIRROR: server.url },
  });
  assert.equal(run.code, 0, describeRun(run));
  todayText = await readFile(join(work, 'lock-example.lock.json'), 'utf8');
  if (process.env.BASEIMG_UPDATE_FIXTURES === '1') await copyFile(join(work, 'lock-example.lock.json'), EXAMPLE_LOCK);
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The lock without the values that differ between runs or hosts (see the file comment). */
function comparable(lock: LockFile): unknown {
  return {
    ...lock,
    architectures: lock.architectures.map((a) => ({
      ...a,
      sources: a.sources.map((s) => ({ ...s, url: '<server>', sha256: '<signed per run>' })),
      packages: a.packages.map(withoutBytes),
      auxiliary: a.auxiliary.map(withoutBytes),
    })),
  };
}

function withoutBytes(p: LockFile['architectures'][number]['packages'][number]): unknown {
  const { Size: _size, SHA256: _sha, MD5sum: _md5, ...fields } = p.fields;
  return { ...p, size: '<host>', sha256: '<host>', fields };
}

describe('lock file format stability', () => {
  it('reads the checked-in lock, and writes it back byte for byte', async () => {
    const text = await readFile(EXAMPLE_LOCK, 'utf8');
    const lock = parseLock(text, EXAMPLE_LOCK);
    assert.equal(lock.lockVersion, 1);
    assert.deepEqual(lock.architectures.map((a) => a.arch), ['amd64', 'arm64']);
    assert.equal(serializeLock(lock), text);
  });

  it('locking the same spec today writes the same lock (apart from per-run values)', async () => {
    const old = parseLock(await readFile(EXAMPLE_LOCK, 'utf8'), EXAMPLE_LOCK);
    const today = parseLock(todayText, 'today');
    assert.deepEqual(comparable(today), comparable(old));
    // Keys in the same places: same text once the per-run values are blanked.
    const blank = (t: string): string => t.replace(/"(url|sha256|MD5sum|SHA256)": "[^"]*"/g, '"$1": ""').replace(/"(size|Size)": "?\d+"?/g, '"$1": 0');
    assert.equal(blank(todayText), blank(await readFile(EXAMPLE_LOCK, 'utf8')));
  });

  it('the spec still matches the checked-in lock (the inputs digest is stable)', async () => {
    const old = parseLock(await readFile(EXAMPLE_LOCK, 'utf8'), EXAMPLE_LOCK);
    const spec = await loadSpec(join(work, 'lock-example.toml'));
    const warnings: string[] = [];
    const reporter = { info() {}, debug() {}, warn: (m: string) => warnings.push(m), task: () => ({ tick() {}, setTotal() {}, done() {} }), timing() {} };
    checkSpecAgainstLock(old, spec, await backendFor(spec), { frozen: true, file: EXAMPLE_LOCK, reporter });
    assert.deepEqual(warnings, []);
  });
});
