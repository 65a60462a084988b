/**
 * The small tars inside apk files (signatures, control, index) read whole
 * into memory. apk cuts the end-of-archive blocks off the signature and
 * control tars so that the members concatenate into one tar, hence
 * allowMissingEnd.
 */
import { readTar, type TarEntry } from '../../archive/tar-reader.js';

export interface SmallTarEntry {
  /** The name without a leading "./". */
  name: string;
  type: TarEntry['type'];
  body: Buffer;
}

export async function readSmallTar(tar: Buffer, what: string, maxEntries = 10_000): Promise<SmallTarEntry[]> {
  const entries: SmallTarEntry[] = [];
  const source = (async function* () {
    yield tar;
  })();
  for await (const entry of readTar(source, { what, maxEntries, maxTotalBytes: tar.length, allowMissingEnd: true })) {
    const parts: Buffer[] = [];
    for await (const chunk of entry.body) parts.push(chunk);
    entries.push({ name: entry.path.replace(/^(\.\/)+/, ''), type: entry.type, body: Buffer.concat(parts) });
  }
  return entries;
}
