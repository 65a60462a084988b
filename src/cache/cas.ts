/**
 * Content-addressed cache shared by concurrent builds (the layout follows the
 * idea of npm's cacache, the code is ours):
 *
 *   <root>/blobs/sha256/<2 hex>/<64 hex>   verified downloads, named by content
 *   <root>/derived/<sha256 of key>         data computed from verified inputs
 *   <root>/tmp/                            files being written
 *
 * Every file is written under tmp/, fsync'd, then renamed into place, so a
 * reader never sees a partial file and several processes may store the same
 * blob at once (renaming over an identical blob is harmless). Blobs are
 * re-hashed whenever they are handed out; a corrupt one is deleted and
 * reported as absent so the caller downloads it again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BaseimgError } from '../util/errors.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Header of derived entries: magic, then the SHA-256 of the payload. */
const DERIVED_MAGIC = Buffer.from('BIMGDRV1');

/** `$XDG_CACHE_HOME/baseimg`, else `~/.cache/baseimg`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'baseimg');
  return join(env.HOME ?? homedir(), '.cache', 'baseimg');
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Lowercased hash, or a VERIFY error when `value` is not a SHA-256 hex digest. */
export function normalizeSha256(value: string, what = 'checksum'): string {
  const lower = value.toLowerCase();
  if (!SHA256_HEX.test(lower)) throw new BaseimgError('VERIFY', `${what}: "${value}" is not a SHA-256 hex digest`);
  return lower;
}

/** SHA-256 and size of a file, read as a stream. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** A file being written under <root>/tmp; commit or discard it. */
export interface TempFile {
  path: string;
  handle: FileHandle;
}

export class ContentStore {
  readonly root: string;
  private tmpReady: Promise<void> | undefined;
  /**
   * Blobs this store has hashed, with the identity of the file it hashed: a
   * build reads the same blob several times (each level of a layered image
   * unpacks its packages again), and hashing 100 MB again each time adds up.
   */
  private readonly verified = new Map<string, string>();

  constructor(root: string) {
    this.root = root;
  }

  blobPath(sha256: string): string {
    const hex = normalizeSha256(sha256);
    return join(this.root, 'blobs', 'sha256', hex.slice(0, 2), hex);
  }

