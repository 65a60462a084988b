/**
 * Layer sharing over a family of specs built from the fixture archive:
 *
 *   static ─► base-nossl ─► base ─► app (files, strip, exclude, an account)
 *                            └────► nonroot (only [image] differs)
 *
 * Every image is built on its own, as a user would; the test checks that a
 * parent's layers reappear byte for byte (same digests) in its children,
 * that each child layer holds only what the child adds or changes (with
 * OCI whiteouts for what it removes), that the layered image flattens to
 * the same files as a flat build of the same spec, and that a nonroot
 * variant adds no layer at all.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, makeTempDir, runCli } from '../helpers/cli.js';
import { readImageTarball, type ImageTarball, type TarEntry } from '../helpers/image-reader.js';
import { needTools, runOk } from '../helpers/tools.js';

let work: string;
let repo: DebianRepo;
let server: TestServer;
const images = new Map<string, ImageTarball>();
const results = new Map<string, { layers: Array<{ digest: string; spec: string }>; stripped?: { files: number; bytes: number } }>();
const stderr = new Map<string, string>();

const SPECS: Record<string, (base: string) => string> = {
  'base-nossl': () => 'include = ["static.toml"]\n\n[packages]\ninclude = ["libc6"]\n',
  base: () => 'include = ["base-nossl.toml"]\n\n[packages]\ninclude = ["libssl3"]\n',
  nonroot: () => 'include = ["base.toml"]\n\n[image]\nuser = "nonroot"\nworkdir = "/home/nonroot"\n',
  app: () =>
    [
      'include = ["base.toml", "extras.toml"]',
      'strip = ["/usr/share/doc/*", "/usr/share/zoneinfo/Etc"]',
      '',
      '[packages]',
      'exclude = ["media-types"]',
      '',
      '[image]',
      'user = "app"',
      'entrypoint = ["/app/bin/server"]',
      '',
      '[[accounts.users]]',
      'name = "app"',
      'uid = 1000',
      '',
      '[[files]]',
      'source = "app"',
      'path = "/app"',
      'uid = 1000',
      'gid = 1000',
      '',
    ].join('\n'),
  // A fragment: merged into app's own layer (it is not app's first include).
  extras: () => '[[paths]]\npath = "/etc/app.conf"\ntype = "file"\ncontent = "port=8080\\n"\n',
  'app-flat': () => 'include = ["app.toml"]\nlayers = "flat"\n',
};

async function build(name: string): Promise<void> {
  const run = await runCli(['build', join(work, `${name}.toml`), '-o', join(work, `${name}.tar`), '--cache-dir', join(work, 'cache'), '--json'], { timeoutMs: 120_000 });
  assert.equal(run.code, 0, describeRun(run));
  results.set(name, JSON.parse(run.stdout));
  stderr.set(name, run.stderr);
  images.set(name, await readImageTarball(join(work, `${name}.tar`)));
}

before(async () => {
  work = await makeTempDir('layers');
  repo = await standardFixtureRepo(join(work, 'repo'));
  server = await serveDirectory(repo.root);
  await writeFile(join(work, 'static.toml'), fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'static', include: ['base-files', 'netbase', 'tzdata', 'media-types'] }));
  for (const [name, text] of Object.entries(SPECS)) await writeFile(join(work, `${name}.toml`), text(work));
  await mkdir(join(work, 'app', 'bin'), { recursive: true });
  await mkdir(join(work, 'app', 'etc'), { recursive: true });
  await writeFile(join(work, 'app', 'bin', 'server'), '#!/bin/sh\necho hi\n');
  await chmod(join(work, 'app', 'bin', 'server'), 0o700);
  await writeFile(join(work, 'app', 'etc', 'config.json'), '{}\n');
  await chmod(join(work, 'app', 'etc', 'config.json'), 0o600);
  await symlink('config.json', join(work, 'app', 'etc', 'current.json'));
  for (const name of ['static', 'base-nossl', 'base', 'nonroot', 'app', 'app-flat']) await build(name);
});

after(async () => {
  await server?.close();
  if (work && !process.env.KEEP) await rm(work, { recursive: true, force: true });
});

const layerDigests = (name: string): string[] => images.get(name)!.manifest.layers.map((l: { digest: string }) => l.digest);

/** The image's file system: layers applied in order, whiteouts honoured (OCI image-spec layer.md). */
function flatten(image: ImageTarball): Map<string, TarEntry> {
  const fs = new Map<string, TarEntry>();
  for (const layer of image.layers) {
    for (const [path, entry] of layer) {
      const base = path.split('/').pop()!;
      if (!base.startsWith('.wh.')) continue;
      const target = `${path.slice(0, path.length - base.length)}${base.slice(4)}`;
      for (const p of [...fs.keys()]) if (p === target || p.startsWith(`${target}/`)) fs.delete(p);
    }
    for (const [path, entry] of layer) {
      if (path.split('/').pop()!.startsWith('.wh.')) continue;
      const old = fs.get(path);
      if (old?.type === 'directory' && entry.type !== 'directory') for (const p of [...fs.keys()]) if (p.startsWith(`${path}/`)) fs.delete(p);
      fs.set(path, entry);
    }
  }
  return fs;
}

