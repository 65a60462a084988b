/**
 * Errors of --locked builds: a locked file that does not verify, and locked
 * files the mirror no longer has. Debian mirrors keep only the current version of each package, so a
 * lock outlives its files after the next point release or security update;
 * the snapshot archive keeps them all.
 */
import type { Spec } from '../spec/types.js';
import type { ResolvedPackage } from '../distro/types.js';
import type { Failure } from '../net/missing.js';
import { BaseimgError } from '../util/errors.js';
import { suggestedSnapshot } from './restore.js';
import type { LockedArch } from './types.js';

export function goneFromMirror(gone: Array<Failure<ResolvedPackage>>, spec: Spec, locked: LockedArch, lockFile: string): BaseimgError {
  const lines = gone.map((f) => `  ${f.subject.name} ${f.subject.version}: ${f.subject.url}`);
  const count = gone.length === 1 ? '1 locked package is' : `${gone.length} locked packages are`;
  return new BaseimgError('LOCK', `${count} no longer on the mirror (${lockFile}):\n${lines.join('\n')}`, {
    hint: hintFor(spec, locked),
  });
}

function hintFor(spec: Spec, locked: LockedArch): string {
  const relock = `run baseimg lock ${spec.file} to lock the current versions`;
  if (spec.source.distro !== 'debian') return `the repository has moved on since the lock was written; ${relock}`;
  if (spec.source.snapshot !== undefined) {
    return `the snapshot service does not have them at ${spec.source.snapshot}; check source.snapshot-base (or BASEIMG_DEBIAN_SNAPSHOT_BASE), or ${relock}`;
  }
  const at = suggestedSnapshot(locked);
  const example = at === undefined ? '' : ` (e.g. source.snapshot = "${at}", when the newest locked index was published)`;
  return `the archive has moved on since the lock was written; use a snapshot source${example} with source.snapshot-base or BASEIMG_DEBIAN_SNAPSHOT_BASE, or ${relock}`;
}

/** A locked file whose bytes do not match the lock: the lock was edited, or the mirror serves other bytes. */
export function notAsLocked(failure: Failure<ResolvedPackage>, spec: Spec, lockFile: string): BaseimgError {
  const message = failure.error instanceof Error ? failure.error.message : String(failure.error);
  return new BaseimgError('VERIFY', `${message}; the expected hash is the one in ${lockFile}`, {
    hint: `the file is not the one that was locked; if the lock was edited, restore it; if the mirror really changed the file, re-lock with baseimg lock ${spec.file}`,
    cause: failure.error,
  });
}
