/** Where a spec's lock lives, and reading and writing it (atomically). */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { BaseimgError } from '../util/errors.js';
import { parseLock, serializeLock } from './format.js';
import type { LockFile } from './types.js';

/** "specs/static.toml" → "specs/static.lock.json": beside the spec, so both are committed together. */
export function defaultLockPath(specFile: string): string {
  const abs = resolve(specFile);
  return join(dirname(abs), `${basename(abs).replace(/\.toml$/i, '')}.lock.json`);
}

export async function readLockFile(path: string, specFile: string): Promise<LockFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new BaseimgError('LOCK', `no lock file ${path}`, { hint: `create it with: baseimg lock ${specFile}` });
    }
    throw new BaseimgError('LOCK', `cannot read lock file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseLock(text, path);
}

export async function writeLockFile(path: string, lock: LockFile, signal?: AbortSignal): Promise<void> {
  const bytes = Buffer.from(serializeLock(lock), 'utf8');
  await writeFileAtomic(path, (out) => out.write(bytes), { signal });
}
