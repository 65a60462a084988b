/**
 * RootTree → one gzip layer blob on disk, in a single streaming pass:
 *
 *   layerTar ─┬─ sha256 → diffID
 *             └─ gzip (worker) ─┬─ sha256 → digest, size
 *                               └─ temp file → rename to sha256-<hex>.tar.gz
 *
 * Memory stays bounded by a few MiB of batches whatever the layer's size;
 * file bodies are read chunk by chunk from the tree's BodyStore.
 */
import { join } from 'node:path';
import type { RootTree } from '../rootfs/tree.js';
import { AtomicWriter } from '../util/atomic-file.js';
import { digestHex, Sha256Counter } from '../util/digest.js';
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
}

export async function writeLayer(root: RootTree, options: WriteLayerOptions): Promise<Layer> {
  const diff = new Sha256Counter();
  const blob = new Sha256Counter();
  const out = await AtomicWriter.create(join(options.dir, 'layer.tar.gz'), { signal: options.signal });
  try {
    async function* hashedTar(): AsyncGenerator<Buffer> {
      for await (const chunk of layerTar(root, { sourceDateEpoch: options.sourceDateEpoch })) {
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
