/**
 * Compression is told by magic bytes, never by media type or file name:
 * `docker save` stores uncompressed layers under a "tar+gzip" media type in
 * some tools' LayerSources, and podman names everything ".tar".
 */
import type { CompressionKind } from '../archive/decompress.js';

export type { CompressionKind };

/** Bytes needed to tell the formats apart. */
export const MAGIC_BYTES = 6;

export function sniffCompression(head: Uint8Array): CompressionKind {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gz';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zst';
  if (head.length >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0x00) {
    return 'xz';
  }
  return 'none';
}

export function compressionName(kind: CompressionKind): string {
  return { gz: 'gzip', zst: 'zstd', xz: 'xz', none: 'uncompressed' }[kind];
}
