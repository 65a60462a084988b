import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Deflate, gzip as pakoGzip } from 'pako';
import { extract, type Header } from 'tar-stream';
import { BLOCK_SIZE, GZIP_HEADER, gzipBuffer, gzipStream } from '../../src/image/gzip.js';
import { writeLayer } from '../../src/image/layer.js';
import { BLOCK, encodeHeader, layerTar } from '../../src/image/tar-writer.js';
import { BodyStore } from '../../src/rootfs/body-store.js';
import { RootTree } from '../../src/rootfs/tree.js';
import type { Meta } from '../../src/rootfs/types.js';

const SDE = 1700000000; // 2023-11-14T22:13:20Z
const LONG_DIR = `usr/share/${'d'.repeat(60)}/${'e'.repeat(60)}`; // > 100 bytes, splits into prefix + name
const VERY_LONG = `opt/${'x'.repeat(120)}/${'y'.repeat(120)}/${'z'.repeat(40)}`; // > 256: needs PAX

let scratch: string;
const stores: BodyStore[] = [];
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-layer-test-'));
});
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await rm(scratch, { recursive: true, force: true });
});

function newTree(memoryBudget?: number): RootTree {
  const store = new BodyStore({ dir: scratch, ...(memoryBudget === undefined ? {} : { memoryBudget }) });
  stores.push(store);
  return new RootTree(store);
}

const meta = (mode: number, mtime = 1600000000, uid = 0, gid = 0): Meta => ({ mode, uid, gid, mtime });

type Step = (t: RootTree) => Promise<void>;

/**
 * Directories first (parents before children): RootTree gives an implicitly
 * created parent the mtime of the entry that caused it, so only the order of
 * non-directory entries is free. Those are applied forward or reversed.
 */
function dirSteps(): Step[] {
  return [
    async (t) => void t.addDirectory('/dev', meta(0o755)),
    async (t) => void t.addDirectory('/etc', meta(0o755)),
    async (t) => void t.addDirectory('/home', meta(0o755)),
    async (t) => void t.addDirectory('/home/nonroot', meta(0o700, 1800000000, 65532, 65532)),
    async (t) => void t.addDirectory('/tmp', meta(0o1777, 1500000000)),
    async (t) => void t.addDirectory(`/${LONG_DIR}`, meta(0o755)),
    async (t) => void t.addDirectory(VERY_LONG.replace(/\/[^/]+$/, ''), meta(0o755)),
    async (t) => void t.addDirectory('/usr/bin', meta(0o755)),
    async (t) => void t.addDirectory('/usr/lib', meta(0o755)),
    async (t) => void t.addDirectory('/usr/share/café', meta(0o755)),
    async (t) => void t.addDirectory('/run', meta(0o755)),
    async (t) => void t.addDirectory('/var', meta(0o755)),
  ];
}

function leafSteps(): Step[] {
  return [
    async (t) => void t.addFile('/etc/passwd', meta(0o644), await t.bodies.put(Buffer.from('root:x:0:0:root:/root:/sbin/nologin\n')), 36),
    async (t) => void t.addFile('/usr/bin/tool', meta(0o4755, 1900000000), await t.bodies.put(Buffer.alloc(1000, 7)), 1000),
    async (t) => void t.addFile('/usr/bin/empty', meta(0o000), await t.bodies.put(Buffer.alloc(0)), 0),
    async (t) => void t.addSymlink('/usr/bin/sh', 'tool', meta(0o777)),
    async (t) => void t.addDevice('/dev/null', 'char', meta(0o666), 1, 3),
    async (t) => void t.addDevice('/dev/loop0', 'block', meta(0o660), 7, 0),
    async (t) => void t.addDevice('/run/fifo', 'fifo', meta(0o600), 0, 0),
    async (t) => void t.addFile(`/${LONG_DIR}/file`, meta(0o644), await t.bodies.put(Buffer.from('long\n')), 5),
    async (t) => void t.addFile(`/${VERY_LONG}`, meta(0o644), await t.bodies.put(Buffer.from('very long\n')), 10),
    async (t) => void t.addFile('/usr/share/café/naïve', meta(0o644), await t.bodies.put(Buffer.from('utf8\n')), 5),
    async (t) => void t.addFile('/var/big-ids', meta(0o644, 1600000000, 3000000, 2500000), await t.bodies.put(Buffer.from('ids\n')), 4),
    async (t) => void t.addSymlink('/usr/lib/far', `/${'t'.repeat(150)}`, meta(0o777)),
  ];
}

