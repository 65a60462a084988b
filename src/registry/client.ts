/**
 * The OCI distribution API calls a push needs, for one registry:
 *   HEAD  /v2/<repo>/blobs/<digest>                      does the blob exist?
 *   POST  /v2/<repo>/blobs/uploads/?mount=<d>&from=<r>   cross-repository mount (201) or a session (202)
 *   POST  /v2/<repo>/blobs/uploads/                      start an upload session (202, Location)
 *   PUT   <location>&digest=<d>                          monolithic upload, or close a chunked one
 *   PATCH <location>  Content-Range: a-b                 one chunk of a large blob
 *   PUT   /v2/<repo>/manifests/<tag|digest>              manifest or index, with its media type
 * An upload that fails on the way is started again from POST (with backoff):
 * a registry may drop an upload session, and chunks cannot be resent safely.
 */
import { sha256Digest } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import { header, registryErrorText, TransientRegistryError, type RegistryResponse, type RegistryTransport } from './transport.js';

export interface BlobToPush {
  digest: string;
  size: number;
  /** Bytes [start, end) of the blob. */
  open(start: number, end: number): AsyncIterable<Uint8Array>;
}

export interface ClientOptions {
  /** Blobs larger than this are sent in PATCH chunks of this size; smaller ones in one PUT. */
  chunkSize: number;
}

export type UploadStart = { mounted: true } | { mounted: false; location: string };

export class RegistryClient {
  constructor(
    readonly transport: RegistryTransport,
    private readonly options: ClientOptions,
  ) {}

  get registry(): string {
    return this.transport.registry;
  }

  async blobExists(repo: string, digest: string): Promise<boolean> {
    const what = `blob ${digest} of ${repo}`;
    const r = await this.transport.send({ method: 'HEAD', url: `/v2/${repo}/blobs/${digest}`, scopes: [pushScope(repo)], what });
    if (r.status === 200 || r.status === 307 || r.status === 302) return true;
    if (r.status === 404) return false;
    throw this.failure(r, what);
  }

