/**
 * gzip for layer blobs, with bytes that depend only on the input, compressed
 * on every core.
 *
 * The deflate stream is pako's (pure JS, version pinned by the lockfile) at
 * level 6. Workers make it with node:zlib instead when node:zlib writes
 * pako's very bytes, checked by each worker as it starts (deflate-engine.ts): Node's
 * zlib has changed its output between releases and differs on some builds
 * (docs/image-format.md has the measurements), so it is never trusted
 * unchecked. Blocks deflated on this thread always use pako.
 *
 * The input is cut into 1 MiB blocks, as pigz does: each block is deflated
 * on its own, primed with the 32 KiB of input before it as the dictionary,
 * and ended with a sync flush (an empty stored block, so the next block
 * starts on a byte boundary); a final empty block ends the stream. One block's
 * bytes depend only on the input, never on which worker made them or how
 * many workers there are, so blocks go to a pool of workers and come back in
 * order. Priming keeps the size within ~0.1% of one-stream deflate.
 *
 * The gzip wrapper is written here, not by pako: a fixed 10-byte header
 * (no FNAME, MTIME 0, XFL 0, OS 255 "unknown", as Go's compress/gzip writes)
 * and the CRC-32/ISIZE trailer. CRC-32 is a fixed function, so computing it
 * with the native zlib.crc32 cannot change any byte.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import type { Deflate as PakoDeflate } from 'pako';
import { BaseimgError } from '../util/errors.js';
import { engineSetting, PROBE_SHA256, PROBE_SOURCE, type DeflateEngine } from './deflate-engine.js';

export const GZIP_LEVEL = 6;
/** ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255. */
export const GZIP_HEADER: Buffer = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
/** Input per independently deflated block: part of the format (it decides the bytes). */
export const BLOCK_SIZE = 1 << 20;
/** Deflate's window: the input before a block that may be referred to from it. */
const DICTIONARY_SIZE = 32 * 1024;
/** RFC 1951: BFINAL=1, BTYPE=01 (fixed Huffman), end-of-block code, padding. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);
const Z_SYNC_FLUSH = 2;
const OUTPUT_CHUNK = 1 << 18;

export type Sink = (chunk: Buffer) => Promise<void> | void;

export interface GzipResult {
  uncompressedSize: number;
  crc32: number;
}

export interface GzipOptions {
  signal?: AbortSignal | undefined;
  /** Deflate on this thread (tiny inputs, tests); default false. */
  inThread?: boolean;
  /** Worker threads (default: one per core, at most 4). The bytes do not depend on it. */
  workers?: number;
  /** Make the workers deflate with this, unchecked (tests); default: each worker's own choice (deflate-engine.ts). */
  engine?: DeflateEngine;
}

const require = createRequire(import.meta.url);
let pakoDeflate: typeof PakoDeflate | undefined;

/** pako, loaded on first use on this thread (most blocks are deflated by workers, which load their own). */
function Deflate(...args: ConstructorParameters<typeof PakoDeflate>): PakoDeflate {
  pakoDeflate ??= (require('pako') as { Deflate: typeof PakoDeflate }).Deflate;
  return new pakoDeflate(...args);
}

/** One block: raw deflate of `data` after `dictionary`, ending in a sync flush (pako: the reference bytes). */
export function deflateBlock(data: Uint8Array, dictionary: Uint8Array | undefined): Uint8Array[] {
  const deflater = Deflate({ level: GZIP_LEVEL, raw: true, chunkSize: OUTPUT_CHUNK, ...(dictionary && dictionary.length > 0 ? { dictionary } : {}) });
  const out: Uint8Array[] = [];
  deflater.onData = (c) => out.push(c);
  deflater.onEnd = () => undefined;
  if (!deflater.push(data, Z_SYNC_FLUSH)) throw deflateError(deflater.msg);
  return out;
}

