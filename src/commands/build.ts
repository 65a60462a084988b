/** `baseimg build SPEC`: CLI options → BuildOptions, run the pipeline, print the result. */
import { basename, resolve as resolvePath } from 'node:path';
import type { Arch } from '../spec/types.js';
import { loadSpec } from '../spec/load.js';
import { buildImage, type BuildResult } from '../pipeline/build.js';
import { withBuildContext, type CommonOptions } from './context.js';
import { BaseimgError } from '../util/errors.js';
import { humanBytes } from '../util/reporter.js';
import { openLockForBuild } from '../lock/use.js';

export interface BuildCommandOptions extends CommonOptions {
  output?: string;
  tag?: string;
  arch?: Arch;
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
}

export async function runBuild(specFile: string, opts: BuildCommandOptions): Promise<BuildResult> {
  if (opts.lock !== undefined && !opts.locked && !opts.frozen) {
    throw new BaseimgError('USAGE', '--lock FILE is used with --locked or --frozen', { hint: 'add --locked' });
  }
  const spec = await loadSpec(specFile);
  const arch = opts.arch ?? spec.arch[0]!;
  if (spec.arch.length > 1 && !opts.arch) {
    // One image per run for now; multi-arch indexes come with the registry work.
    throw new BaseimgError('USAGE', `${specFile} lists several architectures (${spec.arch.join(', ')}); choose one with --arch`);
  }
  const output = resolvePath(opts.output ?? `${spec.name}.tar`);
  const sourceDateEpoch = opts.sourceDateEpoch ?? envSourceDateEpoch(process.env.SOURCE_DATE_EPOCH);

  return withBuildContext(opts, async (ctx, reporter) => {
    const started = performance.now();
    const locked = opts.locked || opts.frozen
      ? await openLockForBuild(spec, specFile, arch, { lockFile: opts.lock, frozen: opts.frozen ?? false }, reporter)
      : undefined;
    const result = await buildImage(spec, { arch, output, tag: opts.tag ?? spec.tag, sourceDateEpoch, sbom: { dir: opts.sbomDir === undefined ? undefined : resolvePath(opts.sbomDir), files: opts.sbomFiles ?? false }, ...(locked ? { locked } : {}) }, ctx);
    reporter.close();
    if (opts.json) {
      process.stdout.write(JSON.stringify({ ...result, timings: opts.timings ? Object.fromEntries(reporter.timings) : undefined }, null, 2) + '\n');
    } else if (!opts.quiet) {
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      process.stderr.write(
        `built ${basename(result.output)} (${result.tag}, ${result.arch}, ${result.packages.length} packages, ${humanBytes(result.size)}) in ${seconds}s\n` +
          `  digest ${result.digest}\n`,
      );
    }
    if (opts.timings && !opts.json) printTimings(reporter.timings);
    return result;
  });
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
  const total = timings.reduce((n, [, ms]) => n + ms, 0);
  const width = Math.max(...timings.map(([s]) => s.length), 5);
  for (const [stageName, ms] of timings) {
    process.stderr.write(`  ${stageName.padEnd(width)}  ${(ms / 1000).toFixed(3).padStart(8)} s  ${((100 * ms) / (total || 1)).toFixed(0).padStart(3)}%\n`);
  }
}
