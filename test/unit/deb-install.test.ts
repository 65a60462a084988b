import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { installDeb, defaultUnpackLimit, prepareDeb, type DebInstalledPackage } from '../../src/distro/debian/deb-install.js';
import { debDataCacheFor } from '../../src/distro/debian/data-cache.js';
import { createFetcher } from '../../src/net/fetcher.js';
import type { ResolvedPackage } from '../../src/distro/types.js';
import { BodyStore } from '../../src/rootfs/body-store.js';
import { RootTree } from '../../src/rootfs/tree.js';
import type { Meta } from '../../src/rootfs/types.js';
import { BaseimgError, type ErrorCode } from '../../src/util/errors.js';
import { compress, makeDeb, rawTar, type Compression, type DebSpec, type RawTarEntry } from '../helpers/make-deb.js';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-deb-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const DIR: Meta = { mode: 0o755, uid: 0, gid: 0, mtime: 0 };

function newTree(): RootTree {
  return new RootTree(new BodyStore({ dir: scratch }));
}

function mergedUsr(tree: RootTree): RootTree {
  for (const dir of ['bin', 'sbin', 'lib', 'lib64']) {
    tree.addDirectory(`/usr/${dir}`, DIR);
    tree.addSymlink(`/${dir}`, `usr/${dir}`, DIR);
  }
  return tree;
}

function resolved(name: string, version = '1.0-1', fields: Record<string, string> = {}, architecture = 'amd64'): ResolvedPackage {
  return {
    name, version, architecture,
    url: `file:///${name}.deb`, filename: `pool/${name}.deb`, size: 0, sha256: '',
    source: undefined, maintainer: undefined, installedSize: undefined,
    repository: 'test', dependsOn: [], reason: 'requested',
    fields: { Package: name, Version: version, Architecture: architecture, ...fields },
  };
}

let counter = 0;
async function debFile(spec: DebSpec): Promise<string> {
  const file = join(scratch, `${spec.name}-${counter++}.deb`);
  await writeFile(file, await makeDeb(spec));
  return file;
}

/** Build a .deb for `pkg` (its name, version, arch, fields as control) and install it. */
async function install(
  tree: RootTree,
  pkg: ResolvedPackage,
  spec: Partial<DebSpec>,
  options: Parameters<typeof installDeb>[3] = {},
): Promise<DebInstalledPackage> {
  const { Package: _p, Version: _v, Architecture: _a, ...control } = pkg.fields;
  const file = await debFile({ name: pkg.name, version: pkg.version, architecture: pkg.architecture, control, entries: [], ...spec });
  return installDeb(pkg, file, tree, options);
}

/** A .deb whose data.tar is `entries` written verbatim by rawTar. */
function hostile(entries: RawTarEntry[], kind: Compression = 'gz'): Promise<Partial<DebSpec>> {
  return compress(rawTar(entries), kind).then((rawDataTar) => ({ rawDataTar, dataCompression: kind }));
}

