/** `baseimg build SPEC`: CLI options → BuildOptions, run the pipeline, print the result. */
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { stat } from 'node:fs/promises';
import type { Arch } from '../spec/types.js';
import { loadSpec } from '../spec/load.js';
import { buildImage, type BuildResult } from '../pipeline/build.js';
import { withBuildContext, type CommonOptions } from './context.js';
import { BaseimgError } from '../util/errors.js';
import { chooseReporterMode, humanBytes } from '../util/reporter.js';
import type { openLockForBuild } from '../lock/use.js';
import { formatTimings } from '../util/timings.js';
import type { PlatformsBuildResult } from '../pipeline/build-platforms.js';
import type { PushSettings } from './push-cli.js';
import type { PushResult } from '../registry/push.js';

export interface BuildCommandOptions extends CommonOptions {
  output?: string;
  tag?: string;
  /** One architecture, or several for one tarball with an OCI index (--arch amd64,arm64). */
  arch?: Arch | Arch[];
  sourceDateEpoch?: number;
  timings?: boolean;
  /** Directory for NAME.spdx.json and NAME.cdx.json (default: beside the tarball). */
  sbomDir?: string;
  /** Add per-file SHA-256 to the SBOMs. */
  sbomFiles?: boolean;
  /** Build from the lock file alone (no index download). */
  locked?: boolean;
  /** --locked, and fail when the spec no longer matches the lock. */
  frozen?: boolean;
  /** Lock file for --locked/--frozen (default: beside the spec). */
  lock?: string;
  /** Push the result to REGISTRY/REPOSITORY:TAG (settings as for `baseimg push`). */
  push?: string;
  insecure?: PushSettings['insecure'];
  chunkSize?: PushSettings['chunkSize'];
  mountFrom?: PushSettings['mountFrom'];
}

/** A single-platform result, or a multi-platform one; `push` when --push was given. */
export type BuildCommandResult = (BuildResult | PlatformsBuildResult) & { push?: PushResult };

export async function runBuild(specFile: string, opts: BuildCommandOptions): Promise<BuildCommandResult> {
  if (opts.lock !== undefined && !opts.locked && !opts.frozen) {
    throw new BaseimgError('USAGE', '--lock FILE is used with --locked or --frozen', { hint: 'add --locked' });
  }
  const spec = await loadSpec(specFile);
  const arches = opts.arch === undefined ? spec.arch : Array.isArray(opts.arch) ? opts.arch : [opts.arch];
  const arch = arches[0]!;
  const output = resolvePath(opts.output ?? `${spec.name}.tar`);
  const sourceDateEpoch = opts.sourceDateEpoch ?? envSourceDateEpoch(process.env.SOURCE_DATE_EPOCH);
  // Checked before any download: finding out after a minute of work is rude.
  await checkOutputPlace(output, '-o/--output');
  if (opts.sbomDir !== undefined) await checkCreatableDirectory(resolvePath(opts.sbomDir), '--sbom-dir');

  return withBuildContext(opts, async (ctx, reporter) => {
    const started = performance.now();
    // Locks, several platforms and pushing load their modules only when used (start-up time).
    const lockFor = async (a: Arch): ReturnType<typeof openLockForBuild> =>
      (await import('../lock/use.js')).openLockForBuild(spec, specFile, a, { lockFile: opts.lock, frozen: opts.frozen ?? false }, reporter);
    const pushArchive = async (...args: Parameters<typeof import('./push.js').pushArchive>): ReturnType<typeof import('./push.js').pushArchive> =>
      (await import('./push.js')).pushArchive(...args);
    if (arches.length > 1) {
      const sbom = { dir: opts.sbomDir === undefined ? undefined : resolvePath(opts.sbomDir), files: opts.sbomFiles ?? false };
      const { buildPlatformImages } = await import('../pipeline/build-platforms.js');
      const multi: BuildCommandResult = await buildPlatformImages(spec, { arches, output, tag: opts.tag ?? spec.tag, sourceDateEpoch, sbom, ...(opts.locked || opts.frozen ? { locked: lockFor } : {}) }, ctx);
      if (opts.push !== undefined) multi.push = await pushArchive(output, opts.push, opts, reporter, chooseReporterMode(opts), ctx.signal);
      reporter.close();
      await printResult(multi, opts, reporter.timings, started);
      return multi;
    }
    const locked = opts.locked || opts.frozen ? await lockFor(arch) : undefined;
    const result: BuildCommandResult = await buildImage(spec, { arch, output, tag: opts.tag ?? spec.tag, sourceDateEpoch, sbom: { dir: opts.sbomDir === undefined ? undefined : resolvePath(opts.sbomDir), files: opts.sbomFiles ?? false }, ...(locked ? { locked } : {}) }, ctx);
    if (opts.push !== undefined) result.push = await pushArchive(output, opts.push, opts, reporter, chooseReporterMode(opts), ctx.signal);
    reporter.close();
    await printResult(result, opts, reporter.timings, started);
    return result;
  });
}

