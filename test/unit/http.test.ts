import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ContentStore } from '../../src/cache/cas.js';
import { HttpClient, isNotFoundError, type HttpClientOptions } from '../../src/net/http.js';
import { createFetcher } from '../../src/net/fetcher.js';
import { mapLimit } from '../../src/util/concurrency.js';
import { BaseimgError } from '../../src/util/errors.js';

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const BODY = Buffer.from('Package: hello\nVersion: 1\n'.repeat(200));

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

/** Test server: a handler per path, request counts, and the number of TCP connections made. */
let server: Server;
let base: string;
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
let connections = 0;

let root: string;
let storeCount = 0;
const freshStore = (): ContentStore => new ContentStore(join(root, `cache${storeCount++}`));
const clients: HttpClient[] = [];

function client(options: HttpClientOptions = {}): { http: HttpClient; delays: number[] } {
  const delays: number[] = [];
  const http = new HttpClient({
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => 0.5,
    idleTimeoutMs: 2000,
    env: {},
    ...options,
  });
  clients.push(http);
  return { http, delays };
}

function route(path: string, handler: Handler): string {
  routes.set(path, handler);
  hits.set(path, 0);
  return `${base}${path}`;
}

const ok: Handler = (_req, res) => {
  res.writeHead(200, { 'content-length': BODY.length }).end(BODY);
};

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<BaseimgError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof BaseimgError, `expected BaseimgError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.match(caught.message, pattern);
  return caught;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'baseimg-http-'));
  server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const handler = routes.get(path);
    const hit = (hits.get(path) ?? 0) + 1;
    hits.set(path, hit);
    if (handler === undefined) res.writeHead(404, { 'content-length': 0 }).end();
    else handler(req, res, hit);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

beforeEach(() => {
  routes.clear();
  hits.clear();
});

describe('HttpClient.download', () => {
  it('streams the body into the cache with its hash', async () => {
    const url = route('/ok', ok);
    const store = freshStore();
    const seen: number[] = [];
    const result = await client().http.download(url, store, { sha256: sha(BODY), size: BODY.length, onBytes: (n) => seen.push(n) });
    assert.equal(result.sha256, sha(BODY));
    assert.equal(result.size, BODY.length);
    assert.equal(result.path, store.blobPath(sha(BODY)));
    assert.deepEqual(await readFile(result.path), BODY);
    assert.equal(seen.reduce((a, b) => a + b, 0), BODY.length);
  });

  it('retries 500 with growing backoff, then succeeds', async () => {
    const url = route('/flaky', (req, res, hit) => (hit <= 3 ? res.writeHead(500, { 'content-length': 0 }).end() : ok(req, res, hit)));
    const { http, delays } = client({ backoffBaseMs: 100 });
    const result = await http.download(url, freshStore());
    assert.equal(result.sha256, sha(BODY));
    assert.equal(hits.get('/flaky'), 4);
    // 100·2^(n-1) scaled by the jitter factor 0.5 + 0.5·random() = 0.75.
    assert.deepEqual(delays, [75, 150, 300]);
  });

  it('gives up after the configured retries with a NETWORK error naming URL, cause and attempts', async () => {
    const url = route('/down', (_req, res) => res.writeHead(503, { 'content-length': 0 }).end());
    const err = await rejectsWith(client({ retries: 2 }).http.download(url, freshStore()), 'NETWORK', /cannot download .*\/down: HTTP 503 \(3 attempts\)/);
    assert.match(err.hint!, /BASEIMG_DEBIAN_MIRROR/);
    assert.equal(hits.get('/down'), 3);
  });

  it('honours Retry-After on 429', async () => {
    const url = route('/busy', (req, res, hit) =>
      hit === 1 ? res.writeHead(429, { 'retry-after': '7', 'content-length': 0 }).end() : ok(req, res, hit),
    );
    const { http, delays } = client();
    await http.download(url, freshStore());
    assert.deepEqual(delays, [7000]);
  });

  it('does not retry 404 and says the file was not found', async () => {
    const url = route('/missing', (_req, res) => res.writeHead(404, { 'content-length': 0 }).end());
    const err = await rejectsWith(client().http.download(url, freshStore()), 'NETWORK', /\/missing not found \(HTTP 404\)/);
    assert.ok(isNotFoundError(err));
    assert.equal(hits.get('/missing'), 1);
    const gone = route('/gone', (_req, res) => res.writeHead(410, { 'content-length': 0 }).end());
    assert.ok(isNotFoundError(await rejectsWith(client().http.download(gone, freshStore()), 'NETWORK', /not found \(HTTP 410\)/)));
  });

  it('does not retry other client errors', async () => {
    const url = route('/forbidden', (_req, res) => res.writeHead(403, { 'content-length': 0 }).end());
    await rejectsWith(client().http.download(url, freshStore()), 'NETWORK', /HTTP 403/);
    assert.equal(hits.get('/forbidden'), 1);
  });

  it('retries a truncated body and keeps no partial file', async () => {
    const url = route('/truncated', (req, res, hit) => {
      if (hit > 1) return ok(req, res, hit);
      res.writeHead(200, { 'content-length': BODY.length });
      res.write(BODY.subarray(0, 100), () => res.socket!.destroy());
    });
    const store = freshStore();
    const result = await client().http.download(url, store, { sha256: sha(BODY) });
    assert.deepEqual(await readFile(result.path), BODY);
    assert.equal(hits.get('/truncated'), 2);
    assert.deepEqual(await readdir(join(store.root, 'tmp')), []);
  });

  it('reports a body that is always truncated', async () => {
    const url = route('/short', (_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length });
      res.write(BODY.subarray(0, 10), () => res.socket!.destroy());
    });
    await rejectsWith(client({ retries: 1 }).http.download(url, freshStore()), 'NETWORK', /\/short: .*\(2 attempts\)/);
  });

  it('detects a stalled download and retries', async () => {
    const url = route('/stall', (req, res, hit) => {
      if (hit > 1) return ok(req, res, hit);
      res.writeHead(200, { 'content-length': BODY.length });
      res.write(BODY.subarray(0, 10)); // …and nothing more
    });
    const started = Date.now();
    const result = await client({ idleTimeoutMs: 300 }).http.download(url, freshStore());
    assert.equal(result.sha256, sha(BODY));
    assert.equal(hits.get('/stall'), 2);
    assert.ok(Date.now() - started < 5000);
  });

  it('names the stall in the final error', async () => {
    const url = route('/stuck', (_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length });
      res.write(BODY.subarray(0, 10));
    });
    await rejectsWith(client({ idleTimeoutMs: 200, retries: 0 }).http.download(url, freshStore()), 'NETWORK', /stalled for 0\.2 s after \d+ of \d+ bytes \(1 attempt\)/);
  });

  it('rejects a checksum mismatch without caching the bytes', async () => {
    const url = route('/ok', ok);
    const store = freshStore();
    const wrong = sha('something else');
    const err = await rejectsWith(client().http.download(url, store, { sha256: wrong, what: 'Packages.xz of test' }), 'VERIFY', /checksum mismatch/);
    assert.ok(err.message.includes(url));
    assert.ok(err.message.includes(wrong));
    assert.ok(err.message.includes(sha(BODY)));
    assert.match(err.message, /Packages\.xz of test/);
    assert.equal(hits.get('/ok'), 1, 'a mismatch is not retried');
    assert.equal(existsSync(store.blobPath(sha(BODY))), false);
    assert.deepEqual(await readdir(join(store.root, 'tmp')), []);
  });

  it('rejects a size mismatch announced by Content-Length and enforces maxBytes', async () => {
    const url = route('/ok', ok);
    await rejectsWith(client().http.download(url, freshStore(), { size: 5 }), 'VERIFY', /size mismatch: expected 5 bytes/);
    await rejectsWith(client().http.download(url, freshStore(), { maxBytes: 100 }), 'VERIFY', /larger than the limit of 100 bytes/);
    const chunked = route('/chunked', (_req, res) => {
      res.writeHead(200);
      res.end(BODY);
    });
    await rejectsWith(client().http.download(chunked, freshStore(), { maxBytes: 100 }), 'VERIFY', /larger than the limit/);
  });

  it('follows up to 5 redirects, relative ones included', async () => {
    for (let i = 1; i <= 5; i++) route(`/r${i}`, (_req, res) => res.writeHead(302, { location: i === 5 ? `${base}/ok` : `/r${i + 1}` }).end());
    route('/ok', ok);
    const result = await client().http.download(`${base}/r1`, freshStore());
    assert.equal(result.sha256, sha(BODY));
    route('/loop', (_req, res) => res.writeHead(301, { location: '/loop' }).end());
    await rejectsWith(client().http.download(`${base}/loop`, freshStore()), 'NETWORK', /more than 5 redirects/);
  });

  it('refuses redirects into the local file system', async () => {
    route('/to-file', (_req, res) => res.writeHead(302, { location: pathToFileURL(join(root, 'local.bin')).href }).end());
    await writeFile(join(root, 'local.bin'), 'secret');
    await rejectsWith(client().http.download(`${base}/to-file`, freshStore()), 'NETWORK', /unsupported URL scheme file: \(redirected from/);
  });

  it('goes through the proxy that HTTP_PROXY names', async () => {
    // A proxy on loopback that tunnels CONNECT (as undici's ProxyAgent asks) and forwards absolute-form requests.
    const proxied: string[] = [];
    const sockets = new Set<Socket>();
    const proxy = createServer((req, res) => {
      proxied.push(`GET ${req.url}`);
      const target = new URL(req.url ?? '/');
      const upstream = request({ host: target.hostname, port: target.port, path: target.pathname, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      proxied.push(`CONNECT ${req.url}`);
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const url = route('/via-proxy', ok);
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const { http } = client({ env: { HTTP_PROXY: proxyUrl }, retries: 0 });
      const result = await http.download(url, freshStore(), { sha256: sha(BODY) });
      assert.equal(result.size, BODY.length);
      assert.equal(proxied.length, 1, proxied.join(', '));
      assert.match(proxied[0]!, new RegExp(`^(CONNECT ${new URL(url).host}|GET ${url})$`));
      await http.close();
    } finally {
      for (const s of sockets) s.destroy();
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('reuses connections to the same origin', async () => {
    const url = route('/ok', ok);
    const { http } = client();
    const before = connections;
    for (let i = 0; i < 5; i++) await http.download(url, freshStore());
    assert.equal(connections - before, 1);
  });

  it('reports a refused connection with its cause and attempt count', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { http, delays } = client({ retries: 2 });
    await rejectsWith(http.download(`http://127.0.0.1:${port}/x`, freshStore()), 'NETWORK', /ECONNREFUSED \(3 attempts\)/);
    assert.equal(delays.length, 2);
  });

  it('stops when the signal aborts, even during backoff', async () => {
    const url = route('/down', (_req, res) => res.writeHead(500, { 'content-length': 0 }).end());
    const controller = new AbortController();
    const http = new HttpClient({ backoffBaseMs: 60_000, env: {} });
    clients.push(http);
    const pending = http.download(url, freshStore(), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('interrupted')), 100);
    await assert.rejects(pending, /interrupted/);
    assert.equal(hits.get('/down'), 1);
  });

  it('reads file:// URLs, and reports missing files as not found', async () => {
    const path = join(root, 'local.bin');
    await writeFile(path, BODY);
    const result = await client().http.download(pathToFileURL(path).href, freshStore(), { sha256: sha(BODY) });
    assert.deepEqual(await readFile(result.path), BODY);
    const err = await rejectsWith(client().http.download(pathToFileURL(join(root, 'nope')).href, freshStore()), 'NETWORK', /not found/);
    assert.ok(isNotFoundError(err));
  });
});

