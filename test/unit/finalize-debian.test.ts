import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RootTree } from '../../src/rootfs/tree.js';
import { BaseimgError } from '../../src/util/errors.js';
import { quoteLike, setPrettyName } from '../../src/finalize/os-release.js';
import { presentMd5sums, writeStatusD } from '../../src/distro/debian/status-d.js';
import { CA_CONF_HEADER, renderCaConf } from '../../src/distro/debian/ca-certificates.js';
import { DISTROLESS_NSSWITCH, finalizeDebian } from '../../src/distro/debian/finalize.js';
import { makeDeb } from '../helpers/make-deb.js';
import {
  addText,
  bytesAt,
  CERT,
  DIR_META,
  EPOCH,
  fakeContext as contextIn,
  installSynthetic,
  makeSpec,
  md5Line,
  metaAt,
  newTree as treeIn,
  PKG_META,
  resolved,
  textAt,
} from '../helpers/finalize-fixtures.js';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-finalize-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const newTree = (): RootTree => treeIn(scratch);
const fakeContext = (): ReturnType<typeof contextIn> => contextIn(scratch);

// ------------------------------------------------------------------ status.d

describe('status.d', () => {
  it('writes control and md5sums verbatim when every file is present', async () => {
    const tree = newTree();
    tree.addDirectory('/usr/lib', DIR_META);
    tree.addSymlink('/lib', 'usr/lib', DIR_META);
    const pkg = await installSynthetic(tree, 'libfoo1', { '/usr/lib/libfoo.so.1': 'elf', '/usr/share/doc/libfoo1/copyright': 'c' });
    // md5sums naming the merged-/usr alias is still "present".
    const md5sums = Buffer.from(md5Line('lib/libfoo.so.1', 'elf') + md5Line('usr/share/doc/libfoo1/copyright', 'c'));
    await writeStatusD(tree, [{ name: 'libfoo1', control: pkg.control, md5sums }], { mtime: EPOCH });
    assert.deepEqual(await bytesAt(tree, '/var/lib/dpkg/status.d/libfoo1'), pkg.control);
    assert.deepEqual(await bytesAt(tree, '/var/lib/dpkg/status.d/libfoo1.md5sums'), md5sums);
    assert.deepEqual(metaAt(tree, '/var/lib/dpkg/status.d/libfoo1'), { mode: 0o644, uid: 0, gid: 0, mtime: EPOCH });
    assert.equal(tree.get('/var/lib/dpkg/status'), undefined, 'no status file');
  });

  it('drops md5sums lines of files not in the image, and writes no empty md5sums', async () => {
    const tree = newTree();
    await addText(tree, '/usr/share/doc/p/copyright', 'c');
    const md5sums = Buffer.from(md5Line('usr/bin/p', 'bin') + md5Line('usr/share/doc/p/copyright', 'c') + md5Line('../escape', 'x'));
    assert.equal(presentMd5sums(tree, md5sums).toString(), md5Line('usr/share/doc/p/copyright', 'c'));
    await writeStatusD(tree, [{ name: 'qq', control: Buffer.from('Package: qq\n'), md5sums: Buffer.from(md5Line('usr/bin/qq', 'q')) }], { mtime: EPOCH });
    assert.equal(tree.get('/var/lib/dpkg/status.d/qq')?.type, 'file');
    assert.equal(tree.get('/var/lib/dpkg/status.d/qq.md5sums'), undefined);
  });
});

// ------------------------------------------------------------------ os-release

describe('os-release', () => {
  it('quotes the new PRETTY_NAME the way the original line was quoted', () => {
    assert.equal(quoteLike('"Debian GNU/Linux 12 (bookworm)"', 'My "App" $1'), '"My \\"App\\" \\$1"');
    assert.equal(quoteLike("'old'", 'new name'), "'new name'");
    assert.equal(quoteLike("'old'", "it's"), '"it\'s"');
    assert.equal(quoteLike('old', 'plain'), 'plain');
    assert.equal(quoteLike('old', 'two words'), '"two words"');
  });

  it('rewrites only PRETTY_NAME, appending it when missing', () => {
    const original = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n';
    assert.equal(setPrettyName(original, 'Acme base'), 'PRETTY_NAME="Acme base"\nNAME="Debian GNU/Linux"\nID=debian\n');
    assert.equal(setPrettyName('ID=debian', 'Acme'), 'ID=debian\nPRETTY_NAME="Acme"\n');
  });
});

// ------------------------------------------------------------------ finalizeDebian

