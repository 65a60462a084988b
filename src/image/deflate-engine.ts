/**
 * Which implementation deflates layer blocks (gzip.ts). The bytes are
 * defined by pako (pure JS, version pinned by the lockfile): pako is the
 * reference, and node:zlib is used only where it writes exactly pako's bytes.
 *
 * node:zlib is 2.4–3× faster here, and on official Node builds (Chromium's
 * zlib) its level-6 output equals pako's; but Node's bundled zlib has
 * changed output between releases, distro builds link a system zlib, and
 * zlib-ng or hardware deflate (s390x) write other bytes
 * (docs/image-format.md). So each gzip worker, when it starts, deflates a
 * probe with node:zlib in the very block framing of a layer (dictionary
 * priming, sync flush) and compares the SHA-256 with PROBE_SHA256, pako's
 * output for the probe (the unit tests check that against pako). Any other
 * result, an error, or BASEIMG_DEFLATE=pako means pako. It runs off the main
 * thread, ~30–50 ms once per worker (the workers live as long as the process).
 *
 * What the probe cannot rule out is a zlib that writes pako's bytes for the
 * probe but not for some other input; the implementations that differ do so
 * in how they hash and pick matches, which shows on any input of this kind
 * (text, binary tables, runs, noise, matches at the window's edge).
 *
 * The probe and the zlib framing are plain JavaScript source, run as they
 * are by the workers and, through `new Function`, by this thread (tests).
 */
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';

export type DeflateEngine = 'pako' | 'zlib';

/** One block: raw deflate of `data` after `dictionary`, ending in a sync flush. */
export type BlockDeflate = (data: Uint8Array, dictionary: Uint8Array | undefined) => Uint8Array | Uint8Array[];

/** sha256 of the probe's blocks as pako 3.0.3 writes them at level 6 (test/unit/deflate-engine.test.ts). */
export const PROBE_SHA256 = '2813242edb78e1bca378c421976c4d56267df66d87782cf26aaa19f5ceb3886e';

/**
 * Defines zlibBlock(zlib, level) → BlockDeflate, probeInput() → Buffer (~0.7 MB,
 * the same bytes everywhere) and probeDigest(deflate, createHash) → hex.
 */
export const PROBE_SOURCE = String.raw`
function zlibBlock(zlib, level) {
  return (data, dictionary) => {
    const opts = { level, windowBits: 15, memLevel: 8, strategy: zlib.constants.Z_DEFAULT_STRATEGY, finishFlush: zlib.constants.Z_SYNC_FLUSH };
    if (dictionary && dictionary.length > 0) opts.dictionary = dictionary;
    return zlib.deflateRawSync(data, opts);
  };
}
function probeInput() {
  // xorshift32 kept within small integers; 24 random bits a call.
  let x = 0x1e3779b9;
  const rand = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 8) & 0xffffff; };
  const parts = [];
  // Text: words drawn unevenly from a small vocabulary (short and long matches, lazy choices).
  const words = 'the of usr lib share doc copyright license gnu debian package version amd64 x86_64 so.6 libc config file data utf-8 zone info en_US'.split(' ');
  const picked = [];
  for (let n = 0; n < 200000; ) {
    const word = words[Math.min(rand() % words.length, rand() % words.length)];
    picked.push(word, rand() % 9 === 0 ? '\n' : ' ');
    n += word.length + 1;
  }
  const text = picked.join('');
  parts.push(Buffer.from(text));
  // Binary tables: little-endian counters with jitter, as in ELF symbol and relocation tables.
  const table = Buffer.alloc(160000);
  for (let i = 0; i < table.length; i += 8) {
    const a = i * 3 + (rand() % 7);
    const b = rand() % 5 === 0 ? rand() : 0x400000 + (i >> 3);
    table[i] = a & 0xff; table[i + 1] = (a >> 8) & 0xff; table[i + 2] = (a >> 16) & 0xff;
    table[i + 4] = b & 0xff; table[i + 5] = (b >> 8) & 0xff; table[i + 6] = (b >> 16) & 0xff;
  }
  parts.push(table);
  // Noise (stored blocks), a run of zeros and a short period (maximal 258-byte matches).
  const noise = Buffer.alloc(64 * 1024);
  for (let i = 0; i < noise.length; i++) noise[i] = rand() & 0xff;
  parts.push(noise, Buffer.alloc(100000), Buffer.from('abc'.repeat(30000)));
  // tar-like: 512-byte headers between bodies.
  for (let i = 0; i < 60; i++) {
    const header = Buffer.alloc(512);
    header.write('./usr/share/zoneinfo/Region' + i + '/City' + (rand() % 1000), 0);
    header.write(['0000644', '0000000', '0000000', (rand() % 4096).toString(8).padStart(11, '0'), ''].join('\0'), 100);
    parts.push(header, Buffer.from(text.slice(i * 1000, i * 1000 + (rand() % 1500))));
  }
  // Repeats just inside and just beyond the 32 KiB window.
  const sofar = Buffer.concat(parts);
  const distant = sofar.subarray(sofar.length - 32760, sofar.length - 32760 + 4000);
  parts.push(Buffer.from(distant), noise.subarray(0, 40), Buffer.from(sofar.subarray(sofar.length - 40000, sofar.length - 36000)));
  return Buffer.concat(parts);
}
function probeDigest(deflate, createHash) {
  // 96 KiB blocks, each primed with the 32 KiB before it, as a layer's blocks are.
  const input = probeInput();
  const hash = createHash('sha256');
  for (let off = 0; off < input.length; off += 96 * 1024) {
    const out = deflate(input.subarray(off, off + 96 * 1024), input.subarray(Math.max(0, off - 32 * 1024), off));
    for (const chunk of Array.isArray(out) ? out : [out]) hash.update(chunk);
  }
  return hash.digest('hex');
}
`;

interface Probe {
  zlibBlock(z: typeof zlib, level: number): BlockDeflate;
  probeInput(): Buffer;
  probeDigest(deflate: BlockDeflate, hash: typeof createHash): string;
}
let probe: Probe | undefined;
const loadProbe = (): Probe => (probe ??= new Function(`${PROBE_SOURCE}; return { zlibBlock, probeInput, probeDigest };`)() as Probe);

/** node:zlib's deflate of one block, framed as gzip.ts frames pako's (what the workers run). */
export const zlibBlock = (level: number): BlockDeflate => loadProbe().zlibBlock(zlib, level);
export const probeInput = (): Buffer => loadProbe().probeInput();
export const probeDigest = (deflate: BlockDeflate): string => loadProbe().probeDigest(deflate, createHash);

/** Whether `native` writes the reference bytes for the probe (false when it throws). */
export function writesReferenceBytes(native: BlockDeflate): boolean {
  try {
    return probeDigest(native) === PROBE_SHA256;
  } catch {
    return false;
  }
}

/** What the workers are told: check node:zlib ('auto'), or use pako without asking. PROBE_SHA256 holds for level 6 only. */
export function engineSetting(level: number, env: NodeJS.ProcessEnv = process.env): 'auto' | 'pako' {
  return env.BASEIMG_DEFLATE === 'pako' || level !== 6 ? 'pako' : 'auto';
}
