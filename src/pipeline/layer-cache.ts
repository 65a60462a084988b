/**
 * The layer cache (src/image/layer.ts) on top of the build's cache: the
 * gzip blob is kept in the blob store under its own SHA-256, and a derived
 * entry maps (compressor, diffID) to that digest. Reading re-hashes the
 * blob, so a damaged or missing one is simply a miss and is made again.
 */
import type { BuildContext } from './context.js';
import type { LayerCache } from '../image/layer.js';
import { DEFLATE_ID } from '../image/gzip.js';
import { digestHex, type Sha256Digest } from '../util/digest.js';

const FORMAT = 'layer-gzip/v1';
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The build's layer cache; undefined when the context has no blob cache. */
export function layerCacheFor(ctx: BuildContext): LayerCache | undefined {
  const blobs = ctx.blobs;
  if (blobs === undefined) return undefined;
  const keyOf = (diffId: Sha256Digest): string => `${FORMAT}/${DEFLATE_ID}/${diffId}`;
  return {
    async get(diffId) {
      const raw = await ctx.derived.get(keyOf(diffId));
      if (raw === undefined) return undefined;
      let entry: { digest?: unknown; size?: unknown };
      try {
        entry = JSON.parse(raw.toString('utf8')) as typeof entry;
      } catch {
        return undefined;
      }
      const { digest, size } = entry;
      if (typeof digest !== 'string' || !DIGEST.test(digest) || typeof size !== 'number') return undefined;
      const path = await blobs.get(digestHex(digest));
      return path === undefined ? undefined : { path, digest: digest as Sha256Digest, size };
    },
    async put(layer) {
      try {
        await blobs.put(layer.path, digestHex(layer.digest));
        await ctx.derived.put(keyOf(layer.diffId), Buffer.from(JSON.stringify({ digest: layer.digest, size: layer.size })));
      } catch (e) {
        // A full or read-only cache must not fail the build that would have filled it.
        ctx.reporter.debug(`layer ${layer.diffId} not cached: ${String(e)}`);
      }
    },
  };
}
