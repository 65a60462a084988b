import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArArchive } from '../../src/archive/ar-reader.js';
import { compressionOfMember, decompressStream, type CompressionKind } from '../../src/archive/decompress.js';
import { readTar, type TarEntry } from '../../src/archive/tar-reader.js';
import { BaseimgError } from '../../src/util/errors.js';
import { writeAr } from '../helpers/ar.js';
import { compress, packTar, rawTar } from '../helpers/make-deb.js';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-archive-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let counter = 0;
async function tempFile(data: Buffer): Promise<string> {
  const file = join(scratch, `f${counter++}.a`);
  await writeFile(file, data);
  return file;
}

function isUnpack(pattern: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof BaseimgError, `expected a BaseimgError, got ${String(e)}`);
    assert.equal(e.code, 'UNPACK');
    assert.match(e.message, pattern);
    return true;
  };
}

async function* chunked(data: Buffer, size = 1000): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

async function concat(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** Deterministic, poorly compressible text. */
function randomText(length: number): string {
  let x = 12345;
  let out = '';
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out += String.fromCharCode(97 + (x % 26));
  }
  return out;
}

const LIMITS = { what: 'test.tar', maxEntries: 1000, maxTotalBytes: 1 << 30 };

/** Every entry with its body read, as plain objects. */
async function entriesOf(tar: Buffer, limits = LIMITS): Promise<Array<Omit<TarEntry, 'body'> & { content: string }>> {
  const out = [];
  for await (const entry of readTar(chunked(tar, 777), limits)) {
    const { body, ...rest } = entry;
    out.push({ ...rest, content: (await concat(body)).toString() });
  }
  return out;
}

describe('ArArchive', () => {
  it('lists members with offsets and sizes, handling odd sizes and GNU trailing slashes', async () => {
    const data = writeAr([
      { name: 'debian-binary', data: Buffer.from('2.0\n') },
      { name: 'odd/', data: Buffer.from('abc') },
      { name: 'data.tar', data: Buffer.from('0123456789') },
    ]);
    const ar = await ArArchive.open(await tempFile(data));
    try {
      assert.deepEqual(ar.members.map((m) => [m.name, m.size]), [['debian-binary', 4], ['odd', 3], ['data.tar', 10]]);
      assert.equal(ar.members[0]!.offset, 8 + 60);
      assert.equal((await ar.read(ar.members[1]!)).toString(), 'abc');
      assert.equal((await concat(ar.stream(ar.members[2]!))).toString(), '0123456789');
    } finally {
      await ar.close();
    }
  });

  it('streams a large member in bounded chunks', async () => {
    const big = Buffer.alloc(1024 * 1024 + 3, 7);
    const ar = await ArArchive.open(await tempFile(writeAr([{ name: 'big', data: big }])));
    try {
      let chunks = 0;
      const parts: Buffer[] = [];
      for await (const c of ar.stream(ar.members[0]!)) {
        chunks++;
        parts.push(c);
      }
      assert.ok(chunks > 1);
      assert.ok(Buffer.concat(parts).equals(big));
    } finally {
      await ar.close();
    }
  });

  it('rejects a file without the ar magic, naming the file', async () => {
    const file = await tempFile(Buffer.from('PK\x03\x04 not an ar archive'));
    await assert.rejects(ArArchive.open(file), isUnpack(new RegExp(`${file.replace(/[.]/g, '\\.')} is not a valid package archive: .*bad magic`)));
  });

  it('rejects a broken header terminator', async () => {
    const data = writeAr([{ name: 'x', data: Buffer.from('ab') }]);
    data[8 + 58] = 0x41;
    await assert.rejects(ArArchive.open(await tempFile(data)), isUnpack(/terminator/));
  });

  it('rejects a member that claims more bytes than the file has', async () => {
    const data = writeAr([{ name: 'x', data: Buffer.from('ab') }]);
    data.write('999       ', 8 + 48, 'latin1');
    await assert.rejects(ArArchive.open(await tempFile(data)), isUnpack(/claims 999 bytes/));
  });

  it('rejects a non-numeric size and a header cut short', async () => {
    const bad = writeAr([{ name: 'x', data: Buffer.from('ab') }]);
    bad.write('-2        ', 8 + 48, 'latin1');
    await assert.rejects(ArArchive.open(await tempFile(bad)), isUnpack(/invalid size field/));
    const cut = writeAr([{ name: 'x', data: Buffer.from('ab') }]).subarray(0, 8 + 30);
    await assert.rejects(ArArchive.open(await tempFile(cut)), isUnpack(/cut short/));
  });

  it('requires the padding byte after an odd-sized member', async () => {
    const data = writeAr([{ name: 'x', data: Buffer.from('abc') }]);
    await assert.rejects(ArArchive.open(await tempFile(data.subarray(0, data.length - 1))), isUnpack(/padding/));
    const wrongPad = Buffer.from(data);
    wrongPad[wrongPad.length - 1] = 0x41;
    await assert.rejects(ArArchive.open(await tempFile(wrongPad)), isUnpack(/padding/));
  });
});

