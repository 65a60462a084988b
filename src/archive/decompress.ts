/**
 * Streaming decompression of .deb members (gzip, xz, zstd or none) with a cap
 * on the output size, so a small hostile archive cannot expand into gigabytes
 * (a decompression bomb) before anyone looks at what it contains.
 */
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { BaseimgError } from '../util/errors.js';
import { xzDecompress } from '../util/xz.js';
import { xzDecompressOffThread } from '../util/xz-worker.js';

export type CompressionKind = 'gz' | 'xz' | 'zst' | 'none';

export interface DecompressLimits {
  /** Refuse to produce more than this many bytes. */
  maxOutputBytes: number;
  /** What is being decompressed, for error messages ("data.tar.xz of base-files"). */
  what: string;
  /** Decompress xz on a worker thread (large members; see src/util/xz-worker.ts). */
  offThread?: boolean;
}

/** Largest zstd window accepted (zstd's own default decoder limit, 2^27). */
const MAX_ZSTD_WINDOW = 1 << 27;
/** zstd input is fed in slices this big so each push expands into a bounded amount of output. */
const ZSTD_SLICE = 16 * 1024;

/**
 * The compression of a .deb member from its name: "control.tar.xz" → 'xz',
 * "data.tar" → 'none'. Known-but-unsupported (bz2, lzma) and unknown
 * suffixes are UNPACK errors naming the member.
 */
export function compressionOfMember(name: string, pkgLabel: string): CompressionKind {
  const match = /^(?:control|data)\.tar(?:\.([a-z0-9]+))?$/.exec(name);
  const suffix = match?.[1];
  if (match && suffix === undefined) return 'none';
  if (suffix === 'gz' || suffix === 'xz' || suffix === 'zst') return suffix;
  if (suffix === 'bz2' || suffix === 'lzma') {
    throw new BaseimgError('UNPACK', `${pkgLabel}: member ${name} uses ${suffix} compression, which baseimg does not support`, {
      hint: 'only gzip, xz and zstd compressed (or uncompressed) .deb members are supported',
    });
  }
  throw new BaseimgError('UNPACK', `${pkgLabel}: unexpected member ${name} in the .deb`);
}

/** Decompress `source`, yielding plain bytes; throws UNPACK on corrupt input or when the cap is passed. */
export async function* decompressStream(
  source: AsyncIterable<Uint8Array>,
  kind: CompressionKind,
  limits: DecompressLimits,
): AsyncGenerator<Buffer> {
  let produced = 0;
  try {
    for await (const chunk of decoder(source, kind, limits)) {
      produced += chunk.length;
      if (produced > limits.maxOutputBytes) throw tooLarge(limits);
      if (chunk.length > 0) yield chunk;
    }
  } catch (e) {
    if (e instanceof BaseimgError) throw e;
    throw new BaseimgError('UNPACK', `${limits.what} is corrupt: ${(e as Error).message}`, { cause: e });
  }
}

function decoder(source: AsyncIterable<Uint8Array>, kind: CompressionKind, limits: DecompressLimits): AsyncIterable<Buffer> {
  switch (kind) {
    case 'none':
      return asBuffers(source);
    case 'gz':
      return gunzip(source);
    case 'xz':
      return limits.offThread ? xzDecompressOffThread(source, { what: limits.what }) : xzDecompress(source, { what: limits.what });
    case 'zst':
      return unzstd(source, limits);
  }
}

async function* asBuffers(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const c of source) yield Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

function gunzip(source: AsyncIterable<Uint8Array>): AsyncIterable<Buffer> {
  // pipeline forwards errors both ways and closes the source when the reader stops early.
  // Errors reach the caller through the returned stream, so the callback has nothing to do.
  return pipeline(Readable.from(source, { objectMode: false }), createGunzip(), () => undefined);
}

/**
 * fzstd decodes synchronously inside push(), calling back once per block.
 * Counting in the callback (and throwing there) stops a bomb before the
 * output piles up in memory.
 */
async function* unzstd(source: AsyncIterable<Uint8Array>, limits: DecompressLimits): AsyncGenerator<Buffer> {
  const pending: Buffer[] = [];
  let produced = 0;
  let ended = false;
  const zstd = new ZstdDecompress((block, final) => {
    produced += block.length;
    if (produced > limits.maxOutputBytes) throw tooLarge(limits);
    // fzstd reuses its window buffer, so the block must be copied out.
    if (block.length > 0) pending.push(Buffer.from(block));
    if (final) ended = true;
  });
  let first = true;
  for await (const chunk of source) {
    if (first && chunk.length > 0) {
      checkZstdWindow(chunk, limits);
      first = false;
    }
    for (let at = 0; at < chunk.length; at += ZSTD_SLICE) {
      zstd.push(chunk.subarray(at, at + ZSTD_SLICE));
      yield* pending.splice(0);
    }
  }
  zstd.push(new Uint8Array(0), true);
  yield* pending.splice(0);
  if (!ended) throw new Error('unexpected end of zstd data');
}

/**
 * fzstd allocates the window a frame header asks for (up to 2 GiB) before
 * decoding anything; refuse absurd windows in the first frame up front.
 */
function checkZstdWindow(head: Uint8Array, limits: DecompressLimits): void {
  if (head.length < 6 || head[0] !== 0x28 || head[1] !== 0xb5 || head[2] !== 0x2f || head[3] !== 0xfd) return;
  const descriptor = head[4]!;
  const singleSegment = (descriptor >> 5) & 1;
  let window: number;
  if (singleSegment) {
    // The window is the frame content size, stored after the (optional) dictionary id.
    const fcsFlag = descriptor >> 6;
    const dictBytes = [0, 1, 2, 4][descriptor & 3]!;
    const fcsBytes = [1, 2, 4, 8][fcsFlag]!;
    const at = 5 + dictBytes;
    if (head.length < at + fcsBytes) return;
    window = 0;
    for (let i = fcsBytes - 1; i >= 0; i--) window = window * 256 + head[at + i]!;
    if (fcsBytes === 2) window += 256;
  } else {
    const wd = head[5]!;
    const base = 2 ** (10 + (wd >> 3));
    window = base + (base / 8) * (wd & 7);
  }
  if (window > MAX_ZSTD_WINDOW && window > limits.maxOutputBytes) {
    throw new BaseimgError('UNPACK', `${limits.what} asks for a ${window}-byte zstd window, more than baseimg allows`);
  }
}

function tooLarge(limits: DecompressLimits): BaseimgError {
  return new BaseimgError('UNPACK', `${limits.what} expands to more than ${limits.maxOutputBytes} bytes`, {
    hint: 'the package looks like a decompression bomb; if it is genuine, raise the unpack size limit',
  });
}
