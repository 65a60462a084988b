/**
 * Which images an archive holds, by the first layout that lists any:
 *   1. index.json with manifests (OCI layout: baseimg, Docker 25+, podman/skopeo oci-archive);
 *   2. manifest.json (docker save before 25, podman docker-archive, go-containerregistry;
 *      or a single manifest object: skopeo's "dir:" transport);
 *   3. repositories + <id>/json parent chains (docker save of the 1.x era).
 * Docker 25+ writes both index.json and manifest.json; its index may say
 * "manifests": null, and then manifest.json is read instead.
 */
import { sha256Digest } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import { blobPath, isObject, parseConfig, parseJson, readVerified } from './blobs.js';
import { discoverDockerManifest, discoverLegacy } from './docker-archive.js';
import { discoverOci, manifestParts } from './oci-index.js';
import type { BlobRef, BlobSource } from './source.js';
import type { ArchiveFormat, ImageCandidate } from './types.js';

export interface Discovery {
  format: ArchiveFormat;
  candidates: ImageCandidate[];
  notes: string[];
}

export async function discoverImages(source: BlobSource): Promise<Discovery> {
  const notes: string[] = [...source.notes];
  const indexBlob = source.find('index.json');
  if (indexBlob) {
    const index = parseJson(source, 'index.json', await readVerified(source, indexBlob, undefined));
    const candidates = await discoverOci(source, index, notes);
    if (candidates) return { format: 'oci-layout', candidates, notes };
    notes.push('index.json lists no manifests; reading manifest.json instead');
  }
  const manifestBlob = source.find('manifest.json');
  if (manifestBlob) {
    const bytes = await readVerified(source, manifestBlob, undefined);
    const doc = parseJson(source, 'manifest.json', bytes);
    if (isObject(doc) && doc.schemaVersion === 2 && 'layers' in doc) {
      return { format: 'containers-dir', candidates: [containersDirCandidate(source, bytes)], notes };
    }
    const candidates = discoverDockerManifest(source, doc, notes);
    if (candidates && candidates.length > 0) return { format: 'docker-archive', candidates, notes };
  }
  const legacy = await discoverLegacy(source, notes);
  if (legacy.length > 0) return { format: 'docker-legacy', candidates: legacy, notes };
  const marked = ['index.json', 'manifest.json', 'oci-layout', 'repositories'].some((n) => source.find(n));
  const whole = source.whole();
  if (!marked && whole) {
    notes.push(`${source.label} has no image metadata (no index.json or manifest.json); it is read as a plain root filesystem tar, like the output of docker export`);
    return { format: 'rootfs-tar', candidates: [rootfsCandidate(source, whole)], notes };
  }

  const looked = [indexBlob ? 'index.json lists no manifests' : 'no index.json', manifestBlob ? 'manifest.json lists no images' : 'no manifest.json', 'no layer directories'];
  throw new BaseimgError('IMAGE', `${source.label} holds no image: ${looked.join(', ')}`, {
    hint: source.kind === 'directory'
      ? 'give an OCI layout directory (index.json, blobs/) or an image tarball'
      : 'give an image tarball written by docker save, podman save, skopeo copy or baseimg build',
  });
}

/** The whole tarball as the single layer of an image without config. */
function rootfsCandidate(source: BlobSource, whole: BlobRef): ImageCandidate {
  const configBytes = Buffer.from('{}');
  return {
    number: 1,
    refs: [],
    platform: undefined,
    digest: undefined,
    origin: 'the whole tarball',
    load: async () => ({
      format: 'rootfs-tar',
      manifestDigest: undefined,
      manifest: undefined,
      configDigest: '',
      configBytes,
      config: parseConfig(source, 'config', configBytes),
      layers: [{ index: 0, name: source.label, blob: whole, digest: undefined, diffId: undefined, declaredSize: undefined, mediaType: undefined, foreign: false, urls: undefined }],
      notes: [],
    }),
  };
}

/** The single image of a `dir:` copy (skopeo copy … dir:DIR): manifest.json and blobs named by their hex digest. */
function containersDirCandidate(source: BlobSource, bytes: Buffer): ImageCandidate {
  const digest = sha256Digest(bytes);
  return {
    number: 1,
    refs: [],
    platform: undefined,
    digest,
    origin: 'manifest.json',
    load: () => manifestParts(source, bytes, 'manifest.json', digest, (d, where) => blobPath(source, d, where).slice('blobs/sha256/'.length), 'containers-dir'),
  };
}