function fails(code: ErrorCode, ...patterns: RegExp[]) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof BaseimgError, `expected a BaseimgError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  };
}

async function text(tree: RootTree, path: string): Promise<string> {
  const node = tree.get(path, true);
  assert.ok(node && node.type === 'file', `${path} is a file`);
  return (await tree.bodies.read(node.body)).toString();
}

describe('installDeb: well-formed packages', () => {
  for (const kind of ['gz', 'xz', 'zst', 'none'] as Compression[]) {
    it(`unpacks ${kind} control and data members`, async () => {
      const tree = newTree();
      const pkg = resolved(`pkg-${kind}`);
      const result = await install(tree, pkg, {
        controlCompression: kind,
        dataCompression: kind,
        conffiles: ['/etc/pkg.conf'],
        entries: [
          { path: './etc/pkg.conf', type: 'file', content: 'setting=1\n' },
          { path: './usr/bin/tool', type: 'file', content: `tool for ${kind}`, mode: 0o755, mtime: 1_800_000_000 },
        ],
      });
      assert.equal(await text(tree, '/usr/bin/tool'), `tool for ${kind}`);
      assert.equal(await text(tree, '/etc/pkg.conf'), 'setting=1\n');
      assert.deepEqual(result.files, ['/etc/pkg.conf', '/usr/bin/tool']);
      assert.match(result.control.toString(), new RegExp(`^Package: pkg-${kind}\nVersion: 1\\.0-1\nArchitecture: amd64\n`));
      const tool = createHash('md5').update(`tool for ${kind}`).digest('hex');
      assert.equal(result.md5sums?.toString(), `${tool}  usr/bin/tool\n`, 'md5sums verbatim (conffiles excluded)');
      assert.deepEqual(result.conffiles, ['/etc/pkg.conf']);
      assert.equal(result.newestMtime, 1_800_000_000);
      assert.equal(result.pkg, pkg);
    });
  }

  it('keeps modes (setuid/setgid/sticky), numeric owners and mtimes; owner is the package', async () => {
    const tree = newTree();
    await install(tree, resolved('perms'), {
      entries: [
        { path: './usr/bin/su', type: 'file', content: 'su', mode: 0o4755, uid: 0, gid: 0, mtime: 1_600_000_000 },
        { path: './usr/bin/wall', type: 'file', content: 'wall', mode: 0o2755, gid: 5 },
        { path: './var/tmp', type: 'dir', mode: 0o1777 },
        { path: './var/mail', type: 'dir', mode: 0o2775, uid: 0, gid: 8 },
        { path: './home/user/file', type: 'file', content: 'x', uid: 1000, gid: 1000, mode: 0o600 },
      ],
    });
    assert.deepEqual(tree.get('/usr/bin/su')!.meta, { mode: 0o4755, uid: 0, gid: 0, mtime: 1_600_000_000 });
    assert.equal(tree.get('/usr/bin/wall')!.meta.mode, 0o2755);
    assert.equal(tree.get('/usr/bin/wall')!.meta.gid, 5);
    assert.equal(tree.get('/var/tmp')!.meta.mode, 0o1777);
    assert.deepEqual([tree.get('/var/mail')!.meta.mode, tree.get('/var/mail')!.meta.gid], [0o2775, 8]);
    assert.deepEqual([tree.get('/home/user/file')!.meta.uid, tree.get('/home/user/file')!.meta.gid], [1000, 1000]);
    assert.equal(tree.get('/usr/bin/su')!.owner, 'perms');
    assert.equal(tree.get('/var/tmp')!.owner, 'perms');
  });

  it('links hard links to the same node and keeps symlink targets verbatim', async () => {
    const tree = newTree();
    const result = await install(tree, resolved('links'), {
      entries: [
        { path: './usr/bin/perl5.36', type: 'file', content: 'perl' },
        { path: './usr/bin/perl', type: 'hardlink', linkname: './usr/bin/perl5.36' },
        { path: './usr/bin/rel', type: 'symlink', linkname: '../lib/x/../y' },
        { path: './usr/bin/abs', type: 'symlink', linkname: '/etc/alternatives/abs' },
        { path: './run/initctl', type: 'fifo', mode: 0o600 },
      ],
    });
    assert.equal(tree.get('/usr/bin/perl'), tree.get('/usr/bin/perl5.36'));
    const rel = tree.get('/usr/bin/rel');
    const abs = tree.get('/usr/bin/abs');
    assert.ok(rel?.type === 'symlink' && abs?.type === 'symlink');
    assert.equal(rel.target, '../lib/x/../y');
    assert.equal(abs.target, '/etc/alternatives/abs');
    assert.equal(tree.get('/run/initctl')?.type, 'fifo');
    assert.deepEqual(result.files, ['/run/initctl', '/usr/bin/abs', '/usr/bin/perl5.36', '/usr/bin/perl', '/usr/bin/rel']);
  });

  it('places ./bin and ./lib entries under /usr when the root is merged, recording canonical paths', async () => {
    const tree = mergedUsr(newTree());
    const result = await install(tree, resolved('bash'), {
      entries: [
        { path: './bin/bash', type: 'file', content: 'bash', mode: 0o755 },
        { path: './bin/sh', type: 'symlink', linkname: 'bash' },
        { path: './lib/x86_64-linux-gnu/libtinfo.so.6', type: 'file', content: 'lib' },
        { path: './usr/share/doc/bash/README', type: 'file', content: 'doc' },
      ],
    });
    assert.equal(tree.get('/bin')?.type, 'symlink', '/bin is still the merged-/usr symlink');
    assert.equal(await text(tree, '/usr/bin/bash'), 'bash');
    assert.equal(await text(tree, '/usr/bin/sh'), 'bash');
    assert.equal(await text(tree, '/usr/lib/x86_64-linux-gnu/libtinfo.so.6'), 'lib');
    assert.deepEqual(result.files, ['/usr/bin/bash', '/usr/bin/sh', '/usr/lib/x86_64-linux-gnu/libtinfo.so.6', '/usr/share/doc/bash/README']);
  });

  it('accepts "usr/bin/x" names without the leading "./"', async () => {
    const tree = newTree();
    const result = await install(tree, resolved('bare'), await hostile([{ name: 'usr/', type: 'dir' }, { name: 'usr/bin/x', content: 'bare' }]));
    assert.equal(await text(tree, '/usr/bin/x'), 'bare');
    assert.deepEqual(result.files, ['/usr/bin/x']);
  });

  it('accepts very long names written GNU style and PAX style', async () => {
    const tree = newTree();
    const deep = `usr/share/${'long-directory-name/'.repeat(8)}${'f'.repeat(120)}`;
    const result = await install(tree, resolved('longnames'), await hostile([
      { name: `./${deep}.gnu`, content: 'gnu', longNames: 'gnu' },
      { name: `./${deep}.pax`, content: 'pax', longNames: 'pax' },
      { name: `./${deep}.lnk`, type: 'symlink', linkname: `${'../'.repeat(40)}target`, longNames: 'pax' },
    ]));
    assert.equal(await text(tree, `/${deep}.gnu`), 'gnu');
    assert.equal(await text(tree, `/${deep}.pax`), 'pax');
    assert.deepEqual(result.files, [`/${deep}.gnu`, `/${deep}.pax`, `/${deep}.lnk`]);
  });
});

describe('installDeb: files shipped by two packages', () => {
  const shipsX = (content: string) => ({ entries: [{ path: './usr/bin/x', type: 'file' as const, content }] });

  it('lets a package whose Replaces names the owner take the file over', async () => {
    const tree = newTree();
    await install(tree, resolved('old', '1.0'), shipsX('old'));
    await install(tree, resolved('new', '2.0', { Replaces: 'other, old (<< 1.5)' }), shipsX('new'));
    assert.equal(await text(tree, '/usr/bin/x'), 'new');
    assert.equal(tree.get('/usr/bin/x')!.owner, 'new');
  });

  it('keeps the owner\'s file when the owner Replaces the newcomer', async () => {
    const tree = newTree();
    await install(tree, resolved('winner', '1.0', { Replaces: 'loser' }), shipsX('winner'));
    const result = await install(tree, resolved('loser', '1.0'), shipsX('loser'));
    assert.equal(await text(tree, '/usr/bin/x'), 'winner');
    assert.equal(tree.get('/usr/bin/x')!.owner, 'winner');
    assert.deepEqual(result.files, ['/usr/bin/x']);
  });

  it('refuses an overwrite when the Replaces version does not match, naming both packages', async () => {
    const tree = newTree();
    await install(tree, resolved('a', '2.0'), shipsX('a'));
    await assert.rejects(
      install(tree, resolved('b', '1.0', { Replaces: 'a (<< 1.5)' }), shipsX('b')),
      (e: unknown) => {
        fails('CONFLICT', /^package b ships \/usr\/bin\/x, which package a also ships$/)(e);
        assert.match((e as BaseimgError).hint ?? '', /Replaces/);
        assert.match((e as BaseimgError).hint ?? '', /exclude/);
        return true;
      },
    );
    assert.equal(await text(tree, '/usr/bin/x'), 'a', 'the tree is left with the first copy');
  });

  it('reports the canonical path when the clash goes through merged /usr', async () => {
    const tree = mergedUsr(newTree());
    await install(tree, resolved('usrmerged'), shipsX('a'));
    await assert.rejects(
      install(tree, resolved('legacy'), { entries: [{ path: './bin/x', type: 'file', content: 'b' }] }),
      fails('CONFLICT', /package legacy ships \/usr\/bin\/x, which package usrmerged also ships/),
    );
  });

  it('shares identical symlinks quietly but refuses different ones', async () => {
    const tree = newTree();
    const link = (target: string) => ({ entries: [{ path: './usr/lib/libfoo.so', type: 'symlink' as const, linkname: target }] });
    await install(tree, resolved('foo-a'), link('libfoo.so.1'));
    await install(tree, resolved('foo-b'), link('libfoo.so.1'));
    const node = tree.get('/usr/lib/libfoo.so');
    assert.ok(node?.type === 'symlink');
    assert.equal(node.owner, 'foo-a');
    await assert.rejects(install(tree, resolved('foo-c'), link('libfoo.so.2')), fails('CONFLICT', /package foo-c ships \/usr\/lib\/libfoo\.so, which package foo-a also ships/));
  });

  it('restores the tree\'s previous conflict handler afterwards', async () => {
    const tree = newTree();
    const mine = () => 'replace' as const;
    tree.onConflict = mine;
    await install(tree, resolved('p'), shipsX('p'));
    assert.equal(tree.onConflict, mine);
  });
});

describe('installDeb: hostile archives', () => {
  const rejects = async (entries: RawTarEntry[], ...patterns: RegExp[]): Promise<RootTree> => {
    const tree = newTree();
    await assert.rejects(install(tree, resolved('evil'), await hostile(entries)), fails('UNPACK', /package evil/, ...patterns));
    return tree;
  };

  it('refuses ".." components', async () => {
    const tree = await rejects([{ name: './usr/../../etc/passwd', content: 'root::0:0' }], /"\.\/usr\/\.\.\/\.\.\/etc\/passwd" contains a "\.\." component/);
    assert.equal(tree.get('/etc/passwd'), undefined);
    await rejects([{ name: '../outside', content: 'x' }], /"\.\.\/outside"/);
  });

  it('refuses absolute names', async () => {
    const tree = await rejects([{ name: '/etc/shadow', content: 'x' }], /"\/etc\/shadow" is an absolute path/);
    assert.equal(tree.get('/etc/shadow'), undefined);
  });

  it('refuses hard links to missing targets, to ".." and to absolute paths', async () => {
    await rejects([{ name: './usr/bin/a', type: 'hardlink', linkname: './usr/bin/missing' }], /hard link \.\/usr\/bin\/a points to \.\/usr\/bin\/missing, which is not a regular file earlier in the package/);
    await rejects(
      [{ name: './x', content: 'x' }, { name: './usr/bin/a', type: 'hardlink', linkname: './usr/../../etc/shadow' }],
      /hard link \.\/usr\/bin\/a to "\.\/usr\/\.\.\/\.\.\/etc\/shadow" contains a "\.\." component/,
    );
    await rejects([{ name: './usr/bin/a', type: 'hardlink', linkname: '/etc/shadow' }], /"\/etc\/shadow" is an absolute path/);
  });

  it('refuses a hard link to a directory or symlink of the package', async () => {
    await rejects(
      [{ name: './etc/', type: 'dir' }, { name: './usr/bin/a', type: 'hardlink', linkname: './etc' }],
      /hard link \.\/usr\/bin\/a points to \.\/etc, which is not a regular file/,
    );
    await rejects(
      [{ name: './l', type: 'symlink', linkname: '/etc/shadow' }, { name: './usr/bin/a', type: 'hardlink', linkname: './l' }],
      /hard link \.\/usr\/bin\/a points to \.\/l, which is not a regular file/,
    );
  });

  it('keeps a write through a symlinked directory pointing outside inside the root', async () => {
    const tree = newTree();
    const escape = `baseimg-escape-${randomBytes(6).toString('hex')}`;
    const result = await install(tree, resolved('sneaky'), await hostile([
      { name: './etc/', type: 'dir' },
      { name: './etc/evil', type: 'symlink', linkname: `../../../../../tmp/${escape}` },
      { name: './etc/evil/payload', content: 'gotcha' },
    ]));
    assert.equal(await text(tree, `/tmp/${escape}/payload`), 'gotcha');
    assert.deepEqual(result.files, ['/etc/evil', `/tmp/${escape}/payload`]);
    assert.equal(existsSync(join('/tmp', escape)), false, 'nothing is written to the host');
  });

  it('refuses character and block devices; accepts FIFOs', async () => {
    await rejects([{ name: './dev/mem', type: 'char', devmajor: 1, devminor: 1 }], /ships character device \.\/dev\/mem; images must not contain device nodes/);
    await rejects([{ name: './dev/sda', type: 'block', devmajor: 8, devminor: 0 }], /ships block device \.\/dev\/sda/);
  });

  it('refuses the same path twice', async () => {
    await rejects([{ name: './usr/bin/x', content: '1' }, { name: './usr/bin/x', content: '2' }], /ships \/usr\/bin\/x twice/);
    await rejects([{ name: './usr/bin/x', content: '1' }, { name: 'usr/bin/x', type: 'symlink', linkname: 'y' }], /ships \/usr\/bin\/x twice/);
  });

  it('refuses names that are not valid UTF-8, showing the bytes escaped', async () => {
    const name = Buffer.concat([Buffer.from('./usr/share/x'), Buffer.from([0xc0, 0xaf]), Buffer.from('y')]);
    const tree = newTree();
    await assert.rejects(install(tree, resolved('latin'), await hostile([{ name }])), fails('UNPACK', /latin 1\.0-1/, /"\.\/usr\/share\/x\\xc0\\xafy" is not valid UTF-8/));
  });

  it('refuses a file over a directory of the same package', async () => {
    const tree = newTree();
    await assert.rejects(
      install(tree, resolved('clash'), await hostile([{ name: './a/', type: 'dir' }, { name: './a', content: 'x' }])),
      fails('CONFLICT', /package clash ships file \/a, but a directory is already there/),
    );
  });

  it('refuses a truncated data.tar', async () => {
    const full = rawTar([{ name: './usr/bin/x', content: 'x'.repeat(4000) }]);
    const tree = newTree();
    await assert.rejects(
      install(tree, resolved('cut'), { rawDataTar: full.subarray(0, 2048), dataCompression: 'none' }),
      fails('UNPACK', /data\.tar of cut 1\.0-1 is truncated/),
    );
  });
});

describe('installDeb: decompression bombs', () => {
  /** gzip of `header` followed by `zeros` bytes of zeros, without holding them in memory. */
  async function gzipZeros(header: Buffer, zeros: number): Promise<Buffer> {
    const gzip = createGzip({ level: 1 });
    const out: Buffer[] = [];
    gzip.on('data', (c: Buffer) => out.push(c));
    const done = new Promise((resolve) => gzip.on('end', resolve));
    const block = Buffer.alloc(1 << 20);
    gzip.write(header);
    for (let left = zeros; left > 0; left -= block.length) {
      if (!gzip.write(block.subarray(0, Math.min(block.length, left)))) await new Promise((r) => gzip.once('drain', r));
    }
    gzip.end();
    await done;
    return Buffer.concat(out);
  }

  it('stops 200 MB of zeros with a small Installed-Size quickly', async () => {
    const bomb = await gzipZeros(Buffer.alloc(0), 200 * 1024 * 1024);
    assert.ok(bomb.length < 1024 * 1024, `the bomb is small (${bomb.length} bytes)`);
    const pkg = { ...resolved('bomb'), installedSize: 4096 };
    const started = Date.now();
    await assert.rejects(
      install(newTree(), pkg, { rawDataTar: bomb, dataCompression: 'gz' }),
      fails('UNPACK', /data\.tar\.gz of bomb 1\.0-1 expands to more than 67125248 bytes/),
    );
    assert.ok(Date.now() - started < 10_000, 'rejected in well under 10 s');
  });

  it('refuses an entry declaring 200 MB before reading its body', async () => {
    const header = rawTar([{ name: './zeros', headerSize: 200 * 1024 * 1024 }], { trailer: false });
    const bomb = await gzipZeros(header, 200 * 1024 * 1024);
    const pkg = { ...resolved('bigfile'), installedSize: 4096 };
    const started = Date.now();
    await assert.rejects(install(newTree(), pkg, { rawDataTar: bomb, dataCompression: 'gz' }), fails('UNPACK', /more than 67125248 bytes of content/));
    assert.ok(Date.now() - started < 2_000, 'rejected at the header');
  });

  it('honours an explicit maxUnpackedBytes', async () => {
    await assert.rejects(
      install(newTree(), resolved('capped'), { entries: [{ path: './f', type: 'file', content: 'x'.repeat(100_000) }] }, { maxUnpackedBytes: 50_000 }),
      fails('UNPACK', /capped/, /more than 50000 bytes/),
    );
  });

  it('derives the default limit from Installed-Size or the .deb size', () => {
    const MiB = 1024 * 1024;
    assert.equal(defaultUnpackLimit(0, 1000), 64 * MiB);
    assert.equal(defaultUnpackLimit(100 * MiB, 1000), 464 * MiB);
    assert.equal(defaultUnpackLimit(undefined, 1000), 200_000);
  });
});

describe('installDeb: package identity and format', () => {
  it('refuses a .deb whose control names another package, version or architecture', async () => {
    const tree = newTree();
    const file = await debFile({ name: 'foo', version: '1.0', architecture: 'amd64', entries: [] });
    await assert.rejects(installDeb(resolved('bar', '1.0'), file, tree), fails('UNPACK', /the \.deb for bar 1\.0 \(amd64\) contains foo 1\.0 \(amd64\)/));
    await assert.rejects(installDeb(resolved('foo', '1.1'), file, tree), fails('UNPACK', /contains foo 1\.0/));
    await assert.rejects(installDeb(resolved('foo', '1.0', {}, 'arm64'), file, tree), fails('UNPACK', /contains foo 1\.0 \(amd64\)/));
    // An explicit zero epoch is the same version.
    await installDeb(resolved('foo', '0:1.0'), file, tree);
  });

  it('checks debian-binary and the member order', async () => {
    const tree = newTree();
    const v3 = await debFile({
      name: 'v3', version: '1', architecture: 'all', entries: [],
      rewriteMembers: (m) => [{ ...m[0]!, data: Buffer.from('3.0\n') }, ...m.slice(1)],
    });
    await assert.rejects(installDeb(resolved('v3', '1', {}, 'all'), v3, tree), fails('UNPACK', /package v3 1: unsupported \.deb format version "3\.0"/));
    const swapped = await debFile({ name: 'sw', version: '1', architecture: 'all', entries: [], rewriteMembers: (m) => [m[0]!, m[2]!, m[1]!] });
    await assert.rejects(installDeb(resolved('sw', '1', {}, 'all'), swapped, tree), fails('UNPACK', /no control\.tar member/));
  });

  it('skips "_" members and ignores trailing ones', async () => {
    const tree = newTree();
    const file = await debFile({
      name: 'extra', version: '1', architecture: 'all',
      entries: [{ path: './etc/extra', type: 'file', content: 'e' }],
      rewriteMembers: (m) => [m[0]!, { name: '_gpgorigin', data: Buffer.from('sig') }, m[1]!, m[2]!, { name: 'zzz', data: Buffer.from('later') }],
    });
    await installDeb(resolved('extra', '1', {}, 'all'), file, tree);
    assert.equal(await text(tree, '/etc/extra'), 'e');
  });

  it('refuses bz2 members with a clear message', async () => {
    const file = await debFile({
      name: 'old', version: '1', architecture: 'all', entries: [],
      rewriteMembers: (m) => [m[0]!, m[1]!, { ...m[2]!, name: 'data.tar.bz2' }],
    });
    await assert.rejects(installDeb(resolved('old', '1', {}, 'all'), file, newTree()), fails('UNPACK', /data\.tar\.bz2 uses bz2 compression, which baseimg does not support/));
  });

  it('reports a malformed control file as UNPACK', async () => {
    const file = await debFile({
      name: 'garbled', version: '1', architecture: 'all', entries: [],
      rawControlTar: await compress(rawTar([{ name: './control', content: 'Package garbled\nno colons here\n' }]), 'gz'),
      controlCompression: 'gz',
    });
    await assert.rejects(installDeb(resolved('garbled', '1', {}, 'all'), file, newTree()), fails('UNPACK', /control file of garbled 1/));
  });

  it('requires ./control in control.tar', async () => {
    const file = await debFile({
      name: 'nocontrol', version: '1', architecture: 'all', entries: [],
      rawControlTar: await compress(rawTar([{ name: './md5sums', content: '' }]), 'xz'),
    });
    await assert.rejects(installDeb(resolved('nocontrol', '1', {}, 'all'), file, newTree()), fails('UNPACK', /control\.tar\.xz has no control file/));
  });
});

describe('installDeb: a real Debian package', () => {
  /** Name, version and architecture from a pool file name ("libc6_2.36-9+deb12u4_amd64.deb"; epochs as %3a). */
  function fromFileName(file: string): ResolvedPackage | undefined {
    const m = /^([^_]+)_([^_]+)_([^_]+)\.deb$/.exec(file);
    return m ? { ...resolved(m[1]!, decodeURIComponent(m[2]!), {}, m[3]!), installedSize: undefined } : undefined;
  }

  it('unpacks base-files / libc6 .debs found in /tmp and matches their md5sums', async (t) => {
    // Only these two names: other .debs lying in /tmp may be anyone's test fixtures.
    const debs = (await readdir('/tmp').catch(() => [] as string[])).filter((f) => /^(base-files|libc6)_[^_]+_[^_]+\.deb$/.test(f)).sort();
    if (debs.length === 0) {
      t.skip('no base-files or libc6 .deb in /tmp (run `apt-get download base-files libc6` in /tmp to enable)');
      return;
    }
    for (const name of debs) {
      const pkg = fromFileName(name);
      if (!pkg) continue;
      const file = join('/tmp', name);
      const tree = mergedUsr(newTree());
      const result = await installDeb(pkg, file, tree);
      assert.ok(result.files.length > 0, `${name} installs files`);
      assert.ok(result.files.every((f) => !/^\/(bin|sbin|lib|lib64)\//.test(f)), `${name}: paths are canonical under merged /usr`);
      assert.ok(result.newestMtime > 0);
      assert.ok((await stat(file)).size > 0);
      const sums = (result.md5sums?.toString() ?? '').split('\n').filter(Boolean);
      assert.ok(sums.length > 0, `${name} has md5sums`);
      for (const line of sums) {
        const [sum, path] = [line.slice(0, 32), line.slice(34)];
        const node = tree.get(`/${path}`, true);
        assert.ok(node?.type === 'file', `${name}: /${path} is a file`);
        const body = await tree.bodies.read(node.body);
        assert.equal(createHash('md5').update(body).digest('hex'), sum, `${name}: /${path} content`);
      }
    }
  });
});

describe('prepareDeb: data decompressed ahead into the data cache', () => {
  async function cacheIn(dir: string) {
    const handle = createFetcher({ cacheDir: dir, offline: true });
    return debDataCacheFor({ derived: handle.derived, blobs: handle.blobs, reporter: { info() {}, warn() {}, debug() {}, task: () => ({ tick() {}, setTotal() {}, done() {} }), timing() {} } });
  }
  const listing = async (tree: RootTree): Promise<string[]> => {
    const out: string[] = [];
    for (const [path, node] of tree.walk()) out.push(`${path} ${node.type} ${node.type === 'file' ? (await tree.bodies.read(node.body)).toString('hex') : ''}`);
    return out;
  };

  it('leaves a tree identical to an install without it, and the install reads the cache', async () => {
    const dataCache = await cacheIn(await mkdtemp(join(scratch, 'cache-')));
    const entries = [
      { path: './usr/', type: 'dir' as const },
      { path: './usr/bin/', type: 'dir' as const },
      { path: './usr/bin/tool', type: 'file' as const, content: randomBytes(300_000) },
      { path: './usr/bin/alias', type: 'hardlink' as const, linkname: './usr/bin/tool' },
      { path: './usr/share/doc/x/copyright', type: 'file' as const, content: 'text\n'.repeat(1000) },
    ];
    const pkg = { ...resolved('ahead'), sha256: createHash('sha256').update('ahead').digest('hex') };
    const { Package: _p, Version: _v, Architecture: _a, ...control } = pkg.fields;
    const file = await debFile({ name: pkg.name, version: pkg.version, architecture: pkg.architecture, control, entries, dataCompression: 'xz' });
    const plain = newTree();
    await installDeb(pkg, file, plain, {});
    assert.equal(await dataCache!.get(pkg.sha256, 'data.tar.xz'), undefined);
    await prepareDeb(pkg, file, { dataCache });
    assert.ok(await dataCache!.get(pkg.sha256, 'data.tar.xz'), 'recorded');
    const prepared = newTree();
    await installDeb(pkg, file, prepared, { dataCache });
    assert.deepEqual(await listing(prepared), await listing(plain));
  });

  it('records a hostile archive it can parse, and the install still refuses it', async () => {
    const dataCache = await cacheIn(await mkdtemp(join(scratch, 'cache-')));
    const pkg = { ...resolved('evil'), sha256: createHash('sha256').update('evil').digest('hex') };
    const file = await debFile({ name: 'evil', version: pkg.version, architecture: pkg.architecture, control: {}, entries: [], ...(await hostile([{ name: './usr/../../etc/passwd', content: 'root::0:0' }], 'xz')) });
    await prepareDeb(pkg, file, { dataCache });
    await assert.rejects(installDeb(pkg, file, newTree(), { dataCache }), fails('UNPACK', /package evil/, /contains a "\.\." component/));
  });

  it('fails on a truncated data.tar without recording it; the install reports the same error', async () => {
    const dataCache = await cacheIn(await mkdtemp(join(scratch, 'cache-')));
    const pkg = { ...resolved('cut'), sha256: createHash('sha256').update('cut').digest('hex') };
    const full = rawTar([{ name: './usr/bin/x', content: 'x'.repeat(4000) }]);
    const file = await debFile({ name: 'cut', version: pkg.version, architecture: pkg.architecture, control: {}, entries: [], rawDataTar: await compress(full.subarray(0, 2048), 'xz'), dataCompression: 'xz' });
    await assert.rejects(prepareDeb(pkg, file, { dataCache }), fails('UNPACK', /truncated/));
    assert.equal(await dataCache!.get(pkg.sha256, 'data.tar.xz'), undefined);
    await assert.rejects(installDeb(pkg, file, newTree(), { dataCache }), fails('UNPACK', /data\.tar\.xz of cut 1\.0-1 is truncated/));
  });
});
