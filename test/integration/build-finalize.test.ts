/**
 * What `baseimg build` adds on top of the packages, checked in the image it
 * writes: accounts, home directories, nsswitch.conf, the CA bundle (built
 * from ca-certificates without installing it), os-release, the dpkg status.d
 * records scanners read, the image config, the spec's [[paths]], and
 * SOURCE_DATE_EPOCH (flag, environment, and the default derived from the
 * packages). Expected bytes come from the fixture definitions and from the
 * .deb files themselves, read with a parser of our own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDebianRepo, standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { decompress, type Compression } from '../helpers/make-deb.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, FIXTURE_INCLUDE, fixtureSpec, makeTempDir, runCli } from '../helpers/cli.js';
import { entryAt, readImageTarball, readTarEntries, textAt, type ImageTarball, type TarEntry } from '../helpers/image-reader.js';

const DERIVED_EPOCH = 1_700_000_000; // every fixture package file has this mtime (make-deb's default)
const NEWER_EPOCH = 1_710_000_000;

/** distroless's /etc/nsswitch.conf. */
const NSSWITCH = `# /etc/nsswitch.conf
#
# Example configuration of GNU Name Service Switch functionality.
# If you have the \`glibc-doc-reference' and \`info' packages installed, try:
# \`info libc "Name Service Switch"' for information about this file.

passwd:         compat
group:          compat
shadow:         compat
gshadow:        files

hosts:          files dns
networks:       files

protocols:      db files
services:       db files
ethers:         db files
rpc:            db files

netgroup:       nis
`;

const IMAGE_TABLES = `
[image]
user = "nonroot"
workdir = "/home/nonroot"
entrypoint = ["/app/server"]
cmd = ["--port", "8080"]
env = { TZ = "UTC", LANG = "C.UTF-8" }
labels = { "org.opencontainers.image.title" = "finalize-test" }
annotations = { "org.opencontainers.image.source" = "https://example.invalid/app" }
exposed-ports = ["8080"]

[os-release]
pretty-name = "Fixture Distroless"

[[paths]]
path = "/app"
type = "directory"
mode = "0750"
uid = 65532
gid = 65532

[[paths]]
path = "/app/config.txt"
type = "file"
content = "port = 8080\\n"
mode = "0640"
uid = 65532
gid = 65532

[[paths]]
path = "/etc/app.conf"
type = "file"
source = "files/app.conf"

[[paths]]
path = "/usr/local/bin/server"
type = "symlink"
target = "/app/server"
`;

let work: string;
let repo: DebianRepo;
let server: TestServer;
let image: ImageTarball;
let layer: Map<string, TarEntry>;

async function build(name: string, spec: string, args: string[] = [], env: Record<string, string> = {}): Promise<ImageTarball> {
  const specPath = join(work, `${name}.toml`);
  await writeFile(specPath, spec);
  const output = join(work, `${name}.tar`);
  const run = await runCli(['build', specPath, '-o', output, '--cache-dir', join(work, 'cache'), ...args], { env });
  assert.equal(run.code, 0, describeRun(run));
  return readImageTarball(output);
}

