/**
 * The positional tar index (names from ustar prefix, GNU long-name records
 * and PAX headers; bodies as byte ranges), blob lookup through symlinks and
 * hard links inside an archive, and the human-output helpers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeHeader, END_OF_ARCHIVE, padding } from '../../src/image/tar-writer.js';
import { colourEnabled, formatTable, makeStyle, modeString } from '../../src/inspect/output.js';
import { openBlobSource } from '../../src/inspect/source.js';
import { indexTar, normaliseName } from '../../src/inspect/tar-index.js';
import { rawTar } from '../helpers/make-deb.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baseimg-inspect-index-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function index(tar: Buffer, range?: { start: number; length: number }) {
  const path = join(dir, 'x.tar');
  await writeFile(path, tar);
  const fh = await open(path, 'r');
  try {
    return await indexTar(fh, { what: 'x.tar', ...range });
  } finally {
    await fh.close();
  }
}

describe('inspect: tar index', () => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(90)}`;

  it('reads names from ustar prefix fields, GNU long names and PAX headers, and body offsets', async () => {
    const ours = Buffer.concat([
      encodeHeader({ name: long, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 3, mtime: 0 }), Buffer.from('abc'), padding(3),
      encodeHeader({ name: 'ünïcode', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 }),
      END_OF_ARCHIVE,
    ]);
    const idx = await index(ours);
    assert.deepEqual(idx.entries.map((e) => [e.name, e.size]), [[long, 3], ['ünïcode', 0]]);
    assert.equal(ours.subarray(idx.entries[0]!.offset, idx.entries[0]!.offset + 3).toString(), 'abc');

    const gnu = rawTar([{ name: `./${'g'.repeat(150)}`, content: 'gnu' }, { name: 'p', content: 'pax', pax: { path: 'from/pax' }, longNames: 'pax' }, { name: 'dir/', type: 'dir' }]);
    const g = await index(gnu);
    assert.deepEqual(g.entries.map((e) => [e.name, e.type, e.ordinal]), [['g'.repeat(150), 'file', 0], ['from/pax', 'file', 1], ['dir', 'directory', 2]]);
    assert.equal(gnu.subarray(g.byName.get('from/pax')!.offset, g.byName.get('from/pax')!.offset + 3).toString(), 'pax');
  });

  it('indexes a tar stored inside another file by its byte range', async () => {
    const inner = rawTar([{ name: 'inside', content: 'hello' }]);
    const outer = Buffer.concat([Buffer.alloc(1024, 0xaa), inner, Buffer.alloc(100, 0xbb)]);
    const idx = await index(outer, { start: 1024, length: inner.length });
    const e = idx.byName.get('inside')!;
    assert.equal(outer.subarray(e.offset, e.offset + e.size).toString(), 'hello');
  });

  it('refuses bad checksums, bodies past the end, and archives without an end marker', async () => {
    await assert.rejects(index(rawTar([{ name: 'a', content: 'x', badChecksum: true }])), /x\.tar is not a tar archive/);
    await assert.rejects(index(rawTar([{ name: 'a', content: 'x' }, { name: 'b', content: 'y', badChecksum: true }])), /tar header at offset 1024 is corrupt \(its checksum is wrong\)/);
    await assert.rejects(index(rawTar([{ name: 'a', content: 'x', headerSize: 5000 }])), /x\.tar is truncated: entry "a" needs 5000 bytes/);
    await assert.rejects(index(rawTar([{ name: 'a', content: 'x' }], { trailer: false })), /ends without the end-of-archive marker/);
  });

  it('normalises names', () => {
    assert.equal(normaliseName('./a//b/./c/'), 'a/b/c');
    assert.equal(normaliseName('/'), '');
  });

  it('follows symlinks and hard links between archive members to the blob', async () => {
    const tar = rawTar([
      { name: 'blobs/', type: 'dir' }, { name: 'blobs/real.tar', content: 'layer bytes' },
      { name: 'id/', type: 'dir' }, { name: 'id/layer.tar', type: 'symlink', linkname: '../blobs/real.tar' },
      { name: 'hard', type: 'hardlink', linkname: 'blobs/real.tar' }, { name: 'loop', type: 'symlink', linkname: 'loop' },
    ]);
    const path = join(dir, 'links.tar');
    await writeFile(path, tar);
    const source = await openBlobSource(path);
    for (const name of ['id/layer.tar', './hard', 'blobs/real.tar']) {
      const blob = source.find(name)!;
      assert.equal(blob.resolved, 'blobs/real.tar', name);
      assert.equal((await source.read(blob, 100)).toString(), 'layer bytes');
    }
    assert.equal(source.find('missing'), undefined);
    assert.throws(() => source.find('loop'), /symlink loop/);
    await source.close();
  });
});

describe('inspect: output helpers', () => {
  it('writes modes as ls -l does', () => {
    assert.equal(modeString('dir', 0o755), 'drwxr-xr-x');
    assert.equal(modeString('file', 0o4755), '-rwsr-xr-x');
    assert.equal(modeString('file', 0o2644), '-rw-r-Sr--');
    assert.equal(modeString('dir', 0o1777), 'drwxrwxrwt');
    assert.equal(modeString('symlink', 0o777), 'lrwxrwxrwx');
    assert.equal(modeString('char', 0o666), 'crw-rw-rw-');
  });

  it('aligns columns by visible width, colour codes included', () => {
    const style = makeStyle(true);
    const text = formatTable([['a', style.dir('bb'), '1'], ['ccc', 'd', '22']], ['l', 'l', 'r']);
    assert.equal(text.replace(/\x1b\[[0-9;]*m/g, ''), 'a    bb   1\nccc  d   22\n');
  });

  it('colours only on a terminal, never with NO_COLOR or TERM=dumb', () => {
    assert.equal(colourEnabled({ isTTY: true }, {}), true);
    assert.equal(colourEnabled({ isTTY: false }, {}), false);
    assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: '' }), true);
    assert.equal(colourEnabled({ isTTY: true }, { TERM: 'dumb' }), false);
    assert.equal(makeStyle(false).dir('x'), 'x');
  });
});
