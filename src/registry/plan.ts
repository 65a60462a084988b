/**
 * What a push sends, read from any image archive src/inspect can open:
 *  - an OCI layout (baseimg, Docker 25+, podman/skopeo oci-archive): the
 *    manifest or index that index.json lists, byte for byte, so the digest
 *    in the registry is the digest of the file; an index brings its
 *    per-platform manifests along;
 *  - anything else (docker save, podman docker-archive, a containers dir:
 *    copy): an OCI manifest made for the image, its layers sent as stored
 *    (media type from their magic bytes).
 * --image / --platform pick one image of an archive holding several.
 */
import { createReadStream } from 'node:fs';
import { ImageArchive, type ImageSelector } from '../inspect/index.js';
import { blobPath, findBlob, isObject, parseJson, readVerified } from '../inspect/blobs.js';
import { sniffCompression } from '../inspect/compression.js';
import type { BlobRef, BlobSource } from '../inspect/source.js';
import type { Platform } from '../inspect/types.js';
import { platformOf } from '../inspect/oci-index.js';
import { canonicalJsonBytes, hashStream, sha256Digest } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import type { BlobToPush } from './client.js';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
} as const;
const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerList]);
const LAYER_TYPE = { gz: 'application/vnd.oci.image.layer.v1.tar+gzip', zst: 'application/vnd.oci.image.layer.v1.tar+zstd', none: 'application/vnd.oci.image.layer.v1.tar' } as const;
const MAX_DEPTH = 4;

export interface PlanBlob extends BlobToPush {
  mediaType: string;
  /** "config" or "layer N of <manifest digest>", for messages. */
  role: string;
}

export interface PlanNode {
  kind: 'manifest' | 'index';
  digest: string;
  mediaType: string;
  bytes: Buffer;
  platform: Platform | undefined;
  /** index: the manifests (and nested indexes) it lists. */
  children: PlanNode[];
  /** manifest: its config and layers that are in the archive (foreign layers are not). */
  blobs: PlanBlob[];
}

export interface PushPlan {
  label: string;
  top: PlanNode;
  close(): Promise<void>;
}

export async function planFromArchive(path: string, selector: ImageSelector = {}): Promise<PushPlan> {
  const archive = await ImageArchive.open(path);
  try {
    const source = archive.source;
    let top: PlanNode;
    if (archive.format === 'oci-layout') {
      const index = parseJson(source, 'index.json', await readVerified(source, findBlob(source, 'index.json', 'index'), undefined));
      const listed = isObject(index) && Array.isArray(index.manifests) ? index.manifests.filter(isObject) : [];
      if (selector.image === undefined && selector.platform === undefined && listed.length === 1) {
        top = await nodeFromDescriptor(source, listed[0]!, 'index.json manifests[0]', 0);
      } else {
        const image = await archive.select(selector).catch((e: unknown) => {
          throw asPushChoice(e);
        });
        const digest = image.candidate.digest!;
        top = await nodeFromDescriptor(source, { mediaType: MEDIA.ociManifest, digest, platform: image.candidate.platform }, image.candidate.origin, 0);
      }
    } else {
      const image = await archive.select(selector).catch((e: unknown) => {
        throw asPushChoice(e);
      });
      if (image.parts.format === 'rootfs-tar') {
        throw new BaseimgError('IMAGE', `${path} is a plain filesystem tar without an image config; it cannot be pushed`, {
          hint: 'push an image tarball (baseimg build, docker save, podman save)',
        });
      }
      top = await synthesize(source, image.parts.configBytes, image.parts.layers, image.platform);
    }
    return { label: archive.label, top, close: () => archive.close() };
  } catch (e) {
    await archive.close();
    throw e;
  }
}

function asPushChoice(e: unknown): unknown {
  if (e instanceof BaseimgError && e.code === 'USAGE' && e.message.includes('choose one')) {
    return new BaseimgError('USAGE', e.message, { hint: `${e.hint ?? ''}; push sends one image or one index` });
  }
  return e;
}

