/** Opening a spec's lock for `build --locked` / `--frozen`. */
import { resolve as resolvePath } from 'node:path';
import type { Arch, Spec } from '../spec/types.js';
import type { Reporter } from '../pipeline/context.js';
import { backendFor } from '../distro/backends.js';
import { defaultLockPath, readLockFile } from './file.js';
import { checkSpecAgainstLock, lockedArch } from './restore.js';
import type { LockedArch } from './types.js';

export interface LockUse {
  /** Lock file (default: beside the spec). */
  lockFile: string | undefined;
  /** Fail when the spec no longer matches the lock (instead of warning). */
  frozen: boolean;
}

export async function openLockForBuild(
  spec: Spec,
  specFile: string,
  arch: Arch,
  use: LockUse,
  reporter: Reporter,
): Promise<{ entry: LockedArch; file: string }> {
  const file = resolvePath(use.lockFile ?? defaultLockPath(specFile));
  const lock = await readLockFile(file, specFile);
  checkSpecAgainstLock(lock, spec, await backendFor(spec), { frozen: use.frozen, file, reporter });
  return { entry: lockedArch(lock, arch, file), file };
}
