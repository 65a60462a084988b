/**
 * Holds the bytes of every regular file in the root tree. Bodies stay in
 * memory until `memoryBudget` bytes are held; after that each new body is
 * appended to one spill file in the build's scratch directory and read back
 * with positional reads when the layer is written. One file (not one per
 * body) keeps syscalls and inode churn low; positional I/O lets readers and
 * writers run concurrently without a shared cursor.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { BodyRef } from './types.js';

export interface BodyStoreOptions {
  /** Directory for the spill file (the build's private tmp dir). */
  dir: string;
  /** Bytes of file content kept in memory before spilling (default 32 MiB). */
  memoryBudget?: number;
}

const READ_CHUNK = 1 << 20;
/** Sources up to this size are read into memory by openSource. */
const WHOLE_SOURCE_MAX = 4 << 20;

export class BodyStore {
  private readonly dir: string;
  private readonly memoryBudget: number;
  private inMemory = 0;
  private spill: FileHandle | undefined;
  private spillOpening: Promise<FileHandle> | undefined;
  private spillEnd = 0;
  /** Files opened with openSource, by index: open, or read whole. */
  private readonly sources: Array<FileHandle | Buffer> = [];

  constructor(options: BodyStoreOptions) {
    this.dir = options.dir;
    // 32 MiB: a large image's peak memory is what limits this, and spilled bodies still sit in the page cache.
    this.memoryBudget = options.memoryBudget ?? 32 * 1024 * 1024;
  }

  /** Bytes currently held in memory (for tests and --timings). */
  get memoryBytes(): number {
    return this.inMemory;
  }

  /** Bytes written to the spill file. */
  get spilledBytes(): number {
    return this.spillEnd;
  }

  /** Store a body given whole. */
  async put(data: Buffer): Promise<BodyRef> {
    if (this.inMemory + data.length <= this.memoryBudget) {
      this.inMemory += data.length;
      return { kind: 'mem', data };
    }
    const offset = this.reserve(data.length);
    await this.writeAt(data, offset);
    return { kind: 'spill', offset, length: data.length };
  }