async function nodeFromDescriptor(source: BlobSource, d: Record<string, unknown>, where: string, depth: number): Promise<PlanNode> {
  if (depth > MAX_DEPTH) throw new BaseimgError('IMAGE', `${source.label}: indexes nested more than ${MAX_DEPTH} deep at ${where}`);
  const name = blobPath(source, d.digest, where);
  const digest = d.digest as string;
  const bytes = await readVerified(source, findBlob(source, name, 'manifest'), digest, typeof d.size === 'number' ? d.size : undefined);
  const doc = parseJson(source, name, bytes);
  if (!isObject(doc)) throw new BaseimgError('IMAGE', `${source.label}: ${name} is not a JSON object`);
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : typeof d.mediaType === 'string' ? d.mediaType : undefined;
  const isIndex = Array.isArray(doc.manifests) || (declared !== undefined && INDEX_TYPES.has(declared));
  const mediaType = declared ?? (isIndex ? MEDIA.ociIndex : MEDIA.ociManifest);
  const platform = platformOf(d.platform);
  if (isIndex) {
    const children: PlanNode[] = [];
    for (const [i, child] of (Array.isArray(doc.manifests) ? doc.manifests : []).entries()) {
      if (!isObject(child)) throw new BaseimgError('IMAGE', `${source.label}: ${name} manifests[${i}] is not a descriptor`);
      children.push(await nodeFromDescriptor(source, child, `${name} manifests[${i}]`, depth + 1));
    }
    return { kind: 'index', digest, mediaType, bytes, platform, children, blobs: [] };
  }
  if (!isObject(doc.config) || !Array.isArray(doc.layers)) throw new BaseimgError('IMAGE', `${source.label}: manifest ${name} has no config or layers`);
  const blobs: PlanBlob[] = [];
  const descriptors: Array<[Record<string, unknown>, string]> = [[doc.config, `config of ${digest}`]];
  for (const [i, l] of doc.layers.entries()) {
    if (!isObject(l)) throw new BaseimgError('IMAGE', `${source.label}: ${name} layers[${i}] is not a descriptor`);
    descriptors.push([l, `layer ${i + 1} of ${digest}`]);
  }
  for (const [desc, role] of descriptors) {
    const blobName = blobPath(source, desc.digest, `${name} ${role}`);
    const mt = typeof desc.mediaType === 'string' ? desc.mediaType : '';
    const blob = source.find(blobName);
    if (!blob) {
      if (/foreign|nondistributable/.test(mt)) continue; // not ours to send; the registry takes the manifest without it
      findBlob(source, blobName, role);
    }
    if (typeof desc.size === 'number' && desc.size !== blob!.size) {
      throw new BaseimgError('IMAGE', `${source.label}: ${role} ${blobName} is ${blob!.size} bytes, its descriptor says ${desc.size}`);
    }
    blobs.push(planBlob(blob!, desc.digest as string, mt, role));
  }
  return { kind: 'manifest', digest, mediaType, bytes, platform, children: [], blobs };
}

/** An OCI manifest for an image stored without one (docker-archive): layers hashed as stored. */
async function synthesize(source: BlobSource, configBytes: Buffer, layers: Array<{ blob: BlobRef | undefined; name: string; foreign: boolean; index: number }>, platform: Platform): Promise<PlanNode> {
  const configDigest = sha256Digest(configBytes);
  const blobs: PlanBlob[] = [
    { digest: configDigest, size: configBytes.length, mediaType: MEDIA.ociConfig, role: 'config', open: (s, e) => oneChunk(configBytes.subarray(s, e)) },
  ];
  const layerDescriptors: Array<{ mediaType: string; digest: string; size: number }> = [];
  for (const l of layers) {
    if (!l.blob) throw new BaseimgError('IMAGE', `${source.label}: layer ${l.index + 1} (${l.name}) is not in the archive; it cannot be pushed`);
    const hashed = await hashStream(source.stream(l.blob));
    const mediaType = LAYER_TYPE[sniffCompression(await source.head(l.blob)) as keyof typeof LAYER_TYPE] ?? LAYER_TYPE.none;
    layerDescriptors.push({ mediaType, digest: hashed.digest, size: hashed.size });
    blobs.push(planBlob(l.blob, hashed.digest, mediaType, `layer ${l.index + 1}`));
  }
  const bytes = canonicalJsonBytes({
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: configBytes.length },
    layers: layerDescriptors,
  });
  return { kind: 'manifest', digest: sha256Digest(bytes), mediaType: MEDIA.ociManifest, bytes, platform, children: [], blobs };
}

function planBlob(blob: BlobRef, digest: string, mediaType: string, role: string): PlanBlob {
  return {
    digest,
    size: blob.size,
    mediaType,
    role,
    open: (start, end) => (end <= start ? oneChunk(Buffer.alloc(0)) : createReadStream(blob.file, { start: blob.offset + start, end: blob.offset + end - 1, highWaterMark: 1 << 20 })),
  };
}

async function* oneChunk(buf: Buffer): AsyncGenerator<Uint8Array> {
  if (buf.length > 0) yield buf;
}

/** One line per image for messages. */
export function describePlan(node: PlanNode): string {
  if (node.kind === 'manifest') return `manifest ${node.digest}`;
  return `index ${node.digest} (${node.children.map((c) => (c.platform ? `${c.platform.os}/${c.platform.architecture}` : c.digest.slice(0, 19))).join(', ')})`;
}