/** Hard links need their target first, so they run last. */
async function addLinks(t: RootTree): Promise<void> {
  t.addHardlink('/usr/bin/zz-alias', '/usr/bin/tool');
  t.addHardlink('/usr/bin/a-alias', '/usr/bin/tool');
}

async function buildTree(order: 'forward' | 'reverse' = 'forward', memoryBudget?: number): Promise<RootTree> {
  const t = newTree(memoryBudget);
  for (const s of dirSteps()) await s(t);
  const leaves = leafSteps();
  if (order === 'reverse') leaves.reverse();
  for (const s of leaves) await s(t);
  await addLinks(t);
  return t;
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

interface Entry {
  header: Header;
  body: Buffer;
}

async function parseTar(tar: Buffer): Promise<Entry[]> {
  const ex = extract();
  const entries: Entry[] = [];
  const done = (async () => {
    for await (const e of ex) {
      const parts: Buffer[] = [];
      for await (const c of e) parts.push(c as Buffer);
      entries.push({ header: e.header, body: Buffer.concat(parts) });
    }
  })();
  ex.end(tar);
  await done;
  return entries;
}

/** Raw ustar header blocks (without PAX headers) keyed by position. */
function headerBlocks(tar: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + BLOCK <= tar.length) {
    const b = tar.subarray(off, off + BLOCK);
    if (b.every((x) => x === 0)) break;
    const size = parseInt(b.subarray(124, 135).toString('latin1'), 8);
    out.push(b);
    off += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}

describe('layer tar', () => {
  it('writes every node type with the expected header fields', async () => {
    const tar = await collect(layerTar(await buildTree(), { sourceDateEpoch: SDE }));
    const entries = await parseTar(tar);
    const byName = new Map(entries.map((e) => [e.header.name, e]));

    // Walk order: depth first, bytewise-sorted names, parents before children.
    const names = entries.map((e) => e.header.name);
    assert.deepEqual(names.slice(0, 6), ['dev/', 'dev/loop0', 'dev/null', 'etc/', 'etc/passwd', 'home/']);
    for (const n of names) {
      assert.ok(!n.startsWith('/') && !n.startsWith('./'), n);
      const parent = n.replace(/\/?[^/]+\/?$/, '/');
      if (parent !== '/') assert.ok(names.indexOf(parent) < names.indexOf(n), `${parent} before ${n}`);
    }

    for (const e of entries) {
      assert.equal(e.header.uname, '', e.header.name);
      assert.equal(e.header.gname, '', e.header.name);
      assert.ok(e.header.mtime!.getTime() / 1000 <= SDE, `${e.header.name} clamped`);
      if (e.header.type !== 'character-device' && e.header.type !== 'block-device') {
        assert.equal(e.header.devmajor, 0);
        assert.equal(e.header.devminor, 0);
      }
    }

    const passwd = byName.get('etc/passwd')!;
    assert.equal(passwd.header.type, 'file');
    assert.equal(passwd.header.mode, 0o644);
    assert.equal(passwd.header.size, 36);
    assert.equal(passwd.header.mtime!.getTime() / 1000, 1600000000);
    assert.equal(passwd.body.toString(), 'root:x:0:0:root:/root:/sbin/nologin\n');

    assert.equal(byName.get('tmp/')!.header.type, 'directory');
    assert.equal(byName.get('tmp/')!.header.mode, 0o1777);
    assert.equal(byName.get('tmp/')!.header.mtime!.getTime() / 1000, 1500000000, 'older mtimes are kept');

    const home = byName.get('home/nonroot/')!;
    assert.deepEqual([home.header.mode, home.header.uid, home.header.gid], [0o700, 65532, 65532]);
    assert.equal(home.header.mtime!.getTime() / 1000, SDE, 'newer mtimes are clamped to SOURCE_DATE_EPOCH');

    // /usr/bin/tool's body is written at its first path, a-alias (see the hard link test).
    const tool = byName.get('usr/bin/a-alias')!;
    assert.equal(tool.header.mode, 0o4755, 'setuid bit kept');
    assert.equal(tool.header.mtime!.getTime() / 1000, SDE);
    assert.deepEqual(tool.body, Buffer.alloc(1000, 7));

    assert.equal(byName.get('usr/bin/empty')!.header.mode, 0, 'mode 0 stays 0');
    assert.equal(byName.get('usr/bin/sh')!.header.type, 'symlink');
    assert.equal(byName.get('usr/bin/sh')!.header.linkname, 'tool');
    assert.equal(byName.get('usr/bin/sh')!.header.mode, 0o777);

    const nul = byName.get('dev/null')!.header;
    assert.deepEqual([nul.type, nul.devmajor, nul.devminor, nul.mode], ['character-device', 1, 3, 0o666]);
    const loop = byName.get('dev/loop0')!.header;
    assert.deepEqual([loop.type, loop.devmajor, loop.devminor], ['block-device', 7, 0]);
    assert.equal(byName.get('run/fifo')!.header.type, 'fifo');
  });

  it('writes the body once and later paths of the same file as hard links', async () => {
    const entries = await parseTar(await collect(layerTar(await buildTree(), { sourceDateEpoch: SDE })));
    const aliases = entries.filter((e) => e.header.name.startsWith('usr/bin/'));
    // "a-alias" sorts first, so it carries the body; "tool" and "zz-alias" link to it.
    const first = aliases.find((e) => e.header.name === 'usr/bin/a-alias')!;
    assert.equal(first.header.type, 'file');
    assert.equal(first.body.length, 1000);
    for (const name of ['usr/bin/tool', 'usr/bin/zz-alias']) {
      const e = aliases.find((x) => x.header.name === name)!;
      assert.equal(e.header.type, 'link', name);
      assert.equal(e.header.linkname, 'usr/bin/a-alias');
      assert.equal(e.header.size, 0);
      assert.equal(e.body.length, 0);
    }
  });

  it('uses ustar prefix for long names and PAX only where ustar cannot hold the entry', async () => {
    const tar = await collect(layerTar(await buildTree(), { sourceDateEpoch: SDE }));
    const entries = await parseTar(tar);
    const names = entries.map((e) => e.header.name);
    assert.ok(names.includes(`${LONG_DIR}/file`));
    assert.ok(names.includes(VERY_LONG));
    assert.ok(names.includes('usr/share/café/naïve'));
    const far = entries.find((e) => e.header.name === 'usr/lib/far')!;
    assert.equal(far.header.linkname, `/${'t'.repeat(150)}`);
    const ids = entries.find((e) => e.header.name === 'var/big-ids')!;
    const pax = ids.header.pax as Record<string, string>;
    assert.deepEqual([pax.uid, pax.gid], ['3000000', '2500000']);

    const blocks = headerBlocks(tar);
    const paxBlocks = blocks.filter((b) => b[156] === 0x78);
    // usr/share/café/ and café/naïve (not ASCII); opt/x…/ and opt/x…/y…/ (no "/" splits them
    // into 155 + 100 bytes); VERY_LONG (> 256 bytes); usr/lib/far (linkpath); var/big-ids (uid, gid).
    assert.equal(paxBlocks.length, 7);
    for (const b of paxBlocks) {
      assert.equal(b.subarray(0, 100).toString('latin1').replace(/\0+$/, ''), 'PaxHeader');
      assert.equal(b.subarray(100, 108).toString('latin1'), '0000644\0');
    }
    const longDir = blocks.find((b) => b.subarray(345, 500).toString('latin1').startsWith('usr/share/ddd'));
    assert.ok(longDir, 'LONG_DIR uses the ustar prefix field, not PAX');

    // The PAX records of var/big-ids: sorted keys, no atime/ctime.
    const idsAt = tar.indexOf(Buffer.from('var/big-ids\0'));
    const idsPax = tar.subarray(idsAt - BLOCK, idsAt).toString('latin1').replace(/\0+$/, '');
    assert.equal(idsPax, '15 gid=2500000\n15 uid=3000000\n');
    const idsHeader = tar.subarray(idsAt, idsAt + BLOCK);
    assert.equal(idsHeader.subarray(108, 116).toString('latin1'), '7777777\0', 'ustar uid holds the maximum, not 0 (root)');
  });

  it('encodes header bytes exactly', () => {
    const b = encodeHeader({ name: 'etc', type: 'dir', mode: 0o40755, uid: 0, gid: 0, size: 0, mtime: SDE });
    assert.equal(b.length, BLOCK);
    assert.equal(b.subarray(0, 100).toString('latin1').replace(/\0+$/, ''), 'etc/');
    assert.equal(b.subarray(100, 108).toString('latin1'), '0000755\0', 'mode & 0o7777');
    assert.equal(b.subarray(108, 116).toString('latin1'), '0000000\0');
    assert.equal(b.subarray(124, 136).toString('latin1'), '00000000000\0');
    assert.equal(b.subarray(136, 148).toString('latin1'), `${SDE.toString(8)}\0`);
    assert.equal(String.fromCharCode(b[156]!), '5');
    assert.equal(b.subarray(257, 265).toString('latin1'), 'ustar\u000000');
    assert.ok(b.subarray(265, 329).every((x) => x === 0), 'empty uname/gname');
    assert.equal(b.subarray(329, 337).toString('latin1'), '0000000\0');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
    assert.equal(b.subarray(148, 156).toString('latin1'), `${sum.toString(8).padStart(6, '0')}\0 `);

    // > 8 GiB bodies get a PAX size record (the body itself is the caller's business).
    const huge = encodeHeader({ name: 'big', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 2 ** 33 + 1, mtime: 0 });
    assert.equal(huge.length, 3 * BLOCK);
    assert.equal(huge.subarray(BLOCK, 2 * BLOCK).toString('latin1').replace(/\0+$/, ''), '19 size=8589934593\n');
    assert.throws(() => encodeHeader({ name: 'x', type: 'symlink', mode: 0, uid: 0, gid: 0, size: 0, mtime: 0 }), /link without a target/);
    assert.throws(() => encodeHeader({ name: 'x', type: 'file', mode: 0, uid: -1, gid: 0, size: 0, mtime: 0 }), /uid -1/);
  });

  it('ends with exactly two zero blocks and no record padding', async () => {
    const t = newTree();
    t.addFile('/a', meta(0o644), await t.bodies.put(Buffer.from('x')), 1);
    const tar = await collect(layerTar(t, { sourceDateEpoch: SDE }));
    assert.equal(tar.length, BLOCK + BLOCK + 2 * BLOCK);
    assert.ok(tar.subarray(2 * BLOCK).every((x) => x === 0));
    const empty = await collect(layerTar(newTree(), { sourceDateEpoch: SDE }));
    assert.equal(empty.length, 2 * BLOCK);
  });

  it('is byte-identical across writes, insertion orders, spilled bodies, TZ and umask', async () => {
    const a = await collect(layerTar(await buildTree('forward'), { sourceDateEpoch: SDE }));
    const b = await collect(layerTar(await buildTree('forward'), { sourceDateEpoch: SDE }));
    const c = await collect(layerTar(await buildTree('reverse', 0), { sourceDateEpoch: SDE }));
    const oldTz = process.env.TZ;
    const oldUmask = process.umask(0o077);
    try {
      process.env.TZ = 'Pacific/Kiritimati';
      const d = await collect(layerTar(await buildTree('reverse'), { sourceDateEpoch: SDE }));
      assert.deepEqual(d, a);
    } finally {
      if (oldTz === undefined) delete process.env.TZ;
      else process.env.TZ = oldTz;
      process.umask(oldUmask);
    }
    assert.deepEqual(b, a);
    assert.deepEqual(c, a);
  });

  it('rejects a SOURCE_DATE_EPOCH that is not a whole non-negative number', async () => {
    const t = await buildTree();
    await assert.rejects(collect(layerTar(t, { sourceDateEpoch: 1.5 })), /SOURCE_DATE_EPOCH/);
    await assert.rejects(collect(layerTar(t, { sourceDateEpoch: -1 })), /SOURCE_DATE_EPOCH/);
  });
});

/** Inputs that exercise different deflate paths: empty, tiny, text, runs, noise, window-sized. */
function corpus(): Array<[string, Buffer]> {
  let x = 12345;
  const noise = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      b[i] = x >>> 24;
    }
    return b;
  };
  const text = Buffer.from(Array.from({ length: 4000 }, (_, i) => `line ${i}: the quick brown fox ${i % 17}\n`).join(''));
  return [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from('a')],
    ['text', text],
    ['zeros 1 MiB', Buffer.alloc(1 << 20)],
    ['noise 300 KiB', noise(300 << 10)],
    ['window edge', Buffer.concat([noise(32768), noise(32768).subarray(0, 100), text.subarray(0, 65536 + 3)])],
    ['mixed 3 MiB', Buffer.concat([text, noise(1 << 20), Buffer.alloc(1 << 20, 0x41), text, noise(700000)])],
  ];
}

