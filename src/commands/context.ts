/**
 * Creates the BuildContext for one command run and tears it down: reporter,
 * fetcher over the cache, private tmp dir, and SIGINT/SIGTERM handling that
 * aborts the pipeline so atomic writers can remove their temp files.
 */
import { rm } from 'node:fs/promises';
import type { BuildContext } from '../pipeline/context.js';
import { makeBuildTmpDir } from '../pipeline/build.js';
import { createFetcher } from '../net/fetcher.js';
import { httpSettingsFromEnv } from '../net/env.js';
import { defaultCacheDir } from '../cache/cas.js';
import { chooseReporterMode, createReporter, type ConsoleReporter } from '../util/reporter.js';
import { BaseimgError } from '../util/errors.js';

export interface CommonOptions {
  cacheDir?: string;
  offline?: boolean;
  quiet?: boolean;
  json?: boolean;
  /** --insecure-skip-verify: signature and date failures become warnings (docs/SECURITY.md). */
  insecureSkipVerify?: boolean;
}

export async function withBuildContext<T>(opts: CommonOptions, fn: (ctx: BuildContext, reporter: ConsoleReporter) => Promise<T>): Promise<T> {
  const reporter = createReporter(chooseReporterMode(opts));
  const http = httpSettingsFromEnv(process.env); // a bad value fails before anything is set up
  const abort = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) process.exit(sig === 'SIGINT' ? 130 : 143); // second signal: give up at once
    signalled = sig;
    reporter.warn(`${sig} received, stopping and cleaning up`);
    abort.abort(new BaseimgError('INTERRUPTED', `interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const tmpDir = await makeBuildTmpDir();
  const { fetcher, derived, blobs, close } = createFetcher({
    cacheDir: opts.cacheDir ?? defaultCacheDir(process.env),
    offline: opts.offline ?? false,
    reporter,
    signal: abort.signal,
    http,
  });
  const ctx: BuildContext = {
    fetcher,
    derived,
    blobs,
    reporter,
    tmpDir,
    now: new Date(),
    signal: abort.signal,
    insecureSkipVerify: opts.insecureSkipVerify ?? false,
    offline: opts.offline ?? false,
  };
  if (ctx.insecureSkipVerify) {
    reporter.warn('--insecure-skip-verify: signature and Release date failures are only warned about, not refused; checksums are still enforced; the SBOM records this build as unverified');
  }
  try {
    return await fn(ctx, reporter);
  } catch (e) {
    if (signalled) {
      reporter.close();
      throw new BaseimgError('INTERRUPTED', `interrupted by ${signalled}; no output was written`);
    }
    throw e;
  } finally {
    reporter.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await close();
    await rm(tmpDir, { recursive: true, force: true });
  }
}
