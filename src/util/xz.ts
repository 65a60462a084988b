/**
 * Streaming xz decompression for Node streams and async iterables, on top of
 * xz-decompress (xz-embedded compiled to WASM, no native code).
 *
 * Things the wrapper takes care of:
 *  - xz-decompress serialises all decompressions behind one process-wide
 *    mutex that is only released when a stream finishes, fails or is
 *    cancelled. An abandoned stream would block every later one, so the
 *    generator below always cancels in `finally`. Consumers must drain or
 *    `return()` the iterator (for-await with break does that) and must not
 *    wait on a second xz stream while holding the first.
 *  - An empty input crashes inside the library with a TypeError, and corrupt
 *    data surfaces as "error code N"; both become a BaseimgError naming the input.
 *  - Errors from the compressed source itself pass through unchanged.
 */
import { Duplex } from 'node:stream';
import { ReadableStream, type ReadableStreamReadResult } from 'node:stream/web';
import { createRequire } from 'node:module';
import { BaseimgError, type ErrorCode } from './errors.js';

type XzReadableStreamClass = new (input: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>;
let xzClass: XzReadableStreamClass | undefined;

/** xz-decompress, loaded (with its WASM) on first use: a build that decompresses nothing never pays for it. */
function XzReadableStream(input: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  xzClass ??= (createRequire(import.meta.url)('xz-decompress') as { XzReadableStream: XzReadableStreamClass }).XzReadableStream;
  return new xzClass(input);
}

export interface XzOptions {
  /** Names the input in error messages ("Packages.xz of bookworm/main"). */
  what?: string;
  /** Error code for corrupt data: UNPACK (packages) by default; indexes use VERIFY. */
  errorCode?: ErrorCode;
  signal?: AbortSignal;
}

/** xz-embedded's return codes, for readable error messages. */
const XZ_ERRORS: Record<string, string> = {
  '2': 'unsupported integrity check',
  '3': 'out of memory',
  '4': 'memory limit exceeded',
  '5': 'not in xz format',
  '6': 'unsupported xz options',
  '7': 'corrupt data',
  '8': 'truncated data',
};

export function describeXzFailure(err: unknown, sourceEnded: boolean): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = /error code (\d+)/.exec(message)?.[1];
  if (code !== undefined) return XZ_ERRORS[code] ?? `decoder error ${code}`;
  return sourceEnded ? 'truncated data' : message;
}

/**
 * Decompresses `input` chunk by chunk. The returned generator must be consumed
 * to the end or closed (see the note at the top of this file).
 */
export async function* xzDecompress(
  input: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>,
  options: XzOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  const what = options.what ?? 'xz data';
  const source = toAsyncIterable(input)[Symbol.asyncIterator]();
  let sourceEnded = false;
  let sourceError: unknown;

  const compressed = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          // Empty chunks would count as "no progress" in the decoder and end in a buffer error.
          for (;;) {
            const next = await source.next();
            if (next.done === true) {
              sourceEnded = true;
              controller.close();
              return;
            }
            const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'latin1') : next.value;
            if (chunk.byteLength > 0) {
              controller.enqueue(chunk);
              return;
            }
          }
        } catch (err) {
          sourceError = err;
          throw err;
        }
      },
      async cancel() {
        await source.return?.();
      },
    },
    { highWaterMark: 0 },
  );

  const reader = XzReadableStream(compressed).getReader();
  let finished = false;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (err) {
        if (sourceError !== undefined) throw sourceError;
        throw new BaseimgError(
          options.errorCode ?? 'UNPACK',
          `${what}: cannot decompress: ${describeXzFailure(err, sourceEnded)}`,
          { cause: err },
        );
      }
      if (result.done) {
        finished = true;
        return;
      }
      const out = result.value;
      if (out.byteLength > 0) yield Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    }
  } finally {
    // Releases the library's global mutex when we stop early; a no-op once the stream has closed or failed.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

function toAsyncIterable<T>(input: AsyncIterable<T> | Iterable<T>): AsyncIterable<T> {
  if (Symbol.asyncIterator in input) return input;
  return (async function* () {
    yield* input;
  })();
}

/** A Node Duplex (for stream.pipeline) that decompresses xz. */
export function createXzDecompressStream(options: XzOptions = {}): Duplex {
  return Duplex.from(async function* (source: AsyncIterable<Uint8Array>) {
    yield* xzDecompress(source, options);
  });
}
