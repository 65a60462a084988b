/**
 * Tar entries from a byte stream, on top of tar-stream's extractor (which
 * handles ustar, GNU long names/links and PAX path/linkpath/size).
 *
 * What this layer adds:
 *  - names must be valid UTF-8: tar-stream is told to decode header names as
 *    latin1 so their raw bytes survive and can be checked here;
 *  - PAX uid/gid/mtime, which tar-stream leaves in header.pax;
 *  - limits on the number of entries and on the declared bytes, checked at
 *    each header so an oversized entry is refused before its body is read;
 *  - one error for an archive that stops early, including one that stops
 *    exactly between entries (no end-of-archive block);
 *  - backpressure: one entry at a time, and a body left unread is skipped
 *    when the next entry is requested.
 */
import tarStream from 'tar-stream';
import { BaseimgError } from '../util/errors.js';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** The name as stored ("./usr/bin/x"), decoded from UTF-8. */
  path: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (header mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, whole seconds (PAX fractions dropped). */
  mtime: number;
  /** Bytes in the body (0 for everything but regular files in well-formed archives). */
  size: number;
  /** Symlink target or hard-link target as stored; undefined for other types. */
  linkname: string | undefined;
  devmajor: number;
  devminor: number;
  /** The entry's PAX records (e.g. apk's "APK-TOOLS.checksum.SHA1", "SCHILY.xattr.*"); {} when none. */
  pax: Readonly<Record<string, string>>;
  /** The body; read it (or not) before asking for the next entry. */
  body: AsyncIterable<Buffer>;
  /** Where the body starts in the tar stream (to read it in place from a plain tar file). */
  offset: number;
}

export interface TarLimits {
  /** Names the archive in errors ("data.tar.xz of base-files 12.4"). */
  what: string;
  maxEntries: number;
  /** Sum of the entries' declared sizes. */
  maxTotalBytes: number;
  /**
   * Accept an archive that stops cleanly between entries without its two
   * zero blocks (apk's signature and control tars are cut that way).
   */
  allowMissingEnd?: boolean;
}

/** tar-stream's header as it really is (its declarations leave out byteOffset and loosen pax and type). */
interface RawHeader {
  name: string;
  type: string | null;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  linkname: string | null;
  devmajor: number;
  devminor: number;
  /** Offset of the entry's body in the tar stream. */
  byteOffset: number;
  pax: Record<string, string> | null;
}

const TYPES: Record<string, TarEntryType> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

const BLOCK = 512;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Iterate the entries of the tar in `source`. Closing the iterator early stops reading `source`. */
export async function* readTar(source: AsyncIterable<Uint8Array>, limits: TarLimits): AsyncGenerator<TarEntry> {
  // latin1 maps each byte to one char, so names keep their exact bytes for the UTF-8 check below.
  const extract = tarStream.extract({ filenameEncoding: 'latin1' } as Parameters<typeof tarStream.extract>[0]);
  let bytesIn = 0;
  let sourceError: unknown;
  const pump = (async () => {
    try {
      for await (const chunk of source) {
        if (isClosing(extract)) return;
        bytesIn += chunk.length;
        if (!extract.write(chunk) && !isClosing(extract)) await drainedOrClosed(extract);
      }
      if (!isClosing(extract)) extract.end(undefined);
    } catch (e) {
      sourceError = e;
      extract.destroy(e as Error);
    }
  })();

  // The source's own errors win: tar-stream only sees their echo.
  const translate = (e: unknown): unknown => {
    if (sourceError !== undefined) return sourceError;
    if (e instanceof BaseimgError) return e;
    const message = e instanceof Error ? e.message : String(e);
    if (/unexpected end/i.test(message)) return truncated(limits);
    return new BaseimgError('UNPACK', `${limits.what} is not a valid tar archive: ${message}`, { cause: e });
  };
  const entries = extract[Symbol.asyncIterator]();
  let count = 0;
  let declared = 0;
  let lastEnd = 0;
  let finished = false;
  let skipPrevious: (() => Promise<void>) | undefined;
  try {
    for (;;) {
      if (skipPrevious) await skipPrevious();
      const next = await entries.next();
      if (next.done) break;
      const stream = next.value;
      const header = stream.header as unknown as RawHeader;
      const size = header.size ?? 0;
      lastEnd = header.byteOffset + Math.ceil(size / BLOCK) * BLOCK;
      count += 1;
      declared += size;
      if (count > limits.maxEntries) throw tooMuch(limits, `more than ${limits.maxEntries} entries`);
      if (declared > limits.maxTotalBytes) throw tooMuch(limits, `more than ${limits.maxTotalBytes} bytes of content`);
      const body = new BodyReader(stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>, translate);
      skipPrevious = () => body.skip();
      yield toEntry(header, body, limits);
    }
    await pump;
    // tar-stream accepts input that stops right after an entry; a real archive ends with zero blocks.
    if (bytesIn < lastEnd + BLOCK && !limits.allowMissingEnd) throw truncated(limits);
    finished = true;
  } catch (e) {
    throw translate(e);
  } finally {
    if (!finished) {
      extract.destroy(null);
      await pump;
    }
  }
}

function isClosing(extract: tarStream.Extract): boolean {
  return extract.destroying || extract.destroyed;
}

