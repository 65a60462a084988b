/**
 * Unpacking .apk data with apk's semantics (modes, owners, links, refused
 * entries, overwrite rules), the installed database records it leads to,
 * and the CA bundle's local certificates.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApk, verifyApk } from '../../src/distro/alpine/apk-file.js';
import { unpackApkData, type InstalledInfo } from '../../src/distro/alpine/apk-install.js';
import { finishCaBundle } from '../../src/distro/alpine/ca-bundle.js';
import { parseDependencyList } from '../../src/distro/alpine/dependency.js';
import { renderRecord, writeApkDatabase, type DbPackage } from '../../src/distro/alpine/installed-db.js';
import { parseKey } from '../../src/distro/alpine/keys.js';
import { infoList, infoValue } from '../../src/distro/alpine/pkginfo.js';
import type { RootTree } from '../../src/rootfs/tree.js';
import { isBaseimgError } from '../../src/util/errors.js';
import { generateApkKey, makeApk, type ApkSpec } from '../helpers/alpine-repo.js';
import { addText, CERT, fakeContext, makeSpec, newTree, resolved, textAt, type Messages } from '../helpers/finalize-fixtures.js';

const signer = generateApkKey('unit.rsa.pub');
const trusted = parseKey(signer.name, Buffer.from(signer.publicPem), 'test');
let work: string;
let counter = 0;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'baseimg-apk-install-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Session {
  tree: RootTree;
  installed: Map<string, InstalledInfo>;
  messages: Messages;
  debug: string[];
  records: DbPackage[];
}

function session(): Session {
  const { messages } = fakeContext(work);
  return { tree: newTree(join(work, `tree-${++counter}`)), installed: new Map(), messages, debug: [], records: [] };
}

/** Build, verify and unpack one package into the session's tree, as the backend does. */
async function install(s: Session, spec: Omit<ApkSpec, 'keys'>): Promise<DbPackage> {
  const built = makeApk({ ...spec, keys: [signer] });
  const path = join(work, `${spec.name}-${++counter}.apk`);
  await writeFile(path, built.file);
  const { ctx } = fakeContext(work);
  const reporter = { ...ctx.reporter, warn: (m: string) => s.messages.warn.push(m), debug: (m: string) => s.debug.push(m) };
  const apk = await openApk(path, spec.name);
  const verified = await verifyApk(apk, { name: spec.name, version: spec.version, arch: 'x86_64', checksum: built.checksum }, { keys: [trusted], allowUntrusted: false }, reporter, spec.name);
  const self: InstalledInfo = {
    version: spec.version,
    checksum: built.checksum,
    origin: infoValue(apk.pkginfo, 'origin'),
    replaces: parseDependencyList(infoList(apk.pkginfo, 'replaces').join(' '), 'test'),
    replacesPriority: 0,
  };
  const pkg = { ...resolved(spec.name, spec.version), fields: { C: built.checksum, P: spec.name, V: spec.version, A: 'x86_64', S: String(built.file.length), I: String(built.installedSize), T: 'test', L: 'MIT' } };
  const unpacked = await unpackApkData(pkg, path, s.tree, {
    dataSha256: verified.dataSha256, dataOffset: apk.dataOffset, maxUnpackedBytes: 1 << 26, maxEntries: 10_000,
    installed: s.installed, self, reporter,
  });
  const record: DbPackage = {
    installed: { pkg, files: unpacked.files, control: apk.pkginfoText, md5sums: undefined, newestMtime: unpacked.newestMtime },
    pkginfo: apk.pkginfo,
    dirs: unpacked.dirs,
  };
  s.records.push(record);
  return record;
}

const q1 = (data: string): string => `Q1${createHash('sha1').update(data).digest('base64')}`;

