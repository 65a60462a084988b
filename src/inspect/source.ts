/**
 * Where an image's files come from: a tarball (indexed once, then read by
 * byte ranges) or a directory (an OCI layout, or an unpacked `docker save`).
 * Both give the same view: names → blobs that can be read whole (JSON),
 * streamed (layers) or peeked at (magic bytes). Symlinks and hard links
 * inside the archive are followed; a directory's symlinks must stay inside it.
 *
 * A compressed tarball (`docker save | gzip`) is decompressed once into a
 * private temporary file, because gzip cannot be read by random access.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdtemp, open, readdir, realpath, rm, stat, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { decompressStream } from '../archive/decompress.js';
import { BaseimgError } from '../util/errors.js';
import { compressionName, MAGIC_BYTES, sniffCompression, type CompressionKind } from './compression.js';
import { indexTar, normaliseName, type TarIndex } from './tar-index.js';

/** A regular file of the archive: `size` bytes at `offset` of host file `file`. */
export interface BlobRef {
  /** Name inside the archive as asked for ("blobs/sha256/ab…"). */
  name: string;
  /** Name after following links inside the archive. */
  resolved: string;
  file: string;
  offset: number;
  size: number;
}

const MAX_LINK_HOPS = 40;
/** Decompressed outer tarballs larger than this are refused (a bomb guard, not a real limit). */
const MAX_OUTER_BYTES = 2 ** 40;

export abstract class BlobSource {
  /** Sentences about the archive worth telling the user (e.g. it was gzip-compressed). */
  readonly notes: string[] = [];

  constructor(
    /** The path as the user gave it, for messages. */
    readonly label: string,
    readonly kind: 'tar' | 'directory',
  ) {}

  /** Every regular file's normalised name. */
  abstract names(): string[];
  /** The regular file called `name` (links followed), or undefined. */
  abstract find(name: string): BlobRef | undefined;
  /** The whole archive as one blob (a plain root filesystem tar is its own layer); undefined for directories. */
  abstract whole(): BlobRef | undefined;
  abstract close(): Promise<void>;

