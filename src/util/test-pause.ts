/**
 * Test hook for the interruption tests (test/integration/hostile-interrupt.test.ts),
 * which must deliver SIGINT/SIGTERM at a known point rather than race a
 * timer. With BASEIMG_TEST_PAUSE=<point> the process prints
 * "baseimg-test: paused at <point>" on stderr when it gets there and waits
 * until the build is aborted, then throws the abort reason like any step
 * that notices a signal. Points:
 *   unpack  after the first package is unpacked (scratch tree and spill file exist)
 *   write   an output file fully written to its temp file, not yet renamed
 * Nobody signalling within 60 s is an error, so a stray variable cannot hang
 * a build for ever. Unset (always, outside the tests) it costs one lookup.
 */
import { BaseimgError } from './errors.js';

const GIVE_UP_MS = 60_000;

export async function testPause(point: string, signal: AbortSignal | undefined): Promise<void> {
  if (process.env.BASEIMG_TEST_PAUSE !== point || signal === undefined) return;
  process.stderr.write(`baseimg-test: paused at ${point}\n`);
  await new Promise<void>((_resolve, reject) => {
    // A pending signal handler does not keep Node's event loop alive; this timer does.
    const timer = setTimeout(() => reject(new BaseimgError('INTERNAL', `BASEIMG_TEST_PAUSE=${point}: no signal within ${GIVE_UP_MS / 1000} s`)), GIVE_UP_MS);
    const stop = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
}
