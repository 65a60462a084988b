/**
 * The build cache makes warm builds fast (resolution, unpacked data.tar
 * members, compressed layers, verified InRelease files) and must never
 * change what is built: a warm build, and a build from a cache whose every
 * file was damaged, give the cold build's tarball byte for byte, and the
 * timings show which work each one skipped.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, makeTempDir, runCli, sha256File } from '../helpers/cli.js';

let work: string;
let repo: DebianRepo;
let server: TestServer;

before(async () => {
  work = await makeTempDir('caches');
  repo = await standardFixtureRepo(join(work, 'repo'));
  server = await serveDirectory(repo.root);
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Built {
  digest: string;
  tarball: string;
  timings: Record<string, number>;
  packages: string[];
}

async function build(spec: string, cache: string, label: string): Promise<Built> {
  const output = join(work, `${label}.tar`);
  const run = await runCli(['build', spec, '-o', output, '--cache-dir', cache, '--json', '--timings'], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  assert.equal(run.code, 0, describeRun(run));
  const result = JSON.parse(run.stdout) as { digest: string; timings: Record<string, number>; packages: Array<{ name: string }> };
  return { digest: result.digest, tarball: await sha256File(output), timings: result.timings, packages: result.packages.map((p) => p.name) };
}

async function writeSpec(name: string, include?: string[]): Promise<string> {
  const file = join(work, `${name}.toml`);
  await writeFile(file, fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name, ...(include ? { include } : {}) }));
  return file;
}

/** Flips the last byte of every file under `dir`. */
async function damageAll(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const data = await readFile(path);
    if (data.length === 0) continue;
    data[data.length - 1]! ^= 0xff;
    await writeFile(path, data);
    n++;
  }
  return n;
}

describe('build cache', () => {
  it('a warm build skips resolving, decompressing and gzip, and writes the same bytes', async () => {
    const spec = await writeSpec('warm');
    const cache = join(work, 'cache-warm');
    const cold = await build(spec, cache, 'cold');
    for (const stage of ['resolve/resolver', 'resolve/index scan', 'unpack/decompress', 'layer/gzip']) {
      assert.ok(cold.timings[stage] !== undefined, `a cold build does ${stage}`);
    }
    const warm = await build(spec, cache, 'warm');
    assert.equal(warm.digest, cold.digest);
    assert.equal(warm.tarball, cold.tarball, 'the warm tarball differs from the cold one');
    for (const stage of ['resolve/resolver', 'resolve/index scan', 'unpack/decompress', 'layer/gzip']) {
      assert.equal(warm.timings[stage], undefined, `a warm build still does ${stage}`);
    }
  });

  it('a cache whose every file is damaged is rebuilt, and the image is the same', async () => {
    const spec = await writeSpec('damaged');
    const cache = join(work, 'cache-damaged');
    const cold = await build(spec, cache, 'damaged-cold');
    assert.ok((await damageAll(join(cache, 'blobs'))) > 0);
    assert.ok((await damageAll(join(cache, 'derived'))) > 0);
    const rebuilt = await build(spec, cache, 'damaged-rebuilt');
    assert.equal(rebuilt.tarball, cold.tarball);
    assert.ok(rebuilt.timings['layer/gzip'] !== undefined, 'the damaged layer was not made again');
    const warm = await build(spec, cache, 'damaged-warm');
    assert.equal(warm.tarball, cold.tarball);
    assert.equal(warm.timings['layer/gzip'], undefined, 'the rebuilt cache is not used');
  });

  it('a different package list is resolved again, not taken from the cache', async () => {
    const cache = join(work, 'cache-lists');
    const small = await build(await writeSpec('small', ['base-files', 'netbase']), cache, 'small');
    const large = await build(await writeSpec('large', ['base-files', 'netbase', 'libc6']), cache, 'large');
    assert.ok(!small.packages.includes('libc6'));
    assert.ok(large.packages.includes('libc6'));
    assert.ok(large.timings['resolve/resolver'] !== undefined);
  });
});
