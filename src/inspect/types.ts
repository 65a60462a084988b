/**
 * The reader's vocabulary: images found in an archive, their layers and
 * configs. Kept apart from src/image/types.ts on purpose: that side describes
 * what baseimg writes (amd64/arm64, linux only); this side must describe
 * whatever other tools wrote (empty architectures, Windows, artifacts).
 */
import type { CompressionKind } from './compression.js';
import type { BlobRef } from './source.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** What the archive's layout is, as far as finding images goes. */
export type ArchiveFormat =
  | 'oci-layout' // index.json (+ oci-layout), what baseimg, Docker 25+, podman oci-archive and skopeo write
  | 'docker-archive' // manifest.json: docker save before 25, podman docker-archive, go-containerregistry
  | 'containers-dir' // skopeo/podman "dir:" transport: manifest.json is one manifest, blobs named by hex
  | 'docker-legacy' // neither: repositories + <id>/json parent chains (very old docker save)
  | 'rootfs-tar'; // no image metadata at all: a plain filesystem tar (docker export), read as one layer

/** One layer as the manifest lists it. */
export interface LayerRef {
  /** 0-based position, bottom layer first. */
  index: number;
  /** Path of the blob inside the archive as listed ("blobs/sha256/ab…", "<id>/layer.tar"). */
  name: string;
  /** The blob; undefined when the archive left it out (a foreign layer). */
  blob: BlobRef | undefined;
  /** Digest the stored blob must have (an OCI descriptor, or a content-addressed name). */
  digest: string | undefined;
  /** sha256 of the uncompressed tar, from the config's rootfs.diff_ids. */
  diffId: string | undefined;
  /** Size a descriptor declares for the blob. */
  declaredSize: number | undefined;
  mediaType: string | undefined;
  /** Foreign / non-distributable: may be absent by design. */
  foreign: boolean;
  urls: string[] | undefined;
}

/** An image found in the archive, before its blobs are read. */
export interface ImageCandidate {
  /** 1-based position among the archive's images, for messages. */
  number: number;
  /** Names it goes by: RepoTags, io.containerd.image.name, org.opencontainers.image.ref.name. */
  refs: string[];
  /** From an index descriptor, when it says. */
  platform: Platform | undefined;
  /** Manifest digest when the archive has a manifest blob. */
  digest: string | undefined;
  /** Where it was found ("index.json", "manifest.json entry 2"). */
  origin: string;
  load(): Promise<ImageParts>;
}

export interface ImageParts {
  format: ArchiveFormat;
  manifestDigest: string | undefined;
  /** The OCI / Docker v2 manifest as parsed (undefined for docker-archive). */
  manifest: Record<string, unknown> | undefined;
  /** sha256 of the config blob ("" for a rootfs tar, which has none). */
  configDigest: string;
  configBytes: Buffer;
  config: ImageConfigDoc;
  layers: LayerRef[];
  notes: string[];
}

/** The parts of an image config the commands read; everything else stays in `raw`. */
export interface ImageConfigDoc {
  raw: Record<string, unknown>;
  architecture: string;
  os: string;
  variant: string | undefined;
  created: string | undefined;
  user: string | undefined;
  env: string[];
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
  workdir: string | undefined;
  labels: Record<string, string>;
  exposedPorts: string[];
  diffIds: string[] | undefined;
  history: Array<{ created?: string; createdBy?: string; comment?: string; emptyLayer: boolean }>;
}

/** A layer after it has been read once (flattening fills these in). */
export interface LayerStats {
  compression: CompressionKind | undefined;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number | undefined;
  entries: number;
  whiteouts: number;
  skipped: boolean;
}