/** The output must name a file in a directory that exists. */
async function checkOutputPlace(output: string, flag: string): Promise<void> {
  const st = await stat(output).catch(() => undefined);
  if (st?.isDirectory()) {
    throw new BaseimgError('USAGE', `${flag} ${output} is a directory; expected the path of the image tarball to write`, { hint: `e.g. ${flag.split('/')[0]} ${output.replace(/\/+$/, '')}/image.tar` });
  }
  await checkDirectory(dirname(output), flag);
}

async function checkDirectory(dir: string, flag: string): Promise<void> {
  const st = await stat(dir).catch(() => undefined);
  if (st === undefined) throw new BaseimgError('USAGE', `${flag}: directory ${dir} does not exist`, { hint: `create it first (mkdir -p ${dir})` });
  if (!st.isDirectory()) throw new BaseimgError('USAGE', `${flag}: ${dir} is not a directory`);
}

/** --sbom-dir is created if missing, so only its nearest existing ancestor must be a directory. */
async function checkCreatableDirectory(dir: string, flag: string): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    const st = await stat(d).catch(() => undefined);
    if (st !== undefined) {
      if (!st.isDirectory()) throw new BaseimgError('USAGE', `${flag}: ${d} is not a directory, so ${dir} cannot be created`);
      return;
    }
    if (dirname(d) === d) return;
  }
}

async function printResult(result: BuildCommandResult, opts: BuildCommandOptions, timings: Array<[string, number]>, started: number): Promise<void> {
  if (opts.json) {
    process.stdout.write(JSON.stringify({ ...result, timings: opts.timings ? Object.fromEntries(timings) : undefined }, null, 2) + '\n');
  } else if (!opts.quiet) {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const what = 'images' in result
      ? `${result.tag}, ${result.architectures.join(' + ')}, ${result.images.map((i) => i.packages.length).join(' + ')} packages`
      : `${result.tag}, ${result.arch}, ${result.packages.length} packages`;
    process.stderr.write(`built ${basename(result.output)} (${what}, ${humanBytes(result.size)}) in ${seconds}s\n  digest ${result.digest}\n`);
    if ('images' in result) for (const i of result.images) process.stderr.write(`    ${i.arch.padEnd(5)} ${i.digest}\n`);
    if (result.push) process.stderr.write((await import('./push.js')).summary(result.push));
  }
  if (opts.timings && !opts.json) printTimings(timings);
}

export function envSourceDateEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,12}$/.test(value)) {
    throw new BaseimgError('USAGE', `SOURCE_DATE_EPOCH="${value}" is not a non-negative integer`, {
      hint: 'unset it or set it to seconds since 1970, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)',
    });
  }
  return Number(value);
}

function printTimings(timings: Array<[string, number]>): void {
  process.stderr.write(formatTimings(timings));
}
