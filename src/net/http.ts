/**
 * Downloads into the content store: HTTP(S) over undici (one connection pool
 * per origin, reused across requests) and file:// from disk.
 *
 * Each attempt streams the body into a temp file while hashing it. Transient
 * failures (connection errors, timeouts, stalls, truncated bodies, 5xx, 408,
 * 429) are retried from byte zero, because mirrors and proxies may ignore
 * Range, with exponential backoff and jitter. Missing files (404/410) and
 * checksum mismatches fail at once. Bytes that do not match the expected
 * hash or size are deleted and never enter the cache.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from './undici.js';
import type { DownloadOptions, DownloadResult } from '../pipeline/context.js';
import type { ContentStore, TempFile } from '../cache/cas.js';
import { normalizeSha256 } from '../cache/cas.js';
import { BaseimgError } from '../util/errors.js';

export interface HttpClientOptions {
  /** Retries after the first attempt (default 4). */
  retries?: number;
  connectTimeoutMs?: number;
  /** Longest wait for response headers or for the next body chunk (default 30 s). */
  idleTimeoutMs?: number;
  maxRedirects?: number;
  /** Parallel connections per origin (default 8). */
  connectionsPerOrigin?: number;
  /** First backoff delay; doubles per retry up to backoffMaxMs, then jittered to 50–100 %. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Injectable for tests: must reject with the signal's reason when it aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /** Called before each retry (for progress output). */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; cause: string }) => void;
  /** Proxy variables are honoured when set here (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface DownloadRequest extends DownloadOptions {
  signal?: AbortSignal;
}

/** A response status that ends the download; `status` 404 also stands for a missing file:// path. */
export class HttpStatusError extends BaseimgError {
  readonly status: number;
  readonly url: string;

  constructor(url: string, status: number, statusText = '') {
    const notFound = status === 404 || status === 410;
    super('NETWORK', notFound ? `${url} not found (HTTP ${status})` : `${url}: HTTP ${status}${statusText ? ` ${statusText}` : ''}`, {
      hint: notFound ? undefined : NETWORK_HINT,
    });
    this.status = status;
    this.url = url;
  }
}

/** True for "the server says this file does not exist" (HTTP 404/410, missing local file). */
export function isNotFoundError(err: unknown): err is HttpStatusError {
  return err instanceof HttpStatusError && (err.status === 404 || err.status === 410);
}

const NETWORK_HINT =
  'check the network connection and the mirror URL (Debian: source.mirror in the spec or BASEIMG_DEBIAN_MIRROR; Alpine: source.repositories)';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A failure worth another attempt; `cause` is a short description for messages. */
class TransientError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(cause: string, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(cause, options);
    this.retryAfterMs = retryAfterMs;
  }
}

