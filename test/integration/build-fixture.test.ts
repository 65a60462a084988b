/**
 * `baseimg resolve` and `baseimg build` through the CLI against the standard
 * fixture archive served on 127.0.0.1: which packages are chosen and why,
 * and where every file of every package ends up in the image (merged /usr,
 * modes, hard links, Replaces). The image is read back with an independent
 * tar reader, and expectations come from the fixture's package definitions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURE_VERSIONS, standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { dataTarEntries, normaliseEntryPath, type DebEntry } from '../helpers/make-deb.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, makeTempDir, runCli, type CliResult } from '../helpers/cli.js';
import { entryAt, readImageTarball, textAt, type ImageTarball, type TarEntry } from '../helpers/image-reader.js';

/** What the main spec installs: the usual base set plus a setuid package and a package that media-types replaces. */
const INCLUDE = ['base-files', 'netbase', 'tzdata', 'media-types', 'mime-support', 'libc6', 'libssl3', 'passwd'];
const EXPECTED_REASONS: Record<string, string> = {
  ...Object.fromEntries(INCLUDE.map((name) => [name, 'requested'])),
  'libgcc-s1': 'libc6 → libgcc-s1',
  'gcc-12-base': 'libc6 → libgcc-s1 → gcc-12-base',
};
/** Where each package comes from: libssl3 has a newer version in the security suite. */
const suiteOf = (name: string): string => (name === 'libssl3' ? 'fixture-security' : 'fixture');
const MERGED_USR_DIRS = new Set(['bin', 'sbin', 'lib', 'lib64']);

let work: string;
let repo: DebianRepo;
let server: TestServer;
let specPath: string;
let build: CliResult;
let image: ImageTarball;
let layer: Map<string, TarEntry>;

/** Builds `spec` into work/<name>.tar with the shared cache; fails the test on a non-zero exit. */
async function buildSpec(name: string, spec: string, extraArgs: string[] = []): Promise<{ run: CliResult; image: ImageTarball }> {
  const path = join(work, `${name}.toml`);
  await writeFile(path, spec);
  const output = join(work, `${name}.tar`);
  const run = await runCli(['build', path, '-o', output, '--cache-dir', join(work, 'cache'), ...extraArgs]);
  assert.equal(run.code, 0, describeRun(run));
  return { run, image: await readImageTarball(output) };
}

/** A path from a .deb's data.tar ("./lib/x/libc.so.6") as it appears in a merged-/usr image. */
function imagePath(debPath: string): string {
  const path = normaliseEntryPath(debPath).slice(2);
  return MERGED_USR_DIRS.has(path.split('/')[0]!) ? `usr/${path}` : path;
}

function assertNoDuplicateEntries(img: ImageTarball): void {
  for (const order of img.layerOrder) assert.equal(new Set(order).size, order.length, 'a path appears twice in the layer');
}

before(async () => {
  work = await makeTempDir('fixture');
  repo = await standardFixtureRepo(join(work, 'repo'));
  server = await serveDirectory(repo.root);
  specPath = join(work, 'app.toml');
  await writeFile(specPath, fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'fixture-app', include: INCLUDE }));
  build = await runCli(['build', specPath, '-o', join(work, 'app.tar'), '--cache-dir', join(work, 'cache'), '--json']);
  assert.equal(build.code, 0, describeRun(build));
  image = await readImageTarball(join(work, 'app.tar'));
  layer = image.layers[0]!;
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('baseimg resolve (fixture archive)', () => {
  it('prints a table with every package, its version, suite and reason', async () => {
    const r = await runCli(['resolve', specPath, '--cache-dir', join(work, 'cache')]);
    assert.equal(r.code, 0, describeRun(r));
    for (const [name, reason] of Object.entries(EXPECTED_REASONS)) {
      const version = name === 'libssl3' ? FIXTURE_VERSIONS['openssl-security'] : FIXTURE_VERSIONS[name as keyof typeof FIXTURE_VERSIONS];
      const row = r.stdout.split('\n').find((line) => line.startsWith(`${name} `));
      assert.ok(row, `no row for ${name} in:\n${r.stdout}`);
      const cells = row.split(/\s{2,}/);
      assert.equal(cells[1], version, row);
      assert.equal(cells[3], suiteOf(name), row);
      assert.equal(cells[4], reason, row);
    }
    assert.match(r.stdout, /^10 packages, .* installed \(amd64\)$/m);
    assert.doesNotMatch(r.stdout, /^(mawk|debconf|openssl|ca-certificates) /m, 'excluded or unneeded packages listed');
  });

  it('--json lists the same closure with checksums, pool paths and dependency edges', async () => {
    const r = await runCli(['resolve', specPath, '--cache-dir', join(work, 'cache'), '--json']);
    assert.equal(r.code, 0, describeRun(r));
    const doc = JSON.parse(r.stdout) as { arch: string; packages: Array<Record<string, any>>; sources: Array<{ suite: string; url: string }> };
    assert.equal(doc.arch, 'amd64');
    assert.deepEqual(doc.sources.map((s) => s.suite), ['fixture', 'fixture-security']);
    assert.equal(doc.sources[0]!.url, `${server.url}/dists/fixture/InRelease`);
    const byName = new Map(doc.packages.map((p) => [p.name as string, p]));
    assert.deepEqual([...byName.keys()].sort(), Object.keys(EXPECTED_REASONS).sort());
    for (const [name, reason] of Object.entries(EXPECTED_REASONS)) {
      const pkg = byName.get(name)!;
      const built = repo.pkg(name, { suite: suiteOf(name), architecture: 'amd64' });
      assert.equal(pkg.reason, reason, name);
      assert.equal(pkg.version, built.version, name);
      assert.equal(pkg.sha256, built.sha256, name);
      assert.equal(pkg.filename, built.poolPath, name);
      assert.equal(pkg.repository, built.suite, name);
    }
    assert.deepEqual(byName.get('libgcc-s1')!.dependsOn, ['gcc-12-base', 'libc6']);
  });
});

