/**
 * The inspect commands on baseimg's own output:
 *  - a static-like image built by bin/baseimg from a fabricated, signed
 *    Debian archive (served on 127.0.0.1) whose tzdata is, as in the real
 *    one, most of the bytes: `du --by-package` lists tzdata first and the
 *    packages plus "unowned" add up to the total; ls/du/cat/export agree with
 *    the reference flattening and with `umoci unpack`; `diff` against a
 *    rebuild with a newer tzdata shows the upgrade;
 *  - a hand-made RootTree written with src/image (UTF-8 and long names, a
 *    uid beyond ustar, hard links, setuid, a FIFO and a device);
 *  - the same image after a trip through podman (`podman save` as
 *    docker-archive and as oci-archive) and skopeo (dir:, docker-archive:);
 *  - layers compressed by the real zstd tool.
 * Tools that are missing skip their test (fail under CI=true).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildImageConfig } from '../../src/image/config.js';
import { writeLayer } from '../../src/image/layer.js';
import { writeImageTarball } from '../../src/image/tarball.js';
import { BodyStore } from '../../src/rootfs/body-store.js';
import { RootTree } from '../../src/rootfs/tree.js';
import { fixtureSpec } from '../helpers/cli.js';
import { buildDebianRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import type { DebEntry, DebSpec } from '../helpers/make-deb.js';
import { needTools, runOk } from '../helpers/tools.js';
import { assertCliMatchesReference, baseimgJson, baseimgOk, comparable, contents, fsFromDir, fsFromTar } from '../unit/inspect-compare.test.js';
import { buildArchive, referenceFlatten, THREE_LAYERS } from '../unit/inspect-testlib.test.js';

const TZ_OLD = '2024a-0+deb12u1';
const TZ_NEW = '2024b-0+deb12u1';
const PACKAGES = ['base-files', 'netbase', 'tzdata', 'media-types'];

/** Deterministic filler of `n` bytes. */
const filler = (seed: string, n: number): Buffer => {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (seed.charCodeAt(i % seed.length) + i * 31) & 0xff;
  return out;
};
const file = (path: string, content: string | Buffer, mode = 0o644): DebEntry => ({ path, type: 'file', content, mode });

/** tzdata with ~1 MiB of zone files (the real one is 1.3 MiB of a 2 MiB static image). */
function tzdata(version: string): DebSpec {
  const zones: DebEntry[] = [];
  for (const area of ['Africa', 'America', 'Asia', 'Europe', 'Pacific']) {
    for (let i = 0; i < 80; i++) zones.push(file(`./usr/share/zoneinfo/${area}/Zone${i}`, filler(`${version}${area}${i}`, 2000 + ((i * 37) % 1500))));
  }
  return {
    name: 'tzdata', version, architecture: 'all',
    control: { Section: 'localization', Priority: 'required', 'Multi-Arch': 'foreign' },
    entries: [
      ...zones, file('./usr/share/zoneinfo/Etc/UTC', filler('utc', 114)),
      { path: './usr/share/zoneinfo/UTC', type: 'hardlink', linkname: './usr/share/zoneinfo/Etc/UTC' },
      { path: './usr/share/zoneinfo/Zulu', type: 'symlink', linkname: 'Etc/UTC' },
      file('./usr/share/doc/tzdata/copyright', 'public domain\n'),
    ],
  };
}

