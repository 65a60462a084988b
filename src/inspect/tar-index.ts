/**
 * A random-access index of a tar file: one pass over the headers with
 * positional reads, bodies skipped, so finding manifest.json at the end of a
 * 2 GiB `docker save` costs a few hundred small reads, not a 2 GiB stream.
 * Afterwards any entry's body is a byte range of the file.
 *
 * Handles ustar (with the prefix field), GNU long names/links ('L'/'K'),
 * PAX path/linkpath/size ('x'; global 'g' headers are skipped) and base-256
 * numbers. The index can cover a byte range of a file, so an uncompressed
 * layer stored inside an image tarball can be indexed in place too.
 *
 * Header layout (the same fields src/image/tar-writer.ts writes): name 0/100,
 * mode 100/8, uid 108/8, gid 116/8, size 124/12, mtime 136/12, chksum
 * 148/8, typeflag 156, linkname 157/100, magic 257/6, prefix 345/155.
 */
import type { FileHandle } from 'node:fs/promises';
import { BaseimgError } from '../util/errors.js';

const BLOCK = 512;
const WINDOW = 256 << 10;
/** PAX/GNU records bigger than this are refused (a name is never 1 MiB). */
const MAX_META = 1 << 20;

export type IndexedType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface IndexedEntry {
  /** Normalised name: no "./" or "/" prefix, no trailing "/" ("blobs/sha256/ab…"). */
  name: string;
  /** The name exactly as stored. */
  rawName: string;
  type: IndexedType;
  /** Offset of the body in the file. */
  offset: number;
  size: number;
  /** Link target as stored (symlinks, hard links). */
  linkname: string | undefined;
  /** Position in the archive, counting only real entries (PAX/GNU records merged). */
  ordinal: number;
}

export interface TarIndex {
  /** Entries in archive order. */
  entries: IndexedEntry[];
  /** Last entry of each normalised name (tar semantics: a later entry replaces an earlier one). */
  byName: Map<string, IndexedEntry>;
}

/** "./a//b/" → "a/b"; "." and "/" → "". */
export function normaliseName(name: string): string {
  return name
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}

export interface IndexOptions {
  /** Names the archive in errors ("static.tar", "layer 2 of static.tar"). */
  what: string;
  /** Byte range of the file that holds the tar (default: the whole file). */
  start?: number;
  length?: number;
}

/** Read every header of the tar in `fh` (or in a range of it). */
export async function indexTar(fh: FileHandle, options: IndexOptions): Promise<TarIndex> {
  const start = options.start ?? 0;
  const end = options.length === undefined ? (await fh.stat()).size : start + options.length;
  const entries: IndexedEntry[] = [];
  const byName = new Map<string, IndexedEntry>();
  const reader = new WindowReader(fh, end);
  let pos = start;
  let pending: { path?: string; linkpath?: string; size?: number } = {};
  let ordinal = 0;

  for (;;) {
    if (pos + BLOCK > end) {
      if (pos === end && pos > start) throw truncated(options.what, 'it ends without the end-of-archive marker');
      throw truncated(options.what, pos === start ? 'it is empty' : `a header at offset ${pos - start} is cut off`);
    }
    const header = await reader.read(pos, BLOCK);
    if (isZero(header)) break; // end of archive (one zero block is enough, as GNU tar accepts)
    checkChecksum(header, options.what, pos - start, entries.length === 0);
    const typeflag = String.fromCharCode(header[156]!);
    let size = readNumber(header, 124, 12, options.what, pos - start);
    if (typeflag !== 'x' && typeflag !== 'g' && pending.size !== undefined) size = pending.size;
    const bodyAt = pos + BLOCK;
    const hasBody = !['1', '2', '3', '4', '6'].includes(typeflag);
    const bodyBytes = hasBody ? size : 0;
    if (bodyAt + bodyBytes > end) {
      throw truncated(options.what, `entry ${JSON.stringify(headerName(header))} needs ${bodyBytes} bytes but the file ends first`);
    }
    pos = bodyAt + Math.ceil(bodyBytes / BLOCK) * BLOCK;

    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > MAX_META) throw new BaseimgError('IMAGE', `${options.what}: a ${size}-byte tar extension header is not plausible`);
      const data = await reader.read(bodyAt, size);
      if (typeflag === 'x') pending = { ...pending, ...parsePax(data, options.what) };
      else if (typeflag === 'L') pending.path = cString(data);
      else if (typeflag === 'K') pending.linkpath = cString(data);
      continue; // 'g' (global) records carry nothing an image reader needs
    }

    const rawName = pending.path ?? headerName(header);
    const link = pending.linkpath ?? cString(header.subarray(157, 257));
    pending = {};
    const type = typeOf(typeflag);
    const entry: IndexedEntry = {
      name: normaliseName(rawName),
      rawName,
      type,
      offset: bodyAt,
      size: type === 'file' ? size : 0,
      linkname: type === 'symlink' || type === 'hardlink' ? link : undefined,
      ordinal: ordinal++,
    };
    entries.push(entry);
    byName.set(entry.name, entry);
  }
  return { entries, byName };
}

