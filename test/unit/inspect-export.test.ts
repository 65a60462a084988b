/**
 * Export writes exactly the flattened filesystem, as a tar or into a
 * directory, and never anything outside the target directory: hostile
 * layers try "../", absolute names, and a symlink followed by a write
 * through it (relative, absolute, in one layer and across layers).
 */
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportToDirectory, openImage, writeRootfsTar, type Image } from '../../src/inspect/index.js';
import { BaseimgError } from '../../src/util/errors.js';
import type { RawTarEntry } from '../helpers/make-deb.js';
import { comparable, contents, fsFromDir, fsFromTar } from './inspect-compare.test.js';
import { buildArchive, referenceFlatten, THREE_LAYERS, type TestImage } from './inspect-testlib.test.js';

const AS_ROOT = process.getuid?.() === 0;
let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baseimg-inspect-export-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function imageFile(image: TestImage): Promise<{ path: string; tar: Buffer }> {
  const { tar } = await buildArchive(image, 'oci');
  const path = join(dir, `e${++n}.tar`);
  await writeFile(path, tar);
  return { path, tar };
}

async function withImg<T>(path: string, fn: (img: Image) => Promise<T>): Promise<T> {
  const img = await openImage(path);
  try {
    return await fn(img);
  } finally {
    await img.close();
  }
}

async function exportDir(path: string, target: string): Promise<Awaited<ReturnType<typeof exportToDirectory>>> {
  return withImg(path, async (img) => exportToDirectory((await img.flatten()).view, img.content, target));
}

async function exportTar(path: string): Promise<Buffer> {
  return withImg(path, async (img) => {
    const chunks: Buffer[] = [];
    await writeRootfsTar((await img.flatten()).view, img.content, async (c) => {
      chunks.push(Buffer.from(c));
    });
    return Buffer.concat(chunks);
  });
}

describe('inspect: export round trip', () => {
  it('writes the flattened filesystem as a tar and as a directory, equal to the reference', async () => {
    const { path, tar } = await imageFile({ layers: THREE_LAYERS });
    const ref = await referenceFlatten(tar);
    const fromTar = await fsFromTar(await exportTar(path));
    assert.deepEqual(comparable(fromTar), comparable(ref.fs));
    assert.deepEqual(contents(fromTar), contents(ref.fs));
    assert.equal(fromTar.get('/usr/bin/tool-link')!.inode, fromTar.get('/usr/bin/tool')!.inode, 'hard link kept in the tar');

    const target = join(dir, 'rootfs-a');
    const result = await exportDir(path, target);
    assert.equal(result.owners, AS_ROOT);
    const fromDir = await fsFromDir(target);
    assert.deepEqual(comparable(fromDir, { owners: AS_ROOT }), comparable(ref.fs, { owners: AS_ROOT }));
    assert.deepEqual(contents(fromDir), contents(ref.fs));
    assert.equal(fromDir.get('/usr/bin/tool-link')!.inode, fromDir.get('/usr/bin/tool')!.inode, 'hard link kept in the directory');
  });

  it('fills read-only directories and keeps setuid bits, skipping devices with a reason', async () => {
    const { path } = await imageFile({ layers: [{ entries: [
      { name: 'ro/', type: 'dir', mode: 0o555 }, { name: 'ro/file', content: 'x', mode: 0o444 },
      { name: 'su', content: 'x', mode: 0o4755 }, { name: 'dev/', type: 'dir', mode: 0o755 }, { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
    ] }] });
    const target = join(dir, 'rootfs-b');
    const result = await exportDir(path, target);
    assert.equal((await lstat(join(target, 'ro'))).mode & 0o7777, 0o555);
    assert.equal((await lstat(join(target, 'ro/file'))).mode & 0o7777, 0o444);
    assert.equal((await lstat(join(target, 'su'))).mode & 0o7777, 0o4755);
    assert.deepEqual(result.skipped, [{ path: '/dev/null', why: 'char device (cannot be created without mknod)' }]);
    const tar = await fsFromTar(await exportTar(path));
    assert.equal(tar.get('/dev/null')!.type, 'char');
  });

  it('refuses a target that is not empty, and accepts one reached through a symlink', async () => {
    const { path } = await imageFile({ layers: [{ entries: [{ name: 'a', content: 'a' }] }] });
    const busy = join(dir, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'mine'), 'do not touch');
    await assert.rejects(exportDir(path, busy), (e: BaseimgError) => e.code === 'USAGE' && /busy is not empty/.test(e.message));
    const real = join(dir, 'real-target');
    await mkdir(real);
    await symlink(real, join(dir, 'link-target'));
    await exportDir(path, join(dir, 'link-target'));
    assert.deepEqual(await readdir(real), ['a']);
  });
});

describe('inspect: export never writes outside the target', () => {
  /** A directory beside the target that a successful escape would write into. */
  async function sentinel(): Promise<string> {
    const s = join(dir, `outside-${++n}`);
    await mkdir(s);
    return s;
  }

  const layerOf = (entries: RawTarEntry[]): TestImage['layers'][number] => ({ entries, compression: 'none' });

  it('refuses ../ and absolute names before writing anything', async () => {
    const out = await sentinel();
    for (const name of [`../${out.split('/').pop()}/pwned`, '../../../../../../../../tmp/pwned', `${out}/pwned`]) {
      const { path } = await imageFile({ layers: [layerOf([{ name: 'ok', content: 'ok' }, { name, content: 'pwned' }])] });
      const target = join(dir, `t-${++n}`);
      await assert.rejects(exportDir(path, target), (e: BaseimgError) => e.code === 'IMAGE');
      await assert.rejects(exportTar(path), (e: BaseimgError) => e.code === 'IMAGE');
      assert.deepEqual(await readdir(out), []);
    }
  });

  it('keeps writes through a symlink inside the image, in one layer or across layers', async () => {
    const out = await sentinel();
    const rel = `../../../../../../../../..${out}`;
    const cases: TestImage[] = [
      { layers: [layerOf([{ name: 'abs', type: 'symlink', linkname: out }, { name: 'abs/pwned', content: 'x' }])] },
      { layers: [layerOf([{ name: 'rel', type: 'symlink', linkname: rel }]), layerOf([{ name: 'rel/pwned', content: 'x' }, { name: 'rel/sub/deeper', content: 'x' }])] },
      { layers: [layerOf([{ name: 'd/', type: 'dir', mode: 0o755 }, { name: 'd/link', type: 'symlink', linkname: '../../..' }]), layerOf([{ name: `d/link${out}/pwned`, content: 'x' }])] },
      { layers: [layerOf([{ name: 'l', type: 'symlink', linkname: `${out}/target` }]), layerOf([{ name: 'h', type: 'hardlink', linkname: 'l' }, { name: 'l', content: 'replaced, not written through' }])] },
    ];
    for (const image of cases) {
      const { path } = await imageFile(image);
      const target = join(dir, `t-${++n}`);
      await exportDir(path, target);
      assert.deepEqual(await readdir(out), [], 'nothing may appear outside the target');
      const exported = await fsFromDir(target);
      for (const [p, e] of exported) {
        if (e.type === 'file') assert.ok(!p.includes('..'), p);
      }
      await exportTar(path);
    }
    // The write landed inside the image's own tree instead:
    const { path } = await imageFile(cases[0]!);
    const target = join(dir, `t-${++n}`);
    await exportDir(path, target);
    assert.equal((await lstat(join(target, out, 'pwned'))).isFile(), true);
    assert.equal((await lstat(join(target, 'abs'))).isSymbolicLink(), true);
  });
});
