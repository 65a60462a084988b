/**
 * Images of an OCI image layout: index.json, followed through nested
 * indexes and Docker manifest lists. A descriptor whose media type says
 * nothing useful (go-containerregistry's test layouts use
 * "application/vnd.oci.descriptor.v1+json") is classified by reading the
 * blob. Buildx attestation manifests are not images and are skipped.
 */
import { BaseimgError } from '../util/errors.js';
import {
  blobPath,
  findBlob,
  isForeignMediaType,
  isObject,
  parseConfig,
  parseJson,
  readVerified,
} from './blobs.js';
import type { BlobSource } from './source.js';
import type { ImageCandidate, ImageParts, LayerRef, Platform } from './types.js';

const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);
const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
const REF_ANNOTATIONS = ['io.containerd.image.name', 'org.opencontainers.image.ref.name'];
const MAX_DEPTH = 4;

interface Found {
  refs: string[];
  platform: Platform | undefined;
  digest: string;
  size: number | undefined;
  /** Already read while classifying. */
  bytes: Buffer | undefined;
  where: string;
}

/**
 * The image manifests reachable from index.json, in index order; undefined
 * when the index lists none (Docker 25+ can write "manifests": null).
 */
export async function discoverOci(source: BlobSource, index: unknown, notes: string[]): Promise<ImageCandidate[] | undefined> {
  if (!isObject(index)) throw new BaseimgError('IMAGE', `${source.label}: index.json is not a JSON object`);
  if (!Array.isArray(index.manifests) || index.manifests.length === 0) return undefined;
  const all: Found[] = [];
  await walk(source, index.manifests, [], 0, 'index.json', all, notes);
  // The same manifest listed twice (by tag and inside a nested index) is one image with both names.
  const found: Found[] = [];
  for (const f of all) {
    const same = found.find((g) => g.digest === f.digest);
    if (!same) found.push(f);
    else {
      for (const r of f.refs) if (!same.refs.includes(r)) same.refs.push(r);
      same.platform ??= f.platform;
    }
  }
  return found.map((f, i) => ({
    number: i + 1,
    refs: f.refs,
    platform: f.platform,
    digest: f.digest,
    origin: f.where,
    load: () => loadManifest(source, f),
  }));
}

async function walk(source: BlobSource, descriptors: unknown[], inherited: string[], depth: number, where: string, out: Found[], notes: string[]): Promise<void> {
  if (depth > MAX_DEPTH) throw new BaseimgError('IMAGE', `${source.label}: indexes nested more than ${MAX_DEPTH} deep in ${where}`);
  for (const [i, d] of descriptors.entries()) {
    const at = `${where} manifests[${i}]`;
    if (!isObject(d)) throw new BaseimgError('IMAGE', `${source.label}: ${at} is not a descriptor`);
    const path = blobPath(source, d.digest, at);
    const annotations = isObject(d.annotations) ? d.annotations : {};
    const refs = [...inherited];
    for (const key of REF_ANNOTATIONS) {
      const v = annotations[key];
      if (typeof v === 'string' && v !== '' && !refs.includes(v)) refs.push(v);
    }
    const mediaType = typeof d.mediaType === 'string' ? d.mediaType : undefined;
    const size = typeof d.size === 'number' ? d.size : undefined;
    let kind = mediaType && MANIFEST_TYPES.has(mediaType) ? 'manifest' : mediaType && INDEX_TYPES.has(mediaType) ? 'index' : 'unknown';
    let bytes: Buffer | undefined;
    let doc: unknown;
    if (kind !== 'manifest') {
      const blob = source.find(path);
      if (blob) {
        bytes = await readVerified(source, blob, d.digest as string, size);
        doc = parseJson(source, path, bytes);
        if (kind === 'unknown' && isObject(doc)) kind = Array.isArray(doc.manifests) ? 'index' : 'layers' in doc || 'config' in doc ? 'manifest' : 'unknown';
      } else if (kind === 'unknown') {
        kind = 'manifest'; // cannot tell; loading it will report the missing blob
      } else {
        findBlob(source, path, 'index'); // throws the missing-blob error
      }
    }
    if (kind === 'index') {
      const nested = isObject(doc) && Array.isArray(doc.manifests) ? doc.manifests : [];
      await walk(source, nested, refs, depth + 1, path, out, notes);
    } else if (kind === 'manifest') {
      const platform = platformOf(d.platform);
      if (annotations['vnd.docker.reference.type'] === 'attestation-manifest' || (platform?.os === 'unknown' && platform.architecture === 'unknown')) continue;
      out.push({ refs, platform, digest: d.digest as string, size, bytes, where: at });
    } else {
      notes.push(`${at} (${mediaType ?? 'no media type'}) is not an image manifest; skipped`);
    }
  }
}

