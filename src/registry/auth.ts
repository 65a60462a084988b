/**
 * The Authorization header for registry requests, from the challenges the
 * registry answers 401 with (the distribution "token" flow):
 *  - Basic: the credentials, sent with every later request;
 *  - Bearer realm/service/scope: a token fetched from the realm (with the
 *    credentials as Basic when there are any, anonymously otherwise) for
 *    the scopes the request needs, cached per set of scopes until it expires.
 * No challenge, no header: anonymous registries never see credentials.
 */
import type { Dispatcher } from '../net/undici.js';
import { BaseimgError } from '../util/errors.js';
import { parseChallenges, type Challenge } from './challenge.js';
import type { CredentialLookup } from './credentials.js';

/** Tokens without expires_in live 60 s (distribution's token spec); renewed 10 s early. */
const DEFAULT_TOKEN_SECONDS = 60;
const EARLY_RENEWAL_MS = 10_000;

export interface AuthorizerOptions {
  registry: string;
  credentials: CredentialLookup;
  dispatcher: Dispatcher;
  signal?: AbortSignal | undefined;
  now?: () => number;
}

interface Token {
  value: string;
  expiresAt: number;
}

export class Authorizer {
  private basic = false;
  private bearer: { realm: string; service: string | undefined } | undefined;
  private readonly tokens = new Map<string, Token>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly now: () => number;
  /** Token requests made (tests count them). */
  tokenRequests = 0;

  constructor(private readonly options: AuthorizerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The registry uses the token flow (a later 401 may ask for another scope). */
  get usesTokens(): boolean {
    return this.bearer !== undefined;
  }

  get credentialSource(): string | undefined {
    return this.options.credentials.credentials?.source;
  }

  /** The header to send for a request needing `scopes`, when one is known. */
  header(scopes: readonly string[]): string | undefined {
    if (this.bearer) {
      const t = this.tokens.get(scopeKey(scopes));
      return t && t.expiresAt > this.now() ? `Bearer ${t.value}` : undefined;
    }
    return this.basic ? basicHeader(this.options.credentials) : undefined;
  }

  /**
   * Prepare a header after a 401 with `wwwAuthenticate`. Throws when the
   * registry wants credentials and there are none, or the token service refuses.
   */
  async challenge(wwwAuthenticate: string | string[] | undefined, scopes: readonly string[], what: string): Promise<void> {
    const challenges = parseChallenges(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      this.bearer = { realm: bearer.params.realm!, service: bearer.params.service };
      const all = [...new Set([...scopes, ...(bearer.params.scope ? bearer.params.scope.split(' ') : [])])];
      // Requests in flight together share one token request per set of scopes.
      const key = scopeKey(all);
      let pending = this.pending.get(key);
      if (!pending) {
        pending = this.fetchToken(bearer, scopes, all, what).finally(() => this.pending.delete(key));
        this.pending.set(key, pending);
      }
      await pending;
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (!this.options.credentials.credentials) throw this.noCredentials(what, 'Basic');
      this.basic = true;
      return;
    }
    throw new BaseimgError('NETWORK', `registry ${this.options.registry} answered HTTP 401 for ${what} without a usable WWW-Authenticate challenge (${JSON.stringify(wwwAuthenticate ?? '')})`, {
      hint: 'baseimg supports Basic and Bearer (token) authentication',
    });
  }

  /** The error for a 401 that persists after authenticating. */
  rejected(what: string, detail: string): BaseimgError {
    const creds = this.options.credentials.credentials;
    if (!creds) return this.noCredentials(what, this.bearer ? 'Bearer' : 'Basic', detail);
    return new BaseimgError('NETWORK', `registry ${this.options.registry} rejected the credentials from ${creds.source} for ${what}${detail ? ` (${detail})` : ''}`, {
      hint: 'check the user name and password (or token) for this registry, and that the user may push to this repository',
    });
  }

  private noCredentials(what: string, scheme: string, detail = ''): BaseimgError {
    const notes = this.options.credentials.notes;
    return new BaseimgError('NETWORK', `registry ${this.options.registry} requires authentication (${scheme}) for ${what} and no credentials were found${detail ? ` (${detail})` : ''}`, {
      hint: `set BASEIMG_REGISTRY_USER and BASEIMG_REGISTRY_PASSWORD, or log in with \`docker login ${this.options.registry}\` (~/.docker/config.json, or $DOCKER_CONFIG)${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`,
    });
  }

  private async fetchToken(challenge: Challenge, requested: readonly string[], scopes: string[], what: string): Promise<void> {
    const realm = parseRealm(challenge.params.realm!, this.options.registry);
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    for (const s of scopes) realm.searchParams.append('scope', s);
    const creds = this.options.credentials.credentials;
    if (creds) realm.searchParams.set('account', creds.username);
    const headers: Record<string, string> = { 'user-agent': 'baseimg', accept: 'application/json' };
    if (creds) headers.authorization = basicHeader(this.options.credentials)!;
    this.tokenRequests++;
    let response: Dispatcher.ResponseData;
    try {
      response = await this.options.dispatcher.request({ origin: realm.origin, path: realm.pathname + realm.search, method: 'GET', headers, signal: this.options.signal });
    } catch (e) {
      this.options.signal?.throwIfAborted();
      throw new BaseimgError('NETWORK', `cannot reach the token service ${realm.origin}${realm.pathname} of registry ${this.options.registry}: ${(e as Error).message}`, { cause: e });
    }
    const text = await response.body.text();
    if (response.statusCode === 401 || response.statusCode === 403) {
      throw creds
        ? this.rejected(what, `token service answered HTTP ${response.statusCode}`)
        : this.noCredentials(what, 'Bearer', `token service answered HTTP ${response.statusCode}`);
    }
    if (response.statusCode !== 200) {
      throw new BaseimgError('NETWORK', `token service ${realm.origin}${realm.pathname} of registry ${this.options.registry} answered HTTP ${response.statusCode}`, { hint: 'try again later' });
    }
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch {
      throw new BaseimgError('NETWORK', `token service of registry ${this.options.registry} did not answer JSON`);
    }
    const value = typeof doc.token === 'string' && doc.token !== '' ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
    if (value === '') throw new BaseimgError('NETWORK', `token service of registry ${this.options.registry} answered without a token`);
    const seconds = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_TOKEN_SECONDS;
    const token = { value, expiresAt: this.now() + Math.max(seconds * 1000 - EARLY_RENEWAL_MS, 1000) };
    this.tokens.set(scopeKey(requested), token);
    this.tokens.set(scopeKey(scopes), token);
  }
}

function scopeKey(scopes: readonly string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

function basicHeader(lookup: CredentialLookup): string | undefined {
  const c = lookup.credentials;
  return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}` : undefined;
}

function parseRealm(realm: string, registry: string): URL {
  try {
    const url = new URL(realm);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
    return url;
  } catch {
    throw new BaseimgError('NETWORK', `registry ${registry} names an invalid token realm ${JSON.stringify(realm)}`);
  }
}
