import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BodyStore } from '../../src/rootfs/body-store.js';
import { RootTree } from '../../src/rootfs/tree.js';
import type { Meta } from '../../src/rootfs/types.js';
import { BaseimgError } from '../../src/util/errors.js';

const META: Meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000 };
const DIR: Meta = { ...META, mode: 0o755 };

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-tree-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function newTree(memoryBudget?: number): RootTree {
  return new RootTree(new BodyStore({ dir: scratch, memoryBudget }));
}

async function addText(tree: RootTree, path: string, text: string, owner?: string): Promise<void> {
  const data = Buffer.from(text);
  tree.addFile(path, META, await tree.bodies.put(data), data.length, { owner });
}

async function textAt(tree: RootTree, path: string): Promise<string> {
  const node = tree.get(path, true);
  assert.ok(node, `${path} exists`);
  assert.equal(node.type, 'file');
  return (await tree.bodies.read(node.body)).toString();
}

function mergedUsr(tree: RootTree): void {
  tree.addDirectory('/usr/bin', DIR);
  tree.addDirectory('/usr/lib', DIR);
  tree.addSymlink('/bin', 'usr/bin', META);
  tree.addSymlink('/lib', 'usr/lib', META);
}

describe('RootTree placement', () => {
  it('places ./bin/x under /usr/bin when /bin -> usr/bin (merged /usr)', async () => {
    const tree = newTree();
    mergedUsr(tree);
    tree.addDirectory('/bin', { ...DIR, mode: 0o700 }, { owner: 'coreutils' });
    await addText(tree, '/bin/ls', 'ls', 'coreutils');
    assert.equal(tree.get('/bin')?.type, 'symlink', '/bin stays a symlink');
    assert.equal(await textAt(tree, '/usr/bin/ls'), 'ls');
    assert.equal(tree.realpath('/bin/ls'), '/usr/bin/ls');
    assert.equal(tree.get('/usr/bin')?.meta.mode, 0o755, 'the real directory keeps its metadata');
  });

  it('follows chains of symlinks', async () => {
    const tree = newTree();
    tree.addDirectory('/c', DIR);
    tree.addSymlink('/b', 'c', META);
    tree.addSymlink('/a', 'b', META);
    await addText(tree, '/a/file', 'via a');
    assert.equal(await textAt(tree, '/c/file'), 'via a');
    assert.equal(tree.realpath('/a'), '/c');
    assert.equal(tree.realpath('/a/file'), '/c/file');
  });

  it('resolves absolute symlink targets inside the root', async () => {
    const tree = newTree();
    tree.addDirectory('/opt/real', DIR);
    tree.addSymlink('/etc/alt', '/opt/real', META);
    await addText(tree, '/etc/alt/conf', 'x');
    assert.equal(await textAt(tree, '/opt/real/conf'), 'x');
    assert.equal(tree.realpath('/etc/alt/conf'), '/opt/real/conf');
  });

  it('clamps "../../../etc" at the root', () => {
    const tree = newTree();
    tree.addDirectory('/etc', DIR);
    tree.addSymlink('/usr/lib/pkg/etc', '../../../../../../etc', META);
    assert.equal(tree.realpath('/usr/lib/pkg/etc'), '/etc');
    assert.equal(tree.get('/usr/lib/pkg/etc', true), tree.get('/etc'));
  });

  it('keeps a write through a symlinked directory pointing "outside" inside the root', async () => {
    const tree = newTree();
    tree.addSymlink('/var/evil', '../../../../tmp/escape', META);
    await addText(tree, '/var/evil/payload', 'caught');
    assert.equal(await textAt(tree, '/tmp/escape/payload'), 'caught');
    assert.equal(tree.realpath('/var/evil/payload'), '/tmp/escape/payload');
  });

  it('rejects ".." in paths given to it', () => {
    const tree = newTree();
    assert.throws(() => tree.addDirectory('/usr/../etc', DIR), (e: unknown) => e instanceof BaseimgError && e.code === 'UNPACK');
  });

  it('reports symlink loops instead of hanging', async () => {
    const tree = newTree();
    tree.addSymlink('/a', 'b', META);
    tree.addSymlink('/b', 'a', META);
    const data = await tree.bodies.put(Buffer.from('x'));
    assert.throws(
      () => tree.addFile('/a/x', META, data, 1),
      (e: unknown) => e instanceof BaseimgError && /too many levels of symbolic links/.test(e.message),
    );
    assert.throws(() => tree.get('/a/x'), /too many levels/);
  });

  it('makes a hard link share the node of its target', async () => {
    const tree = newTree();
    await addText(tree, '/usr/bin/a', 'same', 'pkg');
    const link = tree.addHardlink('/usr/bin/b', '/usr/bin/a', { owner: 'pkg' });
    assert.equal(tree.get('/usr/bin/b'), tree.get('/usr/bin/a'));
    assert.equal(link, tree.get('/usr/bin/a'));
    assert.throws(() => tree.addHardlink('/usr/bin/c', '/usr/bin/missing', { owner: 'pkg' }), /does not exist/);
  });

  it('keeps an existing directory\'s metadata when it is shipped again', () => {
    const tree = newTree();
    tree.addDirectory('/etc', { mode: 0o750, uid: 1, gid: 2, mtime: 5 }, { owner: 'a' });
    const again = tree.addDirectory('/etc', { mode: 0o755, uid: 0, gid: 0, mtime: 9 }, { owner: 'b' });
    assert.deepEqual(again.meta, { mode: 0o750, uid: 1, gid: 2, mtime: 5 });
    assert.equal(again.owner, 'a');
  });

  it('refuses a directory over a file and a file over a directory', async () => {
    const tree = newTree();
    await addText(tree, '/x', 'file', 'a');
    assert.throws(() => tree.addDirectory('/x', DIR, { owner: 'b' }), (e: unknown) => e instanceof BaseimgError && e.code === 'CONFLICT');
    tree.addDirectory('/d', DIR, { owner: 'a' });
    await assert.rejects(addText(tree, '/d', 'file', 'b'), (e: unknown) => e instanceof BaseimgError && e.code === 'CONFLICT' && /directory is already there/.test(e.message));
  });

  it('asks the conflict handler with the canonical path, and honours "keep"', async () => {
    const tree = newTree();
    mergedUsr(tree);
    await addText(tree, '/usr/bin/x', 'first', 'a');
    const calls: string[] = [];
    tree.onConflict = (path, existing, incoming) => {
      calls.push(`${path} ${existing.owner} ${incoming}`);
      return 'keep';
    };
    await addText(tree, '/bin/x', 'second', 'b');
    assert.deepEqual(calls, ['/usr/bin/x a b']);
    assert.equal(await textAt(tree, '/usr/bin/x'), 'first');
  });
});

