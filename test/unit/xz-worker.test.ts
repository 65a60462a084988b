/**
 * xz on a worker thread must behave as xzDecompress on the main thread:
 * the same bytes, the same errors, source errors passed through, and an
 * abandoned stream must not block the next one.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { xzDecompress } from '../../src/util/xz.js';
import { xzDecompressOffThread } from '../../src/util/xz-worker.js';
import { BaseimgError } from '../../src/util/errors.js';
import { compress } from '../helpers/make-deb.js';

const text = Buffer.from(Array.from({ length: 60_000 }, (_, i) => `Package: p${i}\nVersion: ${i % 97}.0\n\n`).join(''));
let xz: Buffer;

before(async () => {
  xz = await compress(text, 'xz');
});

async function* from(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

async function drain(decode: typeof xzDecompressOffThread, chunks: Uint8Array[]): Promise<Buffer | BaseimgError | Error> {
  const out: Buffer[] = [];
  try {
    for await (const chunk of decode(from(chunks), { what: 'test.xz', errorCode: 'VERIFY' })) out.push(chunk);
  } catch (e) {
    return e as Error;
  }
  return Buffer.concat(out);
}

describe('xzDecompressOffThread', () => {
  it('gives the bytes xzDecompress gives, input split anywhere, with empty chunks', async () => {
    const pieces: Buffer[] = [];
    for (let at = 0; at < xz.length; at += 997) pieces.push(xz.subarray(at, at + 997), Buffer.alloc(0));
    const out = await drain(xzDecompressOffThread, pieces);
    assert.ok(Buffer.isBuffer(out));
    assert.ok(out.equals(text));
  });

  it('fails on damaged input with the error xzDecompress gives', async () => {
    const corrupt = Buffer.from(xz);
    corrupt[corrupt.length >> 1]! ^= 0xff;
    for (const input of [[xz.subarray(0, xz.length - 30)], [corrupt], [], [Buffer.from('plain text, not xz')]]) {
      const [theirs, ours] = [await drain(xzDecompress, input), await drain(xzDecompressOffThread, input)];
      assert.ok(theirs instanceof BaseimgError && ours instanceof BaseimgError, `${String(theirs)} / ${String(ours)}`);
      assert.equal(ours.code, theirs.code);
      assert.equal(ours.message, theirs.message);
    }
  });

  it('passes errors of the compressed source through unchanged', async () => {
    const failing = (async function* () {
      yield xz.subarray(0, 100);
      throw new Error('disk read failed');
    })();
    await assert.rejects(async () => {
      for await (const _ of xzDecompressOffThread(failing)) void _;
    }, /^Error: disk read failed$/);
  });

  it('runs the next stream after one abandoned early, and streams started together in turn', async () => {
    for await (const chunk of xzDecompressOffThread(from([xz]))) {
      assert.ok(chunk.length > 0);
      break;
    }
    const both = await Promise.all([drain(xzDecompressOffThread, [xz]), drain(xzDecompressOffThread, [xz])]);
    for (const out of both) assert.ok(Buffer.isBuffer(out) && out.equals(text));
  });
});
