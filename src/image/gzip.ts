/**
 * gzip for layer blobs, with bytes that depend only on the input.
 *
 * The deflate stream comes from pako (pure JS, version pinned by the
 * lockfile) at level 6, never from node:zlib: Node's bundled Chromium zlib
 * has changed its output between Node releases, and distro builds of Node
 * link the system zlib, whose output differs again (docs/image-format.md has
 * the measurements). pako is ~2.3x slower and is the bottleneck either way;
 * it runs in a worker thread so the main thread (tar, hashing, file writes,
 * progress, SIGINT) stays responsive.
 *
 * The gzip wrapper is written here, not by pako: a fixed 10-byte header
 * (no FNAME, MTIME 0, XFL 0, OS 255 "unknown", as Go's compress/gzip writes)
 * and the CRC-32/ISIZE trailer. CRC-32 is a fixed function, so computing it
 * with the native zlib.crc32 cannot change any byte.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { Deflate } from 'pako';
import { BaseimgError } from '../util/errors.js';

export const GZIP_LEVEL = 6;
/** ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255. */
export const GZIP_HEADER: Buffer = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

/** Input is handed to the deflater in buffers of this size (fewer messages, same output). */
const BATCH = 1 << 20;
/** Input buffers cycling between the threads; bounds memory to a few MiB. */
const MAX_IN_FLIGHT = 4;
const OUTPUT_CHUNK = 1 << 18;

export type Sink = (chunk: Buffer) => Promise<void> | void;

export interface GzipResult {
  uncompressedSize: number;
  crc32: number;
}

export interface GzipOptions {
  signal?: AbortSignal | undefined;
  /** Run pako on this thread (for tiny inputs and benchmarks); default false. */
  inThread?: boolean;
}

/** gzip of a buffer held in memory (small blobs, tests). Same bytes as gzipStream. */
export function gzipBuffer(data: Uint8Array): Buffer {
  const deflater = new Deflate({ level: GZIP_LEVEL, raw: true, chunkSize: OUTPUT_CHUNK });
  const out: Uint8Array[] = [];
  deflater.onData = (c) => out.push(c);
  deflater.onEnd = () => undefined;
  if (!deflater.push(data, true)) throw deflateError(deflater.msg);
  return Buffer.concat([GZIP_HEADER, ...out, trailer(crc32(data), data.length)]);
}

/**
 * Compress everything `source` yields and hand the gzip bytes, in order, to
 * `sink` (awaited, so a slow sink slows the producer instead of filling memory).
 */
export async function gzipStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  sink: Sink,
  options: GzipOptions = {},
): Promise<GzipResult> {
  const deflater = options.inThread ? new InThreadDeflater(sink) : new WorkerDeflater(sink);
  let crc = 0;
  let size = 0;
  const push = async (batch: Buffer): Promise<void> => {
    options.signal?.throwIfAborted();
    crc = crc32(batch, crc);
    size += batch.length;
    await deflater.push(batch);
  };
  try {
    await sink(GZIP_HEADER);
    // Regroup the source's chunks into BATCH-sized buffers owned by the
    // deflater: always a copy, since a chunk may be a body the tree still owns.
    let buf = await deflater.acquire();
    let used = 0;
    for await (const chunk of source) {
      for (let off = 0; off < chunk.length; ) {
        const n = Math.min(BATCH - used, chunk.length - off);
        buf.set(chunk.subarray(off, off + n), used);
        used += n;
        off += n;
        if (used === BATCH) {
          await push(buf);
          buf = await deflater.acquire();
          used = 0;
        }
      }
    }
    if (used > 0) await push(buf.subarray(0, used));
    options.signal?.throwIfAborted();
    await deflater.finish();
  } finally {
    await deflater.close();
  }
  await sink(trailer(crc, size));
  return { uncompressedSize: size, crc32: crc };
}

function trailer(crc: number, size: number): Buffer {
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc >>> 0, 0);
  t.writeUInt32LE(size % 2 ** 32, 4); // ISIZE is the length modulo 2^32
  return t;
}

interface RawDeflater {
  /** A free BATCH-sized input buffer (waits while all are in use). */
  acquire(): Promise<Buffer>;
  /** Compress a view of an acquired buffer; the buffer is returned to the pool afterwards. */
  push(batch: Buffer): Promise<void>;
  finish(): Promise<void>;
  close(): Promise<void>;
}

class InThreadDeflater implements RawDeflater {
  private readonly deflater = new Deflate({ level: GZIP_LEVEL, raw: true, chunkSize: OUTPUT_CHUNK });
  private readonly input = Buffer.allocUnsafe(BATCH);
  private out: Uint8Array[] = [];

  constructor(private readonly sink: Sink) {
    this.deflater.onData = (c) => this.out.push(c);
    this.deflater.onEnd = () => undefined;
  }

  /** pako has consumed all input when push returns, so one buffer is enough. */
  async acquire(): Promise<Buffer> {
    return this.input;
  }