const staticLike = (tz: string): DebSpec[] => [
  {
    name: 'base-files', version: '12.4+deb12u8', architecture: 'amd64', control: { Essential: 'yes', Section: 'admin', Priority: 'required' },
    conffiles: ['/etc/issue'],
    entries: [
      file('./etc/issue', 'Debian GNU/Linux 12 \\n \\l\n\n'), { path: './etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      file('./usr/lib/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'),
      file('./usr/share/common-licenses/GPL-2', filler('gpl2', 18_000)), file('./usr/share/common-licenses/GPL-3', filler('gpl3', 35_000)),
      file('./usr/share/common-licenses/Apache-2.0', filler('apache', 11_000)), { path: './var/run', type: 'symlink', linkname: '/run' },
      { path: './tmp', type: 'dir', mode: 0o1777 },
    ],
  },
  { name: 'netbase', version: '6.4', architecture: 'all', conffiles: ['/etc/services'], entries: [file('./etc/services', filler('services', 12_000)), file('./usr/share/doc/netbase/copyright', 'GPL\n')] },
  { name: 'media-types', version: '10.0.0', architecture: 'all', conffiles: ['/etc/mime.types'], entries: [file('./etc/mime.types', filler('mime', 40_000)), file('./usr/share/doc/media-types/copyright', 'public domain\n')] },
  tzdata(tz),
];

let work: string;
let repo: DebianRepo;
let server: TestServer;
let image: string;
let newer: string;
let build: Record<string, any>;

async function buildFrom(suite: string, name: string): Promise<{ path: string; result: Record<string, any> }> {
  const spec = join(work, `${name}.toml`);
  // No CA bundle: the fabricated archive has no ca-certificates package.
  await writeFile(spec, fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name, suites: [suite], include: PACKAGES, exclude: [], tables: '[ca-certificates]\nbundle = false\n' }));
  const out = join(work, `${name}.tar`);
  const result = JSON.parse((await baseimgOk(['build', spec, '-o', out, '--cache-dir', join(work, 'cache'), '--json'])).toString());
  return { path: out, result };
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'baseimg-inspect-own-'));
  repo = await buildDebianRepo(join(work, 'repo'), {
    suites: [
      { name: 'static', components: { main: staticLike(TZ_OLD) } },
      { name: 'static-next', components: { main: staticLike(TZ_NEW) } },
    ],
  });
  server = await serveDirectory(repo.root);
  ({ path: image, result: build } = await buildFrom('static', 'static-like'));
  ({ path: newer } = await buildFrom('static-next', 'static-like-next'));
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('inspect: an image baseimg built', () => {
  it('du --by-package lists tzdata first, and the packages plus unowned files add up to the total', async () => {
    const doc = await baseimgJson(['du', image, '--by-package']);
    assert.equal(doc.packages[0].name, 'tzdata');
    assert.deepEqual(doc.packages.map((p: { name: string }) => p.name).sort(), [...PACKAGES].sort());
    const sum = doc.packages.reduce((n: number, p: { bytes: number }) => n + p.bytes, 0) + doc.unowned.bytes;
    assert.equal(sum, doc.total.bytes);
    const files = doc.packages.reduce((n: number, p: { files: number }) => n + p.files, 0) + doc.unowned.files;
    assert.equal(files, doc.total.files);
    const du = await baseimgJson(['du', image, '-d', '0']);
    assert.equal(doc.total.bytes, du.total.bytes);
    // conffiles are not in md5sums, so /etc/mime.types and /etc/services are unowned
    assert.ok(doc.unowned.bytes >= 52_000, `unowned ${doc.unowned.bytes}`);

    const human = (await baseimgOk(['du', image, '--by-package'], { NO_COLOR: '1' })).toString().split('\n');
    assert.match(human[0]!, /^PACKAGE\s+VERSION\s+FILES\s+SIZE\s+%$/);
    assert.match(human[1]!, new RegExp(`^tzdata\\s+${TZ_OLD.replace(/[+.]/g, '\\$&')}\\s+40\\d\\s+1\\.\\d MiB\\s+\\d+\\.\\d%$`));
    assert.match(human.find((l) => l.startsWith('(unowned)'))!, /^\(unowned\)\s+\d+\s+\d+ KiB\s+\d+\.\d%$/);
    assert.match(human.find((l) => l.startsWith('total'))!, /^total\s+\d+\s+1\.\d MiB\s+100%$/);
  });

  it('inspect shows the build\'s digest, platform, config, layer and packages', async () => {
    const doc = await baseimgJson(['inspect', image]);
    assert.equal(doc.image.digest, build.digest);
    assert.equal(doc.image.platform, 'linux/amd64');
    assert.deepEqual(doc.image.refs, ['docker.io/library/static-like:latest', 'latest']);
    assert.equal(doc.layers.length, 1);
    assert.equal(doc.layers[0].compression, 'gzip');
    assert.deepEqual(doc.packages.databases, [{ kind: 'dpkg-status.d', path: '/var/lib/dpkg/status.d', packages: 4 }]);
    const versions = Object.fromEntries(doc.packages.list.map((p: { name: string; version: string }) => [p.name, p.version]));
    assert.equal(versions.tzdata, TZ_OLD);
    assert.deepEqual(Object.keys(versions).sort(), [...PACKAGES].sort());
    assert.equal(typeof doc.sbom.present, 'boolean');
    const human = (await baseimgOk(['inspect', image], { NO_COLOR: '1' })).toString();
    assert.match(human, /^digest {6}sha256:[0-9a-f]{64}$/m);
    assert.match(human, /^packages 4 \(dpkg-status\.d \/var\/lib\/dpkg\/status\.d\)$/m);
    assert.doesNotMatch(human, /\x1b\[/, 'no colours with NO_COLOR or when piped');
  });

  it('ls, du, cat and export agree with the reference flattening', async () => {
    const ref = await referenceFlatten(await readFile(image));
    await assertCliMatchesReference(image, ref.fs, [], work, { catLimit: 4 });
  });

  it('ls -l and --tree show modes, owners, sizes and link targets', async () => {
    const long = (await baseimgOk(['ls', image, '/usr/share/zoneinfo', '-l'])).toString();
    assert.match(long, /^lrwxrwxrwx\s+0:0\s+0 B\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+Zulu -> Etc\/UTC$/m);
    assert.match(long, /^-rw-r--r--\s+0:0\s+114 B\s+.*\sUTC$/m);
    const tree = (await baseimgOk(['ls', image, '/etc', '--tree'])).toString();
    assert.match(tree, /^\/etc\n/);
    assert.match(tree, /^├── os-release -> \.\.\/usr\/lib\/os-release$/m);
    assert.match(tree, /^\d+ directories, \d+ files$/m);
    const rootDirs = (await baseimgOk(['ls', image, '/'])).toString().split('\n');
    assert.ok(rootDirs.includes('tmp') && rootDirs.includes('bin -> usr/bin'), rootDirs.join(','));
  });

  it('umoci unpack of the tarball gives the same files as baseimg export', async (t) => {
    if (!needTools(t, 'umoci', 'tar')) return;
    const layout = join(work, 'umoci-layout');
    await mkdir(layout);
    runOk('tar', ['-xf', image, '-C', layout]);
    runOk('umoci', ['unpack', '--image', `${layout}:latest`, join(work, 'umoci-bundle')]);
    const ours = join(work, 'exported');
    await baseimgOk(['export', image, ours]);
    const theirs = await fsFromDir(join(work, 'umoci-bundle', 'rootfs'));
    assert.deepEqual(comparable(await fsFromDir(ours)), comparable(theirs));
    assert.deepEqual(contents(await fsFromDir(ours)), contents(theirs));
  });

  it('diff against a rebuild with a newer tzdata shows the upgrade and the changed zone files', async () => {
    const doc = await baseimgJson(['diff', image, newer]);
    assert.deepEqual(doc.packages, [{ name: 'tzdata', manager: 'dpkg', before: TZ_OLD, after: TZ_NEW, kind: 'upgraded' }]);
    const changed = doc.changed.map((c: { path: string }) => c.path);
    assert.ok(changed.includes('/usr/share/zoneinfo/Europe/Zone7'));
    assert.ok(changed.includes('/var/lib/dpkg/status.d/tzdata'));
    assert.deepEqual(doc.added, []);
    assert.deepEqual(doc.removed, []);
    const human = (await baseimgOk(['diff', image, newer], { NO_COLOR: '1' })).toString();
    assert.match(human, /^packages 1 upgraded$/m);
    assert.match(human, new RegExp(`^ {2}~\\s+tzdata\\s+${TZ_OLD.replace(/[+.]/g, '\\$&')}\\s+→\\s+${TZ_NEW.replace(/[+.]/g, '\\$&')}\\s+upgraded$`, 'm'));
    assert.match(human, /^ {2}~\s+\/usr\/share\/zoneinfo\/Africa\/Zone0\s+content \(same size\)$/m);
  });
});

describe('inspect: layers compressed by the zstd tool', () => {
  it('ls, du, cat and export agree with the reference flattening', async (t) => {
    if (!needTools(t, 'zstd')) return;
    const { tar } = await buildArchive({ layers: THREE_LAYERS.map((l) => ({ ...l, compression: 'zst-cli' as const })) }, 'docker25');
    const path = join(work, 'zstd-layers.tar');
    await writeFile(path, tar);
    assert.deepEqual((await baseimgJson(['inspect', path])).layers.map((l: { compression: string }) => l.compression), ['zstd', 'zstd', 'zstd']);
    await assertCliMatchesReference(path, (await referenceFlatten(tar)).fs, [], work);
  });
});

describe('inspect: a hand-made RootTree written by src/image', () => {
  let tarball: string;
  before(async () => {
    const dir = join(work, 'roottree');
    await mkdir(dir);
    const tree = new RootTree(new BodyStore({ dir }));
    const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000 };
    const add = async (path: string, content: string | Buffer, extra: Partial<typeof meta> = {}): Promise<void> => {
      const data = typeof content === 'string' ? Buffer.from(content) : content;
      tree.addFile(path, { ...meta, ...extra }, await tree.bodies.put(data), data.length);
    };
    tree.addDirectory('/usr/bin', { ...meta, mode: 0o755 });
    await add('/usr/bin/tool', filler('tool', 70_000), { mode: 0o4755 });
    tree.addHardlink('/usr/bin/tool-again', '/usr/bin/tool');
    await add(`/usr/share/${'long-directory-name/'.repeat(8)}file`, 'deep');
    await add('/usr/share/naïve-ünïcode.txt', 'utf-8 names');
    await add('/home/big-uid', 'x', { uid: 3_000_000, gid: 3_000_001 });
    tree.addSymlink('/bin', 'usr/bin', meta);
    tree.addDevice('/dev/null', 'char', { ...meta, mode: 0o666 }, 1, 3);
    tree.addDevice('/run/fifo', 'fifo', meta, 0, 0);
    const layer = await writeLayer(tree, { sourceDateEpoch: 1_700_000_000, dir, inThread: true });
    const configJson = buildImageConfig({ arch: 'arm64', user: '0', env: [], workdir: '/', labels: {}, exposedPorts: [], createdBy: 'test', sourceDateEpoch: 1_700_000_000 }, [layer.diffId]);
    tarball = join(work, 'roottree.tar');
    await writeImageTarball(tarball, { layers: [layer], configJson, sourceDateEpoch: 1_700_000_000, tag: 'roottree:test' });
  });

  it('ls, du, cat and export agree with the reference flattening', async () => {
    const ref = await referenceFlatten(await readFile(tarball));
    assert.ok(ref.fs.get('/home/big-uid')!.uid === 3_000_000);
    await assertCliMatchesReference(tarball, ref.fs, [], work);
    const ls = await baseimgJson(['ls', tarball, '/usr/bin', '-l']);
    const tool = ls.entries.find((e: { path: string }) => e.path === '/usr/bin/tool');
    assert.equal(tool.nlink, 2);
    assert.equal(tool.mode, 0o4755);
    assert.equal((await baseimgOk(['ls', tarball, '/usr/bin', '-l'], { NO_COLOR: '1' })).toString().split('\n')[0], '-rwsr-xr-x  0:0  68 KiB  2023-11-14 22:13  tool');
  });

  it('skopeo copies to dir: and docker-archive: read back the same', async (t) => {
    if (!needTools(t, 'skopeo')) return;
    const ref = await referenceFlatten(await readFile(tarball));
    const dirCopy = join(work, 'skopeo-dir');
    const dockerCopy = join(work, 'skopeo-docker.tar');
    runOk('skopeo', ['copy', '-q', `oci-archive:${tarball}`, `dir:${dirCopy}`]);
    runOk('skopeo', ['copy', '-q', `oci-archive:${tarball}`, `docker-archive:${dockerCopy}:roottree:test`]);
    for (const [copy, format] of [[dirCopy, 'containers-dir'], [dockerCopy, 'docker-archive']] as const) {
      assert.equal((await baseimgJson(['inspect', copy])).archive.format, format);
      const fromTar = await fsFromTar(await baseimgOk(['export', copy, '-']));
      assert.deepEqual(comparable(fromTar), comparable(ref.fs), format);
      assert.deepEqual(contents(fromTar), contents(ref.fs), format);
    }
  });

  it('podman save as docker-archive and as oci-archive reads back the same', async (t) => {
    if (!needTools(t, 'podman')) return;
    const load = spawnSync('podman', ['load', '-i', tarball], { encoding: 'utf8' });
    assert.equal(load.status, 0, load.stderr);
    const name = /Loaded image(?:\(s\))?: (\S+)/.exec(load.stdout)?.[1];
    assert.ok(name, load.stdout);
    try {
      const ref = await referenceFlatten(await readFile(tarball));
      for (const format of ['docker-archive', 'oci-archive']) {
        const saved = join(work, `podman-${format}.tar`);
        runOk('podman', ['save', '--format', format, '-o', saved, name]);
        const doc = await baseimgJson(['inspect', saved]);
        assert.equal(doc.archive.format, format === 'docker-archive' ? 'docker-archive' : 'oci-layout');
        assert.equal(doc.image.platform, 'linux/arm64/v8');
        // podman may recompress, so compare the filesystem, not the bytes
        const ls = await baseimgJson(['ls', saved, '/', '--depth', '100', '-l']);
        const tar = await baseimgOk(['export', saved, '-']);
        const fromTar = await fsFromTar(tar);
        assert.deepEqual(comparable(fromTar), comparable(ref.fs), format);
        assert.deepEqual(contents(fromTar), contents(ref.fs), format);
        assert.equal(ls.entries.length, ref.fs.size - 1, format);
      }
    } finally {
      spawnSync('podman', ['rmi', '-f', name], { stdio: 'ignore' });
    }
  });
});
