/**
 * The SBOM as baseimg knows it, independent of the output format: what is
 * in the image, per package, with where each fact came from. spdx.ts and
 * cyclonedx.ts render it; nothing here knows either format.
 */
import type { ExtractedLicense } from './license/extracted.js';

export type PackageFamily = 'deb' | 'apk';

/** A package's declared license. */
export interface DeclaredLicense {
  /** SPDX license expression, or NOASSERTION. */
  expression: string;
  /** Where it came from: a DEP-5 file, a free-form copyright file, the package index (L:), or nowhere. */
  how: 'dep5' | 'copyright-text' | 'index' | 'none';
  /** Why it is NOASSERTION, or what a LicenseRef stands for. */
  comment?: string | undefined;
}

export interface SbomPackage {
  family: PackageFamily;
  name: string;
  version: string;
  /** The package's own architecture ("amd64", "all", "x86_64", "noarch"). */
  architecture: string;
  purl: string;
  /** Maintainer (Debian) or m: (Alpine) as written: "Name <email>". */
  supplier: string | undefined;
  license: DeclaredLicense;
  /** SHA-256 of the .deb/.apk as downloaded (unknown for packages read from an image's database). */
  sha256: string | undefined;
  /**
   * The URL the package was fetched from. Only in the copy beside the
   * tarball: the mirror differs between machines, and the image must not.
   */
  downloadLocation: string | undefined;
  /** The file's path in its repository ("pool/main/g/glibc/libc6_2.36-9_amd64.deb"): the same from any mirror. */
  filename: string | undefined;
  /** Source package (Debian Source:, Alpine o:). */
  source: { name: string; version: string } | undefined;
  /** Names of packages in this SBOM that this one depends on, sorted. */
  dependsOn: string[];
  /** "partial": only some of its files are in the image (see note). */
  installed: 'complete' | 'partial';
  note: string | undefined;
}

export interface SbomOperatingSystem {
  /** os-release ID ("debian", "alpine"). */
  id: string;
  versionId: string | undefined;
  codename: string | undefined;
  name: string | undefined;
  prettyName: string | undefined;
}

export interface SbomImage {
  /** The spec's name (or, for an image read from a tarball, its reference). */
  name: string;
  /** OCI platform. */
  os: 'linux';
  architecture: string;
  /** Manifest digest: known only outside the image (the copy beside the tarball). */
  digest?: string | undefined;
  /** "pkg:oci/…", with the digest; beside-the-tarball copy only. */
  purl?: string | undefined;
  /** "docker.io/library/name:tag": beside-the-tarball copy only. */
  reference?: string | undefined;
}

export interface SbomFile {
  /** Absolute path in the image. */
  path: string;
  sha256: string;
  sha1: string;
  /** The package that installed it; undefined when baseimg generated it. */
  owner: string | undefined;
}

export interface SbomModel {
  tool: { name: string; version: string };
  /** ISO 8601 UTC, seconds precision: SOURCE_DATE_EPOCH. */
  created: string;
  image: SbomImage;
  operatingSystem: SbomOperatingSystem | undefined;
  /** Sorted by name. */
  packages: SbomPackage[];
  /** Texts behind every LicenseRef used by the packages, sorted by id. */
  licenses: ExtractedLicense[];
  /** Per-file hashes (--sbom-files), sorted by path; undefined when not asked for. */
  files: SbomFile[] | undefined;
  /** True when the build ran with --insecure-skip-verify: its inputs may not be what the repository signed. */
  insecureSkipVerify?: boolean | undefined;
}

/** The statement both formats carry for an --insecure-skip-verify build (docs/SECURITY.md). */
export const INSECURE_NOTE =
  'built with --insecure-skip-verify: repository signature and Release date failures were accepted with a warning; package checksums were verified against the (possibly unverified) indexes';

/** "2024-11-09T10:05:41Z" for a SOURCE_DATE_EPOCH. */
export function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
