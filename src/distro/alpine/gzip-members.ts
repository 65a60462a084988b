/**
 * apk files are concatenated gzip members, and signatures cover the raw
 * bytes of one member, so members must be found by their byte boundaries,
 * which a plain gunzip hides. A member is parsed here: the RFC 1952 header,
 * the deflate stream (zlib reports how much input it consumed), and the
 * trailer, whose CRC-32 and length are checked.
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { BaseimgError } from '../../util/errors.js';

export interface GzipMember {
  /** Byte offset of the member in the buffer (its first magic byte). */
  start: number;
  /** Offset just past its trailer. */
  end: number;
  /** The decompressed content. */
  content: Buffer;
}

const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;

/** Thrown (as `cause`) when the buffer stops inside a member: the caller may read more and retry. */
export class IncompleteMember extends Error {}

/**
 * Read the member that starts at `start`. `maxOutput` caps the decompressed
 * size (a small member that inflates to gigabytes is refused).
 */
export function readGzipMember(buf: Buffer, start: number, maxOutput: number, what: string): GzipMember {
  const fail = (problem: string): never => {
    throw new BaseimgError('VERIFY', `${what}: ${problem}`, { hint: 'the file is damaged or not an apk (gzip) file' });
  };
  if (buf.length - start < 10) throw new IncompleteMember();
  if (buf[start] !== 0x1f || buf[start + 1] !== 0x8b) fail(`no gzip member at byte ${start}`);
  if (buf[start + 2] !== 8) fail(`gzip member at byte ${start} does not use deflate`);
  const flags = buf[start + 3]!;
  let at = start + 10;
  const need = (n: number): void => {
    if (at + n > buf.length) throw new IncompleteMember();
  };
  if (flags & FEXTRA) {
    need(2);
    at += 2 + buf.readUInt16LE(at);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const zero = buf.indexOf(0, at);
    if (zero < 0) throw new IncompleteMember();
    at = zero + 1;
  }
  if (flags & FHCRC) at += 2;
  need(0);
  let content: Buffer;
  let consumed: number;
  try {
    const r = inflateRawSync(buf.subarray(at), { info: true, maxOutputLength: maxOutput }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    content = r.buffer;
    consumed = r.engine.bytesWritten;
  } catch (e) {
    const message = (e as Error).message;
    if (/unexpected end/i.test(message)) throw new IncompleteMember(message);
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      return fail(`gzip member at byte ${start} expands to more than ${maxOutput} bytes`);
    }
    return fail(`gzip member at byte ${start} is corrupt: ${message}`);
  }
  at += consumed;
  need(8);
  if (buf.readUInt32LE(at) !== crc32(content)) fail(`gzip member at byte ${start} fails its CRC-32 check`);
  if (buf.readUInt32LE(at + 4) !== content.length % 2 ** 32) fail(`gzip member at byte ${start} has the wrong length in its trailer`);
  return { start, end: at + 8, content };
}
