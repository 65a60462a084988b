/**
 * What the integration tests need from the machine: external tools and a
 * Debian mirror. When something is missing a test skips with a message that
 * says what; under CI=true the same situation is a failure, so CI cannot
 * pass by silently testing nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import type { TestContext } from 'node:test';
import type { DebianSource } from '../../src/spec/types.js';
import { resolveDebianMirrors } from '../../src/distro/debian/mirror.js';
import { isBaseimgError } from '../../src/util/errors.js';

export const IS_CI = process.env.CI === 'true';

export function haveTool(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

/** Skip `t` with `reason` (shown in the test output); under CI=true fail instead. */
export function skipOrFail(t: TestContext, reason: string): void {
  if (IS_CI) assert.fail(`${reason} (CI=true requires it; scripts/ensure-tools.mjs installs the tools)`);
  t.skip(reason);
}

/** True when every tool is on PATH; otherwise skips (or fails under CI) and returns false. */
export function needTools(t: TestContext, ...tools: string[]): boolean {
  const missing = tools.filter((cmd) => !haveTool(cmd));
  if (missing.length === 0) return true;
  skipOrFail(t, `${missing.join(', ')} not installed`);
  return false;
}

/**
 * Why baseimg would find no Debian mirror for `suites`, or undefined when it
 * would. Asks the tool's own lookup (BASEIMG_DEBIAN_MIRROR, else the host's
 * apt sources), so the answer matches what a build does. The message never
 * contains a mirror URL.
 */
export function debianMirrorProblem(suites: string[]): string | undefined {
  const source: DebianSource = {
    distro: 'debian',
    mirror: undefined,
    securityMirror: undefined,
    suites,
    components: ['main'],
    keyring: [],
    mergedUsr: true,
  };
  try {
    resolveDebianMirrors(source, { env: process.env });
    return undefined;
  } catch (err) {
    if (isBaseimgError(err) && err.code === 'MIRROR') return 'no Debian mirror configured: set BASEIMG_DEBIAN_MIRROR or configure apt sources';
    throw err;
  }
}

/** Run a command to completion; assert it exited 0 (the message carries its output). */
export function runOk(cmd: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: options.cwd, timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 });
  const output = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim().slice(-4000);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status ?? r.signal ?? r.error?.message}:\n${output}`);
  return r;
}
