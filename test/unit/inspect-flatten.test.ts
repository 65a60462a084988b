/**
 * Layer application rules, case by case: whiteouts (in any order within the
 * layer), opaque directories, replacements of every kind, hard links across
 * layers, symlinked parents, implicit parents, and the errors for layers no
 * runtime would apply.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openImage, type FsView } from '../../src/inspect/index.js';
import type { RawTarEntry } from '../helpers/make-deb.js';
import { comparable } from './inspect-compare.test.js';
import { buildArchive, flattenLayerTars } from './inspect-testlib.test.js';
import { rawTar } from '../helpers/make-deb.js';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baseimg-inspect-flatten-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const d = (name: string, mode = 0o755): RawTarEntry => ({ name, type: 'dir', mode });
const f = (name: string, content = name, mode = 0o644): RawTarEntry => ({ name, content, mode });
const l = (name: string, linkname: string): RawTarEntry => ({ name, type: 'symlink', linkname });
const h = (name: string, linkname: string): RawTarEntry => ({ name, type: 'hardlink', linkname });

async function flatten(...layers: RawTarEntry[][]): Promise<{ view: FsView; text: (p: string) => Promise<string> }> {
  const { tar } = await buildArchive({ layers: layers.map((entries) => ({ entries })) }, 'oci');
  const path = join(dir, `f${++n}.tar`);
  await writeFile(path, tar);
  const img = await openImage(path);
  const { view } = await img.flatten();
  const text = async (p: string): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of img.readFile(view, p)) chunks.push(c);
    return Buffer.concat(chunks).toString();
  };
  after(() => img.close());
  return { view, text };
}

const paths = (view: FsView): string[] => [...view.walk()].map(([p]) => p).filter((p) => p !== '/');

/** src/inspect and the reference must agree on these layers. */
async function agreesWithReference(...layers: RawTarEntry[][]): Promise<FsView> {
  const { view } = await flatten(...layers);
  const ref = await flattenLayerTars(layers.map((e) => rawTar(e)));
  const mine = new Map<string, { type: string; mode: number; uid: number; gid: number; size: number; inode: number; linkTarget?: string }>();
  for (const [p, node] of view.walk()) {
    const m = node.kind === 'file' ? node.inode : node;
    mine.set(p, { type: node.kind, mode: m.mode, uid: m.uid, gid: m.gid, size: node.kind === 'file' ? node.inode.size : 0, inode: 0, ...(node.kind === 'symlink' ? { linkTarget: node.target } : {}) });
  }
  assert.deepEqual(comparable(mine as never), comparable(ref));
  return view;
}

describe('inspect: whiteouts', () => {
  it('removes a lower file or directory with .wh.<name>, wherever the marker sits in the layer', async () => {
    const lower = [d('a/'), f('a/x'), f('a/y'), d('keep/'), f('keep/k')];
    const before = await agreesWithReference(lower, [f('a/.wh.x', ''), f('.wh.keep', '')]);
    assert.deepEqual(paths(before), ['/a', '/a/y']);
    // re-created in the same layer before its whiteout: the new one stays, the lower contents do not
    const recreated = await agreesWithReference(lower, [d('keep/'), f('keep/new'), f('.wh.keep', '')]);
    assert.deepEqual(paths(recreated), ['/a', '/a/x', '/a/y', '/keep', '/keep/new']);
  });

  it('hides lower contents of an opaque directory, before or after its new entries', async () => {
    const lower = [d('dir/'), f('dir/old'), d('dir/sub/'), f('dir/sub/deep')];
    for (const upper of [[d('dir/'), f('dir/.wh..wh..opq', ''), f('dir/new')], [d('dir/'), f('dir/new'), d('dir/sub/'), f('dir/.wh..wh..opq', '')]]) {
      const view = await agreesWithReference(lower, upper);
      assert.ok(paths(view).includes('/dir/new'));
      assert.ok(!paths(view).includes('/dir/old'));
      assert.ok(!paths(view).includes('/dir/sub/deep'));
    }
  });

  it('ignores whiteouts for missing paths, in the first layer, and AUFS bookkeeping', async () => {
    const view = await agreesWithReference([f('.wh.nothing', ''), f('a')], [f('.wh.missing', ''), d('.wh..wh.plnk/'), f('.wh..wh.aufs', '')]);
    assert.deepEqual(paths(view), ['/a']);
  });
});

