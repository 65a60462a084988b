/** Shapes shared by the Debian repository, resolver and installer modules. */

/** One binary package paragraph from a Packages index, plus where it came from. */
export interface DebPackage {
  name: string;
  version: string;
  /** "amd64", "arm64" or "all". */
  architecture: string;
  /** Pool path relative to the archive base ("pool/main/b/base-files/base-files_12.4_amd64.deb"). */
  filename: string;
  size: number;
  sha256: string;
  /** The paragraph's fields as written in the index (keys in their original case). */
  fields: Record<string, string>;
  /**
   * One field, exact spelling first, then ignoring case (as `fields` would
   * give it), without parsing the whole paragraph when the package is backed
   * by a scanned index. Absent on packages built from other sources.
   */
  lookup?(name: string): string | undefined;
  /** Suite the index belongs to ("bookworm-security"). */
  suite: string;
  component: string;
  /** Archive base URL the Filename is relative to (no trailing slash). */
  baseUrl: string;
}

/** A verified, parsed Release/InRelease file. */
export interface ReleaseInfo {
  suite: string;
  codename: string | undefined;
  version: string | undefined;
  /** Date: as written, and parsed. */
  date: string | undefined;
  dateParsed: Date | undefined;
  validUntil: Date | undefined;
  acquireByHash: boolean;
  /** SHA256 section: path relative to dists/<suite>/ → size and hash. */
  files: Map<string, { size: number; sha256: string }>;
  /** SHA-256 of the InRelease file as fetched. */
  sha256: string;
  /** Archive base URL (no trailing slash). */
  baseUrl: string;
  /** Fingerprints of the keys whose signatures verified. */
  signedBy: string[];
}
