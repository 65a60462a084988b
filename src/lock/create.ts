/** From resolutions (one per architecture) to a LockFile. */
import type { Spec } from '../spec/types.js';
import type { DistroBackend, ResolvedPackage, Resolution, ResolutionSource } from '../distro/types.js';
import { BaseimgError } from '../util/errors.js';
import { inputsDigest, specInputs } from './inputs.js';
import { LOCK_VERSION, type LockFile, type LockedArch, type LockedPackage, type LockedSource } from './types.js';

export interface ArchResolution {
  resolution: Resolution;
  /** backend.downloads(resolution): the installed packages plus any auxiliary ones. */
  downloads: ResolvedPackage[];
  /** The backend instance that resolved it. */
  backend: DistroBackend;
}

export function createLock(spec: Spec, perArch: ArchResolution[]): LockFile {
  const first = perArch[0];
  if (first === undefined) throw new BaseimgError('INTERNAL', 'createLock: no architectures');
  const inputs = specInputs(spec, first.backend);
  return {
    lockVersion: LOCK_VERSION,
    spec: { digest: inputsDigest(inputs), inputs },
    architectures: perArch.map(lockArch),
  };
}

function lockArch({ resolution, downloads, backend }: ArchResolution): LockedArch {
  const installed = new Set(resolution.packages.map((p) => p.name));
  const toLocked = (p: ResolvedPackage): LockedPackage => lockPackage(p, backend.lockChecksum?.(p));
  return {
    arch: resolution.arch,
    sources: resolution.sources.map(lockSource),
    packages: resolution.packages.map(toLocked),
    auxiliary: downloads.filter((p) => !installed.has(p.name)).map(toLocked),
  };
}

function lockSource(s: ResolutionSource): LockedSource {
  if (s.baseUrl === undefined) throw new BaseimgError('INTERNAL', `source ${s.url} has no base URL to lock`);
  const prefix = `${s.baseUrl}/`;
  return {
    repository: s.suite,
    url: s.baseUrl,
    index: s.url.startsWith(prefix) ? s.url.slice(prefix.length) : s.url,
    date: s.date ?? null,
    sha256: s.sha256,
    key: s.key ?? null,
  };
}

function lockPackage(p: ResolvedPackage, checksum: string | undefined): LockedPackage {
  if (!/^[0-9a-f]{64}$/.test(p.sha256)) throw new BaseimgError('INTERNAL', `${p.name} ${p.version} has no SHA-256 to lock`);
  return {
    name: p.name,
    version: p.version,
    architecture: p.architecture,
    repository: p.repository,
    filename: p.filename,
    size: p.size,
    sha256: p.sha256,
    checksum: checksum ?? null,
    source: p.source ?? null,
    maintainer: p.maintainer ?? null,
    installedSize: p.installedSize ?? null,
    dependsOn: [...p.dependsOn],
    reason: p.reason,
    fields: { ...p.fields },
  };
}
