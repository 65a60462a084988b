/**
 * One registry's HTTP side: requests over an undici pool, the Authorization
 * header from the Authorizer (a 401 is answered once by authenticating and
 * sending again), retries with exponential backoff and jitter for what may
 * pass (connection errors, timeouts, 408, 429, 5xx; Retry-After honoured),
 * and registry error bodies turned into one-line messages.
 */
import { Agent, type Dispatcher } from '../net/undici.js';
import { defaultSleep } from '../net/http.js';
import { BaseimgError } from '../util/errors.js';
import { Authorizer } from './auth.js';
import type { CredentialLookup } from './credentials.js';

export interface TransportOptions {
  /** As the user named it, for messages ("127.0.0.1:5000"). */
  registry: string;
  /** "https://host[:port]" or, with --insecure, "http://…". */
  baseUrl: string;
  credentials: CredentialLookup;
  /** Retries after the first attempt (default 4). */
  retries?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  idleTimeoutMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  signal?: AbortSignal | undefined;
  onRetry?: (info: { what: string; attempt: number; delayMs: number; cause: string }) => void;
  /** Injectable (tests); default: a pool of keep-alive connections per origin. */
  dispatcher?: Dispatcher;
}

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH';

export interface RegistryRequest {
  method: Method;
  /** A path on the registry ("/v2/…") or an absolute URL (an upload's Location). */
  url: string;
  headers?: Record<string, string>;
  /** Called for every attempt, so a body can be sent again. */
  body?: () => Buffer | AsyncIterable<Uint8Array>;
  /** Token scopes the request needs ("repository:team/app:pull,push"). */
  scopes: string[];
  /** For messages: "blob sha256:ab… of team/app". */
  what: string;
  /** Retry transient failures here (default true); uploads retry at the blob level. */
  retry?: boolean;
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The absolute URL that answered. */
  url: string;
}

/** A failure another attempt may fix; `cause` is a short description. */
export class TransientRegistryError extends Error {
  constructor(
    cause: string,
    readonly retryAfterMs?: number,
  ) {
    super(cause);
  }
}

/** Response bodies we read (errors, manifests, tokens) are small. */
const MAX_BODY = 4 << 20;

export class RegistryTransport {
  readonly auth: Authorizer;
  readonly dispatcher: Dispatcher;
  private readonly ownDispatcher: boolean;
  /** Requests sent, by "METHOD path-kind" (tests and --json count them). */
  readonly counts = new Map<string, number>();

  constructor(private readonly options: TransportOptions) {
    const idle = options.idleTimeoutMs ?? 60_000;
    this.ownDispatcher = options.dispatcher === undefined;
    this.dispatcher = options.dispatcher ?? new Agent({ connections: 8, connect: { timeout: 15_000 }, headersTimeout: idle, bodyTimeout: idle });
    this.auth = new Authorizer({ registry: options.registry, credentials: options.credentials, dispatcher: this.dispatcher, signal: options.signal });
  }

  get registry(): string {
    return this.options.registry;
  }

  /** An absolute URL for a registry path or a Location header (relative ones resolve against the registry). */
  resolve(url: string): URL {
    try {
      return new URL(url, this.options.baseUrl);
    } catch {
      throw new BaseimgError('NETWORK', `registry ${this.options.registry} sent an invalid URL ${JSON.stringify(url)}`);
    }
  }

  /** Send with authentication and retries; any status comes back (the caller decides what it means). */
  async send(req: RegistryRequest): Promise<RegistryResponse> {
    const attempts = (req.retry === false ? 0 : (this.options.retries ?? 4)) + 1;
    let authRounds = 0;
    for (let attempt = 1; ; ) {
      this.options.signal?.throwIfAborted();
      try {
        const sentAuth = this.auth.header(req.scopes) !== undefined;
        const response = await this.once(req);
        if (response.status === 401) {
          // Sent credentials and still 401: Basic is final; a token may lack a scope, so one more round.
          if (sentAuth && (!this.auth.usesTokens || authRounds >= 1)) throw this.auth.rejected(req.what, registryErrorText(response));
          if (authRounds >= 2) throw this.auth.rejected(req.what, registryErrorText(response));
          authRounds++;
          await this.auth.challenge(response.headers['www-authenticate'], req.scopes, req.what);
          if (this.auth.header(req.scopes) === undefined) throw this.auth.rejected(req.what, registryErrorText(response));
          continue;
        }
        if (response.status === 408 || response.status === 429 || response.status >= 500) {
          throw new TransientRegistryError(`HTTP ${response.status}${registryErrorText(response) ? ` ${registryErrorText(response)}` : ''}`, parseRetryAfter(header(response.headers, 'retry-after')));
        }
        return response;
      } catch (e) {
        if (this.options.signal?.aborted) throw this.options.signal.reason;
        if (!(e instanceof TransientRegistryError)) throw e;
        if (attempt >= attempts) {
          if (req.retry === false) throw e;
          throw new BaseimgError('NETWORK', `registry ${this.options.registry}: ${req.what}: ${e.message} (${attempts} attempt${attempts === 1 ? '' : 's'})`, {
            hint: 'check that the registry is up and reachable; for plain http on this machine add --insecure',
          });
        }
        await this.pause(req.what, attempt, e);
        attempt++;
      }
    }
  }