describe('inspect: replacements', () => {
  it('replaces a directory by a file, a file by a symlink, a symlink by a directory', async () => {
    const { view, text } = await flatten(
      [d('d/'), f('d/inner'), f('file', 'plain'), l('link', 'file')],
      [f('d', 'now a file'), l('file', 'd'), d('link/'), f('link/x')],
    );
    assert.equal(view.lookup('/d')!.node.kind, 'file');
    assert.equal(view.lookup('/d/inner'), undefined);
    assert.equal(view.lookup('/file')!.node.kind, 'symlink');
    assert.equal(await text('/file'), 'now a file'); // followed
    assert.equal(view.lookup('/link')!.node.kind, 'dir');
    await agreesWithReference([d('d/'), f('d/inner'), f('file', 'plain'), l('link', 'file')], [f('d', 'now a file'), l('file', 'd'), d('link/'), f('link/x')]);
  });

  it('updates a directory\'s metadata and keeps its contents when it is listed again', async () => {
    const view = await agreesWithReference([d('etc/'), f('etc/a')], [{ name: 'etc/', type: 'dir', mode: 0o700, uid: 3, gid: 4 }]);
    const etc = view.lookup('/etc')!.node;
    assert.equal(etc.kind === 'dir' && etc.mode, 0o700);
    assert.ok(view.lookup('/etc/a'));
  });

  it('takes the root directory\'s metadata from its "./" entry and makes missing parents 0755 root', async () => {
    const view = await agreesWithReference([{ name: './', type: 'dir', mode: 0o700 }, f('deep/er/file')]);
    assert.equal(view.root.mode, 0o700);
    const deep = view.lookup('/deep/er')!.node;
    assert.ok(deep.kind === 'dir' && deep.implicit && deep.mode === 0o755 && deep.uid === 0);
  });
});

describe('inspect: hard links', () => {
  it('links across layers share the inode, which survives replacement of the original path', async () => {
    const { view, text } = await flatten([f('orig', 'first')], [h('link', 'orig')], [f('orig', 'second')]);
    assert.equal(await text('/link'), 'first');
    assert.equal(await text('/orig'), 'second');
    const link = view.lookup('/link')!.node;
    assert.ok(link.kind === 'file' && link.inode.nlink === 1);
    const { view: v2 } = await flatten([f('a', 'x')], [h('b', 'a'), h('c', '/a')]);
    const a = v2.lookup('/a')!.node;
    assert.ok(a.kind === 'file' && a.inode.nlink === 3);
    assert.equal(v2.totals().bytes, 1);
  });

  it('refuses a hard link to a missing path or a directory', async () => {
    await assert.rejects(flatten([f('a')], [h('b', 'nope')]), /layer 2 .*: hard link "b" → "nope" points at a path that does not exist/);
    await assert.rejects(flatten([d('dir/')], [h('b', 'dir')]), /points at a directory/);
  });
});

describe('inspect: symlinked parents', () => {
  it('follows a symlinked parent inside the image (merged /usr), relative or absolute', async () => {
    for (const target of ['usr/bin', '/usr/bin']) {
      const { view, text } = await flatten([d('usr/'), d('usr/bin/'), l('bin', target)], [f('bin/sh', 'shell')]);
      assert.equal(view.lookup('/bin')!.node.kind, 'symlink');
      assert.equal(await text('/usr/bin/sh'), 'shell');
    }
  });

  it('keeps a symlink that climbs out of the root inside the image', async () => {
    const { view } = await flatten([l('esc', '../../../../outside')], [f('esc/file', 'x')]);
    assert.ok(view.lookup('/outside/file'));
  });

  it('refuses an entry whose parent is a regular file, as runtimes do', async () => {
    await assert.rejects(flatten([f('etc', 'file')], [f('etc/passwd')]), /"etc\/passwd" needs \/etc to be a directory, but it is a regular file/);
  });

  it('stops at symlink loops', async () => {
    await assert.rejects(flatten([l('a', 'b'), l('b', 'a')], [f('a/x')]), /too many levels of symbolic links/);
  });
});
