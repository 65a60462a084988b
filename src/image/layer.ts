/**
 * RootTree → one gzip layer blob on disk, in a single streaming pass:
 *
 *   layerTar ─┬─ sha256 → diffID
 *             └─ gzip (worker) ─┬─ sha256 → digest, size
 *                               └─ temp file → rename to sha256-<hex>.tar.gz
 *
 * Memory stays bounded by a few MiB of batches whatever the layer's size;
 * file bodies are read chunk by chunk from the tree's BodyStore.
 *
 * With a LayerCache the tar is first only hashed: when a gzip blob for that
 * diffID was made before (same tar bytes, same compressor), it is reused
 * and gzip, the slowest step of a build, is skipped. The blob is the one
 * pako made from these very bytes, so the image is byte-identical; a miss
 * costs one extra tar pass (~5% of gzip's time).
 */
import { join } from 'node:path';
import type { RootTree } from '../rootfs/tree.js';
import { AtomicWriter } from '../util/atomic-file.js';
import { digestHex, Sha256Counter, type Sha256Digest } from '../util/digest.js';
import { BaseimgError } from '../util/errors.js';
import { timed, type TimingSink } from '../util/timings.js';
import { gzipStream } from './gzip.js';
import { layerTar } from './tar-writer.js';
import { MEDIA_TYPE, type Layer } from './types.js';

export interface WriteLayerOptions {
  /** Clamp for every mtime in the layer. */
  sourceDateEpoch: number;
  /** Directory for the blob (the build's scratch dir). */
  dir: string;
  signal?: AbortSignal | undefined;
  /** Compress on the main thread instead of a worker (benchmarks, tiny layers). */
  inThread?: boolean;
  /** Gzip blobs made before, by diffID (see the top of this file). */
  cache?: LayerCache | undefined;
  /** Receives "layer/tar", "layer/gzip" and "layer/cache" times (--timings). */
  onTiming?: TimingSink | undefined;
}

/** Gzip blobs by the diffID of the tar they compress; the compressor's identity is the cache's business. */
export interface LayerCache {
  /** A blob made earlier from the tar with this diffID: verified path, digest and size. */
  get(diffId: Sha256Digest): Promise<{ path: string; digest: Sha256Digest; size: number } | undefined>;
  /** Remember a freshly made layer (best effort). */
  put(layer: Layer): Promise<void>;
}

export async function writeLayer(root: RootTree, options: WriteLayerOptions): Promise<Layer> {
  const cache = options.cache;
  if (cache === undefined) return compressLayer(root, options);
  const tar = await timed(options.onTiming, 'layer/tar', () => hashLayerTar(root, options));
  const hit = await timed(options.onTiming, 'layer/cache', () => cache.get(tar.diffId));
  if (hit !== undefined) {
    return { diffId: tar.diffId, digest: hit.digest, size: hit.size, uncompressedSize: tar.size, mediaType: MEDIA_TYPE.layerTarGzip, path: hit.path };
  }
  const layer = await timed(options.onTiming, 'layer/gzip', () => compressLayer(root, options));
  // The tar writer is deterministic; a difference here would be a bug worth stopping for.
  if (layer.diffId !== tar.diffId || layer.uncompressedSize !== tar.size) {
    throw new BaseimgError('INTERNAL', `the layer tar changed between two passes (${tar.diffId}, then ${layer.diffId})`);
  }
  await timed(options.onTiming, 'layer/cache', () => cache.put(layer));
  return layer;
}

/** diffID and size of the layer tar, without compressing it. */
async function hashLayerTar(root: RootTree, options: WriteLayerOptions): Promise<{ diffId: Sha256Digest; size: number }> {
  const diff = new Sha256Counter();
  for await (const chunk of layerTar(root, { sourceDateEpoch: options.sourceDateEpoch, reuseBuffers: true })) {
    options.signal?.throwIfAborted();
    diff.update(chunk);
  }
  return { diffId: diff.digest(), size: diff.size };
}

async function compressLayer(root: RootTree, options: WriteLayerOptions): Promise<Layer> {
  const diff = new Sha256Counter();
  const blob = new Sha256Counter();
  const out = await AtomicWriter.create(join(options.dir, 'layer.tar.gz'), { signal: options.signal });
  try {
    async function* hashedTar(): AsyncGenerator<Buffer> {
      for await (const chunk of layerTar(root, { sourceDateEpoch: options.sourceDateEpoch, reuseBuffers: true })) {
        diff.update(chunk);
        yield chunk;
      }
    }
    await gzipStream(
      hashedTar(),
      async (chunk) => {
        blob.update(chunk);
        await out.write(chunk);
      },
      { signal: options.signal, inThread: options.inThread ?? false },
    );
    const digest = blob.digest();
    const path = join(options.dir, `sha256-${digestHex(digest)}.tar.gz`);
    await out.commit(path);
    return {
      diffId: diff.digest(),
      digest,
      size: blob.size,
      uncompressedSize: diff.size,
      mediaType: MEDIA_TYPE.layerTarGzip,
      path,
    };
  } catch (e) {
    await out.discard();
    throw e;
  }
}