describe('finalizeDebian', () => {
  it('writes nsswitch, keeps base-files os-release with a new PRETTY_NAME, and no timezone files', async () => {
    const tree = newTree();
    const osRelease = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n';
    const baseFiles = await installSynthetic(tree, 'base-files', { '/usr/lib/os-release': osRelease });
    tree.addSymlink('/etc/os-release', '../usr/lib/os-release', PKG_META, { owner: 'base-files' });
    const { ctx, messages } = fakeContext();
    await finalizeDebian(tree, [baseFiles], makeSpec({ osRelease: { prettyName: 'Acme "base"' } }), 'amd64', ctx, { sourceDateEpoch: EPOCH });

    assert.equal(await textAt(tree, '/etc/nsswitch.conf'), DISTROLESS_NSSWITCH);
    assert.match(DISTROLESS_NSSWITCH, /\npasswd: {9}compat\ngroup: {10}compat\nshadow: {9}compat\ngshadow: {8}files\n\nhosts: {10}files dns\n/);
    assert.equal(await textAt(tree, '/usr/lib/os-release'), osRelease.replace('"Debian GNU/Linux 12 (bookworm)"', '"Acme \\"base\\""'));
    assert.equal(tree.get('/etc/os-release')?.type, 'symlink', 'the symlink stays');
    assert.equal(tree.get('/usr/lib/os-release')?.owner, 'base-files');
    assert.deepEqual(metaAt(tree, '/usr/lib/os-release'), { ...PKG_META, mtime: EPOCH });
    assert.equal(tree.get('/etc/localtime'), undefined);
    assert.equal(tree.get('/etc/timezone'), undefined);
    // base-files' record: control verbatim, md5sums still listing its (locally modified) file.
    assert.deepEqual(await bytesAt(tree, '/var/lib/dpkg/status.d/base-files'), baseFiles.control);
    assert.deepEqual(await bytesAt(tree, '/var/lib/dpkg/status.d/base-files.md5sums'), baseFiles.md5sums);
    assert.deepEqual(messages.warn, []);
  });

  it('keeps a package-shipped nsswitch.conf and warns when PRETTY_NAME has no os-release to go to', async () => {
    const tree = newTree();
    const libc = await installSynthetic(tree, 'libc-bin', { '/etc/nsswitch.conf': 'passwd: files\n' });
    const { ctx, messages } = fakeContext();
    await finalizeDebian(tree, [libc], makeSpec({ osRelease: { prettyName: 'X' } }), 'amd64', ctx, { sourceDateEpoch: EPOCH });
    assert.equal(await textAt(tree, '/etc/nsswitch.conf'), 'passwd: files\n');
    assert.equal(tree.get('/etc/os-release'), undefined);
    assert.equal(tree.get('/usr/lib/os-release'), undefined);
    assert.equal(messages.warn.length, 1);
    assert.match(messages.warn[0]!, /pretty-name is ignored/);
  });

  it('builds bundle and conffile from an installed ca-certificates, with local certificates after', async () => {
    const tree = newTree();
    const certs: Record<string, string> = {
      '/usr/share/ca-certificates/mozilla/b_Root.crt': CERT('b_Root'),
      '/usr/share/ca-certificates/mozilla/B.Root.crt': CERT('B.Root').trimEnd(), // no final newline
      '/usr/share/ca-certificates/mozilla/A_Root.crt': CERT('A_Root'),
      '/usr/share/ca-certificates/mozilla/Ab.crt': CERT('Ab'),
      '/usr/share/ca-certificates/extra/Z.crt': CERT('extra/Z'),
      '/usr/share/ca-certificates/mozilla/README': 'not a certificate',
    };
    const ca = await installSynthetic(tree, 'ca-certificates', certs);
    // find -type f: a symlinked .crt under /usr/share/ca-certificates is not listed.
    tree.addSymlink('/usr/share/ca-certificates/mozilla/Link.crt', 'Ab.crt', PKG_META, { owner: 'ca-certificates' });
    // A local certificate some package put there, reached through a symlink (find -L follows it).
    await addText(tree, '/opt/corp/inner.pem', CERT('inner'));
    tree.addSymlink('/usr/local/share/ca-certificates/corp.crt', '/opt/corp/inner.pem', PKG_META);

    const localA = join(scratch, 'zeta.crt');
    const localB = join(scratch, 'alpha.pem');
    await writeFile(localA, CERT('zeta').trimEnd());
    await writeFile(localB, CERT('alpha'));
    const { ctx } = fakeContext();
    await finalizeDebian(tree, [ca], makeSpec({ caCertificates: { bundle: true, local: [localA, localB] } }), 'amd64', ctx, { sourceDateEpoch: EPOCH });

    const expectedConf = CA_CONF_HEADER + ['extra/Z.crt', 'mozilla/A_Root.crt', 'mozilla/Ab.crt', 'mozilla/B.Root.crt', 'mozilla/b_Root.crt'].map((n) => `${n}\n`).join('');
    assert.equal(await textAt(tree, '/etc/ca-certificates.conf'), expectedConf);
    assert.equal(
      await textAt(tree, '/etc/ssl/certs/ca-certificates.crt'),
      [CERT('extra/Z'), CERT('A_Root'), CERT('Ab'), CERT('B.Root'), CERT('b_Root'), CERT('alpha'), CERT('inner'), CERT('zeta')].join(''),
    );
    assert.deepEqual(metaAt(tree, '/etc/ssl/certs/ca-certificates.crt'), { mode: 0o644, uid: 0, gid: 0, mtime: EPOCH });
    assert.equal(await textAt(tree, '/usr/local/share/ca-certificates/alpha.pem.crt'), CERT('alpha'), 'a local name gets .crt');
    assert.equal(await textAt(tree, '/usr/local/share/ca-certificates/zeta.crt'), CERT('zeta').trimEnd(), 'local files are copied as they are');
    assert.deepEqual(await bytesAt(tree, '/var/lib/dpkg/status.d/ca-certificates.md5sums'), ca.md5sums, 'installed package: md5sums verbatim');
  });

  it('renders the conffile with the postinst header in byte order', () => {
    assert.equal(renderCaConf(['b.crt', 'B.crt']), `${CA_CONF_HEADER}B.crt\nb.crt\n`);
    assert.match(CA_CONF_HEADER, /^# This file lists certificates that you wish to use or to ignore to be\n/);
    assert.match(CA_CONF_HEADER, /# line begins with ! is certificate filename to be deselected\.\n#\n$/);
  });

  it('takes the bundle from a ca-certificates .deb that is not installed, honestly recorded', async () => {
    const control = { Section: 'misc', Priority: 'standard', 'Multi-Arch': 'foreign' };
    const deb = await makeDeb({
      name: 'ca-certificates',
      version: '20250419',
      architecture: 'all',
      control,
      entries: [
        { path: './usr/share/ca-certificates/mozilla/Second.crt', type: 'file', content: CERT('Second') },
        { path: './usr/share/ca-certificates/mozilla/First.crt', type: 'file', content: CERT('First').trimEnd() },
        { path: './usr/share/doc/ca-certificates/copyright', type: 'file', content: 'Copyright: MPL-2.0\n' },
        { path: './usr/sbin/update-ca-certificates', type: 'file', content: '#!/bin/sh\n', mode: 0o755 },
      ],
      dataCompression: 'gz',
      controlCompression: 'gz',
    });
    const file = join(scratch, 'ca-certificates_20250419_all.deb');
    await writeFile(file, deb);
    const tree = newTree();
    const { ctx } = fakeContext();
    await finalizeDebian(tree, [], makeSpec({ caCertificates: { bundle: true, local: [] } }), 'amd64', ctx, {
      sourceDateEpoch: EPOCH,
      caCertificates: { pkg: resolved('ca-certificates', '20250419'), file },
    });

    assert.equal(await textAt(tree, '/etc/ssl/certs/ca-certificates.crt'), CERT('First') + CERT('Second'));
    assert.equal(await textAt(tree, '/usr/share/doc/ca-certificates/copyright'), 'Copyright: MPL-2.0\n');
    assert.equal(tree.get('/usr/share/ca-certificates'), undefined, 'certificate files are not installed');
    assert.equal(tree.get('/usr/sbin/update-ca-certificates'), undefined);
    assert.equal(tree.get('/etc/ca-certificates.conf'), undefined, 'no conffile without the package');
    const statusControl = await textAt(tree, '/var/lib/dpkg/status.d/ca-certificates');
    assert.match(statusControl, /^Package: ca-certificates\nVersion: 20250419\nArchitecture: all\n/);
    assert.equal(await textAt(tree, '/var/lib/dpkg/status.d/ca-certificates.md5sums'), md5Line('usr/share/doc/ca-certificates/copyright', 'Copyright: MPL-2.0\n'));
  });

  it('fails clearly when local certificates have no bundle to go into', async () => {
    const { ctx } = fakeContext();
    await assert.rejects(
      finalizeDebian(newTree(), [], makeSpec({ caCertificates: { bundle: false, local: ['/x.crt'] } }), 'amd64', ctx, { sourceDateEpoch: EPOCH }),
      (e: unknown) => e instanceof BaseimgError && e.code === 'SPEC' && /no CA bundle/.test(e.message),
    );
    const tree = newTree();
    await finalizeDebian(tree, [], makeSpec(), 'amd64', ctx, { sourceDateEpoch: EPOCH });
    assert.equal(tree.get('/etc/ssl/certs/ca-certificates.crt'), undefined, 'bundle = false and no package: no bundle');
  });
});
