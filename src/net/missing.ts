/**
 * Reporting every missing file at once. An --offline build that lacks ten
 * files should say so once, not one file per attempt; the same goes for a
 * --locked build whose mirror no longer has some of the locked packages.
 * Stages run their downloads to the end, collect the failures, and hand
 * them to collectFailures.
 */
import { BaseimgError } from '../util/errors.js';
import { isNotFoundError } from './http.js';

/** A file an --offline run needed but the cache does not hold. */
export class CacheMissError extends BaseimgError {
  constructor(
    readonly what: string,
    readonly url: string,
    detail: string,
    readonly cacheDir: string,
  ) {
    super('NETWORK', `offline: ${what} is missing from the cache (${detail})`, {
      hint: `run once without --offline to fill the cache at ${cacheDir}`,
    });
    this.name = 'CacheMissError';
  }
}

export function isCacheMiss(err: unknown): err is CacheMissError {
  return err instanceof CacheMissError;
}

export interface Failure<S = unknown> {
  error: unknown;
  /** What was being fetched (a package, an index), for the caller's own message. */
  subject: S;
}

export interface CollectOptions<S> {
  /** Turns the files the server answered 404/410 for into one error (default: the first one's own error). */
  notFound?: (gone: Array<Failure<S>>) => BaseimgError;
  /** Rewords a file that failed verification (default: its own error). */
  mismatch?: (failure: Failure<S>) => BaseimgError;
}

/**
 * Throws for a non-empty list of failures: the first one that is neither a
 * cache miss nor a 404 as itself (it is unexpected); else one error naming
 * every missing file.
 */
export function collectFailures<S>(failures: Array<Failure<S>>, options: CollectOptions<S> = {}): void {
  if (failures.length === 0) return;
  const misses = failures.filter((f) => isCacheMiss(f.error));
  const gone = failures.filter((f) => isNotFoundError(f.error));
  const other = failures.find((f) => !misses.includes(f) && !gone.includes(f));
  if (other !== undefined) {
    const verify = other.error instanceof BaseimgError && other.error.code === 'VERIFY';
    throw verify && options.mismatch ? options.mismatch(other) : other.error;
  }
  if (gone.length > 0) throw options.notFound ? options.notFound(gone) : gone[0]!.error;
  throw offlineError(misses.map((f) => f.error as CacheMissError));
}

function offlineError(misses: CacheMissError[]): BaseimgError {
  if (misses.length === 1) return misses[0]!;
  const lines = misses.map((m) => `  ${m.what}: ${m.url}`);
  return new BaseimgError('NETWORK', `offline: ${misses.length} files are missing from the cache:\n${lines.join('\n')}`, {
    hint: misses[0]!.hint,
  });
}

/** Like Promise.all, but waits for every promise and then reports all failures together (see collectFailures). */
export async function settleAll<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failures: Array<Failure<number>> = [];
  settled.forEach((s, i) => {
    if (s.status === 'rejected') failures.push({ error: s.reason, subject: i });
  });
  collectFailures(failures);
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
