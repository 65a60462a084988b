/**
 * Runs bin/baseimg as a child process, the way people run it, and captures
 * its exit status and output. The child gets a cleaned environment (no
 * proxies, no BASEIMG_* or SOURCE_DATE_EPOCH from the developer's shell)
 * so a test decides everything that could change the result.
 * Also: temp directories, directory listings, and the spec the offline
 * integration tests write for the standard fixture repository.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BASEIMG_BIN = join(PROJECT_ROOT, 'bin', 'baseimg');

export interface CliResult {
  /** Exit status, or null when the child was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface CliOptions {
  cwd?: string;
  /** Set (string) or remove (undefined) variables on top of the cleaned environment. */
  env?: Record<string, string | undefined>;
  /** Run under this umask via `sh -c 'umask U; exec node …'`. */
  umask?: string;
  /** Kill the child (SIGKILL) after this long; the default is generous but finite. */
  timeoutMs?: number;
}

/** Variables that would make a child's behaviour depend on the shell the tests run from. */
const INHERITED_NOISE = /^(https?_proxy|all_proxy|no_proxy|BASEIMG_.*|SOURCE_DATE_EPOCH|XDG_CACHE_HOME|NODE_TEST_CONTEXT|NODE_OPTIONS)$/i;

export function childEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!INHERITED_NOISE.test(key)) env[key] = value;
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Starts `baseimg ARGS…`; `done` settles when the child has exited and its output is drained. */
export function startCli(args: string[], options: CliOptions = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const argv = [BASEIMG_BIN, ...args];
  const [command, commandArgs] = options.umask === undefined
    ? [process.execPath, argv]
    : ['sh', ['-c', `umask ${options.umask} && exec "$0" "$@"`, process.execPath, ...argv]];
  const started = performance.now();
  const child = spawn(command, commandArgs, {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<CliResult>((resolveDone, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveDone({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        durationMs: performance.now() - started,
      });
    });
  });
  return { child, done };
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

/** Everything a failed assertion on a CLI run should show. */
export function describeRun(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''} after ${r.durationMs.toFixed(0)} ms\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** A fresh directory under the system temp dir; the caller removes it. */
export function makeTempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `baseimg-it-${label}-`));
}

/** Names in `dir`, sorted ([] when it does not exist). */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** The packages most tests install from the standard fixture (a distroless "base"-like set). */
export const FIXTURE_INCLUDE = ['base-files', 'netbase', 'tzdata', 'media-types', 'libc6', 'libssl3'];
/** Needed only by maintainer scripts, which baseimg does not run. */
export const FIXTURE_EXCLUDE = ['awk', 'debconf', 'debconf-2.0'];

export interface FixtureSpecOptions {
  /** Server URL of the archive; also used as the security mirror (a bare host has no "-security" sibling). */
  mirror: string;
  /** Keyring path as written into the spec (absolute, or relative to the spec's directory). */
  keyring: string;
  name?: string;
  suites?: string[];
  include?: string[];
  exclude?: string[];
  /** Raw TOML for top-level keys (goes before the first table). */
  topLevel?: string;
  /** Raw TOML tables appended after [packages]. */
  tables?: string;
}

const tomlString = (s: string): string => JSON.stringify(s);
const tomlArray = (items: string[]): string => `[${items.map(tomlString).join(', ')}]`;

/** Spec text for a build from the standard fixture repository. */
export function fixtureSpec(o: FixtureSpecOptions): string {
  return [
    `name = ${tomlString(o.name ?? 'fixture')}`,
    o.topLevel ?? '',
    '[source]',
    'distro = "debian"',
    `mirror = ${tomlString(o.mirror)}`,
    `security-mirror = ${tomlString(o.mirror)}`,
    `suites = ${tomlArray(o.suites ?? ['fixture', 'fixture-security'])}`,
    'components = ["main"]',
    `keyring = ${tomlString(o.keyring)}`,
    '',
    '[packages]',
    `include = ${tomlArray(o.include ?? FIXTURE_INCLUDE)}`,
    `exclude = ${tomlArray(o.exclude ?? FIXTURE_EXCLUDE)}`,
    '',
    o.tables ?? '',
  ].join('\n');
}
