/**
 * Files that appear whole or not at all. Bytes go to a temp file in the
 * destination's directory (".<base>.tmp-<random>", so rename stays on one
 * filesystem and a crash leaves an obviously-temporary dot file), which is
 * fsynced and renamed over the destination only when everything succeeded.
 * On an error or an abort the temp file is removed and an existing
 * destination is left untouched.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { testPause } from './test-pause.js';

export interface AtomicWriterOptions {
  /** Abort the write; pending and later write() calls reject and nothing is committed. */
  signal?: AbortSignal | undefined;
  /** Permission bits of the new file (the umask still applies). Default 0o644. */
  mode?: number;
}

/** Temp-file name for `path`: ".<base>.tmp-<12 hex>" beside it. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
}

export class AtomicWriter {
  /** Bytes written so far. */
  bytesWritten = 0;
  private fh: FileHandle | undefined;
  private finished = false;

  private constructor(
    readonly tempPath: string,
    fh: FileHandle,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.fh = fh;
  }

  /**
   * Start writing a file that will be committed to some path in the same
   * directory as `pathForTemp` (the final name may be decided later, e.g. by
   * the content's digest).
   */
  static async create(pathForTemp: string, options: AtomicWriterOptions = {}): Promise<AtomicWriter> {
    options.signal?.throwIfAborted();
    const tempPath = tempPathFor(pathForTemp);
    const fh = await open(tempPath, 'wx', options.mode ?? 0o644);
    return new AtomicWriter(tempPath, fh, options.signal);
  }

  /** Append bytes (sequentially; await each call before the next). */
  async write(data: Uint8Array): Promise<void> {
    this.signal?.throwIfAborted();
    const fh = this.open();
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await fh.write(data, done, data.length - done);
      done += bytesWritten;
    }
    this.bytesWritten += data.length;
  }

  /** fsync, close and rename onto `finalPath` (replacing it). */
  async commit(finalPath: string): Promise<void> {
    const fh = this.open();
    try {
      this.signal?.throwIfAborted();
      await fh.sync();
      await fh.close();
      this.fh = undefined;
      this.signal?.throwIfAborted();
      await rename(this.tempPath, finalPath);
      this.finished = true;
    } catch (e) {
      await this.discard();
      throw e;
    }
    await syncDir(dirname(finalPath));
  }

  /** Close and delete the temp file; safe to call more than once. */
  async discard(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
    await unlink(this.tempPath).catch(() => undefined);
  }

  private open(): FileHandle {
    if (!this.fh || this.finished) throw new Error(`atomic file ${this.tempPath} is already closed`);
    return this.fh;
  }
}

/**
 * Produce `path` atomically: `produce` writes through the writer; the file
 * appears only if it resolves (and the signal was not aborted meanwhile).
 */
export async function writeFileAtomic<T>(
  path: string,
  produce: (out: AtomicWriter) => Promise<T>,
  options: AtomicWriterOptions = {},
): Promise<T> {
  const out = await AtomicWriter.create(path, options);
  try {
    const result = await produce(out);
    await testPause('write', options.signal);
    await out.commit(path);
    return result;
  } catch (e) {
    await out.discard();
    throw e;
  }
}

/** Make a rename durable; not every filesystem allows fsync on a directory, so failures are ignored. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // best effort
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
