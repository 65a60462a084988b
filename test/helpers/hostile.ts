/**
 * Shared by the tests of builds that must fail or stop cleanly
 * (test/integration/hostile-*.test.ts, build-aborted.test.ts): one
 * directory per build (spec, output dir, private TMPDIR, cache), the
 * "nothing left behind" checks, the cache integrity check, and polling.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describeRun, listDir, startCli, type CliResult } from './cli.js';

/** Paths of one build: spec, output directory, private TMPDIR, cache. */
export interface BuildDirs {
  spec: string;
  out: string;
  tmp: string;
  cache: string;
}

export async function prepareDirs(root: string, name: string, specText: string, cache?: string): Promise<BuildDirs> {
  const dir = join(root, name);
  const dirs = { spec: join(dir, 'spec.toml'), out: join(dir, 'out'), tmp: join(dir, 'tmp'), cache: cache ?? join(dir, 'cache') };
  await mkdir(dirs.out, { recursive: true });
  await mkdir(dirs.tmp, { recursive: true });
  await writeFile(dirs.spec, specText);
  return dirs;
}

export interface StartOptions {
  /** Extra arguments after the spec ("--insecure-skip-verify"). */
  args?: string[];
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  command?: 'build' | 'resolve' | 'lock';
}

/** `baseimg build SPEC -o OUT/image.tar --cache-dir CACHE` with TMPDIR pointing at the build's own directory. */
export function startBuild(dirs: BuildDirs, options: StartOptions = {}): ReturnType<typeof startCli> {
  const command = options.command ?? 'build';
  const output = command === 'build' ? ['-o', join(dirs.out, 'image.tar')] : command === 'lock' ? ['-o', join(dirs.out, 'spec.lock.json')] : [];
  return startCli([command, dirs.spec, ...output, '--cache-dir', dirs.cache, ...(options.args ?? [])], {
    env: { TMPDIR: dirs.tmp, ...options.env },
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
}

/** Neither the output's directory nor TMPDIR may keep anything from a failed or interrupted build. */
export async function assertNothingLeft(dirs: BuildDirs): Promise<void> {
  assert.deepEqual(await listDir(dirs.out), [], 'files left beside the output');
  assert.deepEqual(await listDir(dirs.tmp), [], 'scratch files left in TMPDIR');
}

/** The "baseimg: error: …" part of stderr, after checking it is there and carries no stack trace. */
export function errorOf(run: CliResult): string {
  assert.doesNotMatch(run.stderr, /^\s+at /m, `stack trace printed:\n${describeRun(run)}`);
  const at = run.stderr.indexOf('baseimg: error: ');
  assert.ok(at >= 0, `no error line:\n${describeRun(run)}`);
  return run.stderr.slice(at);
}

/**
 * Every cached blob is complete (its name is its SHA-256); besides blobs there
 * are only derived records and, at most, temp files of builds still running.
 */
export async function assertCacheHoldsOnlyWholeBlobs(cache: string, options: { allowTemp?: boolean } = {}): Promise<number> {
  const files = (await readdir(cache, { recursive: true, withFileTypes: true })).filter((f) => f.isFile());
  let blobs = 0;
  for (const file of files) {
    const path = join(file.parentPath, file.name);
    const rel = relative(cache, path);
    if (rel.startsWith('derived/')) continue;
    if (rel.startsWith('tmp/') && options.allowTemp) continue;
    assert.match(rel, /^blobs\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}$/, `unexpected file in the cache: ${rel}`);
    assert.equal(createHash('sha256').update(await readFile(path)).digest('hex'), file.name, `${rel} is incomplete or corrupt`);
    blobs++;
  }
  return blobs;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Path of a blob in a cache directory. */
export function blobPath(cache: string, sha256: string): string {
  return join(cache, 'blobs', 'sha256', sha256.slice(0, 2), sha256);
}