  async push(batch: Buffer): Promise<void> {
    await this.run(batch, false);
    // Let timers and signals run between batches: compressing 1 MiB takes ~50 ms.
    await new Promise((resolve) => setImmediate(resolve));
  }

  finish(): Promise<void> {
    return this.run(new Uint8Array(0), true);
  }

  async close(): Promise<void> {}

  private async run(data: Uint8Array, last: boolean): Promise<void> {
    if (!this.deflater.push(data, last)) throw deflateError(this.deflater.msg);
    const out = this.out;
    this.out = [];
    for (const c of out) await this.sink(toBuffer(c));
  }
}

// Plain CommonJS run with `eval`, so it works from both the TypeScript sources
// (tsx) and the compiled output without a separate worker file to locate.
// Each input buffer is transferred back with the output: the main thread
// reuses it, and no garbage piles up in this isolate (which V8 would collect
// only lazily, letting memory grow with the layer).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Deflate } = require(workerData.pako);
const deflater = new Deflate({ level: workerData.level, raw: true, chunkSize: workerData.chunk });
let out = [];
deflater.onData = (c) => out.push(c);
deflater.onEnd = () => {};
parentPort.on('message', (m) => {
  if (!deflater.push(m.data, m.last)) {
    parentPort.postMessage({ error: String(deflater.msg || deflater.err) });
    return;
  }
  const batch = out;
  out = [];
  const input = m.data.buffer;
  parentPort.postMessage({ out: batch, input, last: m.last }, [...batch.map((c) => c.buffer), input]);
});
`;

const PAKO_PATH = createRequire(import.meta.url).resolve('pako');

/**
 * Everything besides the input that decides the compressed bytes (the
 * wrapper is this file's own code). Caches of compressed layers are keyed
 * by it, so a pako upgrade never reuses another version's output.
 */
export const DEFLATE_ID = `pako ${(createRequire(import.meta.url)('pako/package.json') as { version: string }).version} level ${GZIP_LEVEL}`;

interface WorkerAnswer {
  out?: Uint8Array[];
  input?: ArrayBuffer;
  error?: string;
}

class WorkerDeflater implements RawDeflater {
  private readonly worker: Worker;
  private readonly free: Buffer[] = [];
  private inFlight = 0;
  private failure: unknown;
  private wake: (() => void) | undefined;
  /** Sink writes, chained so output keeps its order. */
  private written: Promise<void> = Promise.resolve();
  private finished = false;

  constructor(private readonly sink: Sink) {
    for (let i = 0; i < MAX_IN_FLIGHT; i++) this.free.push(Buffer.allocUnsafeSlow(BATCH));
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { pako: PAKO_PATH, level: GZIP_LEVEL, chunk: OUTPUT_CHUNK },
    });
    this.worker.on('message', (m: WorkerAnswer) => this.onMessage(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      if (!this.finished) this.fail(new BaseimgError('INTERNAL', `gzip worker exited early (code ${code})`));
    });
  }

  async acquire(): Promise<Buffer> {
    // Also wait for the sink: output still to be written counts against the bound.
    while ((this.free.length === 0 || this.inFlight >= MAX_IN_FLIGHT) && this.failure === undefined) await this.waitForAnswer();
    this.check();
    return this.free.pop()!;
  }

  async push(batch: Buffer): Promise<void> {
    this.check();
    this.inFlight++;
    // Transfer, not copy: the buffer comes back with the answer.
    this.worker.postMessage({ data: batch, last: false }, [batch.buffer as ArrayBuffer]);
  }

  async finish(): Promise<void> {
    this.check();
    this.inFlight++;
    this.worker.postMessage({ data: new Uint8Array(0), last: true });
    while (this.inFlight > 0 && this.failure === undefined) await this.waitForAnswer();
    this.check();
    await this.written;
    this.check();
  }

  async close(): Promise<void> {
    this.finished = true;
    await this.worker.terminate();
    // A write that failed after an error elsewhere must not surface as unhandled.
    await this.written.catch(() => undefined);
  }

  private onMessage(m: WorkerAnswer): void {
    if (m.error !== undefined) {
      this.fail(deflateError(m.error));
      return;
    }
    if (m.input && m.input.byteLength === BATCH) this.free.push(Buffer.from(m.input));
    const out = m.out ?? [];
    this.written = this.written.then(async () => {
      for (const c of out) await this.sink(toBuffer(c));
      this.inFlight--;
      this.signal();
    });
    this.written.catch((e: unknown) => this.fail(e));
    this.signal();
  }

  private waitForAnswer(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private fail(e: unknown): void {
    this.failure ??= e;
    this.signal();
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

function toBuffer(c: Uint8Array): Buffer {
  return Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

function deflateError(msg: unknown): BaseimgError {
  return new BaseimgError('INTERNAL', `deflate failed: ${String(msg)}`);
}