/** A file of a .deb's control.tar ("control", "md5sums"), or undefined when the package has none. */
async function debControlFile(debPath: string, name: string): Promise<Buffer | undefined> {
  const deb = await readFile(debPath);
  for (let offset = 8; offset + 60 <= deb.length;) {
    const member = deb.toString('latin1', offset, offset + 16).trim().replace(/\/$/, '');
    const size = Number(deb.toString('latin1', offset + 48, offset + 58).trim());
    const body = deb.subarray(offset + 60, offset + 60 + size);
    offset += 60 + size + (size % 2);
    if (!member.startsWith('control.tar')) continue;
    const compression = (member.slice('control.tar.'.length) || 'none') as Compression;
    const entries = await readTarEntries(await decompress(body, compression));
    return entries.find((e) => e.path.replace(/^\.\//, '') === name)?.content;
  }
  throw new Error(`${debPath} has no control.tar`);
}

before(async () => {
  work = await makeTempDir('finalize');
  repo = await standardFixtureRepo(join(work, 'repo'));
  server = await serveDirectory(repo.root);
  await mkdir(join(work, 'files'));
  await writeFile(join(work, 'files', 'app.conf'), 'listen = 127.0.0.1\n');
  image = await build('finalize', fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'finalize', tables: IMAGE_TABLES }));
  layer = image.layers[0]!;
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('finalize: files the maintainer scripts would have made', () => {
  it('writes distroless\'s /etc/passwd and /etc/group', () => {
    assert.equal(
      textAt(layer, 'etc/passwd'),
      'root:x:0:0:root:/root:/sbin/nologin\n' +
        'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' +
        'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
    );
    assert.equal(textAt(layer, 'etc/group'), 'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n');
    for (const path of ['etc/passwd', 'etc/group']) {
      const e = entryAt(layer, path);
      assert.deepEqual([e.mode, e.uid, e.gid, e.mtime], [0o644, 0, 0, DERIVED_EPOCH], path);
    }
  });

  it('creates home directories and /tmp with distroless\'s owners and modes', () => {
    const expect = (path: string, mode: number, owner: number): void => {
      const e = entryAt(layer, path);
      assert.equal(e.type, 'directory', path);
      assert.deepEqual([e.mode.toString(8), e.uid, e.gid], [mode.toString(8), owner, owner], path);
    };
    expect('root', 0o700, 0);
    expect('home', 0o755, 0);
    expect('home/nonroot', 0o700, 65532);
    expect('tmp', 0o1777, 0);
    assert.equal(layer.has('nonexistent'), false, 'nobody\'s home must not be created');
  });

  it('writes distroless\'s /etc/nsswitch.conf', () => {
    assert.equal(textAt(layer, 'etc/nsswitch.conf'), NSSWITCH);
  });

  it('builds the CA bundle from ca-certificates\' certificates, sorted, each ending in a newline', () => {
    const ca = repo.pkg('ca-certificates');
    const certs = ca.spec.entries
      .filter((e) => e.path.startsWith('./usr/share/ca-certificates/') && e.path.endsWith('.crt'))
      .map((e) => ({ name: e.path, body: Buffer.from(e.content as string) }))
      .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    assert.equal(certs.length, 4);
    assert.ok(certs.some((c) => !c.body.toString().endsWith('\n')), 'the fixture should have a certificate without a final newline');
    const expected = Buffer.concat(certs.map((c) => (c.body.toString().endsWith('\n') ? c.body : Buffer.concat([c.body, Buffer.from('\n')]))));
    const bundle = entryAt(layer, 'etc/ssl/certs/ca-certificates.crt');
    assert.ok(bundle.content!.equals(expected), `bundle differs:\n${bundle.content}`);
    assert.equal(bundle.mode, 0o644);
  });

  it('installs only the copyright and status.d record of ca-certificates, which is not installed', async () => {
    const ca = repo.pkg('ca-certificates');
    const copyright = ca.spec.entries.find((e) => e.path === './usr/share/doc/ca-certificates/copyright')!;
    assert.equal(textAt(layer, 'usr/share/doc/ca-certificates/copyright'), copyright.content);
    assert.equal(layer.has('usr/share/ca-certificates'), false, 'certificate sources are not part of the image');
    assert.equal(layer.has('usr/sbin/update-ca-certificates'), false);
    assert.equal(layer.has('etc/ca-certificates.conf'), false);
    assert.ok(entryAt(layer, 'var/lib/dpkg/status.d/ca-certificates').content!.equals((await debControlFile(ca.debPath, 'control'))!));
    // Only files present in the image may be listed: the copyright file alone.
    const md5sums = (await debControlFile(ca.debPath, 'md5sums'))!.toString();
    const copyrightLine = md5sums.split('\n').find((l) => l.endsWith('  usr/share/doc/ca-certificates/copyright'));
    assert.equal(textAt(layer, 'var/lib/dpkg/status.d/ca-certificates.md5sums'), `${copyrightLine}\n`);
  });

  it('sets PRETTY_NAME in base-files\' os-release and keeps the rest of the file', () => {
    const shipped = repo.pkg('base-files', { architecture: 'amd64' }).spec.entries.find((e) => e.path === './usr/lib/os-release')!.content as string;
    const expected = shipped.replace(/^PRETTY_NAME=.*$/m, 'PRETTY_NAME="Fixture Distroless"');
    assert.notEqual(expected, shipped);
    assert.equal(textAt(layer, 'usr/lib/os-release'), expected);
    assert.equal(entryAt(layer, 'etc/os-release').linkname, '../usr/lib/os-release');
  });

  it('records every installed package in status.d: its control file and md5sums, verbatim', async () => {
    const installed = [...FIXTURE_INCLUDE, 'libgcc-s1', 'gcc-12-base'];
    const statusD = 'var/lib/dpkg/status.d/';
    const recorded = [...layer.keys()].filter((p) => p.startsWith(statusD) && !p.endsWith('.md5sums')).map((p) => p.slice(statusD.length));
    assert.deepEqual(recorded.sort(), [...installed, 'ca-certificates'].sort());
    for (const name of installed) {
      const pkg = repo.pkg(name, { suite: name === 'libssl3' ? 'fixture-security' : 'fixture', architecture: 'amd64' });
      const control = (await debControlFile(pkg.debPath, 'control'))!;
      assert.ok(entryAt(layer, `var/lib/dpkg/status.d/${name}`).content!.equals(control), `${name}: control differs`);
      const md5sums = await debControlFile(pkg.debPath, 'md5sums');
      if (md5sums === undefined || md5sums.length === 0) {
        assert.equal(layer.has(`var/lib/dpkg/status.d/${name}.md5sums`), false, `${name}: md5sums written for a package without one`);
      } else {
        assert.ok(entryAt(layer, `var/lib/dpkg/status.d/${name}.md5sums`).content!.equals(md5sums), `${name}: md5sums differs`);
      }
    }
  });

  it('adds the spec\'s [[paths]] after the packages', () => {
    const app = entryAt(layer, 'app');
    assert.deepEqual([app.type, app.mode, app.uid, app.gid], ['directory', 0o750, 65532, 65532]);
    const config = entryAt(layer, 'app/config.txt');
    assert.deepEqual([config.mode, config.uid, config.gid, config.content!.toString()], [0o640, 65532, 65532, 'port = 8080\n']);
    const fromSource = entryAt(layer, 'etc/app.conf');
    assert.deepEqual([fromSource.mode, fromSource.content!.toString()], [0o644, 'listen = 127.0.0.1\n']);
    const link = entryAt(layer, 'usr/local/bin/server');
    assert.deepEqual([link.type, link.linkname], ['symlink', '/app/server']);
  });
});

describe('image config and SOURCE_DATE_EPOCH', () => {
  it('writes the spec\'s config with numeric user, default PATH and SSL_CERT_FILE first, other variables sorted', () => {
    assert.deepEqual(image.config.config, {
      User: '65532',
      Env: [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt',
        'LANG=C.UTF-8',
        'TZ=UTC',
      ],
      WorkingDir: '/home/nonroot',
      Entrypoint: ['/app/server'],
      Cmd: ['--port', '8080'],
      Labels: { 'org.opencontainers.image.title': 'finalize-test' },
      ExposedPorts: { '8080/tcp': {} },
    });
    assert.deepEqual([image.config.architecture, image.config.os], ['amd64', 'linux']);
    assert.equal(image.manifest.annotations['org.opencontainers.image.source'], 'https://example.invalid/app');
  });

  it('dates the image by the newest package file, not the clock, and no entry is newer', () => {
    const created = new Date(DERIVED_EPOCH * 1000).toISOString().replace('.000Z', 'Z');
    assert.equal(image.config.created, created);
    assert.equal(image.config.history[0].created, created);
    assert.equal(image.manifest.annotations['org.opencontainers.image.created'], created);
    for (const e of [...layer.values(), ...image.outer]) assert.ok(e.mtime <= DERIVED_EPOCH, `${e.path}: mtime ${e.mtime}`);
  });

  it('derives SOURCE_DATE_EPOCH from a newer package and stamps generated files with it', async () => {
    await buildDebianRepo(repo.root, {
      signingKeys: repo.signingKeys,
      suites: [{
        name: 'fixture-newer',
        components: {
          main: [{
            name: 'newer-data', version: '1.0', architecture: 'all', mtime: NEWER_EPOCH,
            entries: [{ path: './usr/share/newer-data/stamp', type: 'file', content: 'new\n' }],
          }],
        },
      }],
    });
    const newer = await build('newer', fixtureSpec({
      mirror: server.url, keyring: repo.keyringPath, name: 'newer',
      suites: ['fixture', 'fixture-newer'], include: ['base-files', 'newer-data'], exclude: ['awk'],
    }));
    const l = newer.layers[0]!;
    assert.equal(newer.config.created, '2024-03-09T16:00:00Z');
    assert.equal(entryAt(l, 'usr/share/newer-data/stamp').mtime, NEWER_EPOCH);
    assert.equal(entryAt(l, 'etc/passwd').mtime, NEWER_EPOCH, 'generated files take SOURCE_DATE_EPOCH');
    assert.equal(entryAt(l, 'usr/share/base-files/motd').mtime, DERIVED_EPOCH, 'older package files keep their time');
  });

  it('takes SOURCE_DATE_EPOCH from the environment and clamps package mtimes to it', async () => {
    const spec = fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'env-epoch' });
    const img = await build('env-epoch', spec, [], { SOURCE_DATE_EPOCH: '1650000000' });
    assert.equal(img.config.created, '2022-04-15T05:20:00Z');
    assert.equal(entryAt(img.layers[0]!, 'usr/lib/x86_64-linux-gnu/libc.so.6').mtime, 1_650_000_000);
    for (const e of img.layers[0]!.values()) assert.ok(e.mtime <= 1_650_000_000, `${e.path}: mtime ${e.mtime}`);
  });

  it('--source-date-epoch wins over the environment and clamps every entry, inside and outside the layer', async () => {
    const spec = fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'flag-epoch' });
    const img = await build('flag-epoch', spec, ['--source-date-epoch', '1600000000'], { SOURCE_DATE_EPOCH: '1650000000' });
    assert.equal(img.config.created, '2020-09-13T12:26:40Z');
    for (const e of img.layers[0]!.values()) assert.ok(e.mtime <= 1_600_000_000, `${e.path}: mtime ${e.mtime}`);
    assert.equal(entryAt(img.layers[0]!, 'etc/protocols').mtime, 1_600_000_000);
    for (const e of img.outer) assert.equal(e.mtime, 1_600_000_000, e.path);
  });
});
