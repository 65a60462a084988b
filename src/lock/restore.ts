/**
 * Reading a lock back for a build: pick the architecture, compare the spec
 * with what was locked, and turn locked entries into the ResolvedPackages
 * the pipeline works with. Backends call these from resolveLocked.
 */
import type { Arch, Spec } from '../spec/types.js';
import type { DistroBackend, ResolvedPackage, Resolution, ResolutionSource } from '../distro/types.js';
import type { BuildContext, Reporter } from '../pipeline/context.js';
import { BaseimgError } from '../util/errors.js';
import { describeInputChanges, inputsDigest, specInputs } from './inputs.js';
import type { LockFile, LockedArch, LockedPackage } from './types.js';

export function lockedArch(lock: LockFile, arch: Arch, file: string): LockedArch {
  const found = lock.architectures.find((a) => a.arch === arch);
  if (found === undefined) {
    throw new BaseimgError('LOCK', `${file} has no entry for ${arch} (it has ${lock.architectures.map((a) => a.arch).join(', ') || 'none'})`, {
      hint: 'add the architecture to the spec\'s arch list and run baseimg lock again',
    });
  }
  return found;
}

/**
 * Does the spec still say what was locked? With `frozen` a difference is an
 * error; otherwise a warning, and the build installs what the lock says.
 */
export function checkSpecAgainstLock(
  lock: LockFile,
  spec: Spec,
  backend: DistroBackend,
  options: { frozen: boolean; file: string; reporter: Reporter },
): void {
  const current = specInputs(spec, backend);
  if (inputsDigest(current) === lock.spec.digest) return;
  const changes = describeInputChanges(lock.spec.inputs, current);
  const what = changes.length > 0 ? changes.join('; ') : 'its resolution inputs differ';
  if (options.frozen) {
    throw new BaseimgError('LOCK', `${spec.file} no longer matches its lock ${options.file}: ${what}`, {
      hint: `run baseimg lock ${spec.file} to update the lock (and commit it), or undo the change to the spec`,
    });
  }
  options.reporter.warn(`${spec.file} changed since ${options.file} was written (${what}); building what the lock says (--frozen makes this an error)`);
}

/** The URL each repository's files are fetched from: `current` where it names one, else the URL it was locked from. */
export function repositoryUrls(locked: LockedArch, current: ReadonlyMap<string, string> | undefined): Map<string, string> {
  return new Map(locked.sources.map((s) => [s.repository, current?.get(s.repository) ?? s.url]));
}

export function resolvedFromLock(entry: LockedPackage, baseUrl: string): ResolvedPackage {
  return {
    name: entry.name,
    version: entry.version,
    architecture: entry.architecture,
    url: `${baseUrl}/${entry.filename}`,
    filename: entry.filename,
    size: entry.size,
    sha256: entry.sha256,
    source: entry.source === null ? undefined : { ...entry.source },
    maintainer: entry.maintainer ?? undefined,
    installedSize: entry.installedSize ?? undefined,
    repository: entry.repository,
    dependsOn: [...entry.dependsOn],
    reason: entry.reason,
    fields: { ...entry.fields },
  };
}

/** The locked sources as a Resolution describes them (nothing was fetched: they are as locked). */
export function sourcesFromLock(locked: LockedArch): ResolutionSource[] {
  return locked.sources.map((s) => ({
    url: /^[a-z]+:/.test(s.index) ? s.index : `${s.url}/${s.index}`,
    suite: s.repository,
    date: s.date ?? undefined,
    sha256: s.sha256,
    baseUrl: s.url,
    ...(s.key === null ? {} : { key: s.key }),
  }));
}

/**
 * A "YYYYMMDDTHHMMSSZ" snapshot time at which every locked index had been
 * published: the newest index date. A suggestion for a hint, not a promise.
 */
export function suggestedSnapshot(locked: LockedArch): string | undefined {
  let newest: number | undefined;
  for (const s of locked.sources) {
    const t = s.date === null ? NaN : Date.parse(s.date.replace(/ UTC$/, ' GMT'));
    if (Number.isFinite(t) && (newest === undefined || t > newest)) newest = t;
  }
  return newest === undefined ? undefined : new Date(newest).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** The resolution a lock describes, through the backend (no index is downloaded). */
export async function resolveFromLock(backend: DistroBackend, spec: Spec, locked: LockedArch, ctx: BuildContext): Promise<Resolution> {
  if (backend.resolveLocked === undefined) {
    throw new BaseimgError('LOCK', `${spec.file}: distro = "${spec.source.distro}" cannot build from a lock yet`, { hint: 'build without --locked' });
  }
  return backend.resolveLocked(spec, locked, ctx);
}

/** A lower spec of a locked spec's include chain, resolved among the locked packages (src/pipeline/layer-stack.ts). */
export async function resolveWithinLock(backend: DistroBackend, spec: Spec, locked: LockedArch, ctx: BuildContext): Promise<Resolution> {
  if (backend.resolveWithinLocked === undefined) {
    throw new BaseimgError('LOCK', `${spec.file}: distro = "${spec.source.distro}" cannot build layered images from a lock yet`, { hint: 'build without --locked, or set layers = "flat"' });
  }
  return backend.resolveWithinLocked(spec, locked, ctx);
}