  /** The whole blob; refuses blobs over `limit` bytes (JSON documents are small). */
  async read(blob: BlobRef, limit: number): Promise<Buffer> {
    if (blob.size > limit) {
      throw new BaseimgError('IMAGE', `${this.label}: ${blob.name} is ${blob.size} bytes, more than the ${limit} expected of it`);
    }
    const buf = Buffer.alloc(blob.size);
    const fh = await open(blob.file, 'r');
    try {
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await fh.read(buf, done, buf.length - done, blob.offset + done);
        if (bytesRead === 0) throw new BaseimgError('IMAGE', `${this.label}: ${blob.name} ends early (the file changed while being read?)`);
        done += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return buf;
  }

  /** The first bytes of a blob (fewer when it is shorter). */
  async head(blob: BlobRef, n = MAGIC_BYTES): Promise<Buffer> {
    const buf = Buffer.alloc(Math.min(n, blob.size));
    if (buf.length === 0) return buf;
    const fh = await open(blob.file, 'r');
    try {
      const { bytesRead } = await fh.read(buf, 0, buf.length, blob.offset);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  /** The blob's bytes in chunks of up to 1 MiB. */
  async *stream(blob: BlobRef): AsyncGenerator<Buffer> {
    if (blob.size === 0) return;
    let got = 0;
    const input = createReadStream(blob.file, { start: blob.offset, end: blob.offset + blob.size - 1, highWaterMark: 1 << 20 });
    for await (const chunk of input as AsyncIterable<Buffer>) {
      got += chunk.length;
      yield chunk;
    }
    if (got !== blob.size) throw new BaseimgError('IMAGE', `${this.label}: ${blob.name} ends early (the file changed while being read?)`);
  }
}

/** An image tarball, indexed by headers; bodies are byte ranges of the file. */
class TarSource extends BlobSource {
  constructor(
    label: string,
    private readonly file: string,
    private readonly index: TarIndex,
    private readonly fileSize: number,
    private readonly tmpDir: string | undefined,
  ) {
    super(label, 'tar');
  }

  whole(): BlobRef {
    return { name: this.label, resolved: '', file: this.file, offset: 0, size: this.fileSize };
  }

  names(): string[] {
    return [...this.index.byName.values()].filter((e) => e.type === 'file').map((e) => e.name);
  }

  find(name: string): BlobRef | undefined {
    let current = normaliseName(name);
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const e = this.index.byName.get(current);
      if (!e) return undefined;
      if (e.type === 'file') return { name, resolved: current, file: this.file, offset: e.offset, size: e.size };
      if (e.type === 'hardlink') current = resolveInArchive('', e.linkname ?? '');
      else if (e.type === 'symlink') current = resolveInArchive(dirOf(current), e.linkname ?? '');
      else return undefined;
    }
    throw new BaseimgError('IMAGE', `${this.label}: ${name} is a symlink loop`);
  }

  async close(): Promise<void> {
    if (this.tmpDir) await rm(this.tmpDir, { recursive: true, force: true });
  }
}

/** An OCI layout (or unpacked docker save) directory. */
class DirSource extends BlobSource {
  constructor(
    label: string,
    private readonly files: Map<string, { path: string; size: number }>,
  ) {
    super(label, 'directory');
  }

  names(): string[] {
    return [...this.files.keys()];
  }

  find(name: string): BlobRef | undefined {
    const key = normaliseName(name);
    if (key.split('/').includes('..')) return undefined;
    const f = this.files.get(key);
    return f ? { name, resolved: key, file: f.path, offset: 0, size: f.size } : undefined;
  }

  whole(): undefined {
    return undefined;
  }

  async close(): Promise<void> {}

  /** Every regular file below root; symlinks are followed only when they stay inside root. */
  static async scan(label: string, dir: string): Promise<DirSource> {
    const root = await realpath(dir);
    const files = new Map<string, { path: string; size: number }>();
    const walk = async (rel: string, depth: number): Promise<void> => {
      if (depth > 8 || files.size > 1_000_000) return;
      for (const name of await readdir(join(root, rel))) {
        const relName = rel ? `${rel}/${name}` : name;
        const abs = join(root, relName);
        const st = await lstat(abs);
        if (st.isDirectory()) await walk(relName, depth + 1);
        else if (st.isFile()) files.set(relName, { path: abs, size: st.size });
        else if (st.isSymbolicLink()) {
          const target = await realpath(abs).catch(() => undefined);
          if (!target || !(target + sep).startsWith(root + sep)) continue; // dangling or outside: not part of the image
          const ts = await stat(target);
          if (ts.isFile()) files.set(relName, { path: target, size: ts.size });
        }
      }
    };
    await walk('', 0);
    return new DirSource(label, files);
  }
}

/** Open an image tarball or layout directory for reading. */
export async function openBlobSource(path: string): Promise<BlobSource> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new BaseimgError('IMAGE', `${path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
  });
  if (st.isDirectory()) return DirSource.scan(path, path);
  if (!st.isFile()) throw new BaseimgError('IMAGE', `${path} is neither a file nor a directory`);

  const kind = await sniffFile(path);
  let file = path;
  let tmp: string | undefined;
  if (kind !== 'none') {
    tmp = await mkdtemp(join(tmpdir(), 'baseimg-inspect-'));
    file = join(tmp, 'image.tar');
    try {
      const source = createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
      await pipeline(decompressStream(source, kind, { maxOutputBytes: MAX_OUTER_BYTES, what: path }), createWriteStream(file));
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw asImageError(e, path);
    }
  }
  let fh: FileHandle | undefined;
  try {
    fh = await open(file, 'r');
    const index = await indexTar(fh, { what: path });
    const source = new TarSource(path, file, index, (await fh.stat()).size, tmp);
    if (kind !== 'none') source.notes.push(`${path} is ${compressionName(kind)}-compressed; it was decompressed to a temporary file to be read`);
    return source;
  } catch (e) {
    if (tmp) await rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    await fh?.close();
  }
}

async function sniffFile(path: string): Promise<CompressionKind> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(MAGIC_BYTES);
    const { bytesRead } = await fh.read(buf, 0, MAGIC_BYTES, 0);
    return sniffCompression(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** A link target resolved against directory `dir` of the archive; ".." stops at the top. */
export function resolveInArchive(dir: string, target: string): string {
  const parts = target.startsWith('/') ? [] : dir.split('/').filter(Boolean);
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

function dirOf(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash === -1 ? '' : name.slice(0, slash);
}

/** Decompression errors come from the .deb code with package wording; say "image" instead. */
export function asImageError(e: unknown, what: string): unknown {
  if (e instanceof BaseimgError && e.code === 'UNPACK') {
    return new BaseimgError('IMAGE', e.message.includes(what) ? e.message : `${what}: ${e.message}`, {
      hint: 'the image is damaged or incomplete; save or copy it again',
      cause: e,
    });
  }
  return e;
}
