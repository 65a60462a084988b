/**
 * Reading the small JSON documents of an image (index, manifests, configs)
 * with their digests checked, and turning a config into ImageConfigDoc.
 */
import { sha256Digest } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import type { BlobRef, BlobSource } from './source.js';
import type { ImageConfigDoc } from './types.js';

/** Manifests, indexes and configs are small; anything bigger is not one. */
export const MAX_JSON_BYTES = 32 << 20;

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** "blobs/sha256/<hex>" for a digest; other algorithms are refused by name. */
export function blobPath(source: BlobSource, digest: unknown, where: string): string {
  if (typeof digest !== 'string' || !DIGEST_RE.test(digest)) {
    const algo = typeof digest === 'string' ? digest.split(':')[0] : undefined;
    throw new BaseimgError('IMAGE', `${source.label}: ${where} has ${algo && algo !== digest ? `a ${algo} digest, which baseimg does not support` : `an invalid digest ${JSON.stringify(digest)}`}`);
  }
  return `blobs/sha256/${digest.slice(7)}`;
}

/** The digest a content-addressed name claims ("blobs/sha256/<hex>"), if it is one. */
export function digestFromBlobPath(name: string): string | undefined {
  const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
  return m ? `sha256:${m[1]}` : undefined;
}

/** A digest a looser name suggests ("<hex>.json", "sha256:<hex>", "<hex>/layer.tar" does not count). */
export function digestFromLooseName(name: string): string | undefined {
  const m = /^(?:sha256:)?([0-9a-f]{64})(?:\.json)?$/.exec(name.split('/').pop() ?? '');
  return m ? `sha256:${m[1]}` : undefined;
}

export function findBlob(source: BlobSource, name: string, what: string): BlobRef {
  const blob = source.find(name);
  if (!blob) {
    throw new BaseimgError('IMAGE', `${source.label}: ${what} ${name} is not in the archive`, {
      hint: 'the image is incomplete; save or copy it again (a registry pull fetches every blob)',
    });
  }
  return blob;
}

/** Bytes of a blob, checked against `digest` when given (and its declared size). */
export async function readVerified(source: BlobSource, blob: BlobRef, digest: string | undefined, size?: number): Promise<Buffer> {
  const bytes = await source.read(blob, MAX_JSON_BYTES);
  if (digest !== undefined) {
    const got = sha256Digest(bytes);
    if (got !== digest) {
      throw new BaseimgError('IMAGE', `${source.label}: ${blob.name} does not match its digest ${digest} (its content hashes to ${got})`, {
        hint: 'the image is damaged or was edited by hand; save or copy it again',
      });
    }
  }
  if (size !== undefined && bytes.length !== size) {
    throw new BaseimgError('IMAGE', `${source.label}: ${blob.name} is ${bytes.length} bytes, its descriptor says ${size}`);
  }
  return bytes;
}

export function parseJson(source: BlobSource, name: string, bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new BaseimgError('IMAGE', `${source.label}: ${name} is not valid JSON (${(e as Error).message})`);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strList = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined);

/** The fields commands show; a config that is not an object is an error, odd fields are tolerated. */
export function parseConfig(source: BlobSource, name: string, bytes: Buffer): ImageConfigDoc {
  const raw = parseJson(source, name, bytes);
  if (!isObject(raw)) throw new BaseimgError('IMAGE', `${source.label}: config ${name} is not a JSON object`);
  const c = isObject(raw.config) ? raw.config : isObject(raw.container_config) ? raw.container_config : {};
  const rootfs = isObject(raw.rootfs) ? raw.rootfs : undefined;
  const history = Array.isArray(raw.history) ? raw.history.filter(isObject) : [];
  const labels: Record<string, string> = {};
  if (isObject(c.Labels)) for (const [k, v] of Object.entries(c.Labels)) if (typeof v === 'string') labels[k] = v;
  return {
    raw,
    architecture: str(raw.architecture) ?? '',
    os: str(raw.os) ?? '',
    variant: str(raw.variant) || undefined,
    created: str(raw.created),
    user: str(c.User) || undefined,
    env: strList(c.Env) ?? [],
    entrypoint: strList(c.Entrypoint),
    cmd: strList(c.Cmd),
    workdir: str(c.WorkingDir) || undefined,
    labels,
    exposedPorts: isObject(c.ExposedPorts) ? Object.keys(c.ExposedPorts).sort() : [],
    diffIds: rootfs ? strList(rootfs.diff_ids) : undefined,
    history: history.map((h) => ({
      created: str(h.created),
      createdBy: str(h.created_by),
      comment: str(h.comment),
      emptyLayer: h.empty_layer === true,
    })),
  };
}

export function isForeignMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && /foreign|nondistributable/.test(mediaType);
}
