/**
 * What every pipeline stage receives: where to cache, how to download, where
 * to report, where scratch files go, and the clock used for trust decisions.
 * Stages take the context instead of reaching for globals so tests can give
 * them a fake clock, a local server and a throwaway cache.
 */

export interface ProgressTask {
  /** Advance by n units (bytes or items). */
  tick(n: number): void;
  /** Change the total once it is known. */
  setTotal(total: number): void;
  done(): void;
}

export interface Reporter {
  /** A progress line for humans ("resolving 6 packages"); hidden by --quiet. */
  info(message: string): void;
  /** Always shown on stderr, even with --quiet. */
  warn(message: string): void;
  /** Shown with BASEIMG_DEBUG=1. */
  debug(message: string): void;
  /** A unit of long work; a bar on a TTY, nothing (or one line at the end) otherwise. */
  task(label: string, total?: number): ProgressTask;
  /** Record the wall time of a named stage (for --timings). */
  timing(stage: string, ms: number): void;
}

export interface DownloadResult {
  /** Path of the verified file (inside the cache, never modified afterwards). */
  path: string;
  sha256: string;
  size: number;
}

export interface DownloadOptions {
  /** Expected SHA-256 (hex); a mismatch is a VERIFY error and nothing enters the cache. */
  sha256?: string;
  /** Expected size in bytes. */
  size?: number;
  /** Refuse bodies larger than this (defends against endless responses). */
  maxBytes?: number;
  /** Progress callback with bytes received since the last call. */
  onBytes?: (n: number) => void;
  /** What the file is, for error messages ("Packages.xz of bookworm/main"). */
  what?: string;
}

/** Downloads with retries, verification and a content-addressed cache (src/net, src/cache). */
export interface Fetcher {
  /**
   * Make `url` available as a verified file. With `sha256` given, a cached copy
   * is used without network access (after re-checking its hash); without it the
   * file is always downloaded (indexes such as InRelease) and then cached by content.
   */
  fetchFile(url: string, options?: DownloadOptions): Promise<DownloadResult>;
  /** Small documents (InRelease, APKINDEX): the body in memory. */
  fetchBuffer(url: string, options?: DownloadOptions): Promise<Buffer>;
}

export interface DerivedCache {
  /** Data derived from verified inputs (e.g. a parsed index keyed by the index's SHA-256). */
  get(key: string): Promise<Buffer | undefined>;
  put(key: string, data: Buffer): Promise<void>;
}

/** Whole files kept by content (SHA-256) in the download cache, such as compressed layers. */
export interface BlobCache {
  /** Path of the cached blob with this hex SHA-256, re-hashed first; undefined when absent or damaged. */
  get(sha256: string): Promise<string | undefined>;
  /** Copies the file at `path`, whose content hashes to `sha256`, into the cache; returns the cached path. */
  put(path: string, sha256: string): Promise<string>;
  /** A new blob written piece by piece; its name is its SHA-256, known once it is complete. */
  writer(): Promise<BlobWriter>;
}

export interface BlobWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Stores the blob (flushed, then renamed into place) and says what it is. */
  commit(): Promise<{ sha256: string; size: number; path: string }>;
  /** Forgets what was written. */
  discard(): Promise<void>;
}

export interface BuildContext {
  fetcher: Fetcher;
  derived: DerivedCache;
  /** Blob side of the cache (absent in contexts that do not cache, e.g. some tests). */
  blobs?: BlobCache;
  reporter: Reporter;
  /** Private scratch directory for this build, removed when the build ends. */
  tmpDir: string;
  /** The clock for signature expiry and Valid-Until checks (tests inject one). */
  now: Date;
  /** Aborted on SIGINT/SIGTERM; long loops check it. */
  signal: AbortSignal;
  /** Skip verification; only with --insecure-skip-verify, which warns and is recorded. */
  insecureSkipVerify: boolean;
  /** Work from the cache only (no network). */
  offline: boolean;
}