describe('createFetcher', () => {
  const silent = { info() {}, warn() {}, debug() {}, task: () => ({ tick() {}, setTotal() {}, done() {} }), timing() {} };
  const make = (cacheDir: string, offline = false) => {
    const handle = createFetcher({ cacheDir, offline, reporter: silent, http: { sleep: async () => {}, env: {} } });
    clients.push({ close: handle.close } as HttpClient);
    return handle;
  };

  it('serves a cached file by hash without touching the network', async () => {
    const url = route('/ok', ok);
    const cacheDir = join(root, 'f1');
    const first = await make(cacheDir).fetcher.fetchFile(url, { sha256: sha(BODY) });
    const second = await make(cacheDir).fetcher.fetchFile(url, { sha256: sha(BODY) });
    assert.deepEqual(second, first);
    assert.equal(hits.get('/ok'), 1);
  });

  it('shares one download between concurrent requests', async () => {
    const url = route('/ok', ok);
    const { fetcher } = make(join(root, 'f2'));
    await Promise.all([1, 2, 3].map(() => fetcher.fetchFile(url, { sha256: sha(BODY) })));
    assert.equal(hits.get('/ok'), 1);
  });

  it('downloads a corrupt cache entry again', async () => {
    const url = route('/ok', ok);
    const cacheDir = join(root, 'f3');
    const { path } = await make(cacheDir).fetcher.fetchFile(url, { sha256: sha(BODY) });
    await writeFile(path, 'corrupted');
    const again = await make(cacheDir).fetcher.fetchFile(url, { sha256: sha(BODY) });
    assert.deepEqual(await readFile(again.path), BODY);
    assert.equal(hits.get('/ok'), 2);
  });

  it('offline: a missing file is a NETWORK error naming it', async () => {
    const url = route('/ok', ok);
    const { fetcher } = make(join(root, 'f4'), true);
    const err = await rejectsWith(fetcher.fetchFile(url, { sha256: sha(BODY), what: 'libc6 2.36' }), 'NETWORK', /offline: libc6 2\.36 is missing from the cache/);
    assert.ok(err.message.includes(url));
    await rejectsWith(fetcher.fetchFile(url), 'NETWORK', /offline: .* is missing from the cache/);
    assert.equal(hits.get('/ok'), 0);
  });

  it('without a hash, always downloads; offline then uses the last copy', async () => {
    let version = 1;
    const url = route('/InRelease', (_req, res) => res.writeHead(200).end(`version ${version}\n`));
    const cacheDir = join(root, 'f5');
    const online = make(cacheDir).fetcher;
    assert.equal((await online.fetchBuffer(url)).toString(), 'version 1\n');
    version = 2;
    assert.equal((await online.fetchBuffer(url)).toString(), 'version 2\n');
    assert.equal(hits.get('/InRelease'), 2);
    const offline = make(cacheDir, true).fetcher;
    assert.equal((await offline.fetchBuffer(url)).toString(), 'version 2\n');
    assert.equal(hits.get('/InRelease'), 2);
  });

  it('stores and returns derived data', async () => {
    const { derived } = make(join(root, 'f6'));
    assert.equal(await derived.get('key'), undefined);
    await derived.put('key', Buffer.from('value'));
    assert.deepEqual(await derived.get('key'), Buffer.from('value'));
  });
});

describe('mapLimit', () => {
  it('keeps result order and never exceeds the limit', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([50, 10, 30, 0, 20, 5], 2, async (ms, i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return `${i}:${ms}`;
    });
    assert.deepEqual(results, ['0:50', '1:10', '2:30', '3:0', '4:20', '5:5']);
    assert.equal(peak, 2);
    assert.deepEqual(await mapLimit([], 3, async () => 1), []);
  });

  it('rejects with the first failure and starts nothing new', async () => {
    const started: number[] = [];
    await assert.rejects(
      mapLimit([1, 2, 3, 4, 5], 1, async (x) => {
        started.push(x);
        if (x === 2) throw new Error('boom');
        return x;
      }),
      /boom/,
    );
    assert.deepEqual(started, [1, 2]);
    await assert.rejects(mapLimit([1], 0, async (x) => x), RangeError);
  });
});