describe('decompressStream', () => {
  const plain = Buffer.from('hello, '.repeat(50_000));

  for (const kind of ['gz', 'xz', 'zst', 'none'] as CompressionKind[]) {
    it(`round-trips ${kind}`, async () => {
      const packed = await compress(plain, kind);
      const out = await concat(decompressStream(chunked(packed, 4096), kind, { maxOutputBytes: plain.length, what: 'x' }));
      assert.ok(out.equals(plain));
    });

    it(`stops ${kind} output at the limit`, async () => {
      const packed = await compress(plain, kind);
      await assert.rejects(
        concat(decompressStream(chunked(packed), kind, { maxOutputBytes: plain.length - 1, what: `data.tar.${kind} of p` })),
        isUnpack(new RegExp(`data\\.tar\\.${kind} of p expands to more than ${plain.length - 1} bytes`)),
      );
    });
  }

  for (const kind of ['gz', 'xz', 'zst'] as CompressionKind[]) {
    it(`reports corrupt and truncated ${kind} data as UNPACK`, async () => {
      const packed = await compress(plain, kind);
      const truncated = packed.subarray(0, packed.length - 20);
      await assert.rejects(concat(decompressStream(chunked(truncated), kind, { maxOutputBytes: 1e9, what: 'member' })), isUnpack(/member/));
      const garbage = Buffer.from('this is not compressed at all, not even a little');
      await assert.rejects(concat(decompressStream(chunked(garbage), kind, { maxOutputBytes: 1e9, what: 'member' })), isUnpack(/member/));
    });
  }

  for (const kind of ['gz', 'xz', 'zst', 'none'] as CompressionKind[]) {
    it(`closes the ${kind} source when the reader stops early`, async () => {
      const packed = await compress(Buffer.from(randomText(400_000)), kind);
      let closed = false;
      const source = (async function* () {
        try {
          yield* chunked(packed, 1024);
        } finally {
          closed = true;
        }
      })();
      for await (const chunk of decompressStream(source, kind, { maxOutputBytes: 1e9, what: 'm' })) {
        assert.ok(chunk.length > 0);
        break;
      }
      // pipeline tears the gzip side down asynchronously.
      for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(closed);
    });
  }

  it('refuses a zstd frame that asks for a huge window', async () => {
    // Magic, descriptor with no single-segment flag, window descriptor for 2^31 bytes.
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (31 - 10) << 3, 0, 0, 0, 0]);
    await assert.rejects(concat(decompressStream(chunked(frame), 'zst', { maxOutputBytes: 1e6, what: 'm' })), isUnpack(/zstd window/));
  });

  it('picks the compression from the member name', () => {
    assert.equal(compressionOfMember('control.tar.gz', 'p'), 'gz');
    assert.equal(compressionOfMember('control.tar.zst', 'p'), 'zst');
    assert.equal(compressionOfMember('data.tar.xz', 'p'), 'xz');
    assert.equal(compressionOfMember('data.tar', 'p'), 'none');
    assert.throws(() => compressionOfMember('data.tar.bz2', 'p 1.0'), isUnpack(/p 1\.0: member data\.tar\.bz2 uses bz2 compression, which baseimg does not support/));
    assert.throws(() => compressionOfMember('data.tar.lz4', 'p'), isUnpack(/unexpected member data\.tar\.lz4/));
  });
});