/** gzip of a buffer held in memory (small blobs, tests). Same bytes as gzipStream. */
export function gzipBuffer(data: Uint8Array): Buffer {
  const out: Uint8Array[] = [GZIP_HEADER];
  for (let off = 0; off < data.length; off += BLOCK_SIZE) {
    out.push(...deflateBlock(data.subarray(off, off + BLOCK_SIZE), data.subarray(Math.max(0, off - DICTIONARY_SIZE), off)));
  }
  out.push(FINAL_EMPTY_BLOCK, trailer(crc32(data), data.length));
  return Buffer.concat(out);
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
  const pool: BlockDeflater = options.inThread
    ? new InThreadDeflater(sink)
    : new WorkerPool(sink, options.workers ?? defaultWorkers(), options.engine);
  let crc = 0;
  let size = 0;
  // The last DICTIONARY_SIZE bytes of the previous block (copied: the block itself goes to a worker).
  let dictionary: Buffer | undefined;
  const push = async (block: Buffer): Promise<void> => {
    options.signal?.throwIfAborted();
    crc = crc32(block, crc);
    size += block.length;
    const next = Buffer.from(block.subarray(Math.max(0, block.length - DICTIONARY_SIZE)));
    await pool.push(block, dictionary);
    dictionary = next;
  };
  try {
    await sink(GZIP_HEADER);
    // Regroup the source's chunks into BLOCK_SIZE buffers owned by the pool:
    // always a copy, since a chunk may be a body the tree still owns.
    let buf = await pool.acquire();
    let used = 0;
    for await (const chunk of source) {
      for (let off = 0; off < chunk.length; ) {
        const n = Math.min(BLOCK_SIZE - used, chunk.length - off);
        buf.set(chunk.subarray(off, off + n), used);
        used += n;
        off += n;
        if (used === BLOCK_SIZE) {
          await push(buf);
          buf = await pool.acquire();
          used = 0;
        }
      }
    }
    if (used > 0) await push(buf.subarray(0, used));
    options.signal?.throwIfAborted();
    await pool.finish();
  } finally {
    await pool.close();
  }
  await sink(FINAL_EMPTY_BLOCK);
  await sink(trailer(crc, size));
  return { uncompressedSize: size, crc32: crc };
}

function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

function trailer(crc: number, size: number): Buffer {
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc >>> 0, 0);
  t.writeUInt32LE(size % 2 ** 32, 4); // ISIZE is the length modulo 2^32
  return t;
}

interface BlockDeflater {
  /** A free BLOCK_SIZE input buffer (waits while all are in use). */
  acquire(): Promise<Buffer>;
  /** Deflate a view of an acquired buffer; it returns to the pool afterwards. Output keeps push order. */
  push(block: Buffer, dictionary: Buffer | undefined): Promise<void>;
  /** Wait until every pushed block's output went to the sink. */
  finish(): Promise<void>;
  close(): Promise<void>;
}

class InThreadDeflater implements BlockDeflater {
  private readonly input = Buffer.allocUnsafe(BLOCK_SIZE);

  constructor(private readonly sink: Sink) {}

  /** A block is done when push returns, so one buffer is enough. */
  async acquire(): Promise<Buffer> {
    return this.input;
  }

  async push(block: Buffer, dictionary: Buffer | undefined): Promise<void> {
    for (const c of deflateBlock(block, dictionary)) await this.sink(toBuffer(c));
    // Let timers and signals run between blocks: one takes ~50 ms.
    await new Promise((resolve) => setImmediate(resolve));
  }

  async finish(): Promise<void> {}
  async close(): Promise<void> {}
}

