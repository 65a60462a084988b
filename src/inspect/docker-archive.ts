/**
 * Images of a Docker archive: manifest.json (`docker save` before 25,
 * podman's docker-archive, go-containerregistry's tarball.Write), and the
 * oldest form without it, pieced together from `repositories` and each
 * layer directory's `json` parent chain.
 *
 * Names in manifest.json are paths, not promises: only a content-addressed
 * path (blobs/sha256/<hex>) is held to its digest. A "<hex>.json" config
 * whose content hashes differently is reported in a note (go-containerregistry's
 * own test data has one); layers are always checked against the config's
 * diff_ids, which is what `docker load` checks.
 */
import { sha256Digest } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import {
  digestFromBlobPath,
  digestFromLooseName,
  findBlob,
  isForeignMediaType,
  isObject,
  parseConfig,
  parseJson,
  readVerified,
} from './blobs.js';
import { checkDiffIds } from './oci-index.js';
import type { BlobSource } from './source.js';
import type { ImageCandidate, ImageConfigDoc, ImageParts, LayerRef } from './types.js';

interface ManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
  LayerSources: Record<string, Record<string, unknown>>;
}

/** Candidates from manifest.json; undefined when it holds no list (null_manifest.tar holds `null`). */
export function discoverDockerManifest(source: BlobSource, doc: unknown, notes: string[]): ImageCandidate[] | undefined {
  if (!Array.isArray(doc)) {
    notes.push(`manifest.json holds ${doc === null ? 'null' : typeof doc}, not a list of images`);
    return undefined;
  }
  return doc.map((raw, i) => {
    const entry = checkEntry(source, raw, i);
    return {
      number: i + 1,
      refs: entry.RepoTags,
      platform: undefined,
      digest: undefined,
      origin: `manifest.json entry ${i + 1}`,
      load: () => loadEntry(source, entry, i),
    };
  });
}

function checkEntry(source: BlobSource, raw: unknown, i: number): ManifestEntry {
  const bad = (why: string): BaseimgError => new BaseimgError('IMAGE', `${source.label}: manifest.json entry ${i + 1} ${why}`);
  if (!isObject(raw)) throw bad('is not an object');
  if (typeof raw.Config !== 'string') throw bad('has no Config');
  if (!Array.isArray(raw.Layers) || !raw.Layers.every((l) => typeof l === 'string')) throw bad('has no Layers list');
  const tags = Array.isArray(raw.RepoTags) ? raw.RepoTags.filter((t): t is string => typeof t === 'string') : [];
  const sources = isObject(raw.LayerSources) ? (raw.LayerSources as Record<string, Record<string, unknown>>) : {};
  return { Config: raw.Config, RepoTags: tags, Layers: raw.Layers as string[], LayerSources: sources };
}

async function loadEntry(source: BlobSource, entry: ManifestEntry, i: number): Promise<ImageParts> {
  const notes: string[] = [];
  const { bytes, digest } = await readConfig(source, entry.Config, notes);
  const config = parseConfig(source, entry.Config, bytes);
  const layers: LayerRef[] = entry.Layers.map((name, j) => {
    const diffId = config.diffIds?.[j];
    const layerSource = diffId ? entry.LayerSources[diffId] : undefined;
    const mediaType = typeof layerSource?.mediaType === 'string' ? layerSource.mediaType : undefined;
    const foreign = isForeignMediaType(mediaType);
    const blob = source.find(name);
    if (!blob && !foreign) findBlob(source, name, `layer ${j + 1} of manifest.json entry ${i + 1},`);
    const urls = Array.isArray(layerSource?.urls) ? layerSource.urls.filter((u): u is string => typeof u === 'string') : undefined;
    return { index: j, name, blob, digest: digestFromBlobPath(name), diffId, declaredSize: undefined, mediaType, foreign, urls };
  });
  checkDiffIds(source, config.diffIds, layers.length, entry.Config, notes);
  return { format: 'docker-archive', manifestDigest: undefined, manifest: undefined, configDigest: digest, configBytes: bytes, config, layers, notes };
}

/** The config's bytes and real digest; a content-addressed path must match, a loose name only gets a note. */
async function readConfig(source: BlobSource, name: string, notes: string[]): Promise<{ bytes: Buffer; digest: string }> {
  const blob = findBlob(source, name, 'config');
  const strict = digestFromBlobPath(blob.resolved);
  const bytes = await readVerified(source, blob, strict);
  const digest = sha256Digest(bytes);
  const claimed = strict ?? digestFromLooseName(name);
  if (claimed && claimed !== digest) notes.push(`config ${name} is named after ${claimed} but its content hashes to ${digest}`);
  return { bytes, digest };
}