describe('unpacking .apk data', () => {
  it('keeps modes, owners, symlinks, hard links and FIFOs, and records them as apk does', async () => {
    const s = session();
    const record = await install(s, {
      name: 'tools',
      version: '1.0-r0',
      entries: [
        { path: 'bin/', type: 'dir' },
        { path: 'bin/tool', content: 'ELF', mode: 0o4755 },
        { path: 'bin/tool-link', type: 'hardlink', linkname: 'bin/tool' },
        { path: 'bin/t', type: 'symlink', linkname: 'tool' },
        { path: 'var/', type: 'dir' },
        { path: 'var/run', type: 'symlink', linkname: '/run' },
        { path: 'var/lib/app/', type: 'dir', mode: 0o750, uid: 100, gid: 101 },
        { path: 'var/lib/app/state', content: 'x', mode: 0o640, uid: 100, gid: 101 },
        { path: 'tmp/', type: 'dir', mode: 0o1777 },
        { path: 'tmp/fifo', type: 'fifo', mode: 0o600 },
      ],
    });
    const tool = s.tree.get('/bin/tool')!;
    assert.equal(tool.meta.mode, 0o4755);
    assert.equal(s.tree.get('/bin/tool-link'), tool, 'a hard link is the same node');
    assert.equal(s.tree.get('/var/lib/app/state')!.meta.uid, 100);
    assert.equal(s.tree.get('/tmp')!.meta.mode, 0o1777);
    assert.equal(s.tree.get('/tmp/fifo')!.type, 'fifo');
    assert.equal(renderRecord(record, s.tree), [
      `C:${record.installed.pkg.fields.C}`, 'P:tools', 'V:1.0-r0', 'A:x86_64', `S:${record.installed.pkg.fields.S}`, 'I:4', 'T:test', 'U:', 'L:MIT',
      'F:bin',
      'R:tool', 'a:0:0:4755', `Z:${q1('ELF')}`,
      'R:tool-link', 'a:0:0:4755', `Z:${q1('ELF')}`,
      'R:t', 'a:0:0:777', `Z:${q1('tool')}`,
      'F:var',
      'R:run', 'a:0:0:777', `Z:${q1('/run')}`,
      'F:var/lib/app', 'M:100:101:750',
      'R:state', 'a:100:101:640', `Z:${q1('x')}`,
      'F:tmp', 'M:0:0:1777',
      'R:fifo', 'a:0:0:600',
      '', '',
    ].join('\n'));
  });

  const refusals: Array<[string, ApkSpec['entries'], RegExp]> = [
    ['a device node', [{ path: 'dev/null', type: 'char' }], /ships character device dev\/null; images must not contain device nodes/],
    ['an absolute path', [{ path: '/etc/passwd', content: 'x' }], /"\/etc\/passwd" is an absolute path/],
    ['a ".." component', [{ path: 'usr/../../etc/x', content: 'x' }], /contains a "\.\." component/],
    ['a hard link to nothing', [{ path: 'a', type: 'hardlink', linkname: 'missing' }], /hard link a points to missing, which is not a regular file earlier in the package/],
    ['a file that does not match its checksum', [{ path: 'etc/x', content: 'x', sha1: '0'.repeat(40) }], /etc\/x does not match its APK-TOOLS\.checksum\.SHA1/],
  ];
  for (const [what, entries, pattern] of refusals) {
    it(`refuses ${what}, naming the package`, async () => {
      await assert.rejects(install(session(), { name: 'bad', version: '1', entries }), (e: unknown) => isBaseimgError(e) && /package bad/.test(e.message) && pattern.test(e.message));
    });
  }

  it('security.capability xattrs are dropped with a warning, others noted at debug level', async () => {
    const s = session();
    await install(s, { name: 'ping', version: '1', entries: [{ path: 'bin/ping', content: 'x', pax: { 'SCHILY.xattr.security.capability': 'cap', 'SCHILY.xattr.user.note': 'n' } }] });
    assert.match(s.messages.warn.join('\n'), /ping 1: extended attributes are not carried into the image: security\.capability \(1\), user\.note \(1\); file capabilities are lost/);
  });
});

describe('two packages shipping one path (apk overwrite rules)', () => {
  const owner = { name: 'first', version: '1', entries: [{ path: 'etc/conf', content: 'first' }, { path: 'etc/own', content: 'mine' }] };

  it('is a conflict when neither replaces the other and the origins differ', async () => {
    const s = session();
    await install(s, owner);
    await assert.rejects(install(s, { name: 'second', version: '2', entries: [{ path: 'etc/conf', content: 'second' }] }), (e: unknown) =>
      isBaseimgError(e) && e.code === 'CONFLICT' && /package second 2 ships \/etc\/conf, which package first 1 already installed/.test(e.message));
  });

  const ways: Array<[string, Partial<ApkSpec>]> = [['the newcomer replaces the owner', { replaces: ['first'] }], ['both come from one origin', { origin: 'first' }]];
  for (const [how, extra] of ways) {
    it(`is allowed when ${how}: the file moves to the newcomer's database record`, async () => {
      const s = session();
      const first = await install(s, owner);
      const second = await install(s, { name: 'second', version: '2', entries: [{ path: 'etc/conf', content: 'second' }], ...extra });
      assert.equal(await textAt(s.tree, '/etc/conf'), 'second');
      assert.doesNotMatch(renderRecord(first, s.tree), /R:conf/);
      assert.match(renderRecord(first, s.tree), /R:own/);
      assert.match(renderRecord(second, s.tree), /F:etc\nR:conf\n/);
      if (extra.replaces) assert.match(renderRecord(second, s.tree), /\nr:first\n/);
    });
  }

  it('keeps the owner\'s file when the owner replaces the newcomer', async () => {
    const s = session();
    await install(s, { ...owner, replaces: ['second'] });
    const second = await install(s, { name: 'second', version: '2', entries: [{ path: 'etc/conf', content: 'second' }] });
    assert.equal(await textAt(s.tree, '/etc/conf'), 'first');
    assert.doesNotMatch(renderRecord(second, s.tree), /R:conf/);
    assert.deepEqual(second.installed.files, []);
  });
});