export function platformOf(p: unknown): Platform | undefined {
  if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') return undefined;
  return { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' && p.variant ? { variant: p.variant } : {}) };
}

async function loadManifest(source: BlobSource, f: Found): Promise<ImageParts> {
  const path = blobPath(source, f.digest, f.where);
  const bytes = f.bytes ?? (await readVerified(source, findBlob(source, path, 'manifest'), f.digest, f.size));
  return manifestParts(source, bytes, path, f.digest, (d, where) => blobPath(source, d, where), 'oci-layout');
}

/** Where the blob of a digest is stored: blobs/sha256/<hex> in a layout, <hex> in a containers dir: layout. */
export type BlobNamer = (digest: unknown, where: string) => string;

/** An image manifest's config and layers, read and checked. */
export async function manifestParts(source: BlobSource, bytes: Buffer, path: string, digest: string, nameOf: BlobNamer, format: ImageParts['format']): Promise<ImageParts> {
  const manifest = parseJson(source, path, bytes);
  if (!isObject(manifest)) throw new BaseimgError('IMAGE', `${source.label}: manifest ${path} is not a JSON object`);
  if (manifest.schemaVersion === 1) {
    throw new BaseimgError('IMAGE', `${source.label}: manifest ${path} is a Docker schema 1 manifest, which baseimg does not read`, {
      hint: 'convert it with `skopeo copy --format oci …`',
    });
  }
  if (!isObject(manifest.config) || !Array.isArray(manifest.layers)) {
    throw new BaseimgError('IMAGE', `${source.label}: manifest ${path} has no config or layers`);
  }
  const configPath = nameOf(manifest.config.digest, `${path} config`);
  const configSize = typeof manifest.config.size === 'number' ? manifest.config.size : undefined;
  const configBytes = await readVerified(source, findBlob(source, configPath, 'config'), manifest.config.digest as string, configSize);
  const config = parseConfig(source, configPath, configBytes);
  const notes: string[] = [];
  const layers: LayerRef[] = manifest.layers.map((l, i) => {
    if (!isObject(l)) throw new BaseimgError('IMAGE', `${source.label}: ${path} layers[${i}] is not a descriptor`);
    const name = nameOf(l.digest, `${path} layers[${i}]`);
    const mediaType = typeof l.mediaType === 'string' ? l.mediaType : undefined;
    const foreign = isForeignMediaType(mediaType);
    const blob = source.find(name);
    if (!blob && !foreign) findBlob(source, name, `layer ${i + 1}`);
    return {
      index: i,
      name,
      blob,
      digest: l.digest as string,
      diffId: config.diffIds?.[i],
      declaredSize: typeof l.size === 'number' ? l.size : undefined,
      mediaType,
      foreign,
      urls: Array.isArray(l.urls) ? l.urls.filter((u): u is string => typeof u === 'string') : undefined,
    };
  });
  checkDiffIds(source, config.diffIds, layers.length, configPath, notes);
  return { format, manifestDigest: digest, manifest, configDigest: manifest.config.digest as string, configBytes, config, layers, notes };
}

/** The config must list one diff_id per layer; an artifact config without rootfs is tolerated with a note. */
export function checkDiffIds(source: BlobSource, diffIds: string[] | undefined, layers: number, configName: string, notes: string[]): void {
  if (diffIds === undefined) {
    if (layers > 0) notes.push(`config ${configName} lists no rootfs.diff_ids; layer contents cannot be checked against it`);
    return;
  }
  if (diffIds.length !== layers) {
    throw new BaseimgError('IMAGE', `${source.label}: config ${configName} lists ${diffIds.length} diff_ids but the manifest has ${layers} layers`);
  }
}