  async close(): Promise<void> {
    if (this.ownDispatcher) await this.dispatcher.close();
  }

  private async once(req: RegistryRequest): Promise<RegistryResponse> {
    const url = this.resolve(req.url);
    const headers: Record<string, string> = { 'user-agent': 'baseimg', ...req.headers };
    // Credentials go to the registry's own origin only, never to a storage redirect elsewhere.
    const authorization = url.origin === new URL(this.options.baseUrl).origin ? this.auth.header(req.scopes) : undefined;
    if (authorization) headers.authorization = authorization;
    const kind = `${req.method} ${pathKind(url.pathname)}`;
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    let response: Dispatcher.ResponseData;
    try {
      response = await this.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: req.method,
        headers,
        body: req.body?.() as Dispatcher.DispatchOptions['body'],
        signal: this.options.signal,
      });
    } catch (e) {
      if (e instanceof BaseimgError) throw e;
      throw transient(e, url, this.options.registry);
    }
    let body: Buffer;
    try {
      body = req.method === 'HEAD' ? Buffer.alloc(0) : await readCapped(response.body);
    } catch (e) {
      throw transient(e, url, this.options.registry);
    }
    return { status: response.statusCode, headers: response.headers, body, url: url.href };
  }

  /** Retries after the first attempt, for callers that retry a whole sequence (blob uploads). */
  get retries(): number {
    return this.options.retries ?? 4;
  }

  /** Wait before retry `attempt` (1-based) of `what`, reporting it. */
  async pause(what: string, attempt: number, cause: TransientRegistryError): Promise<void> {
    const delayMs = this.backoff(attempt, cause.retryAfterMs);
    this.options.onRetry?.({ what, attempt, delayMs, cause: cause.message });
    await (this.options.sleep ?? defaultSleep)(delayMs, this.options.signal);
  }

  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    const base = this.options.backoffBaseMs ?? 500;
    const exponential = Math.min(this.options.backoffMaxMs ?? 10_000, base * 2 ** (attempt - 1));
    const jittered = Math.round(exponential * (0.5 + (this.options.random ?? Math.random)() * 0.5));
    return retryAfterMs === undefined ? jittered : Math.min(Math.max(jittered, retryAfterMs), 60_000);
  }
}

/** "/v2/team/app/blobs/uploads/…" → "blobs/uploads"; for request counts. */
function pathKind(path: string): string {
  if (/\/blobs\/uploads\//.test(path)) return 'blobs/uploads';
  if (/\/blobs\//.test(path)) return 'blobs';
  if (/\/manifests\//.test(path)) return 'manifests';
  return path;
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) {
      body.destroy();
      throw new BaseimgError('NETWORK', `a registry response body is larger than ${MAX_BODY} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function header(headers: RegistryResponse['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The registry's own words: {"errors":[{"code":"DENIED","message":"…"}]} → "DENIED: …". */
export function registryErrorText(response: RegistryResponse): string {
  if (response.body.length === 0) return '';
  try {
    const doc = JSON.parse(response.body.toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    if (Array.isArray(doc.errors) && doc.errors.length > 0) {
      return doc.errors
        .map((e) => [e.code, e.message].filter((x) => typeof x === 'string' && x !== '').join(': '))
        .filter(Boolean)
        .join('; ');
    }
  } catch {
    // not JSON: fall through to the text itself
  }
  return response.body.toString('utf8').trim().split('\n')[0]!.slice(0, 200);
}

function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function transient(e: unknown, url: URL, registry: string): Error {
  if ((e as Error | undefined)?.name === 'AbortError') return e as Error;
  const code = errorCode(e);
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO' || /wrong version number/i.test(String((e as Error)?.message))) {
    return new BaseimgError('NETWORK', `registry ${registry} does not speak TLS at ${url.origin}`, {
      hint: 'a registry on this machine without TLS needs --insecure (plain http)',
    });
  }
  return new TransientRegistryError(code ?? (e instanceof Error ? e.message : String(e)));
}

function errorCode(e: unknown): string | undefined {
  const x = e as { code?: unknown; errors?: unknown[]; cause?: unknown } | undefined;
  if (typeof x?.code === 'string') return x.code;
  if (Array.isArray(x?.errors) && x.errors.length > 0) return errorCode(x.errors[0]);
  if (x?.cause !== undefined && x.cause !== e) return errorCode(x.cause);
  return undefined;
}