/** Wait for room in the extractor's buffer; 'close' too, so a torn-down extractor never leaves the pump hanging. */
function drainedOrClosed(extract: tarStream.Extract): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      extract.off('drain', done);
      extract.off('close', done);
      resolve();
    };
    extract.on('drain', done);
    extract.on('close', done);
  });
}

/**
 * An entry body read through tar-stream's iterator. It is never return()ed:
 * destroying an entry stream tears down the whole extractor, so a body the
 * consumer abandons is drained instead.
 */
class BodyReader implements AsyncIterable<Buffer> {
  private started = false;
  private done = false;

  constructor(
    private readonly inner: AsyncIterator<Buffer>,
    private readonly translate: (e: unknown) => unknown,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    if (this.started) throw new BaseimgError('INTERNAL', 'a tar entry body can be read only once');
    this.started = true;
    try {
      for (;;) {
        const r = await this.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await this.drain();
    }
  }

  async skip(): Promise<void> {
    this.started = true;
    await this.drain();
  }

  private async drain(): Promise<void> {
    while (!this.done) await this.next();
  }

  private async next(): Promise<IteratorResult<Buffer>> {
    try {
      const r = await this.inner.next();
      if (r.done) this.done = true;
      return r;
    } catch (e) {
      this.done = true;
      throw this.translate(e);
    }
  }
}

function toEntry(header: RawHeader, body: BodyReader, limits: TarLimits): TarEntry {
  const pax = header.pax ?? {};
  const path = decodeName(header.name, pax.path !== undefined && pax.path !== '', limits);
  const type = header.type ? TYPES[header.type] : undefined;
  if (type === undefined) {
    throw new BaseimgError('UNPACK', `${limits.what}: entry ${path} has an unsupported type (${header.type ?? 'unknown typeflag'})`);
  }
  const size = header.size ?? 0;
  // tar-stream never reads a body for directories, so a non-zero size would desynchronise it.
  if (type === 'directory' && size !== 0) {
    throw new BaseimgError('UNPACK', `${limits.what}: directory entry ${path} claims a ${size}-byte body`);
  }
  const hasLink = type === 'symlink' || type === 'hardlink';
  const linkname = hasLink && header.linkname ? decodeName(header.linkname, pax.linkpath !== undefined && pax.linkpath !== '', limits) : undefined;
  if (hasLink && linkname === undefined) {
    throw new BaseimgError('UNPACK', `${limits.what}: link entry ${path} has no target`);
  }
  return {
    path,
    type,
    mode: numberField(header.mode, 'mode', path, limits) & 0o7777,
    uid: numberField(pax.uid ?? header.uid, 'uid', path, limits),
    gid: numberField(pax.gid ?? header.gid, 'gid', path, limits),
    mtime: mtimeField(pax.mtime ?? header.mtime, path, limits),
    size,
    linkname,
    devmajor: numberField(header.devmajor ?? 0, 'devmajor', path, limits),
    devminor: numberField(header.devminor ?? 0, 'devminor', path, limits),
    pax,
    body,
    offset: header.byteOffset,
  };
}

/**
 * Names from ustar/GNU headers arrive as latin1 (one char per byte) and are
 * decoded strictly here. PAX names were already decoded by tar-stream, which
 * replaces invalid bytes with U+FFFD, so that character is refused there.
 */
function decodeName(raw: string, fromPax: boolean, limits: TarLimits): string {
  if (fromPax) {
    if (raw.includes('\uFFFD')) {
      // tar-stream has already replaced the bad bytes; show where they were.
      throw new BaseimgError('UNPACK', `${limits.what}: entry name ${JSON.stringify(raw).replace(/\uFFFD/g, '\\ufffd')} is not valid UTF-8`);
    }
    return raw;
  }
  const bytes = Buffer.from(raw, 'latin1');
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new BaseimgError('UNPACK', `${limits.what}: entry name "${escapeBytes(bytes)}" is not valid UTF-8`, {
      hint: 'baseimg only installs files whose names are UTF-8',
    });
  }
}

/** Printable ASCII as is, everything else as \xNN. */
export function escapeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    out += b >= 0x20 && b < 0x7f && b !== 0x5c && b !== 0x22 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function numberField(value: number | string | undefined, field: string, path: string, limits: TarLimits): number {
  const n = typeof value === 'string' ? (/^[0-9]+$/.test(value) ? Number(value) : NaN) : value;
  if (n === undefined || !Number.isSafeInteger(n) || n < 0) {
    throw new BaseimgError('UNPACK', `${limits.what}: entry ${path} has an invalid ${field}`);
  }
  return n;
}

function mtimeField(value: Date | string | undefined, path: string, limits: TarLimits): number {
  const seconds = value instanceof Date ? value.getTime() / 1000 : typeof value === 'string' && /^-?[0-9]+(\.[0-9]*)?$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(seconds)) throw new BaseimgError('UNPACK', `${limits.what}: entry ${path} has an invalid mtime`);
  return Math.floor(seconds);
}

function truncated(limits: TarLimits): BaseimgError {
  return new BaseimgError('UNPACK', `${limits.what} is truncated`, {
    hint: 'the package file is damaged; delete it from the cache and download it again',
  });
}

function tooMuch(limits: TarLimits, what: string): BaseimgError {
  return new BaseimgError('UNPACK', `${limits.what} holds ${what}, more than baseimg allows`, {
    hint: 'the package looks like a decompression bomb; if it is genuine, raise the unpack size limit',
  });
}