// Plain CommonJS run with `eval`, so it works from both the TypeScript sources
// (tsx) and the compiled output without a separate worker file to locate.
// The input buffer is transferred back with the output: the main thread
// reuses it, and no garbage piles up in this isolate (which V8 would collect
// only lazily, letting memory grow with the layer).
// Each worker first checks whether node:zlib writes pako's bytes (deflate-engine.ts) and then
// deflates with node:zlib if so (pako is then never loaded), else with pako. A message may
// name the engine itself (tests compare the two).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
${PROBE_SOURCE}
let engine = 'pako';
if (workerData.engine === 'auto') {
  try {
    if (probeDigest(zlibBlock(zlib, workerData.level), require('node:crypto').createHash) === workerData.probeSha256) engine = 'zlib';
  } catch {}
}
parentPort.postMessage({ engine });
const zlibDeflate = zlibBlock(zlib, workerData.level);
let Deflate;
function pakoBlock(m) {
  Deflate ??= require(workerData.pako).Deflate;
  const opts = { level: workerData.level, raw: true, chunkSize: workerData.chunk };
  if (m.dictionary && m.dictionary.length > 0) opts.dictionary = m.dictionary;
  const deflater = new Deflate(opts);
  const out = [];
  deflater.onData = (c) => out.push(c);
  deflater.onEnd = () => {};
  if (!deflater.push(m.data, 2)) throw new Error(String(deflater.msg || deflater.err));
  return out;
}
function nativeBlock(m) {
  const r = zlibDeflate(m.data, m.dictionary);
  // Only a buffer of its own may be transferred (a small result can sit in a shared pool).
  return [r.byteOffset === 0 && r.buffer.byteLength === r.length ? r : new Uint8Array(r)];
}
parentPort.on('message', (m) => {
  let out;
  try {
    out = (m.engine || engine) === 'zlib' ? nativeBlock(m) : pakoBlock(m);
  } catch (e) {
    parentPort.postMessage({ stream: m.stream, seq: m.seq, error: String((e && e.message) || e) });
    return;
  }
  const input = m.data.buffer;
  parentPort.postMessage({ stream: m.stream, seq: m.seq, out, input }, [...out.map((c) => c.buffer), input]);
});
`;

const PAKO_PATH = require.resolve('pako');

/**
 * Everything besides the input that decides the compressed bytes (the
 * wrapper and block framing are this file's own code). Caches of compressed
 * layers are keyed by it, so a pako upgrade never reuses another version's output.
 */
export const DEFLATE_ID = `pako ${(require('pako/package.json') as { version: string }).version} level ${GZIP_LEVEL} blocks ${BLOCK_SIZE}`;

interface WorkerAnswer {
  /** Sent once by a starting worker: what it deflates with. */
  engine?: DeflateEngine;
  stream: number;
  seq: number;
  out?: Uint8Array[];
  input?: ArrayBuffer;
  error?: string;
}

/**
 * Deflate workers shared by every stream of the process: starting a worker
 * (and its engine probe, or loading pako) costs ~50 ms, once per layer otherwise. Every
 * message names its stream, so answers go back to the stream that asked.
 * The workers hold the process open only while some stream uses them.
 */
const shared = {
  workers: [] as Worker[],
  /** What each started worker deflates with (known once it reported). */
  engines: new Map<Worker, DeflateEngine>(),
  streams: new Map<number, (answer: WorkerAnswer) => void>(),
  failures: new Map<number, (e: unknown) => void>(),
  nextStream: 0,

  open(count: number, onAnswer: (answer: WorkerAnswer) => void, onFailure: (e: unknown) => void): { id: number; workers: Worker[] } {
    while (this.workers.length < count) this.workers.push(this.start());
    const id = this.nextStream++;
    this.streams.set(id, onAnswer);
    this.failures.set(id, onFailure);
    for (const w of this.workers) w.ref();
    return { id, workers: this.workers.slice(0, count) };
  },

  close(id: number): void {
    this.streams.delete(id);
    this.failures.delete(id);
    if (this.streams.size === 0) for (const w of this.workers) w.unref();
  },

  start(): Worker {
    const workerData = { pako: PAKO_PATH, level: GZIP_LEVEL, chunk: OUTPUT_CHUNK, engine: engineSetting(GZIP_LEVEL), probeSha256: PROBE_SHA256 };
    const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData });
    w.on('message', (m: WorkerAnswer) => {
      if (m.engine !== undefined) this.engines.set(w, m.engine);
      else this.streams.get(m.stream)?.(m);
    });
    const lost = (e: unknown): void => {
      // A dead worker fails every stream using it, and is not used again.
      this.workers = this.workers.filter((x) => x !== w);
      this.engines.delete(w);
      for (const fail of [...this.failures.values()]) fail(e);
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(new BaseimgError('INTERNAL', `gzip worker exited early (code ${code})`)));
    return w;
  },
};

/** What each started worker deflates with, once known (tests and --debug). */
export function gzipWorkerEngines(): DeflateEngine[] {
  return [...shared.engines.values()];
}

/** Blocks round-robin over the shared workers; answers are written strictly in block order. */
class WorkerPool implements BlockDeflater {
  private readonly id: number;
  private readonly workers: Worker[];
  private readonly free: Buffer[] = [];
  private readonly maxInFlight: number;
  private readonly done = new Map<number, Uint8Array[]>();
  private nextSeq = 0;
  /** The next block whose output has not been queued for the sink yet. */
  private nextQueued = 0;
  private nextToWrite = 0;
  private failure: unknown;
  private wake: (() => void) | undefined;
  /** Sink writes, chained so output keeps its order. */
  private written: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly sink: Sink,
    count: number,
    private readonly engine: DeflateEngine | undefined,
  ) {
    // Two blocks per worker (one working, one queued) plus one being filled.
    this.maxInFlight = 2 * count;
    for (let i = 0; i <= this.maxInFlight; i++) this.free.push(Buffer.allocUnsafeSlow(BLOCK_SIZE));
    const opened = shared.open(count, (m) => this.onMessage(m), (e) => this.fail(e));
    this.id = opened.id;
    this.workers = opened.workers;
  }

  private get inFlight(): number {
    return this.nextSeq - this.nextToWrite;
  }

  async acquire(): Promise<Buffer> {
    // Output still to be written counts against the bound, so a slow sink holds the producer.
    while ((this.free.length === 0 || this.inFlight >= this.maxInFlight) && this.failure === undefined) await this.waitForAnswer();
    this.check();
    return this.free.pop()!;
  }

  async push(block: Buffer, dictionary: Buffer | undefined): Promise<void> {
    this.check();
    const seq = this.nextSeq++;
    // Transfer, not copy: the buffer comes back with the answer.
    this.workers[seq % this.workers.length]!.postMessage({ stream: this.id, seq, data: block, dictionary, engine: this.engine }, [block.buffer as ArrayBuffer]);
  }

  async finish(): Promise<void> {
    while (this.inFlight > 0 && this.failure === undefined) await this.waitForAnswer();
    this.check();
    await this.written;
    this.check();
  }

  async close(): Promise<void> {
    if (!this.closed) shared.close(this.id);
    this.closed = true;
    // A write that failed after an error elsewhere must not surface as unhandled.
    await this.written.catch(() => undefined);
  }

  private onMessage(m: WorkerAnswer): void {
    if (m.error !== undefined) {
      this.fail(deflateError(m.error));
      return;
    }
    if (m.input && m.input.byteLength === BLOCK_SIZE) this.free.push(Buffer.from(m.input));
    this.done.set(m.seq, m.out ?? []);
    // Hand every block that is next in order to the sink.
    for (let out = this.done.get(this.nextQueued); out !== undefined; out = this.done.get(this.nextQueued)) {
      this.done.delete(this.nextQueued);
      this.nextQueued++;
      this.written = this.written.then(async () => {
        for (const c of out) await this.sink(toBuffer(c));
        this.nextToWrite++;
        this.signal();
      });
    }
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
