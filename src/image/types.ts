/**
 * The image side's vocabulary. Like go-containerregistry's v1 package, it
 * knows blobs, descriptors, layers and configs, and nothing about distros:
 * a layer is made from a RootTree, a config from ImageConfigInput.
 */
import type { Sha256Digest } from '../util/digest.js';

export const MEDIA_TYPE = {
  layerTarGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  config: 'application/vnd.oci.image.config.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
} as const;

export const ANNOTATION = {
  created: 'org.opencontainers.image.created',
  refName: 'org.opencontainers.image.ref.name',
  /** containerd's (and Docker 25+ `docker save`'s) fully-qualified image name. */
  containerdName: 'io.containerd.image.name',
} as const;

export type ImageArch = 'amd64' | 'arm64';

export interface Platform {
  architecture: ImageArch;
  os: 'linux';
  variant?: string;
}

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: Sha256Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

/** A compressed layer blob written to disk by writeLayer. */
export interface Layer {
  /** sha256 of the uncompressed tar (what config.rootfs.diff_ids lists). */
  diffId: Sha256Digest;
  /** sha256 of the gzip blob (what the manifest lists). */
  digest: Sha256Digest;
  /** Bytes of the gzip blob. */
  size: number;
  /** Bytes of the tar before compression. */
  uncompressedSize: number;
  mediaType: typeof MEDIA_TYPE.layerTarGzip;
  /** Absolute path of the gzip blob. */
  path: string;
}

/** What the caller decides about the image; every value already resolved (numeric user, etc.). */
export interface ImageConfigInput {
  arch: ImageArch;
  /** "uid" or "uid:gid", numeric. */
  user: string;
  /** Ordered; written as "K=V". */
  env: Array<[string, string]>;
  entrypoint?: string[] | undefined;
  cmd?: string[] | undefined;
  workdir: string;
  labels: Record<string, string>;
  /** "8080/tcp", "53/udp" or "8080" (meaning tcp). */
  exposedPorts: string[];
  stopSignal?: string | undefined;
  /** history[].created_by, e.g. "baseimg 0.1.0 build static". */
  createdBy: string;
  /** history[].comment, omitted when undefined. */
  comment?: string | undefined;
  sourceDateEpoch: number;
  /**
   * One history entry per step, when the layers come from different steps
   * (an include chain): steps with emptyLayer add no layer. Without it every
   * layer gets createdBy/comment at sourceDateEpoch.
   */
  history?: HistoryStep[] | undefined;
}

export interface HistoryStep {
  createdBy: string;
  sourceDateEpoch: number;
  emptyLayer?: boolean;
}

/** The blobs that describe one image, serialised and hashed. */
export interface ImageBlobs {
  config: { bytes: Buffer; digest: Sha256Digest };
  manifest: { bytes: Buffer; digest: Sha256Digest };
  layers: Layer[];
  platform: Platform;
}

/** Where an image tarball or layout ended up. */
export interface WrittenImage {
  /** Digest of the image manifest (what `podman inspect` calls the digest). */
  digest: Sha256Digest;
  configDigest: Sha256Digest;
  /** Bytes of the tarball (for a layout directory: sum of its files). */
  size: number;
  path: string;
}