// sha256 of gzipBuffer(corpus item), recorded with pako 3.0.3 and 1 MiB
// blocks: a pako upgrade (or a Node change under it) that alters the bytes
// fails here, before it silently changes every layer digest.
const GOLDEN: Record<string, string> = {
  empty: 'ac73670af3abed54ac6fb4695131f4099be9fbe39d6076c5d0264a6bbdae9d83',
  'one byte': 'f36479cfccfcf7ec33f811a27fd33e1d168c078f3782b5a28ef3b17eb07b5a2f',
  text: 'c4e3ca5a424e303bfe0af711f9f47eaa6818f66146b5aa9bebbeaec9ab678f37',
  'zeros 1 MiB': '00729dcec0db9170f50eeb4d4240539bbb10507624f75a7f01417944b79a7992',
  'noise 300 KiB': '9cec76f2ef04fb992cab753bb83b168ef8b14f4c4e2795bc5f3135fe427eb456',
  'window edge': '3108957bd1f7129ea7661965c521dd114352efb3e793c52ae92e3f24404381a6',
  'mixed 3 MiB': '813c0aa783ffeef3e824901b81c05b06575f0da64abaddfbdab33a9a23120dbe',
};

describe('gzip', () => {
  it('writes a fixed gzip header and a correct trailer', () => {
    const gz = gzipBuffer(Buffer.from('hello\n'));
    assert.deepEqual(gz.subarray(0, 10), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
    assert.deepEqual(gz.subarray(0, 10), GZIP_HEADER);
    assert.equal(gunzipSync(gz).toString(), 'hello\n');
    assert.equal(gz.readUInt32LE(gz.length - 4), 6);
  });

  it('one block is pako level 6 with a sync flush, then a final empty block (RFC 1951 03 00)', () => {
    for (const [name, data] of corpus().filter(([, d]) => d.length > 0 && d.length <= BLOCK_SIZE)) {
      const deflater = new Deflate({ level: 6, raw: true });
      const parts: Uint8Array[] = [];
      deflater.onData = (c) => parts.push(c);
      assert.ok(deflater.push(data, 2));
      const body = Buffer.concat(parts);
      assert.deepEqual(body.subarray(-4), Buffer.from([0, 0, 0xff, 0xff]), `${name}: sync flush marker`);
      assert.deepEqual(gzipBuffer(data).subarray(10, -8), Buffer.concat([body, Buffer.from([3, 0])]), name);
    }
  });

  it('gives the same bytes streamed or whole, in any chunking, in-thread or on 1, 2 or 3 workers', async () => {
    for (const [name, data] of corpus()) {
      const whole = gzipBuffer(data);
      assert.deepEqual(gunzipSync(whole), data, name);
      // Arbitrary chunk boundaries must not change the output.
      const chunks: Buffer[] = [];
      for (let i = 0, step = 1; i < data.length; i += step, step = (step * 7 + 3) % 70001) chunks.push(data.subarray(i, i + step));
      for (const mode of [{ inThread: true }, { workers: 1 }, { workers: 2 }, { workers: 3 }]) {
        const out: Buffer[] = [];
        const r = await gzipStream(chunks, (c) => void out.push(Buffer.from(c)), mode);
        assert.deepEqual(Buffer.concat(out), whole, `${name} (${JSON.stringify(mode)})`);
        assert.equal(r.uncompressedSize, data.length);
      }
      assert.equal(createHash('sha256').update(whole).digest('hex'), GOLDEN[name], `${name}: gzip bytes changed`);
    }
  });

  it('costs almost nothing in size against one-stream deflate (blocks are primed with the previous 32 KiB)', () => {
    for (const [name, data] of corpus().filter(([, d]) => d.length > BLOCK_SIZE)) {
      const oneStream = pakoGzip(data, { level: 6 }).length;
      const blocked = gzipBuffer(data).length;
      assert.ok(blocked <= oneStream * 1.005 + 64, `${name}: ${blocked} bytes blocked vs ${oneStream} in one stream`);
    }
  });

  it('leaves the caller\'s chunks untouched (they may be file bodies the tree owns)', async () => {
    const src = [Buffer.from('abc'), Buffer.alloc((1 << 20) + 5, 1), Buffer.alloc(3 << 20, 2)];
    const copies = src.map((b) => Buffer.from(b));
    for (const inThread of [false, true]) {
      const out: Buffer[] = [];
      await gzipStream(src, (c) => void out.push(c), { inThread });
      assert.deepEqual(src, copies);
      assert.deepEqual(gunzipSync(Buffer.concat(out)), Buffer.concat(copies));
    }
  });

  it('surfaces a failing sink and stops the worker', async () => {
    const data = Buffer.alloc(3 << 20, 9);
    await assert.rejects(
      gzipStream([data], () => {
        throw new Error('disk full');
      }),
      /disk full/,
    );
    let n = 0;
    await assert.rejects(
      gzipStream([data, data], () => {
        if (++n === 2) throw new Error('late failure');
      }),
      /late failure/,
    );
  });
});

describe('writeLayer', () => {
  it('writes a gzip blob whose digests, sizes and name match its content', async () => {
    const dir = await mkdtemp(join(scratch, 'out-'));
    const tree = await buildTree();
    const layer = await writeLayer(tree, { sourceDateEpoch: SDE, dir });
    const blob = await readFile(layer.path);
    const tar = gunzipSync(blob);
    assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.equal(layer.digest, `sha256:${createHash('sha256').update(blob).digest('hex')}`);
    assert.equal(layer.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
    assert.equal(layer.size, blob.length);
    assert.equal(layer.uncompressedSize, tar.length);
    assert.equal(layer.path, join(dir, `sha256-${layer.digest.slice(7)}.tar.gz`));
    assert.deepEqual(tar, await collect(layerTar(tree, { sourceDateEpoch: SDE })));
    assert.deepEqual(await readdir(dir), [`sha256-${layer.digest.slice(7)}.tar.gz`], 'no temp files left');

    const again = await writeLayer(await buildTree('reverse', 0), { sourceDateEpoch: SDE, dir, inThread: true });
    assert.deepEqual(again, layer);
  });

  it('leaves nothing behind when aborted', async () => {
    const dir = await mkdtemp(join(scratch, 'abort-'));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(writeLayer(await buildTree(), { sourceDateEpoch: SDE, dir, signal: ac.signal }), { name: 'AbortError' });
    const ac2 = new AbortController();
    const t = newTree(0);
    t.addFile('/big', meta(0o644), await t.bodies.put(Buffer.alloc(8 << 20, 3)), 8 << 20);
    const p = writeLayer(t, { sourceDateEpoch: SDE, dir, signal: ac2.signal });
    setImmediate(() => ac2.abort());
    await assert.rejects(p, { name: 'AbortError' });
    assert.deepEqual(await readdir(dir), []);
  });

  it('keeps memory bounded while streaming a large spilled layer', async () => {
    const dir = await mkdtemp(join(scratch, 'big-'));
    const t = newTree(0);
    const size = 48 << 20;
    const piece = Buffer.alloc(1 << 20);
    for (let i = 0; i < piece.length; i++) piece[i] = (i * 31) & 0xff;
    async function* body(): AsyncGenerator<Buffer> {
      for (let i = 0; i < size / piece.length; i++) yield piece;
    }
    t.addFile('/big', meta(0o644), await t.bodies.putStream(body(), size), size);
    // Sample live (post-GC) buffer memory: without a GC, V8 lets garbage
    // buffers pile up to its external-memory threshold, which says nothing
    // about what the writer retains.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const base = process.memoryUsage().arrayBuffers;
    let peak = base;
    const timer = setInterval(() => {
      gc();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 10);
    try {
      const layer = await writeLayer(t, { sourceDateEpoch: SDE, dir });
      assert.ok(layer.uncompressedSize > size);
    } finally {
      clearInterval(timer);
    }
    assert.ok(peak - base < 24 << 20, `buffers grew by ${((peak - base) / 2 ** 20).toFixed(1)} MiB for a 48 MiB layer`);
  });
});
