/**
 * `baseimg push IMG REF` (and the push step of `build --push REF`): read the
 * archive, send its blobs and manifests to the registry, print the digest.
 */
import { InvalidArgumentError, type Command } from 'commander';
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

/** Blobs above this go in PATCH chunks of this size. */
export const DEFAULT_CHUNK_SIZE = 32 << 20;

export interface PushSettings {
  /** Plain http instead of https. */
  insecure?: boolean;
  /** Blobs larger than this are sent in chunks of this size. */
  chunkSize?: number;
  /** Repositories to try cross-repository mounts from. */
  mountFrom?: string[];
  cacheDir?: string;
  /** Retries after the first attempt for each request or blob upload. */
  retries?: number;
}

export interface PushCommandOptions extends PushSettings {
  image?: string;
  platform?: string;
  quiet?: boolean;
  json?: boolean;
}

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

/** "32M", "512k", "1G" or bytes. */
export function parseByteSize(value: string): number {
  const m = /^(\d+)([kKmMgG]i?[bB]?)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a size in bytes, e.g. 33554432, 32M or 512K');
  const unit = (m[2] ?? '').charAt(0).toLowerCase();
  const n = Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
  if (n < 1024) throw new InvalidArgumentError('chunks must be at least 1024 bytes');
  return n;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Options both `push` and `build --push` take. */
export function withPushOptions(cmd: Command): Command {
  return cmd
    .option('--insecure', 'talk plain http to the registry (a registry on this machine without TLS)')
    .option('--chunk-size <bytes>', `send blobs larger than this in chunks of this size (default ${DEFAULT_CHUNK_SIZE / 1024 / 1024}M)`, parseByteSize)
    .option('--mount-from <repo>', 'try a cross-repository mount from this repository of the same registry (repeatable)', collect);
}

export function registerPushCommand(program: Command): void {
  withPushOptions(
    program
      .command('push')
      .description('push an image tarball (or the index of a multi-arch one) to a registry')
      .argument('<img>', 'image tarball (baseimg build, docker save, podman save, OCI archive) or OCI layout directory')
      .argument('<ref>', 'where to push: REGISTRY/REPOSITORY:TAG (credentials: BASEIMG_REGISTRY_USER/_PASSWORD or ~/.docker/config.json)'),
  )
    .option('--image <ref>', 'which image of the archive to push, when it holds several')
    .option('--platform <os/arch>', 'push only this platform\'s image of a multi-arch archive')
    .option('--cache-dir <dir>', 'where to remember which repositories hold which blobs (for mounts)')
    .option('-q, --quiet', 'print warnings and errors only')
    .option('--json', 'print the result (digest, blobs and what happened to each) as JSON')
    .action(async (img: string, ref: string, opts: PushCommandOptions) => {
      await runPush(img, ref, opts);
    });
}