// ---------------------------------------------------------------- no manifest.json

const LAYER_JSON = /^([0-9a-f]{64})\/json$/;
const CONFIG_NAME = /^[0-9a-f]{64}\.json$/;

/**
 * Candidates of a `docker save` without manifest.json: each tag in
 * `repositories` (else each layer no other layer names as parent) is an
 * image whose layers are its parent chain.
 */
export async function discoverLegacy(source: BlobSource, notes: string[]): Promise<ImageCandidate[]> {
  const layerIds = source.names().map((n) => LAYER_JSON.exec(n)?.[1]).filter((id): id is string => id !== undefined);
  if (layerIds.length === 0) return [];
  const parents = new Map<string, string | undefined>();
  for (const id of layerIds) {
    const doc = parseJson(source, `${id}/json`, await readVerified(source, findBlob(source, `${id}/json`, 'layer metadata'), undefined));
    parents.set(id, isObject(doc) && typeof doc.parent === 'string' && doc.parent !== '' ? doc.parent : undefined);
  }
  const tops = new Map<string, string[]>();
  const repos = source.find('repositories');
  if (repos) {
    const doc = parseJson(source, 'repositories', await readVerified(source, repos, undefined));
    if (isObject(doc)) {
      for (const [repo, tags] of Object.entries(doc)) {
        if (!isObject(tags)) continue;
        for (const [tag, id] of Object.entries(tags)) if (typeof id === 'string') tops.set(id, [...(tops.get(id) ?? []), `${repo}:${tag}`]);
      }
    }
  }
  if (tops.size === 0) {
    const named = new Set([...parents.values()].filter(Boolean));
    for (const id of layerIds) if (!named.has(id)) tops.set(id, []);
  }
  notes.push('the archive has no manifest.json or index.json; the image was pieced together from repositories and the layers\' parent chain');
  return [...tops].map(([top, refs], i) => ({
    number: i + 1,
    refs,
    platform: undefined,
    digest: undefined,
    origin: `layer chain ending in ${top.slice(0, 12)}`,
    load: () => loadChain(source, top, parents),
  }));
}

async function loadChain(source: BlobSource, top: string, parents: Map<string, string | undefined>): Promise<ImageParts> {
  const chain: string[] = [];
  for (let id: string | undefined = top; id !== undefined; id = parents.get(id)) {
    if (!parents.has(id)) throw new BaseimgError('IMAGE', `${source.label}: layer ${id} is named as a parent but is not in the archive`);
    if (chain.includes(id) || chain.length > 1000) throw new BaseimgError('IMAGE', `${source.label}: the layers' parent chain loops at ${id}`);
    chain.unshift(id);
  }
  const notes: string[] = [];
  const configs = source.names().filter((n) => CONFIG_NAME.test(n));
  const parsed: Array<{ name: string; bytes: Buffer; config: ImageConfigDoc }> = [];
  for (const name of configs) {
    const bytes = await readVerified(source, findBlob(source, name, 'config'), undefined);
    parsed.push({ name, bytes, config: parseConfig(source, name, bytes) });
  }
  const fitting = parsed.filter((p) => p.config.diffIds?.length === chain.length);
  let found = parsed.length === 1 ? parsed[0] : fitting.length === 1 ? fitting[0] : undefined;
  if (!found) {
    const name = `${top}/json`;
    const bytes = await readVerified(source, findBlob(source, name, 'layer metadata'), undefined);
    found = { name, bytes, config: parseConfig(source, name, bytes) };
    notes.push(`no config file matches the layer chain; the top layer's ${name} is used as the config`);
  }
  const chosen = found;
  const layers: LayerRef[] = chain.map((id, j) => {
    const name = `${id}/layer.tar`;
    return {
      index: j, name, blob: findBlob(source, name, 'layer'), digest: undefined,
      diffId: chosen.config.diffIds?.[j], declaredSize: undefined, mediaType: undefined, foreign: false, urls: undefined,
    };
  });
  if (chosen.config.diffIds) checkDiffIds(source, chosen.config.diffIds, layers.length, chosen.name, notes);
  return {
    format: 'docker-legacy', manifestDigest: undefined, manifest: undefined,
    configDigest: sha256Digest(chosen.bytes), configBytes: chosen.bytes, config: chosen.config, layers, notes,
  };
}