  /**
   * Path of the blob with this hash, after re-hashing it; undefined when absent
   * or corrupt (a corrupt entry is deleted).
   */
  async getVerified(sha256: string): Promise<{ path: string; size: number } | undefined> {
    const expected = normalizeSha256(sha256);
    const path = this.blobPath(expected);
    let actual: { sha256: string; size: number };
    let inode: number;
    try {
      const info = await stat(path);
      inode = info.ino;
      // Hashed already by this store and untouched since (same inode, size, times): no need to read it again.
      const seen = this.verified.get(expected);
      if (seen !== undefined && seen === fileIdentity(info)) return { path, size: info.size };
      actual = await hashFile(path);
      if (actual.sha256 === expected) this.verified.set(expected, fileIdentity(info));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    if (actual.sha256 === expected) return { path, size: actual.size };
    // Only delete the file we hashed: another process may have just renamed a good copy into place.
    const now = await stat(path).catch(() => undefined);
    if (now?.ino === inode) await unlink(path).catch(() => undefined);
    return undefined;
  }

  /** Opens a new file under tmp/ (also sweeps stale temp files once per store). */
  async createTemp(): Promise<TempFile> {
    await this.ensureTmpDir();
    const path = join(this.root, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}.tmp`);
    const handle = await open(path, 'wx', 0o644);
    return { path, handle };
  }

  /**
   * Moves a fully written and closed temp file into the blob store. The caller
   * has verified that its content hashes to `sha256`.
   */
  async commitTemp(tempPath: string, sha256: string): Promise<string> {
    const path = this.blobPath(sha256);
    await mkdir(join(path, '..'), { recursive: true });
    await rename(tempPath, path);
    return path;
  }

  async discardTemp(temp: TempFile | string): Promise<void> {
    if (typeof temp !== 'string') await temp.handle.close().catch(() => undefined);
    await unlink(typeof temp === 'string' ? temp : temp.path).catch(() => undefined);
  }

  /**
   * Copies the file at `source` into the blob store under `sha256` (the
   * caller knows its hash: it just wrote and hashed it) and returns where it went.
   */
  async putFile(source: string, sha256: string): Promise<string> {
    const temp = await this.createTemp();
    try {
      await temp.handle.close();
      await copyFile(source, temp.path);
      const handle = await open(temp.path, 'r');
      await handle.sync().finally(() => handle.close());
      return await this.commitTemp(temp.path, sha256);
    } catch (err) {
      await this.discardTemp(temp.path);
      throw err;
    }
  }

  /** A blob written in pieces, hashed as it goes, stored under its hash on commit. */
  async writer(): Promise<{ write(chunk: Uint8Array): Promise<void>; commit(): Promise<{ sha256: string; size: number; path: string }>; discard(): Promise<void> }> {
    const temp = await this.createTemp();
    const hash = createHash('sha256');
    let size = 0;
    return {
      write: async (chunk) => {
        hash.update(chunk);
        size += chunk.length;
        let done = 0;
        while (done < chunk.length) done += (await temp.handle.write(chunk, done, chunk.length - done)).bytesWritten;
      },
      commit: async () => {
        const sha256 = hash.digest('hex');
        try {
          await temp.handle.sync();
          await temp.handle.close();
          return { sha256, size, path: await this.commitTemp(temp.path, sha256) };
        } catch (err) {
          await this.discardTemp(temp);
          throw err;
        }
      },
      discard: () => this.discardTemp(temp),
    };
  }

  /** Stores `data` by content and returns where it went. */
  async putBuffer(data: Buffer): Promise<{ path: string; sha256: string; size: number }> {
    const sha256 = sha256Hex(data);
    const temp = await this.writeTemp(data);
    return { path: await this.commitTemp(temp, sha256), sha256, size: data.length };
  }

  /** Derived data stored under `key`, or undefined when absent or damaged. */
  async getDerived(key: string): Promise<Buffer | undefined> {
    const path = this.derivedPath(key);
    let raw: Buffer;
    try {
      raw = await readFile(path);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    const headerLength = DERIVED_MAGIC.length + 32;
    const payload = raw.subarray(headerLength);
    const intact =
      raw.length >= headerLength &&
      raw.subarray(0, DERIVED_MAGIC.length).equals(DERIVED_MAGIC) &&
      createHash('sha256').update(payload).digest().equals(raw.subarray(DERIVED_MAGIC.length, headerLength));
    if (intact) return payload;
    await unlink(path).catch(() => undefined);
    return undefined;
  }

  async putDerived(key: string, data: Buffer): Promise<void> {
    const digest = createHash('sha256').update(data).digest();
    const temp = await this.writeTemp(Buffer.concat([DERIVED_MAGIC, digest, data]));
    const path = this.derivedPath(key);
    await mkdir(join(path, '..'), { recursive: true });
    await rename(temp, path);
  }

  /** Deletes temp files older than `maxAgeMs` (left by crashed builds); returns how many. */
  async cleanStaleTemp(maxAgeMs = DAY_MS, now = Date.now()): Promise<number> {
    const dir = join(this.root, 'tmp');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isMissing(err)) return 0;
      throw err;
    }
    let removed = 0;
    for (const name of names) {
      const path = join(dir, name);
      try {
        if (now - (await stat(path)).mtimeMs > maxAgeMs) {
          await unlink(path);
          removed++;
        }
      } catch {
        // Another process removed or committed it meanwhile.
      }
    }
    return removed;
  }

  private derivedPath(key: string): string {
    return join(this.root, 'derived', sha256Hex(key));
  }

  private async writeTemp(data: Buffer): Promise<string> {
    const temp = await this.createTemp();
    try {
      await temp.handle.writeFile(data);
      await temp.handle.sync();
      await temp.handle.close();
      return temp.path;
    } catch (err) {
      await this.discardTemp(temp);
      throw err;
    }
  }

  private ensureTmpDir(): Promise<void> {
    this.tmpReady ??= (async () => {
      await mkdir(join(this.root, 'tmp'), { recursive: true });
      // Opportunistic: a failed sweep must not fail the build.
      void this.cleanStaleTemp().catch(() => undefined);
    })();
    return this.tmpReady.catch((err: unknown) => {
      this.tmpReady = undefined;
      throw err;
    });
  }
}

/** What changes when a file is replaced or written to. */
function fileIdentity(info: { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