/** What a file-system entry is, apart from its mtime. */
function describeEntry(e: TarEntry): string {
  const content = e.content === undefined ? '' : createHash('sha256').update(e.content).digest('hex');
  return `${e.type} ${e.mode.toString(8)} ${e.uid}:${e.gid} ${e.size} ${e.linkname ?? ''} ${content}`;
}

describe('layer sharing across a family (fixture archive)', () => {
  it('lays out each image as its parent\'s layers plus one', () => {
    assert.equal(layerDigests('static').length, 1);
    assert.deepEqual(layerDigests('base-nossl').slice(0, 1), layerDigests('static'));
    assert.equal(layerDigests('base-nossl').length, 2);
    assert.deepEqual(layerDigests('base').slice(0, 2), layerDigests('base-nossl'));
    assert.equal(layerDigests('base').length, 3);
    assert.deepEqual(layerDigests('app').slice(0, 3), layerDigests('base'));
    assert.equal(layerDigests('app').length, 4);
    assert.deepEqual(results.get('app')!.layers.map((l) => l.spec), ['static', 'base-nossl', 'base', 'app']);
  });

  it('puts only what a child adds or changes in its layer', () => {
    const top = images.get('base-nossl')!.layers[1]!;
    const paths = [...top.keys()];
    assert.ok(paths.some((p) => /libc\.so\.6$/.test(p)), 'libc6 is in base-nossl\'s layer');
    assert.ok(top.has('var/lib/dpkg/status.d/libc6'));
    assert.ok(!top.has('var/lib/dpkg/status.d/tzdata'), 'an unchanged status.d entry is not repeated');
    assert.ok(!top.has('etc/passwd'), 'unchanged accounts are not repeated');
    assert.ok(!paths.some((p) => p.startsWith('usr/share/zoneinfo/')), 'tzdata stays in the static layer');
    assert.ok(top.has('var/lib/db/sbom/baseimg.spdx.json'), 'the SBOM inside is replaced: it now lists libc6');
    for (const p of paths) {
      const e = top.get(p)!;
      if (e.type === 'directory') continue;
      const below = images.get('static')!.layers[0]!.get(p);
      if (below !== undefined) assert.notEqual(describeEntry(below), describeEntry(e), `${p} is repeated unchanged`);
    }
  });

  it('adds no layer for a spec that only changes the image config', () => {
    assert.deepEqual(layerDigests('nonroot'), layerDigests('base'));
    const config = images.get('nonroot')!.config;
    assert.equal(config.config.User, '65532');
    assert.equal(config.config.WorkingDir, '/home/nonroot');
    assert.deepEqual(
      config.history.map((h: { created_by: string; empty_layer?: boolean }) => [h.created_by.replace(/^baseimg \S+ build /, ''), h.empty_layer ?? false]),
      [['static', false], ['base-nossl', false], ['base', false], ['nonroot', true]],
    );
    assert.match(stderr.get('nonroot')!, /nonroot changes no file of base: no layer of its own/);
  });

  it('writes whiteouts for what a child removes (exclude, strip)', () => {
    const top = images.get('app')!.layers[3]!;
    assert.ok(top.has('var/lib/dpkg/status.d/.wh.media-types'), 'the excluded package leaves the package database');
    assert.ok(top.has('usr/share/zoneinfo/.wh.Etc'), 'a stripped directory is whited out');
    const wh = top.get('usr/share/zoneinfo/.wh.Etc')!;
    assert.deepEqual([wh.type, wh.size, wh.mode, wh.uid, wh.gid], ['file', 0, 0, 0, 0]);
    const fs = flatten(images.get('app')!);
    assert.ok(!fs.has('usr/share/zoneinfo/Etc/UTC'));
    assert.ok(fs.has('usr/share/zoneinfo/UTC'), 'the other name of a hard-linked zone stays');
    assert.ok(!fs.has('var/lib/dpkg/status.d/media-types'));
    assert.ok(fs.has('usr/share/doc/libc6/copyright'), 'strip keeps copyright files');
    // What is left under /usr/share/doc: copyright files, and links to another package's doc directory.
    const left = [...fs.keys()].filter((p) => p.startsWith('usr/share/doc/') && !p.endsWith('/copyright') && !['directory', 'symlink'].includes(fs.get(p)!.type));
    assert.deepEqual(left, []);
  });

  it('keeps md5sums honest: a stripped file is not listed', () => {
    const fs = flatten(images.get('app')!);
    const md5 = fs.get('var/lib/dpkg/status.d/tzdata.md5sums')?.content?.toString('utf8') ?? '';
    assert.ok(!md5.includes('usr/share/zoneinfo/Etc/'), md5);
    assert.ok(md5.includes('usr/share/zoneinfo/UTC'), md5);
  });

  it('adds local files deterministically with the entry\'s owner and modes', () => {
    const fs = flatten(images.get('app')!);
    const server = fs.get('app/bin/server')!;
    assert.deepEqual([server.type, server.mode, server.uid, server.gid], ['file', 0o755, 1000, 1000]);
    const config = fs.get('app/etc/config.json')!;
    assert.deepEqual([config.mode, config.uid], [0o644, 1000]);
    assert.deepEqual([fs.get('app/etc/current.json')!.type, fs.get('app/etc/current.json')!.linkname], ['symlink', 'config.json']);
    assert.deepEqual([fs.get('app')!.mode, fs.get('app')!.uid], [0o755, 1000]);
    assert.equal(fs.get('etc/app.conf')!.content!.toString(), 'port=8080\n', 'the fragment include is merged');
    const sde = images.get('app')!.config.created;
    for (const p of ['app/bin/server', 'app/etc/config.json', 'app']) assert.equal(new Date(fs.get(p)!.mtime * 1000).toISOString().replace('.000', ''), sde);
    assert.equal(images.get('app')!.config.config.User, '1000');
    assert.match(fs.get('etc/passwd')!.content!.toString(), /^app:x:1000:1000:/m);
  });

  it('reports what strip saved', () => {
    const stripped = results.get('app')!.stripped!;
    assert.ok(stripped.files > 0 && stripped.bytes > 0, JSON.stringify(stripped));
    assert.match(stderr.get('app')!, /strip saved .*: removed \d+ files/);
  });

  it('flattens to the same files as a flat build of the same spec', () => {
    assert.equal(layerDigests('app-flat').length, 1);
    const layered = flatten(images.get('app')!);
    const flat = flatten(images.get('app-flat')!);
    const sbom = (p: string): boolean => p.startsWith('var/lib/db/sbom/');
    const keys = (m: Map<string, TarEntry>): string[] => [...m.keys()].filter((p) => !sbom(p)).sort();
    assert.deepEqual(keys(layered), keys(flat));
    for (const p of keys(flat)) {
      const [a, b] = [layered.get(p)!, flat.get(p)!];
      // Hard links inside a layer may become separate files across layers; compare what a reader sees.
      if (a.type === 'link' || b.type === 'link') continue;
      assert.equal(describeEntry(a), describeEntry(b), p);
    }
  });

  it('is flattened the same way by umoci and podman (whiteouts applied, none left)', (t) => {
    if (!needTools(t, 'umoci', 'podman')) return;
    const layout = join(work, 'app-layout');
    runOk('mkdir', ['-p', layout]);
    runOk('tar', ['-xf', join(work, 'app.tar'), '-C', layout]);
    const bundle = join(work, 'app-bundle');
    runOk('umoci', ['unpack', '--rootless', '--image', `${layout}:latest`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    assert.ok(!existsSync(join(rootfs, 'usr/share/zoneinfo/Etc')), 'umoci applied the whiteout');
    assert.ok(existsSync(join(rootfs, 'usr/share/zoneinfo/UTC')));
    assert.ok(!existsSync(join(rootfs, 'var/lib/dpkg/status.d/media-types')));
    assert.equal(runOk('find', [rootfs, '-name', '.wh.*']).stdout, '', 'no whiteout file is left in the tree');

    const loaded = runOk('podman', ['load', '-i', join(work, 'app.tar')]);
    const ref = /Loaded image: (\S+)/.exec(loaded.stdout + loaded.stderr)?.[1];
    assert.ok(ref, loaded.stdout);
    try {
      const id = runOk('podman', ['create', ref]).stdout.trim();
      const listing = runOk('sh', ['-c', 'podman export "$1" | tar -t', 'sh', id]).stdout.split('\n');
      runOk('podman', ['rm', id]);
      assert.ok(listing.includes('usr/share/zoneinfo/UTC'));
      assert.ok(!listing.some((p) => p.startsWith('usr/share/zoneinfo/Etc')), 'podman applied the whiteout');
      assert.ok(!listing.some((p) => p.split('/').pop()!.startsWith('.wh.')));
      assert.ok(listing.includes('app/bin/server'));
    } finally {
      runOk('podman', ['rmi', '--force', ref]);
    }
  });

  it('builds the same layers from a lock: lower specs resolve among the locked packages, no index is read', async () => {
    const lock = await runCli(['lock', join(work, 'base.toml'), '--cache-dir', join(work, 'cache')]);
    assert.equal(lock.code, 0, describeRun(lock));
    const locked = await runCli(['build', join(work, 'base.toml'), '-o', join(work, 'base-locked.tar'), '--cache-dir', join(work, 'cache'), '--frozen', '--offline', '--json']);
    assert.equal(locked.code, 0, describeRun(locked));
    assert.deepEqual((JSON.parse(locked.stdout) as { layers: Array<{ digest: string }> }).layers.map((l) => l.digest), layerDigests('base'));
    const events = locked.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; message?: string });
    const reads = events.filter((e) => e.event === 'info' && /^read .*base\.lock\.json: \d+ packages/.test(e.message ?? ''));
    assert.equal(reads.length, 3, 'each of the three specs took its packages from the lock');
    assert.ok(!events.some((e) => e.event === 'info' && /^resolved /.test(e.message ?? '')), 'nothing was resolved from an index');
  });

  it('builds the same layers again (reproducible)', async () => {
    const before = layerDigests('base');
    await build('base');
    assert.deepEqual(layerDigests('base'), before);
  });
});
