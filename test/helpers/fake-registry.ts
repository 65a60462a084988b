/**
 * An in-process OCI registry on 127.0.0.1 for unit tests of the push client:
 * the distribution API subset a push uses (HEAD/POST/PATCH/PUT of blobs,
 * mounts, manifests), with switchable auth (none, basic, bearer with a token
 * endpoint), injected failures, and a log of every request. It checks what
 * real registries check: digests of uploads, Content-Range order, that a
 * manifest's blobs exist.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface FakeRegistryOptions {
  auth?: { kind: 'basic' | 'bearer'; user: string; password: string; anonymousPull?: boolean };
  /** Fail the first N requests matching `match` with `status`. */
  faults?: Array<{ match: RegExp; status: number; times: number }>;
  /** Answer mounts with 202 (no mount support). */
  noMount?: boolean;
}

export interface FakeRegistry {
  url: string;
  host: string;
  log: string[];
  blobs: Map<string, Buffer>;
  /** repository → blob digests it holds. */
  repos: Map<string, Set<string>>;
  manifests: Map<string, { body: Buffer; mediaType: string }>;
  tokensIssued: number;
  close(): Promise<void>;
}

export async function startFakeRegistry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const sessions = new Map<string, { repo: string; chunks: Buffer[]; size: number }>();
  const state: Omit<FakeRegistry, 'url' | 'host' | 'close'> = { log: [], blobs: new Map(), repos: new Map(), manifests: new Map(), tokensIssued: 0 };
  const faults = (options.faults ?? []).map((f) => ({ ...f }));
  let origin = '';
  const tokens = new Set<string>();

  const server: Server = createServer((req, res) => {
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => handle(req, Buffer.concat(body), res));
  });

  function send(res: ServerResponse, status: number, headers: Record<string, string> = {}, data?: string | Buffer): void {
    res.writeHead(status, { 'content-length': String(data ? Buffer.byteLength(data) : 0), ...headers });
    res.end(data);
  }
  const error = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void =>
    send(res, status, { 'content-type': 'application/json', ...headers }, JSON.stringify({ errors: [{ code, message }] }));

  function authorized(req: IncomingMessage, res: ServerResponse, scope: string): boolean {
    const auth = options.auth;
    if (!auth) return true;
    const header = req.headers.authorization ?? '';
    if (auth.kind === 'basic') {
      if (header === `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`) return true;
      error(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': 'Basic realm="fake"' });
      return false;
    }
    if (header.startsWith('Bearer ') && tokens.has(header.slice(7))) return true;
    error(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': `Bearer realm="${origin}/token",service="fake",scope="${scope}"` });
    return false;
  }

  function handle(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', origin);
    state.log.push(`${req.method} ${url.pathname}${url.search}`);
    const fault = faults.find((f) => f.times > 0 && f.match.test(`${req.method} ${url.pathname}`));
    if (fault) {
      fault.times--;
      return error(res, fault.status, 'UNAVAILABLE', 'injected failure');
    }
    if (url.pathname === '/token') {
      const auth = options.auth!;
      const ok = req.headers.authorization === `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
      if (!ok && !auth.anonymousPull) return error(res, 401, 'UNAUTHORIZED', 'bad credentials');
      const token = randomUUID();
      tokens.add(token);
      state.tokensIssued++;
      return send(res, 200, { 'content-type': 'application/json' }, JSON.stringify({ token, expires_in: 300 }));
    }
    const m = /^\/v2\/(.+?)\/(blobs\/uploads\/?(.*)|blobs\/(sha256:[0-9a-f]{64})|manifests\/(.+))$/.exec(url.pathname);
    if (!m) return error(res, 404, 'NOT_FOUND', 'unknown path');
    const repo = m[1]!;
    if (!authorized(req, res, `repository:${repo}:pull,push`)) return;
    const held = state.repos.get(repo) ?? new Set<string>();
    state.repos.set(repo, held);

    if (m[4] && req.method === 'HEAD') return send(res, held.has(m[4]) ? 200 : 404);
    if (m[2]!.startsWith('blobs/uploads') && req.method === 'POST' && !m[3]) {
      const mount = url.searchParams.get('mount');
      const from = url.searchParams.get('from');
      if (mount && from && !options.noMount && state.repos.get(from)?.has(mount)) {
        held.add(mount);
        return send(res, 201, { location: `/v2/${repo}/blobs/${mount}` });
      }
      const id = randomUUID();
      sessions.set(id, { repo, chunks: [], size: 0 });
      return send(res, 202, { location: `/v2/${repo}/blobs/uploads/${id}?_state=x`, range: '0-0' });
    }
    if (m[3]) {
      const session = sessions.get(m[3]);
      if (!session) return error(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'no such upload');
      if (req.method === 'PATCH') {
        const range = /^(\d+)-(\d+)$/.exec(String(req.headers['content-range'] ?? ''));
        if (!range || Number(range[1]) !== session.size || Number(range[2]) !== session.size + body.length - 1) return error(res, 416, 'BLOB_UPLOAD_INVALID', 'bad range');
        session.chunks.push(body);
        session.size += body.length;
        return send(res, 202, { location: `/v2/${repo}/blobs/uploads/${m[3]}?_state=y`, range: `0-${session.size - 1}` });
      }
      if (req.method === 'PUT') {
        session.chunks.push(body);
        const data = Buffer.concat(session.chunks);
        const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
        if (digest !== url.searchParams.get('digest')) return error(res, 400, 'DIGEST_INVALID', `content is ${digest}`);
        sessions.delete(m[3]);
        state.blobs.set(digest, data);
        held.add(digest);
        return send(res, 201, { location: `/v2/${repo}/blobs/${digest}`, 'docker-content-digest': digest });
      }
    }
    if (m[5] && req.method === 'PUT') {
      const doc = JSON.parse(body.toString('utf8')) as { config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
      const needed = [doc.config?.digest, ...(doc.layers ?? []).map((l) => l.digest)].filter((d): d is string => d !== undefined);
      const missing = needed.find((d) => !held.has(d)) ?? (doc.manifests ?? []).map((x) => x.digest).find((d) => !state.manifests.has(`${repo}@${d}`));
      if (missing) return error(res, 400, 'MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: ${missing}`);
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      const entry = { body, mediaType: String(req.headers['content-type']) };
      state.manifests.set(`${repo}@${digest}`, entry);
      state.manifests.set(`${repo}:${m[5]}`, entry);
      return send(res, 201, { 'docker-content-digest': digest, location: `/v2/${repo}/manifests/${digest}` });
    }
    return error(res, 405, 'UNSUPPORTED', `${req.method} ${url.pathname}`);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    ...state,
    get tokensIssued() {
      return state.tokensIssued;
    },
    url: origin,
    host: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
