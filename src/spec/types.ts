/**
 * The validated, normalised form of a spec file. Everything downstream of
 * src/spec reads this shape only; TOML spelling (kebab-case keys, octal-mode
 * strings, relative paths) is resolved by the loader. docs/spec.md documents
 * the TOML side field by field.
 */

export type Arch = 'amd64' | 'arm64';
export const ARCHES: readonly Arch[] = ['amd64', 'arm64'];

export interface DebianSource {
  distro: 'debian';
  /** Base URL of the Debian archive (…/debian); undefined = environment / host apt sources. */
  mirror: string | undefined;
  /** Base URL for `*-security` suites; undefined = derived (see src/distro/debian/mirror.ts). */
  securityMirror: string | undefined;
  /** e.g. ["bookworm", "bookworm-updates", "bookworm-security"], highest priority equal, first wins ties. */
  suites: string[];
  components: string[];
  /** Absolute paths of OpenPGP keyrings (binary or armored); empty = the host's Debian archive keyring. */
  keyring: string[];
  /** Create /bin, /sbin, /lib (and /lib64 on amd64) as symlinks into /usr before unpacking. */
  mergedUsr: boolean;
  /** "YYYYMMDDTHHMMSSZ": take every suite from the snapshot archive as it was then (absent = a live mirror). */
  snapshot?: string;
  /** Base URL of the snapshot service; absent = $BASEIMG_DEBIAN_SNAPSHOT_BASE. */
  snapshotBase?: string;
}

export interface AlpineSource {
  distro: 'alpine';
  /** Repository base URLs, most preferred first (…/v3.20/main). */
  repositories: string[];
  /** Absolute paths or URLs of trusted *.rsa.pub keys. */
  keys: string[];
  allowUntrusted: boolean;
}

export type Source = DebianSource | AlpineSource;

export interface ImageConfig {
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
  /** Ordered; the defaults (PATH, SSL_CERT_FILE) first unless overridden. */
  env: Array<[string, string]>;
  workdir: string;
  /** As written in the spec: an account name, "uid", or "uid:gid"; resolved at finalize. */
  user: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Ports in config.ExposedPorts ("8080/tcp"). */
  exposedPorts: string[];
  stopSignal: string | undefined;
}

export interface UserAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  gecos: string;
  /** Create the home directory (mode 0700, owned by the user) when it does not exist. */
  createHome: boolean;
}

export interface GroupAccount {
  name: string;
  gid: number;
  members: string[];
}

export interface Accounts {
  users: UserAccount[];
  groups: GroupAccount[];
}

export type PathEntry =
  | { type: 'directory'; path: string; mode: number; uid: number; gid: number }
  | { type: 'file'; path: string; mode: number; uid: number; gid: number; content: Buffer }
  | { type: 'symlink'; path: string; target: string; uid: number; gid: number };

/** A local file or directory copied into the image ([[files]]). */
export interface FileEntry {
  /** Absolute host path; a directory is copied with everything below it. */
  source: string;
  /** Destination in the image (normalised, absolute). */
  path: string;
  /** Mode of regular files; undefined = 0755 when the host file is executable by anyone, else 0644. */
  mode: number | undefined;
  /** Mode of directories made from a source directory. */
  dirMode: number;
  uid: number;
  gid: number;
  /** "FILE:LINE" of the entry, for problems found when the build reads the source. */
  where: string;
}

/** One image layer per spec of the include chain, or everything in one layer. */
export type LayerMode = 'per-spec' | 'flat';

export interface CaCertificates {
  /** Build /etc/ssl/certs/ca-certificates.crt as update-ca-certificates would. */
  bundle: boolean;
  /** Extra PEM files (absolute paths), appended like /usr/local/share/ca-certificates. */
  local: string[];
}

export interface Spec {
  /** Absolute path of the spec file (for error messages and relative paths). */
  file: string;
  /** Image name: used for the default tag and output file name. */
  name: string;
  /** Default tag (name:tag) when --tag is not given. */
  tag: string;
  arch: Arch[];
  source: Source;
  packages: { include: string[]; exclude: string[] };
  image: ImageConfig;
  accounts: Accounts;
  paths: PathEntry[];
  /** Local files and directories added after [[paths]]. */
  files: FileEntry[];
  /** Glob patterns of package files removed before finalize (src/finalize/strip.ts). */
  strip: string[];
  /** Absolute paths of the spec files this one includes directly, in order. */
  include: string[];
  layers: LayerMode;
  /** The spec whose image is this image's lower layers (the first include, unless layers = "flat"). */
  layerParent: string | undefined;
  caCertificates: CaCertificates;
  osRelease: { prettyName: string | undefined };
  sourceDateEpoch: number | undefined;
}