  /** Start an upload session; with `from`, ask for a cross-repository mount first. */
  async startUpload(repo: string, digest: string, from?: string): Promise<UploadStart> {
    const query = from ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}` : '';
    const what = from ? `mount of blob ${digest} from ${from} into ${repo}` : `upload of blob ${digest} to ${repo}`;
    const scopes = from ? [pushScope(repo), `repository:${from}:pull`] : [pushScope(repo)];
    const r = await this.transport.send({ method: 'POST', url: `/v2/${repo}/blobs/uploads/${query}`, headers: { 'content-length': '0' }, scopes, what });
    if (from && r.status === 201) return { mounted: true };
    if (r.status === 202) return { mounted: false, location: this.location(r, what) };
    throw this.failure(r, what);
  }

  /**
   * Upload a blob (after a session was started, or starting one); on a
   * transient failure the whole upload starts again. `onProgress` gets the
   * bytes sent so far in this attempt.
   */
  async upload(repo: string, blob: BlobToPush, session: UploadStart | undefined, onProgress: (sent: number) => void): Promise<void> {
    let start = session;
    for (let attempt = 1; ; attempt++) {
      try {
        const s = start && !start.mounted ? start : await this.startUpload(repo, blob.digest);
        if (s.mounted) return;
        onProgress(0);
        if (blob.size > this.options.chunkSize) await this.uploadChunked(repo, blob, s.location, onProgress);
        else await this.uploadMonolithic(repo, blob, s.location, onProgress);
        return;
      } catch (e) {
        if (!(e instanceof TransientRegistryError) || attempt > this.transport.retries) {
          if (e instanceof TransientRegistryError) {
            throw new BaseimgError('NETWORK', `registry ${this.registry}: upload of blob ${blob.digest} to ${repo} failed: ${e.message} (${attempt} attempts)`, {
              hint: 'check that the registry is up and reachable, then push again (blobs already uploaded are skipped)',
            });
          }
          throw e;
        }
        start = undefined;
        await this.transport.pause(`upload of blob ${blob.digest}`, attempt, e);
      }
    }
  }

  private async uploadMonolithic(repo: string, blob: BlobToPush, location: string, onProgress: (sent: number) => void): Promise<void> {
    const what = `upload of blob ${blob.digest} to ${repo}`;
    let sent = 0;
    const r = await this.transport.send({
      method: 'PUT',
      url: withDigest(this.transport.resolve(location), blob.digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: () => counted(blob.open(0, blob.size), (n) => onProgress((sent += n))),
      scopes: [pushScope(repo)],
      what,
      retry: false,
    });
    if (r.status !== 201) throw this.uploadFailure(r, what);
  }

  private async uploadChunked(repo: string, blob: BlobToPush, location: string, onProgress: (sent: number) => void): Promise<void> {
    const what = `chunked upload of blob ${blob.digest} to ${repo}`;
    let current = location;
    let sent = 0;
    for (let offset = 0; offset < blob.size; offset += this.options.chunkSize) {
      const end = Math.min(blob.size, offset + this.options.chunkSize);
      const r = await this.transport.send({
        method: 'PATCH',
        url: this.transport.resolve(current).href,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - offset), 'content-range': `${offset}-${end - 1}` },
        body: () => counted(blob.open(offset, end), (n) => onProgress((sent += n))),
        scopes: [pushScope(repo)],
        what: `${what} (bytes ${offset}-${end - 1})`,
        retry: false,
      });
      if (r.status !== 202) throw this.uploadFailure(r, what);
      current = this.location(r, what);
    }
    const r = await this.transport.send({
      method: 'PUT',
      url: withDigest(this.transport.resolve(current), blob.digest),
      headers: { 'content-length': '0' },
      scopes: [pushScope(repo)],
      what,
      retry: false,
    });
    if (r.status !== 201) throw this.uploadFailure(r, what);
  }

  /** PUT a manifest or index under a tag or its digest; returns the digest the registry stored. */
  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const ours = sha256Digest(bytes);
    const what = `manifest ${ours} as ${repo}:${reference}`;
    const r = await this.transport.send({
      method: 'PUT',
      url: `/v2/${repo}/manifests/${reference}`,
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: () => bytes,
      scopes: [pushScope(repo)],
      what,
    });
    if (r.status !== 201 && r.status !== 200) throw this.failure(r, what);
    const theirs = header(r.headers, 'docker-content-digest');
    if (theirs !== undefined && theirs !== ours) {
      throw new BaseimgError('NETWORK', `registry ${this.registry} stored ${what} under another digest, ${theirs}`, {
        hint: 'the registry rewrote the manifest; its digest no longer matches the image that was built',
      });
    }
    return ours;
  }

  private location(r: RegistryResponse, what: string): string {
    const loc = header(r.headers, 'location');
    if (!loc) throw new BaseimgError('NETWORK', `registry ${this.registry}: ${what}: HTTP ${r.status} without a Location header`);
    return loc;
  }

  /** A failed upload step: a lost session (404) is worth starting again, anything else is final. */
  private uploadFailure(r: RegistryResponse, what: string): Error {
    if (r.status === 404 || r.status === 416) return new TransientRegistryError(`HTTP ${r.status} ${registryErrorText(r)}`.trim());
    return this.failure(r, what);
  }

  private failure(r: RegistryResponse, what: string): BaseimgError {
    const text = registryErrorText(r);
    const detail = `HTTP ${r.status}${text ? ` ${text}` : ''}`;
    if (r.status === 403) {
      return new BaseimgError('NETWORK', `registry ${this.registry} denied ${what} (${detail})`, {
        hint: 'the credentials are valid but may not push to this repository; check its permissions',
      });
    }
    return new BaseimgError('NETWORK', `registry ${this.registry}: ${what}: ${detail}`, {
      hint: r.status === 404 ? 'check the repository name' : 'the registry refused the request; see its message above',
    });
  }
}

export function pushScope(repo: string): string {
  return `repository:${repo}:pull,push`;
}

function withDigest(url: URL, digest: string): string {
  url.searchParams.set('digest', digest);
  return url.href;
}

async function* counted(source: AsyncIterable<Uint8Array>, onChunk: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    onChunk(chunk.length);
    yield chunk;
  }
}