export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class HttpClient {
  private readonly retries: number;
  private readonly idleTimeoutMs: number;
  private readonly maxRedirects: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly onRetry: HttpClientOptions['onRetry'];
  /** Keeps one pool of up to `connectionsPerOrigin` keep-alive connections per origin. */
  private readonly dispatcher: Dispatcher;

  constructor(options: HttpClientOptions = {}) {
    this.retries = options.retries ?? 4;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.maxRedirects = options.maxRedirects ?? 5;
    this.backoffBaseMs = options.backoffBaseMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 10_000;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.onRetry = options.onRetry;
    const agentOptions = {
      connections: options.connectionsPerOrigin ?? 8,
      connect: { timeout: options.connectTimeoutMs ?? 15_000 },
      headersTimeout: this.idleTimeoutMs,
      bodyTimeout: this.idleTimeoutMs,
    };
    const env = options.env ?? process.env;
    const proxied = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].some((k) => env[k]);
    // The proxy settings are passed on, not left for undici to read from process.env: `env` is the environment we were given.
    const proxyOptions = {
      httpProxy: env.http_proxy ?? env.HTTP_PROXY,
      httpsProxy: env.https_proxy ?? env.HTTPS_PROXY,
      noProxy: env.no_proxy ?? env.NO_PROXY ?? '',
    };
    this.dispatcher = proxied ? new EnvHttpProxyAgent({ ...agentOptions, ...proxyOptions }) : new Agent(agentOptions);
  }

  /**
   * Downloads `url` into `store`, verifying `sha256`/`size` when given, and
   * returns the committed blob.
   */
  async download(url: string, store: ContentStore, request: DownloadRequest = {}): Promise<DownloadResult> {
    const expected = request.sha256 === undefined ? undefined : normalizeSha256(request.sha256, `expected checksum of ${url}`);
    const attempts = this.retries + 1;
    let lastCause = '';
    for (let attempt = 1; ; attempt++) {
      request.signal?.throwIfAborted();
      try {
        return await this.attempt(url, store, { ...request, sha256: expected });
      } catch (err) {
        if (request.signal?.aborted) throw request.signal.reason;
        if (!(err instanceof TransientError)) throw err;
        lastCause = err.message;
        if (attempt >= attempts) {
          throw new BaseimgError(
            'NETWORK',
            `cannot download ${url}: ${lastCause} (${attempts} attempt${attempts === 1 ? '' : 's'})`,
            { hint: NETWORK_HINT, cause: err.cause ?? err },
          );
        }
        const delayMs = this.backoff(attempt, err.retryAfterMs);
        this.onRetry?.({ url, attempt, delayMs, cause: lastCause });
        await this.sleep(delayMs, request.signal);
      }
    }
  }

  private closing: Promise<void> | undefined;

  /** Closes idle connections. Once: closing undici's EnvHttpProxyAgent a second time never settles. */
  close(): Promise<void> {
    this.closing ??= this.dispatcher.close();
    return this.closing;
  }

  /** Delay before retry number `attempt` (1-based): exponential, capped, jittered to 50–100 %. */
  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    const exponential = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 1));
    const jittered = Math.round(exponential * (0.5 + this.random() * 0.5));
    // A server-requested pause wins, within reason.
    return retryAfterMs === undefined ? jittered : Math.min(Math.max(jittered, retryAfterMs), 60_000);
  }

  private async attempt(url: string, store: ContentStore, request: DownloadRequest): Promise<DownloadResult> {
    let current = url;
    for (let redirects = 0; ; redirects++) {
      const parsed = parseUrl(current);
      // A server must not be able to redirect us into the local file system.
      if (parsed.protocol === 'file:' && redirects === 0) return this.readLocal(url, parsed, store, request);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw new BaseimgError('NETWORK', `${current}: unsupported URL scheme ${parsed.protocol}${redirects > 0 ? ` (redirected from ${url})` : ''}`);
      }
      let response: Dispatcher.ResponseData;
      try {
        response = await this.dispatcher.request({
          origin: parsed.origin,
          path: parsed.pathname + parsed.search,
          method: 'GET',
          headers: { 'user-agent': 'baseimg', 'accept-encoding': 'identity' },
          signal: request.signal,
        });
      } catch (err) {
        throw transient(err, this.idleTimeoutMs);
      }
      const status = response.statusCode;
      if (REDIRECT_STATUSES.has(status)) {
        await response.body.dump().catch(() => undefined);
        const location = header(response.headers, 'location');
        if (location === undefined) throw new BaseimgError('NETWORK', `${current}: HTTP ${status} without a Location header`);
        if (redirects >= this.maxRedirects) {
          throw new BaseimgError('NETWORK', `${url}: more than ${this.maxRedirects} redirects (last to ${location})`);
        }
        current = parseUrl(location, current).href;
        continue;
      }
      if (status !== 200) {
        await response.body.dump().catch(() => undefined);
        if (status === 408 || status === 429 || status >= 500) {
          throw new TransientError(`HTTP ${status}`, parseRetryAfter(header(response.headers, 'retry-after')));
        }
        throw new HttpStatusError(current === url ? url : `${url} (redirected to ${current})`, status);
      }
      const lengthHeader = header(response.headers, 'content-length');
      const contentLength = lengthHeader === undefined ? undefined : Number(lengthHeader);
      try {
        checkAnnouncedLength(url, contentLength, request);
      } catch (err) {
        await response.body.dump().catch(() => undefined);
        throw err;
      }
      return this.receive(url, response.body, contentLength, store, request);
    }
  }

  private async readLocal(url: string, parsed: URL, store: ContentStore, request: DownloadRequest): Promise<DownloadResult> {
    const stream = createReadStream(fileURLToPath(parsed), { highWaterMark: 1 << 20 });
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve());
        stream.once('error', reject);
      });
    } catch (err) {
      stream.destroy();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new HttpStatusError(url, 404);
      throw new BaseimgError('NETWORK', `cannot read ${url}: ${(err as Error).message}`, { cause: err });
    }
    return this.receive(url, stream, undefined, store, request, false);
  }

  /** Streams `body` into a temp file, hashing and bounding it, then verifies and commits. */
  private async receive(
    url: string,
    body: AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => void },
    contentLength: number | undefined,
    store: ContentStore,
    request: DownloadRequest,
    network = true,
  ): Promise<DownloadResult> {
    const limit = Math.min(request.size ?? Infinity, request.maxBytes ?? Infinity);
    const hash = createHash('sha256');
    let received = 0;
    let temp: TempFile | undefined;
    let committed = false;
    const iterator = body[Symbol.asyncIterator]();
    try {
      temp = await store.createTemp();
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await iterator.next();
        } catch (err) {
          if (!network) throw new BaseimgError('NETWORK', `cannot read ${url}: ${(err as Error).message}`, { cause: err });
          const failure = transient(err, this.idleTimeoutMs);
          if (!(failure instanceof TransientError)) throw failure;
          const of = contentLength === undefined ? '' : ` of ${contentLength}`;
          throw new TransientError(`${failure.message} after ${received}${of} bytes`, undefined, { cause: err });
        }
        if (next.done === true) break;
        const chunk = next.value;
        received += chunk.length;
        if (received > limit) throw tooLarge(url, received, request);
        hash.update(chunk);
        await writeAll(temp, chunk);
        request.onBytes?.(chunk.length);
      }
      if (contentLength !== undefined && received !== contentLength) {
        throw new TransientError(`truncated body: received ${received} of ${contentLength} bytes`);
      }
      const sha256 = hash.digest('hex');
      if (request.size !== undefined && received !== request.size) {
        throw new BaseimgError('VERIFY', `${describe(url, request)}: size mismatch: expected ${request.size} bytes, got ${received}`);
      }
      if (request.sha256 !== undefined && sha256 !== request.sha256) {
        throw new BaseimgError('VERIFY', `${describe(url, request)}: checksum mismatch: expected sha256 ${request.sha256}, got ${sha256}`, {
          hint: 'the mirror may be in the middle of an update; try again later or use another mirror',
        });
      }
      await temp.handle.sync();
      await temp.handle.close();
      const path = await store.commitTemp(temp.path, sha256);
      committed = true;
      return { path, sha256, size: received };
    } finally {
      if (!committed) {
        // Drop the connection (a half-read body cannot be reused) and the bad bytes.
        await iterator.return?.().catch(() => undefined);
        body.destroy?.();
        if (temp !== undefined) await store.discardTemp(temp);
      }
    }
  }
}