describe('baseimg build (fixture archive)', () => {
  it('writes the tarball and reports it as JSON on stdout', async () => {
    const result = JSON.parse(build.stdout) as Record<string, any>;
    assert.equal(result.output, join(work, 'app.tar'));
    assert.equal(result.tag, 'fixture-app:latest');
    assert.equal(result.arch, 'amd64');
    assert.equal(result.digest, image.manifestDigest, 'reported digest is not the manifest in the tarball');
    assert.equal(result.configDigest, image.manifest.config.digest);
    assert.equal(result.size, (await stat(join(work, 'app.tar'))).size);
    assert.deepEqual(result.packages.map((p: { name: string }) => p.name).sort(), Object.keys(EXPECTED_REASONS).sort());
    assert.deepEqual(image.dockerManifest[0].RepoTags, ['fixture-app:latest']);
    assert.equal(image.index.manifests[0].annotations['io.containerd.image.name'], 'docker.io/library/fixture-app:latest');
    assertNoDuplicateEntries(image);
  });

  it('contains every file, directory and link of every installed package at its merged-/usr path', () => {
    let checked = 0;
    for (const name of Object.keys(EXPECTED_REASONS)) {
      const { spec } = repo.pkg(name, { suite: suiteOf(name), architecture: 'amd64' });
      for (const entry of dataTarEntries(spec)) {
        if (entry.path === './') continue;
        // media-types replaces mime-support's /etc/mime.types (checked below)
        if (name === 'mime-support' && entry.path === './etc/mime.types') continue;
        assertPlaced(name, entry);
        checked++;
      }
    }
    assert.ok(checked > 100, `only ${checked} entries checked`);
  });

  it('merges /usr: libc6 ships ./lib/x86_64-linux-gnu/libc.so.6, the image has it under usr/lib, and /lib is a link', () => {
    const libc = entryAt(layer, 'usr/lib/x86_64-linux-gnu/libc.so.6');
    assert.equal(libc.type, 'file');
    assert.equal(libc.mode, 0o755);
    assert.match(libc.content!.toString('latin1'), /fake libc\.so\.6 for amd64/);
    for (const dir of ['bin', 'sbin', 'lib', 'lib64']) {
      const link = entryAt(layer, dir);
      assert.equal(link.type, 'symlink', dir);
      assert.equal(link.linkname, `usr/${dir}`, dir);
      assert.equal(entryAt(layer, `usr/${dir}`).type, 'directory', `usr/${dir}`);
    }
    assert.equal(layer.has('lib/x86_64-linux-gnu/libc.so.6'), false, 'a file was written below the /lib symlink');
    assert.equal(entryAt(layer, 'usr/lib64/ld-linux-x86-64.so.2').linkname, '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
  });

  it('keeps setuid, setgid and sticky bits and group ownership', () => {
    const expect = (path: string, mode: number, gid = 0): void => {
      const e = entryAt(layer, path);
      assert.equal(e.mode, mode, `${path}: mode ${e.mode.toString(8)}`);
      assert.equal(e.gid, gid, `${path}: gid`);
    };
    expect('usr/bin/passwd', 0o4755);
    expect('usr/bin/chfn', 0o4755);
    expect('usr/bin/chage', 0o2755, 42);
    expect('var/local', 0o2775, 50);
    expect('var/mail', 0o2775, 8);
    expect('var/tmp', 0o1777);
  });

  it('keeps tzdata\'s hard link zoneinfo/UTC → zoneinfo/Etc/UTC', () => {
    const target = entryAt(layer, 'usr/share/zoneinfo/Etc/UTC');
    assert.equal(target.type, 'file');
    assert.match(target.content!.subarray(0, 5).toString('latin1'), /^TZif/);
    const link = entryAt(layer, 'usr/share/zoneinfo/UTC');
    assert.equal(link.type, 'link');
    assert.equal(link.linkname, 'usr/share/zoneinfo/Etc/UTC');
    assert.equal(entryAt(layer, 'usr/share/zoneinfo/Etc/Zulu').linkname, 'UTC');
  });

  it('takes the newer libssl3 from the security suite', () => {
    const security = FIXTURE_VERSIONS['openssl-security'];
    assert.ok(textAt(layer, 'usr/lib/x86_64-linux-gnu/libssl.so.3').includes(`libssl.so.3 ${security}`));
    assert.ok(textAt(layer, 'var/lib/dpkg/status.d/libssl3').includes(`\nVersion: ${security}\n`));
    assert.notEqual(FIXTURE_VERSIONS['openssl-security'], FIXTURE_VERSIONS.libssl3, 'the fixture must offer two versions');
  });

  it('lets media-types (Replaces: mime-support) own /etc/mime.types; mime-support keeps its other files', () => {
    // mime-support is unpacked after media-types, so only honouring Replaces keeps media-types' copy.
    const order = (JSON.parse(build.stdout) as { packages: Array<{ name: string }> }).packages.map((p) => p.name);
    assert.ok(order.indexOf('media-types') < order.indexOf('mime-support'), `install order: ${order.join(', ')}`);
    const mediaTypes = repo.pkg('media-types').spec.entries.find((e) => e.path === './etc/mime.types')!;
    assert.equal(textAt(layer, 'etc/mime.types'), mediaTypes.content);
    assert.match(repo.pkg('media-types').spec.control!.Replaces!, /mime-support/);
    assert.equal(textAt(layer, 'etc/mailcap.order'), '# mailcap.order\n');
    assert.equal(entryAt(layer, 'usr/bin/run-mailcap').mode, 0o755);
  });
});

describe('baseimg build, other layouts', () => {
  it('builds fixture-usrmerge, where base-files ships the /usr links itself', async () => {
    const spec = fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'usrmerge', suites: ['fixture-usrmerge'] });
    const { image: merged } = await buildSpec('usrmerge', spec);
    const l = merged.layers[0]!;
    assertNoDuplicateEntries(merged);
    for (const dir of ['bin', 'sbin', 'lib', 'lib64']) assert.equal(entryAt(l, dir).linkname, `usr/${dir}`, dir);
    assert.equal(entryAt(l, 'usr/lib/x86_64-linux-gnu/libc.so.6').type, 'file');
    assert.match(textAt(l, 'var/lib/dpkg/status.d/base-files'), new RegExp(`^Version: ${FIXTURE_VERSIONS['base-files-usrmerge']}$`, 'm'));
    assert.match(textAt(l, 'usr/lib/os-release'), /^VERSION_ID="13"$/m);
  });

  it('builds for arm64 with --arch: other triplet, no /lib64, platform in the config and index', async () => {
    const { image: arm } = await buildSpec('arm', fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'arm' }), ['--arch', 'arm64']);
    const l = arm.layers[0]!;
    assert.match(textAt(l, 'usr/lib/aarch64-linux-gnu/libc.so.6'), /for arm64/);
    assert.equal(l.has('lib64'), false);
    assert.equal(entryAt(l, 'lib').linkname, 'usr/lib');
    assert.equal(arm.config.architecture, 'arm64');
    assert.deepEqual(arm.index.manifests[0].platform, { architecture: 'arm64', os: 'linux', variant: 'v8' });
  });
});

