/**
 * A real OCI registry for tests: Debian's docker-registry (distribution 2.8)
 * on 127.0.0.1, with its storage and configuration in a temp directory, and
 * optionally htpasswd (bcrypt, made by apache2-utils' htpasswd) basic auth.
 * Started and stopped by the test; `requests` counts what reached it through
 * an optional recording proxy in front of it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REGISTRY_BIN = 'docker-registry';

export interface TestRegistry {
  /** "127.0.0.1:PORT" of the registry (or of the recording proxy, when asked for). */
  host: string;
  /**
   * The registry itself, for external tools: the recording proxy runs in the
   * test's own process, which spawnSync blocks, so a tool must not go through it.
   */
  directHost: string;
  /** Requests seen by the recording proxy ("PUT /v2/x/blobs/uploads/…"); empty without one. */
  requests: string[];
  /** The registry's own log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Require basic auth with this account. */
  auth?: { user: string; password: string };
  /** Put a proxy in front that records every request. */
  record?: boolean;
}

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'baseimg-registry-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: baseimg-test-secret',
  ];
  if (options.auth) {
    const made = spawnSync('htpasswd', ['-Bbn', options.auth.user, options.auth.password], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`htpasswd failed: ${made.stderr}`);
    await writeFile(join(dir, 'htpasswd'), made.stdout);
    lines.push('auth:', '  htpasswd:', '    realm: baseimg-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  await writeFile(join(dir, 'config.yml'), lines.join('\n') + '\n');
  const child = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForRegistry(port, child, () => output);
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const requests: string[] = [];
  const proxy = options.record ? await recordingProxy(port, requests) : undefined;
  return {
    host: `127.0.0.1:${proxy ? (proxy.address() as { port: number }).port : port}`,
    directHost: `127.0.0.1:${port}`,
    requests,
    log: () => output,
    async stop() {
      if (proxy) await new Promise<void>((resolve) => proxy.close(() => resolve()));
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForRegistry(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${output()}`);
    const status = await new Promise<number | undefined>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/v2/', method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', () => resolve(undefined));
      req.end();
    });
    if (status === 200 || status === 401) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer on 127.0.0.1:${port} within 15 s: ${output()}`);
}

/** Forwards everything to the registry and records "METHOD path". */
async function recordingProxy(port: number, requests: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const upstream = request({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      const headers = { ...up.headers };
      // Locations name the registry's own port; point them back at the proxy.
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`127.0.0.1:${port}`, req.headers.host ?? '');
      res.writeHead(up.statusCode ?? 502, headers);
      up.pipe(res);
    });
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
