/**
 * The OCI image config and manifest, as canonical JSON (src/util/digest.ts:
 * RFC 8785, sorted keys, no whitespace), so their digests depend only on the
 * values. Empty settings are omitted by one rule: a string field when "",
 * a list or map when it has no entries, anything when undefined. An empty
 * Entrypoint or Cmd therefore means "none", which for a base image is the
 * same as not setting it.
 */
import { canonicalJsonBytes, sha256Digest, type Sha256Digest } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import { ANNOTATION, MEDIA_TYPE, type Descriptor, type HistoryStep, type ImageBlobs, type ImageConfigInput, type Layer, type Platform } from './types.js';

/** RFC 3339 UTC time of a SOURCE_DATE_EPOCH, without fractional seconds: "2023-11-14T22:13:20Z". */
export function rfc3339(sourceDateEpoch: number): string {
  if (!Number.isSafeInteger(sourceDateEpoch) || sourceDateEpoch < 0) {
    throw new BaseimgError('IMAGE', `SOURCE_DATE_EPOCH ${sourceDateEpoch} is not a non-negative whole number of seconds`);
  }
  return new Date(sourceDateEpoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function platformFor(arch: ImageConfigInput['arch']): Platform {
  // Docker, containerd and the OCI spec's examples use variant v8 for arm64.
  return arch === 'arm64' ? { architecture: 'arm64', os: 'linux', variant: 'v8' } : { architecture: 'amd64', os: 'linux' };
}

/** The config object (before serialisation). */
export function imageConfigObject(input: ImageConfigInput, diffIds: readonly string[]): Record<string, unknown> {
  const created = rfc3339(input.sourceDateEpoch);
  const platform = platformFor(input.arch);
  const config: Record<string, unknown> = {};
  if (input.user !== '') config.User = checkUser(input.user);
  if (input.env.length > 0) config.Env = input.env.map(([k, v]) => `${checkEnvName(k)}=${v}`);
  if (input.entrypoint && input.entrypoint.length > 0) config.Entrypoint = [...input.entrypoint];
  if (input.cmd && input.cmd.length > 0) config.Cmd = [...input.cmd];
  if (input.workdir !== '') config.WorkingDir = input.workdir;
  if (Object.keys(input.labels).length > 0) config.Labels = { ...input.labels };
  const ports = exposedPorts(input.exposedPorts);
  if (Object.keys(ports).length > 0) config.ExposedPorts = ports;
  if (input.stopSignal) config.StopSignal = input.stopSignal;

  const comment = input.comment === undefined ? {} : { comment: input.comment };
  const history = input.history
    ? historyOf(input.history, diffIds.length, comment)
    : diffIds.map(() => ({ created, created_by: input.createdBy, ...comment }));
  return {
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    created,
    config,
    rootfs: { type: 'layers', diff_ids: [...diffIds] },
    history,
  };
}

/** Explicit history steps; the steps that made layers must match the layers one to one. */
function historyOf(steps: readonly HistoryStep[], layers: number, comment: { comment?: string }): Array<Record<string, unknown>> {
  if (steps.filter((h) => h.emptyLayer !== true).length !== layers) {
    throw new BaseimgError('INTERNAL', `image history has ${steps.length} steps for ${layers} layers`);
  }
  return steps.map((h) => ({
    created: rfc3339(h.sourceDateEpoch),
    created_by: h.createdBy,
    ...comment,
    ...(h.emptyLayer === true ? { empty_layer: true } : {}),
  }));
}

/** Serialised config blob. */
export function buildImageConfig(input: ImageConfigInput, diffIds: readonly string[]): Buffer {
  return canonicalJsonBytes(imageConfigObject(input, diffIds));
}

export interface ManifestInput {
  config: Descriptor;
  layers: readonly Layer[];
  sourceDateEpoch: number;
  /** User annotations; a user value for org.opencontainers.image.created wins. */
  annotations?: Record<string, string>;
}

export function buildManifest(input: ManifestInput): Buffer {
  return canonicalJsonBytes({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: { mediaType: input.config.mediaType, digest: input.config.digest, size: input.config.size },
    layers: input.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    annotations: { [ANNOTATION.created]: rfc3339(input.sourceDateEpoch), ...input.annotations },
  });
}

export interface AssembleInput {
  layers: readonly Layer[];
  /** The config blob from buildImageConfig (its diff_ids must match the layers). */
  configJson: Buffer;
  manifestAnnotations?: Record<string, string>;
  sourceDateEpoch: number;
}

/** Config + manifest blobs for some layers; checks that the config's diff_ids are those layers. */
export function assembleImage(input: AssembleInput): ImageBlobs {
  const parsed = parseConfig(input.configJson);
  const diffIds = input.layers.map((l) => l.diffId);
  if (JSON.stringify(parsed.rootfs.diff_ids) !== JSON.stringify(diffIds)) {
    throw new BaseimgError('INTERNAL', 'image config rootfs.diff_ids do not match the layers being written');
  }
  const configDigest: Sha256Digest = sha256Digest(input.configJson);
  const manifest = buildManifest({
    config: { mediaType: MEDIA_TYPE.config, digest: configDigest, size: input.configJson.length },
    layers: input.layers,
    sourceDateEpoch: input.sourceDateEpoch,
    annotations: input.manifestAnnotations ?? {},
  });
  const platform: Platform = {
    architecture: parsed.architecture,
    os: 'linux',
    ...(parsed.variant ? { variant: parsed.variant } : {}),
  };
  return {
    config: { bytes: input.configJson, digest: configDigest },
    manifest: { bytes: manifest, digest: sha256Digest(manifest) },
    layers: [...input.layers],
    platform,
  };
}

interface ParsedConfig {
  architecture: Platform['architecture'];
  variant?: string;
  rootfs: { diff_ids: string[] };
}

function parseConfig(bytes: Buffer): ParsedConfig {
  const c = JSON.parse(bytes.toString('utf8')) as Partial<ParsedConfig> & { os?: string };
  if ((c.architecture !== 'amd64' && c.architecture !== 'arm64') || c.os !== 'linux' || !Array.isArray(c.rootfs?.diff_ids)) {
    throw new BaseimgError('INTERNAL', 'image config is missing architecture, os or rootfs.diff_ids');
  }
  return c as ParsedConfig;
}

/** {"8080/tcp": {}} from ["8080", "53/udp"]; protocol defaults to tcp as in Docker. */
function exposedPorts(ports: readonly string[]): Record<string, Record<string, never>> {
  const out: Record<string, Record<string, never>> = {};
  for (const p of ports) {
    const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(p);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) {
      throw new BaseimgError('IMAGE', `exposed port ${JSON.stringify(p)} is not PORT or PORT/tcp|udp|sctp`);
    }
    out[`${Number(m[1])}/${m[2] ?? 'tcp'}`] = {};
  }
  return out;
}

function checkUser(user: string): string {
  if (!/^\d+(:\d+)?$/.test(user)) {
    throw new BaseimgError('INTERNAL', `image user ${JSON.stringify(user)} must be resolved to "uid" or "uid:gid" before writing the config`);
  }
  return user;
}

function checkEnvName(name: string): string {
  if (name === '' || name.includes('=') || name.includes('\0')) {
    throw new BaseimgError('IMAGE', `environment variable name ${JSON.stringify(name)} is empty or contains "=" or NUL`);
  }
  return name;
}
