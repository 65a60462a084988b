/**
 * The one interface between the distro-neutral pipeline and a package family.
 * src/distro/debian and src/distro/alpine implement it; src/pipeline and
 * src/image never look at .deb/.apk specifics.
 */
import type { Arch, Spec } from '../spec/types.js';
import type { BuildContext } from '../pipeline/context.js';
import type { RootTree } from '../rootfs/tree.js';
import type { LockedArch, LockInputs } from '../lock/types.js';

export interface FinalizeContext extends BuildContext {
  /** Timestamp for files baseimg itself writes. */
  sourceDateEpoch: number;
  /** Verified local files of packages downloaded for finalize only (by package name). */
  auxiliaryFiles: Map<string, string>;
}

/** One package chosen by the resolver, with everything needed to fetch and describe it. */
export interface ResolvedPackage {
  name: string;
  version: string;
  /** The package's own architecture ("all", "amd64", "x86_64", "noarch"...). */
  architecture: string;
  /** Absolute URL the file is downloaded from. */
  url: string;
  /** Path relative to the repository base, as the index names it. */
  filename: string;
  size: number;
  /**
   * Checksum the downloaded file must match before it is used. '' when the
   * index gives none (APKINDEX has only C:, the control member's SHA-1): the
   * file is then downloaded without it and the backend verifies it.
   */
  sha256: string;
  /** Source package name and version (Debian Source:, Alpine o:). */
  source: { name: string; version: string } | undefined;
  maintainer: string | undefined;
  /** Bytes once installed (Debian Installed-Size is KiB; normalised to bytes). */
  installedSize: number | undefined;
  /** Suite or repository the package came from. */
  repository: string;
  /** Names of resolved packages this one depends on (edges of the resolution graph). */
  dependsOn: string[];
  /** Why it is in: "requested", or the dependency chain that pulled it in. */
  reason: string;
  /** The raw index fields (Debian paragraph / APKINDEX entry), for lockfiles and SBOMs. */
  fields: Record<string, string>;
}

/** One index a resolution used (Debian: a suite's InRelease; Alpine: a repository's APKINDEX). */
export interface ResolutionSource {
  /** URL of the index file as fetched. */
  url: string;
  /** Suite (Debian) or repository (Alpine): what ResolvedPackage.repository names. */
  suite: string;
  /** The index's own date (Debian Release Date), when it has one. */
  date: string | undefined;
  /** SHA-256 of the index file as fetched. */
  sha256: string;
  /** Base URL the packages' filenames are relative to; locks need it (src/lock). */
  baseUrl?: string;
  /** Alpine: name of the key that signed the index. */
  key?: string;
}

export interface Resolution {
  arch: Arch;
  /** In install order: dependencies before dependents, ties broken by name. */
  packages: ResolvedPackage[];
  /** Description of each index used (URL, date, digest), for locks and logs. */
  sources: ResolutionSource[];
}

/** What unpacking left behind about one package, for finalize and the SBOM. */
export interface InstalledPackage {
  pkg: ResolvedPackage;
  /** Paths (absolute, as placed in the tree) of the package's non-directory entries. */
  files: string[];
  /** Debian: the control file verbatim; Alpine: .PKGINFO verbatim. */
  control: Buffer;
  /** Debian: the md5sums file verbatim (may be absent). */
  md5sums: Buffer | undefined;
  /** Newest mtime among the package's entries (seconds), for the default SOURCE_DATE_EPOCH. */
  newestMtime: number;
}

export interface DistroBackend {
  readonly family: 'debian' | 'alpine';
  /** Fetch and verify the indexes, then compute the dependency closure. Deterministic. */
  resolve(spec: Spec, arch: Arch, ctx: BuildContext): Promise<Resolution>;
  /**
   * Optional: resolve several specs (an include chain, root first) sharing the loaded indexes,
   * so that resolve() for each of them afterwards is answered from the resolution cache.
   */
  resolveAll?(specs: Spec[], arch: Arch, ctx: BuildContext): Promise<void>;
  /** Lay down what must exist before any package is unpacked (merged-/usr symlinks...). */
  prepareRoot(root: RootTree, spec: Spec, arch: Arch, ctx: BuildContext): Promise<void>;
  /** The files to download: the resolution's packages plus any the finalize stage reads (CA data). */
  downloads(resolution: Resolution): ResolvedPackage[];
  /** Unpack one verified package file onto the root. Packages are installed in Resolution order. */
  install(pkg: ResolvedPackage, file: string, root: RootTree, ctx: BuildContext): Promise<InstalledPackage>;
  /**
   * Optional: make a later install() of this verified package file cheaper, e.g. by
   * decompressing it into a cache while other packages are installed (src/pipeline/ahead.ts).
   * May fail; install() then meets and reports the problem itself.
   */
  prepare?(pkg: ResolvedPackage, file: string, ctx: BuildContext): Promise<void>;
  /** Write what maintainer scripts would have made: accounts, CA bundle, os-release, package db. */
  finalize(root: RootTree, installed: InstalledPackage[], spec: Spec, arch: Arch, ctx: FinalizeContext): Promise<void>;

  // Lock support (src/lock, docs/lock.md). Optional so a family can add it later;
  // without all of them `baseimg lock` and `build --locked` refuse that family.

  /**
   * The family's spec settings the resolution depends on, keyed by spec key path
   * ("source.suites"), as JSON values; hashed into the lock so --frozen notices changes.
   */
  lockInputs?(spec: Spec): LockInputs;
  /** A second checksum the index gives for the package, recorded beside its SHA-256 (Alpine: C:). */
  lockChecksum?(pkg: ResolvedPackage): string | undefined;
  /**
   * The resolution a lock describes, without downloading any index. Afterwards
   * downloads() returns the locked auxiliary packages as well.
   */
  resolveLocked?(spec: Spec, locked: LockedArch, ctx: BuildContext): Promise<Resolution>;
  /**
   * A spec below the locked one in its include chain: its own include/exclude
   * resolved among the locked packages only (no index is downloaded).
   */
  resolveWithinLocked?(spec: Spec, locked: LockedArch, ctx: BuildContext): Promise<Resolution>;
}
