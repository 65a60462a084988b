/**
 * The parts of a spec a resolution depends on, and their digest. The lock
 * stores both: the digest is what --frozen compares, the inputs let the
 * error say what changed ("packages.include: added curl").
 *
 * Family-neutral inputs: source.distro, arch, packages.include/exclude (sorted:
 * the resolver does not depend on their order). The backend adds its own
 * (Debian: suites, components, mirrors and snapshot as written in the spec,
 * and whether the CA bundle is wanted). Image settings, accounts, paths and
 * keyrings are not inputs: they change the image, not what is fetched.
 */
import type { Spec } from '../spec/types.js';
import type { DistroBackend } from '../distro/types.js';
import { canonicalJson, sha256Digest } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import type { JsonValue, LockInputs } from './types.js';

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function specInputs(spec: Spec, backend: DistroBackend): LockInputs {
  if (backend.lockInputs === undefined) {
    throw new BaseimgError('LOCK', `${spec.file}: distro = "${spec.source.distro}" does not support lock files yet`);
  }
  return {
    'source.distro': spec.source.distro,
    arch: [...spec.arch].sort(byCodeUnit),
    'packages.include': [...spec.packages.include].sort(byCodeUnit),
    'packages.exclude': [...spec.packages.exclude].sort(byCodeUnit),
    ...backend.lockInputs(spec),
  };
}

export function inputsDigest(inputs: LockInputs): string {
  return sha256Digest(canonicalJson(inputs));
}

/** One line per input that differs: "packages.include: added curl; removed tzdata". */
export function describeInputChanges(locked: LockInputs, current: LockInputs): string[] {
  const keys = [...new Set([...Object.keys(locked), ...Object.keys(current)])].sort(byCodeUnit);
  const changes: string[] = [];
  for (const key of keys) {
    const before = locked[key];
    const after = current[key];
    if (before !== undefined && after !== undefined && canonicalJson(before) === canonicalJson(after)) continue;
    changes.push(`${key}: ${describeChange(before, after)}`);
  }
  return changes;
}

function describeChange(before: JsonValue | undefined, after: JsonValue | undefined): string {
  if (isStringList(before) && isStringList(after) && !sameElements(before, after)) {
    const added = after.filter((x) => !before.includes(x));
    const removed = before.filter((x) => !after.includes(x));
    const parts = [];
    if (added.length > 0) parts.push(`added ${added.join(', ')}`);
    if (removed.length > 0) parts.push(`removed ${removed.join(', ')}`);
    return parts.join('; ');
  }
  return `was ${show(before)}, now ${show(after)}`;
}

/** Same elements in another order: shown as was/now, since added/removed would be empty. */
function sameElements(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function isStringList(v: JsonValue | undefined): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function show(v: JsonValue | undefined): string {
  return v === undefined ? '(not recorded)' : JSON.stringify(v);
}
