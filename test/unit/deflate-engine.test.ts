import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { deflateRawSync, gunzipSync } from 'node:zlib';
import { engineSetting, probeDigest, probeInput, PROBE_SHA256, writesReferenceBytes, zlibBlock } from '../../src/image/deflate-engine.js';
import { deflateBlock, gzipBuffer, gzipStream, gzipWorkerEngines } from '../../src/image/gzip.js';

describe('deflate engine', () => {
  it('PROBE_SHA256 is what pako (the reference) writes for the probe', () => {
    assert.equal(probeDigest(deflateBlock), PROBE_SHA256);
  });

  it('the probe is the same bytes on every run (no clock, no platform in it)', () => {
    const a = probeInput();
    assert.ok(a.length > 600_000, `probe is ${a.length} bytes`);
    assert.deepEqual(probeInput(), a);
    assert.equal(createHash('sha256').update(a).digest('hex'), createHash('sha256').update(probeInput()).digest('hex'));
  });

  it('refuses a native deflate that writes other bytes, or that fails', () => {
    // Valid deflate streams, all of them; only the bytes differ from pako's level 6.
    assert.equal(writesReferenceBytes(zlibBlock(5)), false);
    assert.equal(writesReferenceBytes(zlibBlock(9)), false);
    assert.equal(writesReferenceBytes((data) => deflateRawSync(data, { level: 6, memLevel: 9 })), false);
    assert.equal(
      writesReferenceBytes(() => {
        throw new Error('no zlib here');
      }),
      false,
    );
  });

  it('BASEIMG_DEFLATE=pako (or another level) keeps node:zlib out without asking it', () => {
    assert.equal(engineSetting(6, { BASEIMG_DEFLATE: 'pako' }), 'pako');
    assert.equal(engineSetting(9, {}), 'pako');
    assert.equal(engineSetting(6, {}), 'auto');
  });

  it('gzip workers pick node:zlib exactly when it writes the reference bytes here', async () => {
    const eligible = writesReferenceBytes(zlibBlock(6));
    // Informational: whether this Node's zlib is the fast path on this machine.
    console.log(`node:zlib ${process.versions.zlib}: ${eligible ? 'writes pako\'s bytes (used)' : 'writes other bytes (pako used)'}`);
    await gzipStream([Buffer.from('wake the workers')], () => undefined, { workers: 2 });
    // Each worker reports once its probe is done; under load that can take a moment.
    for (let waited = 0; gzipWorkerEngines().length < 2 && waited < 20_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    const engines = gzipWorkerEngines();
    assert.ok(engines.length >= 2, `engines reported: ${engines.join(', ')}`);
    for (const e of engines) assert.equal(e, process.env.BASEIMG_DEFLATE === 'pako' ? 'pako' : eligible ? 'zlib' : 'pako');
  });

  it('both engines give the bytes of gzipBuffer (pako on this thread) wherever node:zlib qualifies', async (t) => {
    if (!writesReferenceBytes(zlibBlock(6))) return t.skip(`node:zlib ${process.versions.zlib} writes other bytes here: only pako is used`);
    const text = Buffer.from(Array.from({ length: 30000 }, (_, i) => `/usr/share/doc/pkg-${i % 311}/copyright ${i}\n`).join(''));
    const inputs = [probeInput(), Buffer.concat([text, probeInput(), Buffer.alloc(1 << 20, 7), text]), Buffer.alloc(0), Buffer.from('x')];
    for (const data of inputs) {
      const reference = gzipBuffer(data);
      for (const engine of ['pako', 'zlib'] as const) {
        const out: Buffer[] = [];
        await gzipStream([data], (c) => void out.push(Buffer.from(c)), { workers: 2, engine });
        assert.deepEqual(Buffer.concat(out), reference, `${engine}, ${data.length} bytes`);
      }
      assert.deepEqual(gunzipSync(reference), data);
    }
  });
});