describe('RootTree.walk', () => {
  it('yields parents before children, siblings in UTF-8 byte order', async () => {
    const tree = newTree();
    // JS string order would put U+1F600 (a surrogate pair) before U+FFFD; UTF-8 bytes put it after.
    for (const name of ['z', 'B', 'a', 'a-b', '\u{1F600}', '\uFFFD', 'é']) tree.addDirectory(`/${name}`, DIR);
    await addText(tree, '/a/x', 'x');
    const paths = [...tree.walk()].map(([p]) => p);
    assert.deepEqual(paths, ['/B', '/a', '/a/x', '/a-b', '/z', '/é', '/\uFFFD', '/\u{1F600}']);
  });
});

describe('BodyStore', () => {
  it('round-trips bodies through the spill file once the memory budget is spent', async () => {
    const dir = await mkdtemp(join(scratch, 'spill-'));
    const store = new BodyStore({ dir, memoryBudget: 8 });
    const small = await store.put(Buffer.from('tiny'));
    const big = await store.put(Buffer.from('this does not fit in eight bytes'));
    const streamed = Buffer.alloc(3 * 1024 * 1024 + 7, 'q');
    const viaStream = await store.putStream(
      (async function* () {
        for (let at = 0; at < streamed.length; at += 100_000) yield streamed.subarray(at, at + 100_000);
      })(),
      streamed.length,
    );
    assert.equal(small.kind, 'mem');
    assert.equal(big.kind, 'spill');
    assert.equal(viaStream.kind, 'spill');
    assert.ok(store.memoryBytes <= 8);
    assert.equal(store.spilledBytes, 32 + streamed.length);
    assert.equal((await stat(join(dir, 'bodies.spill'))).size, store.spilledBytes);
    assert.equal((await store.read(small)).toString(), 'tiny');
    assert.equal((await store.read(big)).toString(), 'this does not fit in eight bytes');
    const chunks: Buffer[] = [];
    for await (const c of store.chunks(viaStream)) {
      assert.ok(c.length <= 1024 * 1024);
      chunks.push(c);
    }
    assert.ok(Buffer.concat(chunks).equals(streamed));
    await store.close();
  });

  it('points bodies into an opened source: one buffer when it fits the budget, else read in place', async () => {
    const dir = await mkdtemp(join(scratch, 'source-'));
    const file = join(dir, 'data.tar');
    const content = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 11 }, (_, i) => i % 251));
    await writeFile(file, content);
    for (const budget of [64 * 1024 * 1024, 16]) {
      const store = new BodyStore({ dir, memoryBudget: budget });
      const source = await store.openSource(file);
      const small = store.extent(source, 5, 10);
      const large = store.extent(source, 100, content.length - 100);
      assert.equal(small.kind, budget > 16 ? 'mem' : 'extent');
      assert.ok((await store.read(small)).equals(content.subarray(5, 15)));
      const chunks: Buffer[] = [];
      for await (const c of store.chunks(large)) chunks.push(Buffer.from(c));
      assert.ok(Buffer.concat(chunks).equals(content.subarray(100)));
      // A view into the shared source frees nothing when released.
      const before = store.memoryBytes;
      store.release(small);
      assert.equal(store.memoryBytes, before);
      await store.close();
    }
  });

  it('rejects a stream whose length differs from the declared size', async () => {
    const store = new BodyStore({ dir: scratch, memoryBudget: 1024 });
    await assert.rejects(store.putStream((async function* () { yield Buffer.from('abc'); })(), 5), /differs from declared size/);
    await store.close();
  });
});
