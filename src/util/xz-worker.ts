/**
 * xz decompression on a worker thread, so that unpacking (tar parsing, the
 * root tree, the data cache) on the main thread runs while the next bytes
 * are decompressed. Our xz is WASM at ~50–70 MB/s: for a few hundred MB of
 * packages that is the largest part of a cold unpack, and the second core
 * was idle meanwhile.
 *
 * The worker has its own instance of xz-decompress, and with it its own
 * one-stream-at-a-time lock (src/util/xz.ts); streams given to this module
 * run one after the other on the one worker. Input is read on the main
 * thread and sent in chunks as the decoder asks for them; output comes back
 * in ~1 MiB batches, at most a few ahead of the consumer. Errors read as
 * those of xzDecompress: the same BaseimgError for corrupt data, the
 * source's own error when reading the input failed.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BaseimgError } from './errors.js';
import { describeXzFailure, type XzOptions } from './xz.js';

// CommonJS run with `eval`, so it works from the TypeScript sources and from dist/ alike (as gzip.ts).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { ReadableStream } = require('node:stream/web');
const { XzReadableStream } = require(workerData.xz);
const BATCH = 1 << 20;
let current;
parentPort.on('message', (m) => {
  if (m.type === 'start') { current = { id: m.id, inputs: [], wakeInput: null, credit: workerData.ahead, wakeCredit: null, cancelled: false }; run(current); return; }
  const s = current;
  if (!s || s.id !== m.id) return;
  if (m.type === 'input' || m.type === 'end') { s.inputs.push(m); if (s.wakeInput) s.wakeInput(); }
  else if (m.type === 'ack') { s.credit++; if (s.wakeCredit) s.wakeCredit(); }
  else if (m.type === 'cancel') { s.cancelled = true; if (s.wakeInput) s.wakeInput(); if (s.wakeCredit) s.wakeCredit(); }
});
async function nextInput(s) {
  while (s.inputs.length === 0 && !s.cancelled) await new Promise((r) => { s.wakeInput = r; });
  s.wakeInput = null;
  return s.cancelled ? { type: 'end' } : s.inputs.shift();
}
async function run(s) {
  const compressed = new ReadableStream({
    async pull(controller) {
      parentPort.postMessage({ type: 'need', id: s.id });
      const m = await nextInput(s);
      if (m.type === 'end') controller.close(); else controller.enqueue(new Uint8Array(m.chunk));
    },
  }, { highWaterMark: 0 });
  const reader = new XzReadableStream(compressed).getReader();
  let batch = new Uint8Array(BATCH), used = 0;
  const flush = async () => {
    if (used === 0) return;
    while (s.credit === 0 && !s.cancelled) await new Promise((r) => { s.wakeCredit = r; });
    s.wakeCredit = null;
    if (s.cancelled) return;
    s.credit--;
    const out = used === BATCH ? batch : batch.slice(0, used);
    parentPort.postMessage({ type: 'output', id: s.id, chunk: out.buffer }, [out.buffer]);
    batch = new Uint8Array(BATCH); used = 0;
  };
  try {
    for (;;) {
      if (s.cancelled) break;
      const r = await reader.read();
      if (r.done) break;
      for (let off = 0; off < r.value.length; ) {
        const n = Math.min(BATCH - used, r.value.length - off);
        batch.set(r.value.subarray(off, off + n), used); used += n; off += n;
        if (used === BATCH) await flush();
      }
    }
    await flush();
    if (s.cancelled) await reader.cancel().catch(() => {});
    parentPort.postMessage({ type: 'done', id: s.id });
  } catch (e) {
    await reader.cancel().catch(() => {});
    parentPort.postMessage({ type: 'error', id: s.id, message: String((e && e.message) || e) });
  } finally {
    reader.releaseLock();
  }
}
`;

/** Output batches the worker may send before the consumer has taken them (bounds memory to a few MiB). */
const AHEAD = 4;
const XZ_PATH = createRequire(import.meta.url).resolve('xz-decompress');

type FromWorker =
  | { type: 'need'; id: number }
  | { type: 'output'; id: number; chunk: ArrayBuffer }
  | { type: 'done'; id: number }
  | { type: 'error'; id: number; message: string };

/** An idle worker is ended after this long: its decoder's memory (up to the 64 MiB dictionary of xz -9) goes with it. */
const IDLE_MS = 500;

let worker: Worker | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let nextId = 1;
/** Streams wait for the one before them to finish (the worker's decoder handles one at a time). */
let queue: Promise<void> = Promise.resolve();

function theWorker(): Worker {
  clearTimeout(idleTimer);
  if (worker === undefined) {
    const created = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { xz: XZ_PATH, ahead: AHEAD } });
    // Idle, it must not keep the process alive.
    created.unref();
    const forget = (): void => {
      if (worker === created) worker = undefined;
    };
    created.on('error', forget);
    created.on('exit', forget);
    worker = created;
  }
  return worker;
}

/** As xzDecompress (src/util/xz.ts), on the worker thread. Consume it to the end or close it. */
export async function* xzDecompressOffThread(input: AsyncIterable<Uint8Array>, options: XzOptions = {}): AsyncGenerator<Buffer, void, undefined> {
  const turn = queue;
  let release!: () => void;
  queue = new Promise((r) => (release = r));
  await turn;
  const what = options.what ?? 'xz data';
  const w = theWorker();
  const id = nextId++;
  const source = input[Symbol.asyncIterator]();
  const events: FromWorker[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  let sourceEnded = false;
  let finished = false;
  const onMessage = (m: FromWorker): void => {
    if (m.id !== id) return;
    events.push(m);
    wake?.();
  };
  const onError = (e: unknown): void => {
    failure ??= e;
    wake?.();
  };
  w.on('message', onMessage);
  w.on('error', onError);
  w.ref();
  // Feeding the input runs beside the output loop, each time the decoder asks for more.
  const feed = async (): Promise<void> => {
    try {
      for (;;) {
        const next = await source.next();
        if (next.done === true) {
          sourceEnded = true;
          w.postMessage({ type: 'end', id });
          return;
        }
        // Empty chunks would stall the decoder (see xz.ts); copy, so the caller's buffer stays theirs.
        if (next.value.byteLength === 0) continue;
        const chunk = Uint8Array.from(next.value);
        w.postMessage({ type: 'input', id, chunk: chunk.buffer }, [chunk.buffer]);
        return;
      }
    } catch (e) {
      failure ??= { source: e };
      wake?.();
    }
  };
  try {
    w.postMessage({ type: 'start', id });
    for (;;) {
      options.signal?.throwIfAborted();
      while (events.length === 0 && failure === undefined) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      if (failure !== undefined) {
        if (typeof failure === 'object' && failure !== null && 'source' in failure) throw (failure as { source: unknown }).source;
        throw failure;
      }
      const m = events.shift()!;
      if (m.type === 'need') void feed();
      else if (m.type === 'output') {
        w.postMessage({ type: 'ack', id });
        yield Buffer.from(m.chunk);
      } else if (m.type === 'done') {
        finished = true;
        return;
      } else {
        finished = true;
        throw new BaseimgError(options.errorCode ?? 'UNPACK', `${what}: cannot decompress: ${describeXzFailure(new Error(m.message), sourceEnded)}`);
      }
    }
  } finally {
    if (!finished) w.postMessage({ type: 'cancel', id });
    w.off('message', onMessage);
    w.off('error', onError);
    w.unref();
    await source.return?.();
    release();
    idleTimer = setTimeout(() => {
      const idle = worker;
      worker = undefined;
      void idle?.terminate();
    }, IDLE_MS).unref();
  }
}
