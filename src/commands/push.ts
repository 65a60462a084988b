/**
 * `baseimg push IMG REF` (and the push step of `build --push REF`): read the
 * archive, send its blobs and manifests to the registry, print the digest.
 */
import type { Reporter } from '../pipeline/context.js';
import { defaultCacheDir } from '../cache/cas.js';
import { BaseimgError } from '../util/errors.js';
import { chooseReporterMode, createReporter, humanBytes, type ReporterMode } from '../util/reporter.js';
import { BlobMemory } from '../registry/blob-memory.js';
import { RegistryClient } from '../registry/client.js';
import { findCredentials } from '../registry/credentials.js';
import { describePlan, planFromArchive } from '../registry/plan.js';
import { createPushProgress } from '../registry/progress.js';
import { pushPlan, type PushResult } from '../registry/push.js';
import { isLoopbackHost, parseRegistryRef } from '../registry/reference.js';
import { RegistryTransport } from '../registry/transport.js';

import { DEFAULT_CHUNK_SIZE, type PushCommandOptions, type PushSettings } from './push-cli.js';

export type { PushCommandOptions, PushSettings };

/** Push the image (or index) of archive `img` to `ref`. */
export async function pushArchive(
  img: string,
  refText: string,
  settings: PushSettings & { image?: string | undefined; platform?: string | undefined },
  reporter: Reporter,
  mode: ReporterMode,
  signal?: AbortSignal,
): Promise<PushResult> {
  const ref = parseRegistryRef(refText);
  if (settings.insecure && !isLoopbackHost(ref.apiHost)) {
    reporter.warn(`--insecure: talking plain http to ${ref.apiHost}; credentials and images cross the network unencrypted`);
  }
  const credentials = await findCredentials(ref.registry);
  const transport = new RegistryTransport({
    registry: ref.registry,
    baseUrl: `${settings.insecure ? 'http' : 'https'}://${ref.apiHost}`,
    credentials,
    retries: settings.retries,
    signal,
    onRetry: (i) => reporter.info(`retrying ${i.what} in ${(i.delayMs / 1000).toFixed(1)} s (attempt ${i.attempt + 1}): ${i.cause}`),
  });
  const plan = await planFromArchive(img, { image: settings.image, platform: settings.platform });
  const progress = createPushProgress(mode);
  try {
    reporter.info(`pushing ${describePlan(plan.top)} to ${ref.fullName}`);
    const client = new RegistryClient(transport, { chunkSize: settings.chunkSize ?? DEFAULT_CHUNK_SIZE });
    const memory = await BlobMemory.open(settings.cacheDir ?? defaultCacheDir(process.env), ref.registry);
    return await pushPlan(client, ref, plan, { mountFrom: settings.mountFrom ?? [], memory, progress, signal });
  } finally {
    progress.close();
    await plan.close();
    await transport.close();
  }
}

export async function runPush(img: string, refText: string, opts: PushCommandOptions): Promise<PushResult> {
  const mode = chooseReporterMode(opts);
  const reporter = createReporter(mode);
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => abort.abort(new BaseimgError('INTERRUPTED', `interrupted by ${sig}; the tag was not updated unless the push had finished`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await pushArchive(img, refText, opts, reporter, mode, abort.signal);
    reporter.close();
    if (opts.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else if (!opts.quiet) process.stderr.write(summary(result));
    return result;
  } finally {
    reporter.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function summary(r: PushResult): string {
  const count = (a: string): number => r.blobs.filter((b) => b.action === a).length;
  return (
    `pushed ${r.reference}\n  digest ${r.digest}\n` +
    `  ${r.blobs.length} blobs: ${count('uploaded')} uploaded (${humanBytes(r.uploadedBytes)}), ${count('exists')} already there, ${count('mounted')} mounted\n`
  );
}
