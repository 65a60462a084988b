/** What an image's package databases say is installed. */

export type PackageManager = 'dpkg' | 'apk';

export type DatabaseKind =
  | 'dpkg-status.d' // distroless: /var/lib/dpkg/status.d/<pkg> (+ <pkg>.md5sums)
  | 'dpkg-status' // a normal Debian system: /var/lib/dpkg/status + info/<pkg>.list
  | 'apk-installed'; // Alpine / Wolfi: /lib/apk/db/installed

export interface InstalledPackage {
  manager: PackageManager;
  name: string;
  version: string;
  architecture: string | undefined;
  /** Source package (dpkg "Source" without its version) or apk origin. */
  source: string | undefined;
  /** apk's L: field; dpkg keeps licenses in /usr/share/doc/<pkg>/copyright instead. */
  license: string | undefined;
  /** The database file the record came from ("/var/lib/dpkg/status.d/tzdata"). */
  database: string;
  /** Every field of the record as stored (deb822 names, or apk's one-letter keys). */
  fields: Record<string, string>;
  /** Absolute paths the database says the package installed (may include directories). */
  files: string[];
  /** Where `files` came from ("…/tzdata.md5sums"); undefined when the database lists none. */
  filesFrom: string | undefined;
}

export interface PackageDatabase {
  packages: InstalledPackage[];
  /** Database files found, with how many packages each listed. */
  databases: Array<{ kind: DatabaseKind; path: string; packages: number }>;
  /** An SBOM directory shipped in the image (apko/Wolfi write /var/lib/db/sbom/*.spdx.json). */
  sbom: { path: string; files: string[] } | undefined;
  /** Records or files that could not be read, in words. */
  notes: string[];
}
