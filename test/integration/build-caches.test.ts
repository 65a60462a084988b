/**
 * The build cache makes warm builds fast (finished images, resolution,
 * unpacked data.tar members, compressed layers, verified InRelease files) and must never
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

/** BASEIMG_NO_IMAGE_CACHE=1 builds the image even when the image cache has it, to test the caches below it. */
async function build(spec: string, cache: string, label: string, env: Record<string, string> = { BASEIMG_NO_IMAGE_CACHE: '1' }): Promise<Built> {
  const output = join(work, `${label}.tar`);
  const run = await runCli(['build', spec, '-o', output, '--cache-dir', cache, '--json', '--timings'], { env: { SOURCE_DATE_EPOCH: '1700000000', ...env } });
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

  it('unchanged inputs are answered from the image cache: nothing unpacked or compressed, the same tarball and SBOMs', async () => {
    const spec = await writeSpec('whole');
    const cache = join(work, 'cache-whole');
    const cold = await build(spec, cache, 'whole-cold', {});
    assert.ok(cold.timings['unpack'] !== undefined && cold.timings['layer'] !== undefined);
    const warm = await build(spec, cache, 'whole-warm', {});
    assert.equal(warm.tarball, cold.tarball);
    assert.equal(warm.digest, cold.digest);
    assert.deepEqual(warm.packages, cold.packages);
    for (const stage of ['fetch', 'unpack', 'finalize', 'layer', 'write']) assert.equal(warm.timings[stage], undefined, `an image-cache hit still does ${stage}`);
    assert.ok(warm.timings['image cache'] !== undefined);
    for (const suffix of ['.spdx.json', '.cdx.json']) {
      assert.deepEqual(await readFile(join(work, `whole-warm${suffix}`)), await readFile(join(work, `whole-cold${suffix}`)), `${suffix} beside the tarball`);
    }
  });

  it('any change to the spec, even a label, misses the image cache; going back hits it again', async () => {
    const cache = join(work, 'cache-labels');
    const spec = await writeSpec('labelled');
    const text = await readFile(spec, 'utf8');
    const first = await build(spec, cache, 'label-a', {});
    await writeFile(spec, `${text}\n[image]\nlabels = { "org.example.flavour" = "b" }\n`);
    const changed = await build(spec, cache, 'label-b', {});
    assert.notEqual(changed.digest, first.digest);
    assert.ok(changed.timings['layer'] !== undefined, 'a changed spec must build its image');
    await writeFile(spec, text);
    const back = await build(spec, cache, 'label-a-again', {});
    assert.equal(back.tarball, first.tarball);
    assert.equal(back.timings['layer'], undefined);
  });

  it('a hit with --sbom-dir puts the SBOMs there, creating the directory as a build does', async () => {
    const spec = await writeSpec('sbomdir');
    const cache = join(work, 'cache-sbomdir');
    await build(spec, cache, 'sbomdir-cold', {});
    const dir = join(work, 'sbom-elsewhere', 'nested');
    const output = join(work, 'sbomdir-warm.tar');
    const run = await runCli(['build', spec, '-o', output, '--cache-dir', cache, '--sbom-dir', dir, '--json', '--timings'], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    assert.equal(run.code, 0, describeRun(run));
    const result = JSON.parse(run.stdout) as { timings: Record<string, number>; sbom: { spdx: string; cyclonedx: string } };
    assert.equal(result.timings['layer'], undefined, 'not answered from the image cache');
    assert.deepEqual(result.sbom, { spdx: join(dir, 'sbomdir-warm.spdx.json'), cyclonedx: join(dir, 'sbomdir-warm.cdx.json') });
    assert.deepEqual((await readdir(dir)).sort(), ['sbomdir-warm.cdx.json', 'sbomdir-warm.spdx.json']);
    assert.equal(await sha256File(output), await sha256File(join(work, 'sbomdir-cold.tar')));
  });
});