  /**
   * Store a body that arrives in chunks and whose size is known up front (tar
   * entries). Large bodies go straight to the spill file without being
   * gathered in memory first.
   */
  async putStream(chunks: AsyncIterable<Buffer | Uint8Array>, size: number): Promise<BodyRef> {
    if (this.inMemory + size <= this.memoryBudget) {
      const parts: Buffer[] = [];
      let got = 0;
      for await (const c of chunks) {
        const b = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
        parts.push(b);
        got += b.length;
      }
      if (got !== size) throw new Error(`body length ${got} differs from declared size ${size}`);
      const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
      this.inMemory += got;
      return { kind: 'mem', data };
    }
    const offset = this.reserve(size);
    let pos = offset;
    for await (const c of chunks) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      if (pos + b.length > offset + size) throw new Error(`body longer than declared size ${size}`);
      await this.writeAt(b, pos);
      pos += b.length;
    }
    if (pos !== offset + size) throw new Error(`body length ${pos - offset} differs from declared size ${size}`);
    return { kind: 'spill', offset, length: size };
  }

  /**
   * Opens a file whose bytes bodies may then point into (extent()) instead of
   * being copied: a plain tar from the build cache, whose entries' bodies
   * are read in place when the layer is written. The file must not change
   * while the store is open (cache blobs are replaced, never rewritten; the
   * open handle keeps a replaced file readable).
   */
  async openSource(path: string): Promise<number> {
    const fh = await open(path, 'r');
    try {
      // A small source is read whole: its bodies become views into one buffer, instead
      // of one read (and one allocation) per body later. Large ones stay on disk: big
      // short-lived buffers are what the allocator keeps as resident memory after use.
      const { size } = await fh.stat();
      if (size <= WHOLE_SOURCE_MAX && this.inMemory + size <= this.memoryBudget) {
        const data = await fh.readFile();
        this.inMemory += data.length;
        this.sources.push(data);
        await fh.close();
      } else {
        this.sources.push(fh);
      }
    } catch (e) {
      await fh.close();
      throw e;
    }
    return this.sources.length - 1;
  }

  /** A body that is `length` bytes at `offset` of an opened source. */
  extent(source: number, offset: number, length: number): BodyRef {
    const s = this.sources[source];
    if (s === undefined) throw new Error(`no source ${source} open`);
    if (Buffer.isBuffer(s)) {
      if (offset + length > s.length) throw new Error('source file shorter than expected');
      return { kind: 'mem', data: s.subarray(offset, offset + length), shared: true };
    }
    return { kind: 'extent', source, offset, length };
  }

  /** The whole body (use for small files: configs, control data). */
  async read(ref: BodyRef): Promise<Buffer> {
    if (ref.kind === 'mem') return ref.data;
    const fh = await this.fileOf(ref);
    const buf = Buffer.allocUnsafe(ref.length);
    let done = 0;
    while (done < ref.length) {
      const { bytesRead } = await fh.read(buf, done, ref.length - done, ref.offset + done);
      if (bytesRead === 0) throw new Error(`${ref.kind === 'spill' ? 'spill' : 'source'} file shorter than expected`);
      done += bytesRead;
    }
    return buf;
  }

  /**
   * The body in chunks of at most 1 MiB, for streaming into a layer. With
   * `scratch` (at least 1 MiB), chunks read from disk are views into it,
   * valid only until the next chunk is asked for: a 300 MB layer then
   * allocates nothing per chunk (less garbage, and less memory kept by the
   * allocator after it is freed).
   */
  async *chunks(ref: BodyRef, scratch?: Buffer): AsyncGenerator<Buffer> {
    if (ref.kind === 'mem') {
      if (ref.data.length > 0) yield ref.data;
      return;
    }
    const fh = await this.fileOf(ref);
    let pos = ref.offset;
    const end = ref.offset + ref.length;
    while (pos < end) {
      const len = Math.min(READ_CHUNK, end - pos);
      const buf = scratch !== undefined && scratch.length >= READ_CHUNK ? scratch.subarray(0, len) : Buffer.allocUnsafe(len);
      const { bytesRead } = await fh.read(buf, 0, len, pos);
      if (bytesRead === 0) throw new Error(`${ref.kind === 'spill' ? 'spill' : 'source'} file shorter than expected`);
      pos += bytesRead;
      yield bytesRead === len ? buf : buf.subarray(0, bytesRead);
    }
  }

  private async fileOf(ref: Exclude<BodyRef, { kind: 'mem' }>): Promise<FileHandle> {
    if (ref.kind === 'spill') return this.handle();
    const fh = this.sources[ref.source];
    if (fh === undefined || Buffer.isBuffer(fh)) throw new Error(`body refers to source ${ref.source}, which is not open as a file`);
    return fh;
  }

  /** Forget the in-memory accounting of a body that is no longer referenced (replaced or kept out of the tree). */
  release(ref: BodyRef): void {
    // A view into a source read whole frees nothing: the source stays.
    if (ref.kind === 'mem' && ref.shared !== true) this.inMemory = Math.max(0, this.inMemory - ref.data.length);
  }

  async close(): Promise<void> {
    const fh = this.spill ?? (this.spillOpening ? await this.spillOpening : undefined);
    this.spill = undefined;
    this.spillOpening = undefined;
    if (fh) await fh.close();
    const sources = this.sources.splice(0);
    for (const source of sources) if (!Buffer.isBuffer(source)) await source.close();
  }

  private reserve(length: number): number {
    const offset = this.spillEnd;
    this.spillEnd += length;
    return offset;
  }

  private async writeAt(data: Buffer, position: number): Promise<void> {
    const fh = await this.handle();
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
  }

  private async handle(): Promise<FileHandle> {
    if (this.spill) return this.spill;
    this.spillOpening ??= open(join(this.dir, 'bodies.spill'), 'w+', 0o600);
    this.spill = await this.spillOpening;
    return this.spill;
  }
}
