/**
 * [image]: the OCI image config (entrypoint, env, user, ports...). Runs after
 * [accounts] so that image.user can be checked against the accounts the image
 * will actually have.
 */
import path from 'node:path';
import type { KeyPath } from './locate.js';
import type { Accounts, ImageConfig } from './types.js';
import { checkInteger, describe, MAX_ID, nearest, type Section, tomlLiteral } from './validate-fields.js';

const IMAGE_KEYS = ['entrypoint', 'cmd', 'env', 'workdir', 'user', 'labels', 'annotations', 'exposed-ports', 'stop-signal'];

/** What every image gets unless [image.env] overrides it; in this order. */
export const DEFAULT_ENV: ReadonlyArray<readonly [string, string]> = [
  ['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
  ['SSL_CERT_FILE', '/etc/ssl/certs/ca-certificates.crt'],
];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const SIGNALS = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGIOT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1',
  'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP',
  'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPOLL',
  'SIGPWR', 'SIGSYS',
];

export function validateImage(s: Section, accounts: Accounts): ImageConfig {
  s.allowOnly(IMAGE_KEYS);
  return {
    entrypoint: execForm(s, 'entrypoint'),
    cmd: execForm(s, 'cmd'),
    env: environment(s),
    workdir: workdir(s),
    user: user(s, accounts),
    labels: stringRecord(s, 'labels'),
    annotations: stringRecord(s, 'annotations'),
    exposedPorts: exposedPorts(s),
    stopSignal: stopSignal(s),
  };
}

/** Only the exec form: a shell string would need a shell and quoting rules we cannot guess. */
function execForm(s: Section, key: string): string[] | undefined {
  const v = s.get(key);
  if (typeof v === 'string') {
    const words = v.trim().split(/\s+/).filter((w) => w !== '');
    s.fail(key, 'expected an array of strings, got a string', `use the exec form: ${key} = ${tomlLiteral(words)}`);
  }
  return s.strings(key);
}

/** Defaults first (a user value replaces a default in place), then the user's own names sorted. */
function environment(s: Section): Array<[string, string]> {
  const given = s.stringMap('env') ?? [];
  for (const [name] of given) {
    if (!ENV_NAME.test(name)) {
      s.ctx.fail([...s.at('env'), name], `"${name}" is not a valid variable name, expected letters, digits and "_", not starting with a digit`);
    }
  }
  const env = DEFAULT_ENV.map(([k, v]): [string, string] => [k, v]);
  const sorted = [...given].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [name, value] of sorted) {
    const existing = env.find((e) => e[0] === name);
    if (existing !== undefined) existing[1] = value;
    else env.push([name, value]);
  }
  return env;
}

function workdir(s: Section): string {
  const dir = s.string('workdir');
  if (dir === undefined) return '/';
  if (!dir.startsWith('/') || dir.includes('\0')) {
    s.fail('workdir', `expected an absolute path, got "${dir}"`, `workdir = "/${dir.replace(/^\/*/, '')}"`);
  }
  const normal = path.posix.normalize(dir);
  return normal.length > 1 ? normal.replace(/\/+$/, '') : normal;
}

/** A name must be an account the image has; ids are taken as they are. */
function user(s: Section, accounts: Accounts): string {
  const v = s.get('user');
  const userNames = accounts.users.map((u) => u.name);
  if (v === undefined) return userNames.includes('root') ? 'root' : '0';
  if (typeof v === 'bigint' || typeof v === 'number') return String(checkInteger(s.ctx, s.at('user'), v, 0, MAX_ID));
  const forms = 'an account name, "uid", "uid:gid" or an integer';
  if (typeof v !== 'string') return s.fail('user', `expected ${forms}, got ${describe(v)}`);
  const parts = v.split(':');
  if (v === '' || parts.length > 2) s.fail('user', `expected ${forms}, got "${v}"`);
  checkAccountRef(s, s.at('user'), parts[0]!, 'user', userNames);
  if (parts[1] !== undefined) checkAccountRef(s, s.at('user'), parts[1], 'group', accounts.groups.map((g) => g.name));
  return v;
}

function checkAccountRef(s: Section, at: KeyPath, ref: string, kind: 'user' | 'group', names: string[]): void {
  if (/^\d+$/.test(ref)) {
    if (Number(ref) > MAX_ID) s.ctx.fail(at, `${kind} id ${ref} is out of range, expected 0..${MAX_ID}`);
    return;
  }
  if (!names.includes(ref)) {
    const noun = kind === 'user' ? 'account' : 'group';
    s.ctx.fail(at, `no ${noun} named "${ref}"${nearest(ref, names)}`, `declare it with [[accounts.${kind}s]] or use a numeric id`);
  }
}

function stringRecord(s: Section, key: string): Record<string, string> {
  const entries = s.stringMap(key) ?? [];
  for (const [name] of entries) if (name === '') s.ctx.fail([...s.at(key), name], 'expected a non-empty key');
  return Object.fromEntries(entries);
}

/** "8080", "8080/tcp", "53/udp" or 8080, normalised to "8080/tcp" as ExposedPorts wants. */
function exposedPorts(s: Section): string[] {
  const v = s.get('exposed-ports');
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    const example = typeof v === 'string' || typeof v === 'bigint' ? tomlLiteral(String(v)) : '"8080/tcp"';
    s.fail('exposed-ports', `expected an array of ports, got ${describe(v)}`, `write exposed-ports = [${example}]`);
  }
  const ports: string[] = [];
  v.forEach((item, i) => {
    const at = [...s.at('exposed-ports'), i];
    let port: string;
    let protocol = 'tcp';
    if (typeof item === 'bigint') port = String(item);
    else if (typeof item === 'string') {
      const m = /^(\d+)(?:\/(tcp|udp))?$/i.exec(item);
      if (m === null) return s.ctx.fail(at, `expected "PORT", "PORT/tcp" or "PORT/udp", got "${item}"`);
      port = m[1]!;
      protocol = (m[2] ?? 'tcp').toLowerCase();
    } else return s.ctx.fail(at, `expected a port such as "8080/tcp", got ${describe(item)}`);
    const n = Number(port);
    if (!(n >= 1 && n <= 65535)) s.ctx.fail(at, `port ${port} is out of range, expected 1..65535`);
    const normal = `${n}/${protocol}`;
    if (ports.includes(normal)) s.ctx.fail(at, `"${normal}" is listed twice`);
    ports.push(normal);
  });
  return ports;
}

/** "SIGTERM", "term" or "15"; names are normalised to the SIG-prefixed upper-case form. */
function stopSignal(s: Section): string | undefined {
  const v = s.string('stop-signal');
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1 || n > 64) s.fail('stop-signal', `signal number ${v} is out of range, expected 1..64`);
    return String(n);
  }
  const upper = v.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (SIGNALS.includes(name) || /^SIGRTMIN(?:\+\d{1,2})?$|^SIGRTMAX(?:-\d{1,2})?$/.test(name)) return name;
  return s.fail('stop-signal', `unknown signal "${v}"${nearest(name, SIGNALS)}`, 'e.g. stop-signal = "SIGTERM"');
}