describe('apk database files', () => {
  it('writes installed, world, repositories, arch and the keys', async () => {
    const s = session();
    await install(s, { name: 'a', version: '1', entries: [{ path: 'etc/a', content: 'a' }] });
    await writeApkDatabase(s.tree, { packages: s.records, world: ['a', 'so:libc.musl-x86_64.so.1'], repositories: ['http://127.0.0.1/main'], keys: [trusted], arch: 'x86_64' }, 1700000000);
    assert.match(await textAt(s.tree, '/lib/apk/db/installed'), /^C:Q1.*\nP:a\nV:1\n/);
    assert.equal(await textAt(s.tree, '/etc/apk/world'), 'a\nso:libc.musl-x86_64.so.1\n');
    assert.equal(await textAt(s.tree, '/etc/apk/repositories'), 'http://127.0.0.1/main\n');
    assert.equal(await textAt(s.tree, '/etc/apk/arch'), 'x86_64\n');
    assert.equal(await textAt(s.tree, '/etc/apk/keys/unit.rsa.pub'), signer.publicPem);
  });

  it('follows a /lib symlink (merged /usr, as Wolfi ships it) into /usr/lib/apk/db', async () => {
    const s = session();
    s.tree.addDirectory('/usr/lib', { mode: 0o755, uid: 0, gid: 0, mtime: 0 });
    s.tree.addSymlink('/lib', 'usr/lib', { mode: 0o777, uid: 0, gid: 0, mtime: 0 });
    await writeApkDatabase(s.tree, { packages: [], world: [], repositories: [], keys: [], arch: 'aarch64' }, 1);
    assert.equal(s.tree.get('/usr/lib/apk/db/installed')?.type, 'file');
  });
});

describe('Alpine CA bundle', () => {
  const bundleSpec = (local: string[] = [], bundle = true) => makeSpec({ caCertificates: { bundle, local } });

  it('appends local certificates (from packages and the spec) to the shipped bundle, sorted by path', async () => {
    const s = session();
    await addText(s.tree, '/etc/ssl/certs/ca-certificates.crt', CERT('mozilla'), 'ca-certificates-bundle');
    await addText(s.tree, '/usr/local/share/ca-certificates/zz-pkg.crt', CERT('from a package'), 'custom-ca-certs');
    const local = join(work, 'corp.crt');
    await writeFile(local, CERT('corp').trimEnd());
    const { ctx } = fakeContext(work);
    await finishCaBundle(s.tree, bundleSpec([local]), ctx, 1700000000);
    assert.equal(await textAt(s.tree, '/etc/ssl/certs/ca-certificates.crt'), CERT('mozilla') + CERT('corp') + CERT('from a package'));
    assert.equal(s.tree.get('/etc/ssl/certs/ca-certificates.crt')!.owner, 'ca-certificates-bundle');
  });

  it('leaves the shipped bundle untouched when there is nothing to add', async () => {
    const s = session();
    await addText(s.tree, '/etc/ssl/certs/ca-certificates.crt', CERT('mozilla'), 'ca-certificates-bundle');
    const { ctx } = fakeContext(work);
    await finishCaBundle(s.tree, bundleSpec([], false), ctx, 1);
    assert.equal(s.tree.get('/etc/ssl/certs/ca-certificates.crt')!.meta.mtime, 1_600_000_000);
  });

  it('local certificates without a bundle are a spec error', async () => {
    const s = session();
    const { ctx } = fakeContext(work);
    await assert.rejects(finishCaBundle(s.tree, bundleSpec(['/x.crt'], false), ctx, 1), (e: unknown) =>
      isBaseimgError(e) && e.code === 'SPEC' && /ca-certificates\.local is set, but the image has no CA bundle/.test(e.message));
  });
});
