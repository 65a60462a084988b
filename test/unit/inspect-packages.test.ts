/**
 * Package databases inside images (dpkg status.d as distroless writes it,
 * dpkg status + info lists as a Debian root has it, apk's installed db as
 * Alpine/Wolfi have it), file ownership through them, sizes per package and
 * per directory, and the differences between two images.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  diffViews,
  duByPackage,
  duDirectories,
  isPackageDatabasePath,
  openImage,
  readPackageDatabase,
  type FsView,
  type Image,
  type PackageDatabase,
} from '../../src/inspect/index.js';
import type { RawTarEntry } from '../helpers/make-deb.js';
import { buildArchive } from './inspect-testlib.test.js';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baseimg-inspect-pkg-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const md5 = (s: string | Buffer): string => createHash('md5').update(s).digest('hex');
const d = (name: string): RawTarEntry => ({ name, type: 'dir', mode: 0o755 });
const f = (name: string, content: string | Buffer): RawTarEntry => ({ name, content, mode: 0o644 });

async function open(layers: RawTarEntry[][]): Promise<{ img: Image; view: FsView; db: PackageDatabase }> {
  const { tar } = await buildArchive({ layers: layers.map((entries) => ({ entries })) }, 'oci');
  const path = join(dir, `p${++n}.tar`);
  await writeFile(path, tar);
  const img = await openImage(path);
  after(() => img.close());
  const { view } = await img.flatten({ capture: isPackageDatabasePath, digests: true });
  const db = await readPackageDatabase(view, (inode) => img.content.readBuffer(inode));
  return { img, view, db };
}

const ZONE = Buffer.alloc(3000, 0x54);
const LIBC = Buffer.alloc(2000, 0x7f);

/** A distroless-like root: merged /usr, status.d with md5sums listing pre-merge paths, a hard link, a conffile. */
function statusDLayer(tzVersion = '2024a-0+deb12u1'): RawTarEntry[] {
  return [
    d('usr/'), d('usr/lib/'), d('usr/share/'), d('usr/share/zoneinfo/'), d('usr/share/zoneinfo/Etc/'),
    { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
    f('usr/lib/libc.so.6', LIBC),
    f('usr/share/zoneinfo/Etc/UTC', ZONE), { name: 'usr/share/zoneinfo/UTC', type: 'hardlink', linkname: 'usr/share/zoneinfo/Etc/UTC' },
    f('usr/share/zoneinfo/Berlin', ZONE.subarray(0, 1000)),
    d('etc/'), f('etc/mime.types', 'text/html html\n'), f('etc/passwd', 'root:x:0:0:root:/root:/sbin/nologin\n'),
    d('var/'), d('var/lib/'), d('var/lib/dpkg/'), d('var/lib/dpkg/status.d/'),
    f('var/lib/dpkg/status.d/libc6', 'Package: libc6\nVersion: 2.36-9+deb12u9\nArchitecture: amd64\nSource: glibc\nDescription: GNU C Library\n'),
    f('var/lib/dpkg/status.d/libc6.md5sums', `${md5(LIBC)}  lib/libc.so.6\n`),
    f('var/lib/dpkg/status.d/tzdata', `Package: tzdata\nVersion: ${tzVersion}\nArchitecture: all\n`),
    f('var/lib/dpkg/status.d/tzdata.md5sums', `${md5(ZONE)}  usr/share/zoneinfo/Etc/UTC\n${md5(ZONE)}  usr/share/zoneinfo/UTC\n${md5('b')}  usr/share/zoneinfo/Berlin\n`),
    f('var/lib/dpkg/status.d/media-types', 'Package: media-types\nVersion: 10.0.0\nArchitecture: all\n'),
  ];
}

describe('inspect: package databases', () => {
  it('reads dpkg status.d and attributes files through merged-/usr symlinks, hard links once', async () => {
    const { view, db } = await open([statusDLayer()]);
    assert.deepEqual(db.databases, [{ kind: 'dpkg-status.d', path: '/var/lib/dpkg/status.d', packages: 3 }]);
    const libc = db.packages.find((p) => p.name === 'libc6')!;
    assert.equal(libc.version, '2.36-9+deb12u9');
    assert.equal(libc.source, 'glibc');
    assert.deepEqual(libc.files, ['/lib/libc.so.6']);
    assert.equal(libc.filesFrom, '/var/lib/dpkg/status.d/libc6.md5sums');

    const usage = duByPackage(view, view.lookup('/')!, db.packages);
    assert.deepEqual(usage.packages.map((p) => [p.name, p.files, p.bytes]), [['tzdata', 2, 4000], ['libc6', 1, 2000], ['media-types', 0, 0]]);
    const sum = usage.packages.reduce((s, p) => s + p.bytes, 0) + usage.unowned.bytes;
    assert.equal(sum, usage.total.bytes);
    assert.equal(usage.total.bytes, view.totals().bytes);
    assert.ok(usage.unowned.bytes > 0, 'status.d files, passwd and the conffile are unowned');
  });

  it('restricts per-package sizes to a path', async () => {
    const { view, db } = await open([statusDLayer()]);
    const usage = duByPackage(view, view.lookup('/usr/share', true)!, db.packages);
    assert.deepEqual(usage.packages.map((p) => p.name), ['tzdata']);
    assert.equal(usage.total.bytes, 4000);
    assert.equal(usage.unowned.bytes, 0);
  });

  it('reads dpkg status with info/*.list and Conffiles, skipping removed packages', async () => {
    const status = [
      'Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\nConffiles:\n /etc/issue 0123456789abcdef0123456789abcdef\n',
      'Package: gone\nStatus: deinstall ok config-files\nVersion: 1\nArchitecture: all\n',
      'Package: libssl3\nStatus: install ok installed\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\nMulti-Arch: same\nSource: openssl (3.0.15-1~deb12u1)\n',
    ].join('\n');
    const { view, db } = await open([[
      d('etc/'), f('etc/issue', 'Debian\n'), d('usr/'), d('usr/lib/'), f('usr/lib/libssl.so.3', Buffer.alloc(500)),
      d('var/'), d('var/lib/'), d('var/lib/dpkg/'), f('var/lib/dpkg/status', status), d('var/lib/dpkg/info/'),
      f('var/lib/dpkg/info/base-files.list', '/.\n/etc\n/etc/issue\n'), f('var/lib/dpkg/info/libssl3:amd64.list', '/.\n/usr\n/usr/lib\n/usr/lib/libssl.so.3\n'),
    ]]);
    assert.deepEqual(db.packages.map((p) => [p.name, p.version, p.source]), [['base-files', '12.4', undefined], ['libssl3', '3.0.15-1~deb12u1', 'openssl']]);
    assert.deepEqual(db.packages[0]!.files, ['/etc', '/etc/issue']);
    const usage = duByPackage(view, view.lookup('/')!, db.packages);
    assert.deepEqual(usage.packages.map((p) => [p.name, p.bytes]), [['libssl3', 500], ['base-files', 7]]);
  });

  it('reads apk\'s installed db under /usr/lib/apk (reached through /lib/apk) once, and notices an SBOM directory', async () => {
    const installed = [
      'C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nS:100\nI:200\nT:the musl c library\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1x=\nR:libc.musl-x86_64.so.1\n',
      'P:busybox\nV:1.36.1-r29\nA:x86_64\nL:GPL-2.0-only\nF:bin\nR:busybox\n',
    ].join('\n');
    const { view, db } = await open([[
      d('lib/'), f('lib/ld-musl-x86_64.so.1', Buffer.alloc(600)), { name: 'lib/libc.musl-x86_64.so.1', type: 'symlink', linkname: 'ld-musl-x86_64.so.1' },
      d('bin/'), f('bin/busybox', Buffer.alloc(900)),
      d('usr/'), d('usr/lib/'), d('usr/lib/apk/'), d('usr/lib/apk/db/'), f('usr/lib/apk/db/installed', installed), { name: 'lib/apk', type: 'symlink', linkname: '../usr/lib/apk' },
      d('var/'), d('var/lib/'), d('var/lib/db/'), d('var/lib/db/sbom/'), f('var/lib/db/sbom/musl-1.2.5-r0.spdx.json', '{}'),
    ]]);
    assert.deepEqual(db.databases, [{ kind: 'apk-installed', path: '/usr/lib/apk/db/installed', packages: 2 }]);
    const musl = db.packages[0]!;
    assert.deepEqual([musl.name, musl.version, musl.architecture, musl.license, musl.source], ['musl', '1.2.5-r0', 'x86_64', 'MIT', 'musl']);
    assert.deepEqual(musl.files, ['/lib', '/lib/ld-musl-x86_64.so.1', '/lib/libc.musl-x86_64.so.1']);
    assert.deepEqual(db.sbom, { path: '/var/lib/db/sbom', files: ['musl-1.2.5-r0.spdx.json'] });
    const usage = duByPackage(view, view.lookup('/')!, db.packages);
    assert.deepEqual(usage.packages.map((p) => [p.name, p.bytes]), [['busybox', 900], ['musl', 600]]);
  });

  it('notes an unparseable database instead of failing', async () => {
    const { db } = await open([[d('var/'), d('var/lib/'), d('var/lib/dpkg/'), d('var/lib/dpkg/status.d/'), f('var/lib/dpkg/status.d/bad', 'Package: a\nPackage: b\n')]]);
    assert.equal(db.packages.length, 0);
    assert.match(db.notes.join('\n'), /status\.d\/bad could not be parsed/);
  });
});

describe('inspect: du per directory', () => {
  it('sums each subtree once per inode, parents first, largest siblings first, down to a depth', async () => {
    const { view } = await open([statusDLayer()]);
    const rows = duDirectories(view.lookup('/')!, 2);
    assert.equal(rows[0]!.path, '/');
    assert.equal(rows[0]!.bytes, view.totals().bytes);
    const usr = rows.find((r) => r.path === '/usr')!;
    assert.equal(usr.bytes, 6000);
    assert.deepEqual(rows.filter((r) => r.depth === 2 && r.path.startsWith('/usr/')).map((r) => r.path), ['/usr/share', '/usr/lib']);
    assert.ok(rows.every((r) => r.depth <= 2));
    assert.deepEqual(duDirectories(view.lookup('/usr/share/zoneinfo/UTC')!, 3), [{ path: '/usr/share/zoneinfo/UTC', depth: 0, bytes: 3000, files: 1 }]);
  });
});

describe('inspect: diff', () => {
  it('lists added, removed and changed paths, package version changes and the size delta', async () => {
    const a = await open([statusDLayer('2024a-0+deb12u1'), [f('etc/old', 'bye'), f('etc/mode', 'm')]]);
    const b = await open([statusDLayer('2024b-0+deb12u1'), [
      f('etc/new', 'hello'), { name: 'etc/mode', content: 'm', mode: 0o600 }, { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n', mode: 0o644, uid: 1 },
    ]]);
    const diff = diffViews(a.view, b.view, a.db.packages, b.db.packages);
    assert.deepEqual(diff.added.map((p) => p.path), ['/etc/new']);
    assert.deepEqual(diff.removed.map((p) => p.path), ['/etc/old']);
    const changed = Object.fromEntries(diff.changed.map((c) => [c.path, c.changes]));
    assert.deepEqual(changed['/etc/mode'], ['mode']);
    assert.deepEqual(changed['/etc/passwd'], ['content', 'owner']);
    assert.ok(changed['/var/lib/dpkg/status.d/tzdata']);
    assert.deepEqual(diff.packages, [{ name: 'tzdata', manager: 'dpkg', before: '2024a-0+deb12u1', after: '2024b-0+deb12u1', kind: 'upgraded' }]);
    assert.equal(diff.size.delta, diff.size.after - diff.size.before);
    assert.equal(diff.size.delta, 5 - 3 - 6); // etc/new added, etc/old removed, passwd 6 bytes shorter
  });
});
