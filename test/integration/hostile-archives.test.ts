/**
 * Malicious package archives, made here byte by byte (rawTar in
 * test/helpers/make-deb.ts), unpacked by both installers into an in-memory
 * root: the .deb one (installDeb) and the .apk one (openApk → verifyApk →
 * unpackApkData, the backend's order; the packages are properly signed, so
 * only the unpack rules stand between them and the root).
 *
 * One table, both formats. Each refusal must be a BaseimgError naming the
 * package and the offending path; each accepted case must land inside the
 * root and nowhere on the host. Cases the .deb installer's own tests
 * already cover (test/unit/deb-install.test.ts "installDeb: hostile
 * archives" and "decompression bombs") run for .apk only; `debCovered`
 * names the test. The real pipeline (limits from the index, errors through
 * the CLI) is in hostile-archives-cli.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { installDeb } from '../../src/distro/debian/deb-install.js';
import { openApk, verifyApk } from '../../src/distro/alpine/apk-file.js';
import { unpackApkData } from '../../src/distro/alpine/apk-install.js';
import { parseKey } from '../../src/distro/alpine/keys.js';
import type { RootTree } from '../../src/rootfs/tree.js';
import { BaseimgError } from '../../src/util/errors.js';
import { makeDeb, rawTar, type RawTarEntry } from '../helpers/make-deb.js';
import { generateApkKey, makeApk } from '../helpers/alpine-repo.js';
import { fakeContext, newTree, resolved } from '../helpers/finalize-fixtures.js';

const MiB = 1024 * 1024;
const signer = generateApkKey('hostile-archives.rsa.pub');
const trusted = parseKey(signer.name, Buffer.from(signer.publicPem), 'test');
let work: string;
let n = 0;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'baseimg-hostile-archives-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Limits {
  maxBytes?: number;
  maxEntries?: number;
}
type Installer = (name: string, dataGz: Buffer, limits?: Limits) => Promise<RootTree>;

const installers: Record<'deb' | 'apk', Installer> = {
  async deb(name, dataGz, limits = {}) {
    const tree = newTree(join(work, `tree-${++n}`));
    const file = join(work, `${name}-${n}.deb`);
    await writeFile(file, await makeDeb({ name, version: '1.0', architecture: 'all', entries: [], rawDataTar: dataGz, dataCompression: 'gz' }));
    await installDeb(resolved(name), file, tree, { maxUnpackedBytes: limits.maxBytes ?? 64 * MiB, maxEntries: limits.maxEntries ?? 10_000 });
    return tree;
  },
  async apk(name, dataGz, limits = {}) {
    const tree = newTree(join(work, `tree-${++n}`));
    const built = makeApk({ name, version: '1.0', keys: [signer], rawDataGz: dataGz, declaredSize: 100 });
    const file = join(work, `${name}-${n}.apk`);
    await writeFile(file, built.file);
    const { ctx } = fakeContext(work);
    const apk = await openApk(file, `package ${name} 1.0`);
    const verified = await verifyApk(apk, { name, version: '1.0', arch: 'x86_64', checksum: built.checksum }, { keys: [trusted], allowUntrusted: false }, ctx.reporter, `package ${name} 1.0`);
    await unpackApkData(resolved(name), file, tree, {
      dataSha256: verified.dataSha256, dataOffset: apk.dataOffset,
      maxUnpackedBytes: limits.maxBytes ?? 64 * MiB, maxEntries: limits.maxEntries ?? 10_000,
      installed: new Map(), self: { version: '1.0', checksum: built.checksum, origin: name, replaces: [], replacesPriority: 0 }, reporter: ctx.reporter,
    });
    return tree;
  },
};

interface Case {
  name: string;
  /** The data tar (gzip'd by the runner unless `gz` makes it). */
  entries?: RawTarEntry[];
  gz?: () => Buffer;
  limits?: Limits;
  /** A refusal: patterns its message must match (the package name is checked for every refusal). */
  refused?: RegExp[];
  /** An acceptance: checks on the tree. */
  accepted?: (tree: RootTree) => void;
  /** The .deb side is already tested there; run for .apk only. */
  debCovered?: string;
}

const escape = `baseimg-escape-${randomBytes(6).toString('hex')}`;
const deep = `./${'d/'.repeat(60)}${'../'.repeat(70)}etc/passwd`;
const longName = `./usr/share/${'n'.repeat(150)}/${'m'.repeat(120)}`;

