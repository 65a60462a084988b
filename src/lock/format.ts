/**
 * Lock files on disk: JSON with two-space indentation, a final newline, and
 * keys in a fixed order (the order below, not insertion order), so the same
 * lock is always the same bytes and diffs stay readable. Reading is strict:
 * unknown keys, missing keys and malformed values are LOCK errors, because a
 * lock the reader does not fully understand could mean something else.
 */
import { BaseimgError } from '../util/errors.js';
import { ARCHES, type Arch } from '../spec/types.js';
import { inputsDigest } from './inputs.js';
import { JsonReader } from './read-json.js';
import { LOCK_VERSION, type LockFile, type LockedArch, type LockedPackage, type LockedSource } from './types.js';

const FILE_KEYS = ['lockVersion', 'spec', 'architectures'] as const;
const SPEC_KEYS = ['digest', 'inputs'] as const;
const ARCH_KEYS = ['arch', 'sources', 'packages', 'auxiliary'] as const;
const SOURCE_KEYS = ['repository', 'url', 'index', 'date', 'sha256', 'key'] as const;
const PACKAGE_KEYS = [
  'name', 'version', 'architecture', 'repository', 'filename', 'size', 'sha256', 'checksum',
  'source', 'maintainer', 'installedSize', 'dependsOn', 'reason', 'fields',
] as const;

/** The lock as file text. */
export function serializeLock(lock: LockFile): string {
  const ordered = {
    lockVersion: lock.lockVersion,
    spec: { digest: lock.spec.digest, inputs: sortedKeys(lock.spec.inputs) },
    architectures: lock.architectures.map((a) => ({
      arch: a.arch,
      sources: a.sources.map(orderSource),
      packages: a.packages.map(orderPackage),
      auxiliary: a.auxiliary.map(orderPackage),
    })),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

function sortedKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function orderSource(s: LockedSource): LockedSource {
  return { repository: s.repository, url: s.url, index: s.index, date: s.date, sha256: s.sha256, key: s.key };
}

function orderPackage(p: LockedPackage): LockedPackage {
  return {
    name: p.name,
    version: p.version,
    architecture: p.architecture,
    repository: p.repository,
    filename: p.filename,
    size: p.size,
    sha256: p.sha256,
    checksum: p.checksum,
    source: p.source === null ? null : { name: p.source.name, version: p.source.version },
    maintainer: p.maintainer,
    installedSize: p.installedSize,
    dependsOn: [...p.dependsOn],
    reason: p.reason,
    // Index fields keep the index's order: they are data, not structure.
    fields: { ...p.fields },
  };
}

/** Parses and validates lock file text; `file` names it in errors. */
export function parseLock(text: string, file: string): LockFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BaseimgError('LOCK', `${file}: not valid JSON (${(err as Error).message})`, {
      hint: 'lock files are written by `baseimg lock`; re-create it rather than editing it by hand',
    });
  }
  const root = JsonReader.root(file, raw);
  const version = peekVersion(raw);
  if (version !== LOCK_VERSION) {
    if (typeof version === 'number' && version > LOCK_VERSION) {
      throw new BaseimgError('LOCK', `${file}: lock file version ${version} is newer than this baseimg understands (${LOCK_VERSION})`, {
        hint: 'upgrade baseimg, or re-create the lock with this version (baseimg lock)',
      });
    }
    root.object(FILE_KEYS).lockVersion!.fail(`expected ${LOCK_VERSION}`);
  }
  const top = root.object(FILE_KEYS);
  const spec = top.spec!.object(SPEC_KEYS);
  const lock: LockFile = {
    lockVersion: LOCK_VERSION,
    spec: { digest: spec.digest!.string(), inputs: readInputs(spec.inputs!) },
    architectures: top.architectures!.array().map(readArch),
  };
  if (lock.spec.digest !== inputsDigest(lock.spec.inputs)) {
    spec.digest!.fail('does not match spec.inputs (the lock was edited by hand?)');
  }
  checkUniqueArches(lock, top.architectures!);
  return lock;
}

function peekVersion(raw: unknown): unknown {
  return typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).lockVersion : undefined;
}

function readInputs(r: JsonReader): LockFile['spec']['inputs'] {
  const value = r.json();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) r.fail('expected an object');
  return value;
}

function readArch(r: JsonReader): LockedArch {
  const o = r.object(ARCH_KEYS);
  const arch = o.arch!.string();
  if (!(ARCHES as readonly string[]).includes(arch)) o.arch!.fail(`unknown architecture "${arch}"`);
  const sources = o.sources!.array().map(readSource);
  const packageReaders = o.packages!.array();
  const auxiliaryReaders = o.auxiliary!.array();
  const packages = packageReaders.map(readPackage);
  const auxiliary = auxiliaryReaders.map(readPackage);
  const repositories = new Set(sources.map((s) => s.repository));
  const names = new Set<string>();
  packageReaders.forEach((pr, i) => {
    if (names.has(packages[i]!.name)) pr.fail(`package "${packages[i]!.name}" is listed twice`);
    names.add(packages[i]!.name);
  });
  [...packageReaders, ...auxiliaryReaders].forEach((pr, i) => {
    const pkg = i < packages.length ? packages[i]! : auxiliary[i - packages.length]!;
    if (!repositories.has(pkg.repository)) pr.fail(`repository "${pkg.repository}" is not among this architecture's sources`);
  });
  packageReaders.forEach((pr, i) => {
    for (const dep of packages[i]!.dependsOn) {
      if (!names.has(dep)) pr.fail(`dependsOn names "${dep}", which is not a locked package`);
    }
  });
  return { arch: arch as Arch, sources, packages, auxiliary };
}

function readSource(r: JsonReader): LockedSource {
  const o = r.object(SOURCE_KEYS);
  return {
    repository: o.repository!.nonEmptyString(),
    url: o.url!.nonEmptyString(),
    index: o.index!.nonEmptyString(),
    date: o.date!.nullableString(),
    sha256: o.sha256!.sha256(),
    key: o.key!.nullableString(),
  };
}

function readPackage(r: JsonReader): LockedPackage {
  const o = r.object(PACKAGE_KEYS);
  const filename = o.filename!.nonEmptyString();
  // Joined to a base URL at build time: keep it inside the repository.
  if (filename.startsWith('/') || filename.split('/').includes('..') || /[\s?#\\]/.test(filename)) {
    o.filename!.fail(`"${filename}" is not a relative path inside the repository`);
  }
  let source: LockedPackage['source'] = null;
  if (o.source!.json() !== null) {
    const s = o.source!.object(['name', 'version']);
    source = { name: s.name!.string(), version: s.version!.string() };
  }
  return {
    name: o.name!.nonEmptyString(),
    version: o.version!.nonEmptyString(),
    architecture: o.architecture!.nonEmptyString(),
    repository: o.repository!.nonEmptyString(),
    filename,
    size: o.size!.integer(),
    sha256: o.sha256!.sha256(),
    checksum: o.checksum!.nullableString(),
    source,
    maintainer: o.maintainer!.nullableString(),
    installedSize: o.installedSize!.nullableInteger(),
    dependsOn: o.dependsOn!.strings(),
    reason: o.reason!.string(),
    fields: o.fields!.stringRecord(),
  };
}

function checkUniqueArches(lock: LockFile, r: JsonReader): void {
  const seen = new Set<string>();
  lock.architectures.forEach((a, i) => {
    if (seen.has(a.arch)) r.array()[i]!.fail(`architecture ${a.arch} is listed twice`);
    seen.add(a.arch);
  });
}
