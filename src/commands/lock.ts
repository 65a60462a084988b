/** `baseimg lock SPEC`: resolve every architecture of the spec and write its lock file. */
import { readFile } from 'node:fs/promises';
import { relative, resolve as resolvePath } from 'node:path';
import { loadSpec } from '../spec/load.js';
import { resolveSpec } from '../pipeline/build.js';
import { backendFor } from '../distro/backends.js';
import { createLock, type ArchResolution } from '../lock/create.js';
import { defaultLockPath, writeLockFile } from '../lock/file.js';
import { serializeLock } from '../lock/format.js';
import { specInputs } from '../lock/inputs.js';
import { withFileHashes } from '../lock/hashes.js';
import type { LockFile } from '../lock/types.js';
import { withBuildContext, type CommonOptions } from './context.js';

export interface LockCommandOptions extends CommonOptions {
  /** Lock file to write (default: beside the spec, <name>.lock.json). */
  lockFile?: string;
}

export interface LockResult {
  lockFile: string;
  /** False when the file already said exactly this. */
  changed: boolean;
  lock: LockFile;
}

export async function runLock(specFile: string, opts: LockCommandOptions): Promise<LockResult> {
  const spec = await loadSpec(specFile);
  const lockFile = resolvePath(opts.lockFile ?? defaultLockPath(specFile));
  specInputs(spec, await backendFor(spec)); // fails early for a family without lock support

  return withBuildContext(opts, async (ctx, reporter) => {
    const perArch: ArchResolution[] = [];
    for (const arch of spec.arch) {
      // One backend per architecture: it keeps per-resolution state (auxiliary downloads).
      const backend = await backendFor(spec);
      const resolved = await resolveSpec(spec, arch, ctx, backend);
      const { resolution, downloads } = await withFileHashes(resolved, backend.downloads(resolved), ctx);
      perArch.push({ resolution, downloads, backend });
    }
    const lock = createLock(spec, perArch);
    const before = await readFile(lockFile, 'utf8').catch(() => undefined);
    const changed = before !== serializeLock(lock);
    if (changed) await writeLockFile(lockFile, lock, ctx.signal);
    reporter.close();

    const summary = lock.architectures.map((a) => ({ arch: a.arch, packages: a.packages.length, auxiliary: a.auxiliary.length }));
    if (opts.json) {
      process.stdout.write(JSON.stringify({ lockFile, changed, digest: lock.spec.digest, architectures: summary }, null, 2) + '\n');
    } else if (!opts.quiet) {
      const shown = relative(process.cwd(), lockFile) || lockFile;
      const parts = summary.map((a) => `${a.arch}: ${a.packages} packages${a.auxiliary > 0 ? ` + ${a.auxiliary} auxiliary` : ''}`);
      process.stderr.write(`${changed ? 'wrote' : 'unchanged:'} ${shown} (${parts.join(', ')})\n`);
    }
    return { lockFile, changed, lock };
  });
}
