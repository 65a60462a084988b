/**
 * File contents, fetched after flattening (the view keeps only where bytes live).
 *
 * An uncompressed layer is a byte range of the archive, so its tar is
 * indexed by headers and a file is read straight from its offset: no second
 * pass over the layer. A compressed layer has to be decompressed again, up
 * to the last wanted entry; many files of one layer share one pass.
 */
import { open } from 'node:fs/promises';
import { BaseimgError } from '../util/errors.js';
import { sniffCompression } from './compression.js';
import type { FileInode } from './fs-view.js';
import { layerLabel, readLayer } from './layer-stream.js';
import type { BlobRef, BlobSource } from './source.js';
import { indexTar, type TarIndex } from './tar-index.js';
import type { LayerRef } from './types.js';

export type BodyHandler = (inode: FileInode, body: AsyncIterable<Buffer>) => Promise<void>;

export class ContentReader {
  /** Per layer: its tar index when uncompressed, null when it must be streamed. */
  private readonly indexes = new Map<number, TarIndex | null>();

  constructor(
    private readonly source: BlobSource,
    private readonly layers: readonly LayerRef[],
  ) {}

  /** The bytes of one file. */
  async *read(inode: FileInode): AsyncGenerator<Buffer> {
    if (inode.content) {
      yield inode.content;
      return;
    }
    const direct = await this.directBlob(inode);
    if (direct) {
      yield* this.source.stream(direct);
      return;
    }
    for await (const e of readLayer(this.source, this.layerOf(inode), { verify: false })) {
      if (e.ordinal !== inode.entry) continue;
      this.checkSame(inode, e.rawPath);
      yield* e.body;
      return;
    }
    throw this.vanished(inode);
  }

  /** The whole file in memory (package databases, small config files). */
  async readBuffer(inode: FileInode, limit = 256 << 20): Promise<Buffer> {
    if (inode.size > limit) throw new BaseimgError('IMAGE', `${inode.entryPath} is ${inode.size} bytes, too large to read into memory`);
    const chunks: Buffer[] = [];
    for await (const c of this.read(inode)) chunks.push(c);
    return Buffer.concat(chunks);
  }

  /**
   * Call `fn` with the body of each inode, layer by layer, in entry order
   * within a layer (one pass per compressed layer that holds any of them).
   */
  async forEach(inodes: Iterable<FileInode>, fn: BodyHandler): Promise<void> {
    const byLayer = new Map<number, Map<number, FileInode>>();
    for (const inode of inodes) {
      const m = byLayer.get(inode.layer) ?? new Map<number, FileInode>();
      m.set(inode.entry, inode);
      byLayer.set(inode.layer, m);
    }
    for (const layerIndex of [...byLayer.keys()].sort((a, b) => a - b)) {
      const wanted = byLayer.get(layerIndex)!;
      const pending: FileInode[] = [];
      for (const inode of [...wanted.values()].sort((a, b) => a.entry - b.entry)) {
        if (inode.content) await fn(inode, once(inode.content));
        else {
          const direct = await this.directBlob(inode);
          if (direct) await fn(inode, this.source.stream(direct));
          else pending.push(inode);
        }
      }
      if (pending.length === 0) continue;
      const byEntry = new Map(pending.map((i) => [i.entry, i]));
      let left = byEntry.size;
      for await (const e of readLayer(this.source, this.layers[layerIndex]!, { verify: false })) {
        const inode = byEntry.get(e.ordinal);
        if (!inode) continue;
        this.checkSame(inode, e.rawPath);
        await fn(inode, e.body);
        byEntry.delete(e.ordinal);
        if (--left === 0) break;
      }
      const missing = byEntry.values().next();
      if (!missing.done) throw this.vanished(missing.value);
    }
  }

  private layerOf(inode: FileInode): LayerRef {
    const layer = this.layers[inode.layer];
    if (!layer?.blob) throw new BaseimgError('INTERNAL', `no readable layer ${inode.layer + 1} for ${inode.entryPath}`);
    return layer;
  }

  /** The file's byte range in the archive when its layer is an uncompressed tar. */
  private async directBlob(inode: FileInode): Promise<BlobRef | undefined> {
    const layer = this.layerOf(inode);
    const blob = layer.blob!;
    let index = this.indexes.get(inode.layer);
    if (index === undefined) {
      index = null;
      if (sniffCompression(await this.source.head(blob)) === 'none') {
        const fh = await open(blob.file, 'r');
        try {
          index = await indexTar(fh, { what: layerLabel(this.source, layer), start: blob.offset, length: blob.size });
        } catch {
          index = null; // the streaming reader gives the better error, if there is one
        } finally {
          await fh.close();
        }
      }
      this.indexes.set(inode.layer, index);
    }
    const entry = index?.entries[inode.entry];
    // Both readers count entries the same way; the name check guards against any disagreement.
    if (!entry || entry.rawName !== inode.entryPath || entry.type !== 'file' || entry.size !== inode.size) return undefined;
    return { name: `${layer.name}:${inode.entryPath}`, resolved: layer.name, file: blob.file, offset: entry.offset, size: entry.size };
  }

  private checkSame(inode: FileInode, rawPath: string): void {
    if (rawPath !== inode.entryPath) throw this.vanished(inode);
  }

  private vanished(inode: FileInode): BaseimgError {
    return new BaseimgError('IMAGE', `${layerLabel(this.source, this.layerOf(inode))} changed while being read: entry ${inode.entryPath} is gone`);
  }
}

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}
