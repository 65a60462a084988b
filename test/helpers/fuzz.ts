/**
 * Shared by the property-based tests (test/unit/fuzz-*.test.ts).
 *
 * Each target runs BASEIMG_FUZZ_RUNS cases per property: 10,000 by default
 * (npm test), 100,000 under `npm run fuzz` (scripts/fuzz.mjs). A failing
 * case is printed by fast-check with its seed and path; replay it with
 * BASEIMG_FUZZ_SEED and BASEIMG_FUZZ_PATH.
 *
 * The contract every parser of untrusted input must keep: return, or throw
 * a BaseimgError (a typed, user-facing error), never anything else (a
 * TypeError or RangeError is a crash), and within a time bound per case.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BaseimgError } from '../../src/util/errors.js';

export const FUZZ_RUNS = positive(process.env.BASEIMG_FUZZ_RUNS, 10_000);
/** Longest one case may take; generous, since CI machines vary, but far below a hang. */
export const CASE_TIME_LIMIT_MS = positive(process.env.BASEIMG_FUZZ_CASE_MS, 2_000);

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/** fc.assert parameters: run count, replay seed/path when given. */
export function fuzzParameters<T>(overrides: fc.Parameters<T> = {}): fc.Parameters<T> {
  const seed = process.env.BASEIMG_FUZZ_SEED;
  const path = process.env.BASEIMG_FUZZ_PATH;
  return {
    numRuns: FUZZ_RUNS,
    ...(seed !== undefined ? { seed: Number(seed) } : {}),
    ...(path !== undefined ? { path } : {}),
    ...overrides,
  };
}

/** Node test timeout for one property: its runs at an assumed worst case of 5 ms each, at least 2 minutes. */
export function testTimeout(runs = FUZZ_RUNS): number {
  return Math.max(120_000, runs * 5);
}

function checkError(e: unknown, what: string): void {
  if (e instanceof BaseimgError) return;
  const detail = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
  assert.fail(`${what} threw something other than a BaseimgError: ${detail}`);
}

function checkTime(started: number, what: string): void {
  const ms = performance.now() - started;
  assert.ok(ms <= CASE_TIME_LIMIT_MS, `${what} took ${ms.toFixed(0)} ms on one input (limit ${CASE_TIME_LIMIT_MS} ms)`);
}

/** Runs `fn`; a BaseimgError counts as a clean refusal (undefined), anything else thrown fails the case. */
export function typedOnly<T>(what: string, fn: () => T): T | undefined {
  const started = performance.now();
  try {
    return fn();
  } catch (e) {
    checkError(e, what);
    return undefined;
  } finally {
    checkTime(started, what);
  }
}

/** Like typedOnly, but hands back the BaseimgError so the caller can check its message. */
export function typedOutcome<T>(what: string, fn: () => T): { value: T; error?: undefined } | { value?: undefined; error: BaseimgError } {
  const started = performance.now();
  try {
    return { value: fn() };
  } catch (e) {
    checkError(e, what);
    return { error: e as BaseimgError };
  } finally {
    checkTime(started, what);
  }
}

export async function typedOnlyAsync<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  const started = performance.now();
  try {
    return await fn();
  } catch (e) {
    checkError(e, what);
    return undefined;
  } finally {
    checkTime(started, what);
  }
}

/** Bytes of `base` with a few random edits (overwrite, insert, delete, truncate): inputs near valid ones. */
export function mutated(base: Buffer): fc.Arbitrary<Buffer> {
  const edit = fc.record({
    kind: fc.constantFrom('set', 'insert', 'delete', 'truncate'),
    at: fc.nat(Math.max(0, base.length)),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  });
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let out = Buffer.from(base);
    for (const e of edits) {
      const at = Math.min(e.at, out.length);
      const bytes = Buffer.from(e.bytes);
      if (e.kind === 'set') out = Buffer.concat([out.subarray(0, at), bytes, out.subarray(at + bytes.length)]);
      else if (e.kind === 'insert') out = Buffer.concat([out.subarray(0, at), bytes, out.subarray(at)]);
      else if (e.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + bytes.length)]);
      else out = out.subarray(0, at);
    }
    return out;
  });
}

/** Text made of the given tokens (grammar fragments), so random inputs reach deep into a parser. */
export function tokenText(tokens: readonly string[], maxLength = 40): fc.Arbitrary<string> {
  return fc.array(fc.oneof(fc.constantFrom(...tokens), fc.string({ maxLength: 3 })), { maxLength }).map((parts) => parts.join(''));
}