describe('readTar', () => {
  it('yields every field, with PAX uid/gid/mtime applied', async () => {
    const tar = rawTar([
      { name: './', type: 'dir', mode: 0o755 },
      { name: './usr/bin/su', content: 'su!', mode: 0o4755, uid: 0, gid: 43, mtime: 1234 },
      { name: './usr/bin/link', type: 'symlink', linkname: '../lib/x' },
      { name: './usr/bin/hard', type: 'hardlink', linkname: './usr/bin/su' },
      { name: './dev/null', type: 'char', devmajor: 1, devminor: 3 },
      { name: './run/fifo', type: 'fifo' },
      { name: './big-ids', content: 'p', pax: { uid: '3000000', gid: '4000000', mtime: '1700000000.75' } },
    ]);
    const entries = await entriesOf(tar);
    assert.deepEqual(entries.map((e) => [e.path, e.type]), [
      ['./', 'directory'], ['./usr/bin/su', 'file'], ['./usr/bin/link', 'symlink'], ['./usr/bin/hard', 'hardlink'],
      ['./dev/null', 'char'], ['./run/fifo', 'fifo'], ['./big-ids', 'file'],
    ]);
    const su = entries[1]!;
    assert.deepEqual([su.mode, su.uid, su.gid, su.mtime, su.size, su.content], [0o4755, 0, 43, 1234, 3, 'su!']);
    assert.equal(entries[2]!.linkname, '../lib/x');
    assert.equal(entries[3]!.linkname, './usr/bin/su');
    assert.deepEqual([entries[4]!.devmajor, entries[4]!.devminor], [1, 3]);
    assert.deepEqual([entries[6]!.uid, entries[6]!.gid, entries[6]!.mtime], [3_000_000, 4_000_000, 1_700_000_000]);
  });

  it('reads archives written by tar-stream itself', async () => {
    const tar = await packTar([{ path: './etc/', type: 'dir' }, { path: './etc/motd', type: 'file', content: 'hi' }]);
    assert.deepEqual((await entriesOf(tar)).map((e) => [e.path, e.content]), [['./etc/', ''], ['./etc/motd', 'hi']]);
  });

  it('accepts very long names and link targets, GNU and PAX style', async () => {
    const long = `./${'d'.repeat(120)}/${'n'.repeat(150)}`;
    const target = `../${'t'.repeat(200)}`;
    for (const longNames of ['gnu', 'pax'] as const) {
      const entries = await entriesOf(rawTar([
        { name: long, content: 'long', longNames },
        { name: `${long}.lnk`, type: 'symlink', linkname: target, longNames },
      ]));
      assert.deepEqual(entries.map((e) => [e.path, e.content, e.linkname]), [[long, 'long', undefined], [`${long}.lnk`, '', target]]);
    }
  });

  it('decodes UTF-8 names and rejects invalid bytes with the name escaped', async () => {
    const ok = await entriesOf(rawTar([{ name: './usr/share/café', content: '' }]));
    assert.equal(ok[0]!.path, './usr/share/café');
    const bad = Buffer.concat([Buffer.from('./usr/share/caf'), Buffer.from([0xe9]), Buffer.from('.txt')]);
    await assert.rejects(entriesOf(rawTar([{ name: bad }])), isUnpack(/entry name "\.\/usr\/share\/caf\\xe9\.txt" is not valid UTF-8/));
    const badLong = Buffer.concat([Buffer.from(`./${'x'.repeat(150)}`), Buffer.from([0xff, 0xfe])]);
    await assert.rejects(entriesOf(rawTar([{ name: badLong, longNames: 'gnu' }])), isUnpack(/\\xff\\xfe" is not valid UTF-8/));
    await assert.rejects(entriesOf(rawTar([{ name: './short', pax: { path: Buffer.from([0x2e, 0x2f, 0xc3, 0x28]) } }])), isUnpack(/not valid UTF-8/));
    const badLink = Buffer.concat([Buffer.from('../lib/'), Buffer.from([0x80])]);
    await assert.rejects(entriesOf(rawTar([{ name: './l', type: 'symlink', linkname: badLink }])), isUnpack(/lib\/\\x80" is not valid UTF-8/));
  });

  it('skips bodies the consumer does not read', async () => {
    const tar = rawTar([
      { name: './a', content: 'A'.repeat(70_000) },
      { name: './b', content: 'B'.repeat(3) },
      { name: './c', content: 'C'.repeat(100_000) },
      { name: './d', content: 'D' },
    ]);
    const seen: string[] = [];
    for await (const entry of readTar(chunked(tar, 4096), LIMITS)) {
      if (entry.path === './b' || entry.path === './d') seen.push(`${entry.path}=${(await concat(entry.body)).toString()}`);
      else if (entry.path === './c') {
        // Read one chunk and abandon the rest.
        for await (const chunk of entry.body) {
          assert.equal(chunk[0], 0x43);
          break;
        }
        seen.push('./c partly');
      }
    }
    assert.deepEqual(seen, ['./b=BBB', './c partly', './d=D']);
  });

  it('stops pulling from the source when the consumer stops', async () => {
    const tar = rawTar(Array.from({ length: 200 }, (_, i) => ({ name: `./f${i}`, content: 'x'.repeat(10_000) })));
    let pulled = 0;
    let closed = false;
    const source = (async function* () {
      try {
        for (let at = 0; at < tar.length; at += 4096) {
          pulled += 1;
          yield tar.subarray(at, at + 4096);
        }
      } finally {
        closed = true;
      }
    })();
    for await (const entry of readTar(source, LIMITS)) {
      if (entry.path === './f2') break;
    }
    assert.ok(closed, 'the source was closed');
    assert.ok(pulled < tar.length / 4096 / 2, `pulled ${pulled} chunks`);
  });

  it('enforces the entry-count limit', async () => {
    const tar = rawTar(Array.from({ length: 6 }, (_, i) => ({ name: `./f${i}` })));
    await assert.rejects(entriesOf(tar, { ...LIMITS, maxEntries: 5 }), isUnpack(/test\.tar holds more than 5 entries/));
  });

  it('refuses an entry whose declared size passes the total limit before reading it', async () => {
    let pulled = 0;
    const header = rawTar([{ name: './huge', headerSize: 10 * 1024 * 1024 * 1024 }], { trailer: false });
    const source = (async function* () {
      yield header;
      for (;;) {
        pulled += 1;
        yield Buffer.alloc(65536);
      }
    })();
    await assert.rejects(
      (async () => {
        for await (const entry of readTar(source, { ...LIMITS, maxTotalBytes: 1024 * 1024 })) await concat(entry.body);
      })(),
      isUnpack(/more than 1048576 bytes of content/),
    );
    assert.ok(pulled < 100, `pulled ${pulled} chunks`);
  });

  it('reports archives cut short inside a body, inside a header, or between entries', async () => {
    const tar = rawTar([{ name: './a', content: 'a'.repeat(2000) }, { name: './b', content: 'b' }]);
    await assert.rejects(entriesOf(tar.subarray(0, 1200)), isUnpack(/test\.tar is truncated/));
    await assert.rejects(entriesOf(tar.subarray(0, 512 + 2048 + 100)), isUnpack(/truncated/));
    const noTrailer = rawTar([{ name: './a', content: 'a' }], { trailer: false });
    await assert.rejects(entriesOf(noTrailer), isUnpack(/truncated/));
    await assert.rejects(entriesOf(Buffer.alloc(0)), isUnpack(/truncated/));
    assert.deepEqual((await entriesOf(Buffer.alloc(1024))).length, 0);
  });

  it('reports a corrupt header and a directory with a body', async () => {
    await assert.rejects(entriesOf(rawTar([{ name: './a', badChecksum: true }])), isUnpack(/test\.tar is not a valid tar archive/));
    await assert.rejects(entriesOf(rawTar([{ name: './d/', type: 'dir', content: 'xx' }])), isUnpack(/directory entry \.\/d\/ claims a 2-byte body/));
  });

  it('rejects unsupported entry types', async () => {
    await assert.rejects(entriesOf(rawTar([{ name: './sparse', type: 'S' }])), isUnpack(/\.\/sparse has an unsupported type/));
  });

  it('passes errors of the source through', async () => {
    const source = (async function* () {
      yield rawTar([{ name: './a', content: 'x'.repeat(5000) }], { trailer: false }).subarray(0, 1024);
      throw new BaseimgError('UNPACK', 'source exploded');
    })();
    await assert.rejects(
      (async () => {
        for await (const e of readTar(source, LIMITS)) await concat(e.body);
      })(),
      isUnpack(/source exploded/),
    );
  });
});
