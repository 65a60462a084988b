/**
 * A static file server on 127.0.0.1 with injectable network faults, standing in for a mirror.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { resolve, sep } from 'node:path';

export interface Fault {
  /** Answer with this status and a short text body instead of the file. */
  status?: number;
  /** Apply the fault to the first N matching requests only, then serve normally. */
  times?: number;
  /** Send the headers and N body bytes, then reset the connection (TCP RST). */
  resetAfterBytes?: number;
  /** Announce the full Content-Length, send N bytes, then close the connection cleanly. */
  truncateTo?: number;
  /** Send N body bytes, then go silent with the connection left open. */
  stallAfterBytes?: number;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export interface TestServer {
  /** "http://127.0.0.1:PORT", no trailing slash. */
  url: string;
  requests: RecordedRequest[];
  /** A string matches the request path exactly; a RegExp is tested against it. Later faults win. */
  setFault(match: string | RegExp, fault: Fault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

interface FaultRule {
  match: string | RegExp;
  fault: Fault;
  remaining: number;
}

function takeFault(rules: FaultRule[], path: string): Fault | undefined {
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i]!;
    const matches = typeof rule.match === 'string' ? rule.match === path : rule.match.test(path);
    if (!matches || rule.remaining <= 0) continue;
    rule.remaining--;
    return rule.fault;
  }
  return undefined;
}

/** Resolves a URL path to a file under root, or undefined when it escapes root or is not a file. */
async function findFile(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const file = resolve(root, `.${decoded}`);
  if (file !== root && !file.startsWith(root + sep)) return undefined;
  try {
    return (await stat(file)).isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

function sendPartial(res: ServerResponse, body: Buffer, bytes: number, then: () => void): void {
  res.flushHeaders();
  const part = body.subarray(0, Math.max(0, Math.min(bytes, body.length)));
  if (part.length === 0) then();
  else res.write(part, () => then());
}

export async function serveDirectory(dir: string, options: { faults?: Array<[string | RegExp, Fault]> } = {}): Promise<TestServer> {
  const root = resolve(dir);
  const requests: RecordedRequest[] = [];
  let rules: FaultRule[] = [];
  const sockets = new Set<Socket>();

  const setFault = (match: string | RegExp, fault: Fault): void => {
    rules.push({ match, fault, remaining: fault.times ?? Number.POSITIVE_INFINITY });
  };
  for (const [match, fault] of options.faults ?? []) setFault(match, fault);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    requests.push({ method, path, headers: req.headers });
    const fault = takeFault(rules, path);
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': 0 }).end();
      return;
    }
    if (fault?.status !== undefined) {
      const text = `fault injected: ${fault.status}\n`;
      res.writeHead(fault.status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
      res.end(method === 'HEAD' ? undefined : text);
      return;
    }
    const file = await findFile(root, path);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 10 }).end(method === 'HEAD' ? undefined : 'not found\n');
      return;
    }
    const body = await readFile(file);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    if (method === 'HEAD') {
      res.end();
    } else if (fault?.resetAfterBytes !== undefined) {
      sendPartial(res, body, fault.resetAfterBytes, () => req.socket.resetAndDestroy());
    } else if (fault?.truncateTo !== undefined) {
      sendPartial(res, body, fault.truncateTo, () => req.socket.end());
    } else if (fault?.stallAfterBytes !== undefined) {
      sendPartial(res, body, fault.stallAfterBytes, () => undefined);
    } else {
      res.end(body);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setFault,
    clearFaults: () => {
      rules = [];
    },
    close: () =>
      new Promise<void>((resolveClose) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolveClose());
      }),
  };
}