function typeOf(flag: string): IndexedType {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '5':
      return 'directory';
    default:
      return 'other';
  }
}

/**
 * Positional reads through a 256 KiB window: a tar of many small files
 * (a root filesystem) has its headers close together, and one read then
 * serves dozens of them; big bodies are skipped without being read.
 */
class WindowReader {
  private window = Buffer.alloc(0);
  private windowAt = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly end: number,
  ) {}

  async read(position: number, length: number): Promise<Buffer> {
    if (position < this.windowAt || position + length > this.windowAt + this.window.length) {
      const size = Math.min(Math.max(length, WINDOW), this.end - position);
      const buf = Buffer.alloc(size);
      let done = 0;
      while (done < size) {
        const { bytesRead } = await this.fh.read(buf, done, size - done, position + done);
        if (bytesRead === 0) throw new BaseimgError('IMAGE', `unexpected end of file at offset ${position + done}`);
        done += bytesRead;
      }
      this.window = buf;
      this.windowAt = position;
    }
    return this.window.subarray(position - this.windowAt, position - this.windowAt + length);
  }
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** ustar name, with the prefix field when the magic says POSIX ustar (GNU uses it for times). */
function headerName(h: Buffer): string {
  const name = cString(h.subarray(0, 100));
  const posix = h.toString('latin1', 257, 263) === 'ustar\0';
  const prefix = posix ? cString(h.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul === -1 ? b.length : nul);
}

/** Octal ASCII (spaces/NULs around it), or GNU base-256 when the top bit is set. */
function readNumber(h: Buffer, at: number, len: number, what: string, offset: number): number {
  if ((h[at]! & 0x80) !== 0) {
    let n = h[at]! & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + h[at + i]!;
    if (!Number.isSafeInteger(n)) throw badHeader(what, offset, 'a number field is out of range');
    return n;
  }
  const text = h.toString('latin1', at, at + len).replace(/[\0 ]+$/, '').replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw badHeader(what, offset, `a number field holds ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

function checkChecksum(h: Buffer, what: string, offset: number, first: boolean): void {
  const stored = h.toString('latin1', 148, 156).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b >= 0x80 ? b - 256 : b;
  }
  const ok = /^[0-7]+$/.test(stored) && (parseInt(stored, 8) === unsigned || parseInt(stored, 8) === signed);
  if (ok) return;
  if (first) {
    throw new BaseimgError('IMAGE', `${what} is not a tar archive (nor a gzip, zstd or xz compressed one)`, {
      hint: 'give an image tarball (docker save, podman save, skopeo copy … oci-archive:, baseimg build) or an OCI layout directory',
    });
  }
  throw badHeader(what, offset, 'its checksum is wrong');
}

/** PAX records "<len> <key>=<value>\n"; only path, linkpath and size matter here. */
function parsePax(data: Buffer, what: string): { path?: string; linkpath?: string; size?: number } {
  const out: { path?: string; linkpath?: string; size?: number } = {};
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break;
    const space = data.indexOf(0x20, at);
    const len = space === -1 ? NaN : Number(data.toString('latin1', at, space));
    if (!Number.isSafeInteger(len) || len <= 0 || at + len > data.length) {
      throw new BaseimgError('IMAGE', `${what}: a PAX header is malformed`);
    }
    const record = data.toString('utf8', space + 1, at + len - 1);
    const eq = record.indexOf('=');
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    else if (key === 'linkpath') out.linkpath = value;
    else if (key === 'size' && /^\d+$/.test(value)) out.size = Number(value);
    at += len;
  }
  return out;
}

function badHeader(what: string, offset: number, why: string): BaseimgError {
  return new BaseimgError('IMAGE', `${what}: the tar header at offset ${offset} is corrupt (${why})`, {
    hint: 'the file is damaged; save or copy the image again',
  });
}

function truncated(what: string, why: string): BaseimgError {
  return new BaseimgError('IMAGE', `${what} is truncated: ${why}`, {
    hint: 'the file is incomplete; save or copy the image again',
  });
}