/** Gzip of a tar header plus `zeros` zero bytes, streamed, so the test never holds the expanded data. */
function gzipZeros(header: Buffer, zeros: number): Buffer {
  return gzipSync(Buffer.concat([header, Buffer.alloc(zeros)]), { level: 1 });
}

const CASES: Case[] = [
  { name: 'a ".." component', entries: [{ name: './usr/../../etc/passwd', content: 'x' }], refused: [/"\.\/usr\/\.\.\/\.\.\/etc\/passwd" contains a "\.\." component/], debCovered: 'refuses ".." components' },
  { name: 'an absolute path', entries: [{ name: '/etc/shadow', content: 'x' }], refused: [/"\/etc\/shadow" is an absolute path/], debCovered: 'refuses absolute names' },
  { name: '".." carried in a GNU long name', entries: [{ name: deep, content: 'x', longNames: 'gnu' }], refused: [/contains a "\.\." component/, /d\/d\/d\//] },
  { name: 'an absolute path carried in a PAX path record', entries: [{ name: './innocent', content: 'x', pax: { path: '/etc/shadow' } }], refused: [/"\/etc\/shadow" is an absolute path/] },
  { name: '".." carried in a PAX path record', entries: [{ name: './innocent', content: 'x', pax: { path: '../../escape' } }], refused: [/"\.\.\/\.\.\/escape" contains a "\.\." component/] },
  {
    name: 'a symlinked directory pointing outside, then a write through it',
    entries: [{ name: './etc/', type: 'dir' }, { name: './etc/evil', type: 'symlink', linkname: `../../../../../tmp/${escape}` }, { name: './etc/evil/payload', content: 'gotcha' }],
    accepted: (tree) => {
      assert.equal(tree.get(`/tmp/${escape}/payload`)?.type, 'file', 'the write lands inside the root');
      assert.equal(existsSync(join('/tmp', escape)), false, 'nothing is written to the host');
    },
    debCovered: 'keeps a write through a symlinked directory pointing outside inside the root',
  },
  {
    name: 'an absolute symlink to a directory, then a write through it',
    entries: [{ name: './lnk', type: 'symlink', linkname: `/tmp/${escape}-abs` }, { name: './lnk/payload', content: 'gotcha' }],
    accepted: (tree) => {
      assert.equal(tree.get(`/tmp/${escape}-abs/payload`)?.type, 'file');
      assert.equal(existsSync(`/tmp/${escape}-abs`), false, 'nothing is written to the host');
    },
  },
  { name: 'a symlink loop written through', entries: [{ name: './a', type: 'symlink', linkname: 'b' }, { name: './b', type: 'symlink', linkname: 'a' }, { name: './a/x', content: 'x' }], refused: [/too many levels of symbolic links|is a symlink to/, /\.\/a\/x|\/a/] },
  { name: 'a hard link to an absolute path', entries: [{ name: './x', content: 'x' }, { name: './l', type: 'hardlink', linkname: '/etc/shadow' }], refused: [/"\/etc\/shadow" is an absolute path/], debCovered: 'refuses hard links to missing targets, to ".." and to absolute paths' },
  { name: 'a hard link with ".."', entries: [{ name: './x', content: 'x' }, { name: './l', type: 'hardlink', linkname: './x/../../etc/shadow' }], refused: [/contains a "\.\." component/], debCovered: 'refuses hard links to missing targets, to ".." and to absolute paths' },
  { name: 'a hard link to a missing target', entries: [{ name: './l', type: 'hardlink', linkname: './missing' }], refused: [/hard link \.\/l points to \.\/missing, which is not a regular file earlier in the package/], debCovered: 'refuses hard links to missing targets, to ".." and to absolute paths' },
  {
    name: 'a hard link through a symlink pointing outside',
    entries: [{ name: './out', type: 'symlink', linkname: '/' }, { name: './l', type: 'hardlink', linkname: './out/etc/shadow' }],
    refused: [/hard link \.\/l points to \.\/out\/etc\/shadow, which is not a regular file earlier in the package/],
  },
  { name: 'a character device', entries: [{ name: './dev/mem', type: 'char', devmajor: 1, devminor: 1 }], refused: [/ships character device \.\/dev\/mem; images must not contain device nodes/], debCovered: 'refuses character and block devices; accepts FIFOs' },
  { name: 'a block device', entries: [{ name: './dev/sda', type: 'block', devmajor: 8, devminor: 0 }], refused: [/ships block device \.\/dev\/sda/], debCovered: 'refuses character and block devices; accepts FIFOs' },
  { name: 'a FIFO (accepted: it is inert)', entries: [{ name: './run/', type: 'dir' }, { name: './run/pipe', type: 'fifo', mode: 0o600 }], accepted: (tree) => assert.equal(tree.get('/run/pipe')?.type, 'fifo') },
  { name: 'the same path twice', entries: [{ name: './etc/x', content: '1' }, { name: './etc/x', content: '2' }], refused: [/ships \/etc\/x twice/], debCovered: 'refuses the same path twice' },
  { name: 'the same path twice, once through a symlinked parent', entries: [{ name: './etc/x', content: '1' }, { name: './e', type: 'symlink', linkname: 'etc' }, { name: './e/x', content: '2' }], refused: [/ships \/e\/x twice|ships .*x twice/] },
  {
    name: 'very long names, GNU and PAX style (accepted)',
    entries: [{ name: longName, content: 'gnu', longNames: 'gnu' }, { name: `${longName}-pax`, content: 'pax', longNames: 'pax' }, { name: './usr/l', type: 'symlink', linkname: `/${'t'.repeat(200)}`, longNames: 'pax' }],
    accepted: (tree) => {
      assert.equal(tree.get(longName.slice(1))?.type, 'file');
      assert.equal(tree.get(`${longName.slice(1)}-pax`)?.type, 'file');
    },
    debCovered: 'accepts very long names written GNU style and PAX style',
  },
  { name: 'a name that is not valid UTF-8', entries: [{ name: Buffer.concat([Buffer.from('./usr/share/x'), Buffer.from([0xc0, 0xaf]), Buffer.from('y')]) }], refused: [/"\.\/usr\/share\/x\\xc0\\xafy" is not valid UTF-8/], debCovered: 'refuses names that are not valid UTF-8, showing the bytes escaped' },
  { name: 'a PAX path that is not valid UTF-8', entries: [{ name: './ok', content: 'x', pax: { path: Buffer.from([0x2e, 0x2f, 0xff, 0xfe]) } }], refused: [/is not valid UTF-8/] },
  { name: 'a NUL byte in a PAX path', entries: [{ name: './ok', content: 'x', pax: { path: './a\0/etc/passwd' } }], refused: [/NUL/] },
  { name: 'more entries than allowed', entries: Array.from({ length: 50 }, (_, i) => ({ name: `./f${i}`, content: '' })), limits: { maxEntries: 20 }, refused: [/more than 20 entries/] },
  { name: 'a decompression bomb (10 MiB of zeros in a few KiB, limit 1 MiB)', gz: () => gzipZeros(Buffer.alloc(0), 10 * MiB), limits: { maxBytes: MiB }, refused: [/expands to more than 1048576 bytes/], debCovered: 'stops 200 MB of zeros with a small Installed-Size quickly' },
  { name: 'an entry declaring more than the limit, refused at its header', gz: () => gzipSync(rawTar([{ name: './zeros', headerSize: 8 * MiB }], { trailer: false })), limits: { maxBytes: MiB }, refused: [/more than 1048576 bytes of content/], debCovered: 'refuses an entry declaring 200 MB before reading its body' },
  // tar-stream caps metadata records itself (4 MiB); the unpack limit would stop a larger cap.
  { name: 'a 10 MiB PAX header (a bomb hidden in metadata)', gz: () => gzipZeros(rawTar([{ name: './PaxHeaders/x', type: 'x', headerSize: 10 * MiB }], { trailer: false }), 10 * MiB), limits: { maxBytes: 64 * MiB }, refused: [/is not a valid tar archive: Header exceeds max size|more than \d+ bytes/] },
];

for (const format of ['deb', 'apk'] as const) {
  describe(`hostile .${format} data`, () => {
    for (const c of CASES) {
      // The .deb installer has its own test of this case (deb-install.test.ts, c.debCovered).
      if (format === 'deb' && c.debCovered) continue;
      it(c.name, async (t) => {
        const data = c.gz ? c.gz() : gzipSync(rawTar(c.entries!));
        const pkg = `evil-${format}`;
        const attempt = installers[format](pkg, data, c.limits);
        if (c.accepted) return c.accepted(await attempt);
        await assert.rejects(attempt, (e: unknown) => {
          assert.ok(e instanceof BaseimgError, `expected a BaseimgError, got ${String(e)}`);
          assert.match(e.message, new RegExp(`${pkg}\\b`), `the error names the package: ${e.message}`);
          for (const p of c.refused!) assert.match(e.message, p);
          t.diagnostic(e.message);
          return true;
        });
      });
    }
  });
}