/** One entry of a package's data.tar, as the image should have it. */
function assertPlaced(pkg: string, entry: DebEntry): void {
  const path = imagePath(entry.path);
  const got = layer.get(path);
  assert.ok(got, `${pkg}: ${entry.path} is missing (expected at ${path})`);
  const where = `${pkg}: ${entry.path} → ${path}`;
  switch (entry.type) {
    case 'dir':
      if (MERGED_USR_DIRS.has(path)) break; // a top-level symlink into /usr by design
      assert.equal(got.type, 'directory', where);
      assert.equal(got.mode, entry.mode ?? 0o755, `${where}: mode ${got.mode.toString(8)}`);
      break;
    case 'file': {
      assert.equal(got.type, 'file', where);
      const content = typeof entry.content === 'string' ? Buffer.from(entry.content) : (entry.content ?? Buffer.alloc(0));
      assert.ok(got.content?.equals(content), `${where}: content differs`);
      assert.equal(got.mode, entry.mode ?? 0o644, `${where}: mode ${got.mode.toString(8)}`);
      assert.equal(got.uid, entry.uid ?? 0, `${where}: uid`);
      assert.equal(got.gid, entry.gid ?? 0, `${where}: gid`);
      break;
    }
    case 'symlink':
      assert.equal(got.type, 'symlink', where);
      assert.equal(got.linkname, entry.linkname, where);
      break;
    case 'hardlink':
      assert.equal(got.type, 'link', where);
      assert.equal(got.linkname, imagePath(entry.linkname!), where);
      break;
    default:
      assert.fail(`${where}: the fixture has an unexpected ${entry.type}`);
  }
}