async function writeAll(temp: TempFile, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    const { bytesWritten } = await temp.handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

function parseUrl(value: string, base?: string): URL {
  try {
    return new URL(value, base);
  } catch {
    throw new BaseimgError('NETWORK', `invalid URL "${value}"${base === undefined ? '' : ` (redirect from ${base})`}`);
  }
}

function describe(url: string, request: DownloadOptions): string {
  return request.what === undefined ? url : `${request.what} (${url})`;
}

function tooLarge(url: string, received: number, request: DownloadOptions): BaseimgError {
  if (request.size !== undefined && received > request.size) {
    return new BaseimgError('VERIFY', `${describe(url, request)}: size mismatch: expected ${request.size} bytes, got more`);
  }
  return new BaseimgError('VERIFY', `${describe(url, request)}: larger than the limit of ${request.maxBytes} bytes`);
}

/** Fails before reading the body when Content-Length already contradicts what we expect. */
function checkAnnouncedLength(url: string, contentLength: number | undefined, request: DownloadOptions): void {
  if (contentLength === undefined || !Number.isFinite(contentLength)) return;
  if (request.size !== undefined && contentLength !== request.size) {
    throw new BaseimgError('VERIFY', `${describe(url, request)}: size mismatch: expected ${request.size} bytes, server announces ${contentLength}`);
  }
  if (request.maxBytes !== undefined && contentLength > request.maxBytes) {
    throw tooLarge(url, contentLength, request);
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Retry-After in ms: delta-seconds or an HTTP date. */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

const UNDICI_CAUSES: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'truncated body (Content-Length mismatch)',
  // getaddrinfo's codes alone do not say "DNS" to most readers.
  ENOTFOUND: 'host name not found (DNS lookup failed, ENOTFOUND)',
  EAI_AGAIN: 'host name lookup failed temporarily (DNS, EAI_AGAIN)',
};

/** Wraps a network-level failure as retryable, with a short description (ECONNREFUSED, timeout…). */
function transient(err: unknown, idleTimeoutMs: number): Error {
  if (err instanceof BaseimgError || (err as Error | undefined)?.name === 'AbortError') return err as Error;
  const code = errorCode(err);
  let cause: string;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') cause = `timeout: no response within ${idleTimeoutMs / 1000} s`;
  else if (code === 'UND_ERR_BODY_TIMEOUT') cause = `timeout: download stalled for ${idleTimeoutMs / 1000} s`;
  else if (code !== undefined && UNDICI_CAUSES[code] !== undefined) cause = UNDICI_CAUSES[code];
  else if (code !== undefined) cause = code;
  else cause = err instanceof Error ? err.message : String(err);
  return new TransientError(cause, undefined, { cause: err });
}

/** The errno-style code of an error, looking inside AggregateError (dual-stack connect). */
function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[]; cause?: unknown } | undefined;
  if (typeof e?.code === 'string') return e.code;
  if (Array.isArray(e?.errors) && e.errors.length > 0) return errorCode(e.errors[0]);
  if (e?.cause !== undefined && e.cause !== err) return errorCode(e.cause);
  return undefined;
}
