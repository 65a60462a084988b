/**
 * The pipeline's Fetcher and DerivedCache: the HTTP client and the content
 * store put together.
 *
 *  - With a known sha256, a verified cached blob is returned without any
 *    network access; otherwise the file is downloaded and checked.
 *  - Without one (InRelease, APKINDEX), the file is always downloaded, then
 *    stored by content, and the URL → hash mapping is remembered so that an
 *    --offline build can use the copy fetched last time (its signature and
 *    dates are still checked by the caller).
 *  - Concurrent requests for the same file in one process share one download.
 */
import { readFile } from 'node:fs/promises';
import type { BlobCache, DerivedCache, DownloadOptions, DownloadResult, Fetcher, Reporter } from '../pipeline/context.js';
import { ContentStore, normalizeSha256 } from '../cache/cas.js';
import { HttpClient, type HttpClientOptions } from './http.js';
import { CacheMissError } from './missing.js';

export interface FetcherOptions {
  cacheDir: string;
  offline: boolean;
  reporter?: Reporter;
  signal?: AbortSignal;
  retries?: number;
  idleTimeoutMs?: number;
  /** Lower-level HTTP settings (tests inject sleep/backoff here). */
  http?: HttpClientOptions;
}

export interface FetcherHandle {
  fetcher: Fetcher;
  derived: DerivedCache;
  blobs: BlobCache;
  /** Closes idle connections; call once the build is done. */
  close(): Promise<void>;
}

/** Derived-cache key under which the last download of a URL is recorded. */
const urlKey = (url: string): string => `fetched-url/v1/${url}`;

export function createFetcher(options: FetcherOptions): FetcherHandle {
  const store = new ContentStore(options.cacheDir);
  const reporter = options.reporter;
  const http = new HttpClient({
    ...options.http,
    retries: options.retries ?? options.http?.retries,
    idleTimeoutMs: options.idleTimeoutMs ?? options.http?.idleTimeoutMs,
    onRetry: (info) => {
      reporter?.info(`retrying ${info.url} in ${(info.delayMs / 1000).toFixed(1)} s (attempt ${info.attempt + 1}): ${info.cause}`);
      options.http?.onRetry?.(info);
    },
  });
  const inFlight = new Map<string, Promise<DownloadResult>>();

  async function fetchByHash(url: string, sha256: string, opts: DownloadOptions): Promise<DownloadResult> {
    const cached = await store.getVerified(sha256);
    if (cached !== undefined) {
      reporter?.debug(`cache hit ${url}`);
      return { path: cached.path, sha256, size: cached.size };
    }
    if (options.offline) {
      throw new CacheMissError(opts.what ?? url, url, `${url}, sha256 ${sha256}`, options.cacheDir);
    }
    reporter?.debug(`download ${url}`);
    return http.download(url, store, { ...opts, sha256, signal: options.signal });
  }

  async function fetchLatest(url: string, opts: DownloadOptions): Promise<DownloadResult> {
    if (options.offline) {
      const recorded = await lastFetched(url);
      if (recorded !== undefined) {
        const cached = await store.getVerified(recorded.sha256);
        if (cached !== undefined) {
          reporter?.debug(`offline: using the copy of ${url} fetched earlier`);
          return { path: cached.path, sha256: recorded.sha256, size: cached.size };
        }
      }
      throw new CacheMissError(opts.what ?? url, url, url, options.cacheDir);
    }
    reporter?.debug(`download ${url}`);
    const result = await http.download(url, store, { ...opts, signal: options.signal });
    await store.putDerived(urlKey(url), Buffer.from(JSON.stringify({ sha256: result.sha256 })));
    return result;
  }

  async function lastFetched(url: string): Promise<{ sha256: string } | undefined> {
    const raw = await store.getDerived(urlKey(url));
    if (raw === undefined) return undefined;
    try {
      const parsed = JSON.parse(raw.toString('utf8')) as { sha256?: unknown };
      return typeof parsed.sha256 === 'string' ? { sha256: normalizeSha256(parsed.sha256) } : undefined;
    } catch {
      return undefined;
    }
  }

  const fetcher: Fetcher = {
    async fetchFile(url, opts = {}) {
      const sha256 = opts.sha256 === undefined ? undefined : normalizeSha256(opts.sha256, `expected checksum of ${url}`);
      // Files without a hash may change between requests, so only hashed ones are shared.
      if (sha256 === undefined) return fetchLatest(url, opts);
      const key = `${sha256} ${url}`;
      let pending = inFlight.get(key);
      if (pending === undefined) {
        pending = fetchByHash(url, sha256, opts).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return pending;
    },
    async fetchBuffer(url, opts = {}) {
      const result = await fetcher.fetchFile(url, opts);
      return readFile(result.path);
    },
  };

  const derived: DerivedCache = {
    get: (key) => store.getDerived(key),
    put: (key, data) => store.putDerived(key, data),
  };

  const blobs: BlobCache = {
    get: async (sha256) => (await store.getVerified(sha256))?.path,
    put: (path, sha256) => store.putFile(path, sha256),
    writer: () => store.writer(),
  };

  return { fetcher, derived, blobs, close: () => http.close() };
}
