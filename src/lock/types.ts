/**
 * The lock file's shape (docs/lock.md). A lock records what a spec resolved
 * to, per architecture, so a later build can fetch exactly those files by
 * path and verify them by hash without downloading any index. The types are
 * family-neutral: a backend contributes its spec inputs, its index sources
 * and, where the index has one, a second package checksum.
 */
import type { Arch } from '../spec/types.js';

/** Bump when a reader of the previous version would misread a lock of the new one. */
export const LOCK_VERSION = 1;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Resolution-relevant spec settings, keyed by spec key path ("packages.include"). */
export type LockInputs = Record<string, JsonValue>;

export interface LockFile {
  lockVersion: number;
  spec: {
    /** "sha256:<hex>" of the canonical JSON of `inputs`; --frozen compares it. */
    digest: string;
    inputs: LockInputs;
  };
  /** One entry per architecture of the spec, in the spec's order. */
  architectures: LockedArch[];
}

export interface LockedArch {
  arch: Arch;
  sources: LockedSource[];
  /** Installed packages in install order. */
  packages: LockedPackage[];
  /** Downloaded but not installed (Debian: ca-certificates read for the CA bundle only). */
  auxiliary: LockedPackage[];
}

/** One index the resolution used. */
export interface LockedSource {
  /** Suite (Debian) or repository (Alpine); packages name it in `repository`. */
  repository: string;
  /** Base URL it was locked from (a mirror, or a snapshot URL); package filenames are relative to it. */
  url: string;
  /** The index file, relative to `url` ("dists/bookworm/InRelease"), or absolute when it lies elsewhere. */
  index: string;
  /** The index's own date (Debian Release Date); null when it has none. */
  date: string | null;
  /** SHA-256 of the index file as fetched. */
  sha256: string;
  /** Alpine: the key that signed the index; null for Debian. */
  key: string | null;
}

export interface LockedPackage {
  name: string;
  version: string;
  architecture: string;
  repository: string;
  /** Relative to the repository's base URL. */
  filename: string;
  size: number;
  sha256: string;
  /** A second checksum from the index (Alpine C:); null when the family has none. */
  checksum: string | null;
  source: { name: string; version: string } | null;
  maintainer: string | null;
  /** Bytes once installed, when the index says. */
  installedSize: number | null;
  /** Names of locked packages this one depends on (the resolution graph's edges). */
  dependsOn: string[];
  reason: string;
  /** The package's index entry verbatim (Debian paragraph, APKINDEX record). */
  fields: Record<string, string>;
}
