/**
 * A deterministic tar writer: every header byte is a function of the entry.
 * Our own 512-byte header encoder rather than tar-stream's pack, because pack
 * turns mode 0 into 0644, writes the current time for a missing mtime, wraps
 * mtimes past 2038 (`| 0`), silently clamps an overlong uid to 7777777 and
 * encodes >8 GiB sizes in GNU base-256 instead of PAX (docs/image-format.md
 * has the comparison and speed numbers).
 *
 * Format: POSIX ustar ("ustar\0" "00"), numeric fields as zero-padded octal
 * with a NUL terminator, checksum as 6 octal digits, NUL, space (what GNU tar
 * and Go's archive/tar write), empty uname/gname. A PAX extended header
 * ('x', named "PaxHeader", records sorted by key) precedes an entry only when
 * ustar cannot hold it: a path or link target that is not ASCII or too long,
 * a uid/gid over 0o7777777, a size of 8 GiB or more. The archive ends with two
 * zero blocks and no padding to a 10240-byte record (Go's archive/tar, which
 * `docker save` uses, does not pad either).
 */
import type { RootTree } from '../rootfs/tree.js';
import type { BodyRef, FileNode, TreeNode } from '../rootfs/types.js';
import { BaseimgError } from '../util/errors.js';

export const BLOCK = 512;
/** Two zero blocks: the end-of-archive marker. */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK);
const ZEROS = Buffer.alloc(BLOCK);

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

const TYPEFLAG: Record<TarEntryType | 'pax', number> = {
  file: 0x30, // '0'
  hardlink: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  dir: 0x35,
  fifo: 0x36,
  pax: 0x78, // 'x'
};

export interface TarHeader {
  /** Relative path without "./" or a leading "/"; directories get a trailing "/" added. */
  name: string;
  type: TarEntryType;
  /** Only mode & 0o7777 is written. */
  mode: number;
  uid: number;
  gid: number;
  /** Body length; must be 0 for everything but 'file'. */
  size: number;
  /** Seconds since the epoch, 0 ≤ mtime < 8^11. */
  mtime: number;
  /** Target of a symlink or hard link. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

const MAX_ID = 0o7777777;
const MAX_SIZE = 0o77777777777;
const PAX_NAME = 'PaxHeader';

/** The header block(s) of one entry: a PAX header + its records first when needed. */
export function encodeHeader(h: TarHeader): Buffer {
  const name = h.type === 'dir' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  checkEntry(h, name);
  const pax: Array<[string, string]> = [];

  const nameFields = splitUstarName(name);
  if (!nameFields) pax.push(['path', name]);
  const linkname = h.linkname ?? '';
  const linkFits = isAscii(linkname) && Buffer.byteLength(linkname) <= 100;
  if (!linkFits) pax.push(['linkpath', linkname]);
  if (h.uid > MAX_ID) pax.push(['uid', String(h.uid)]);
  if (h.gid > MAX_ID) pax.push(['gid', String(h.gid)]);
  if (h.size > MAX_SIZE) pax.push(['size', String(h.size)]);

  const block = Buffer.alloc(BLOCK);
  const [prefix, base] = nameFields ?? ['', asciiFallback(name, 100)];
  block.write(base, 0, 100, 'latin1');
  writeOctal(block, 100, 8, h.mode & 0o7777);
  // Over-large ids are carried by PAX; the ustar field gets the largest value it can
  // hold rather than 0, so a reader that ignores PAX does not make the file root-owned.
  writeOctal(block, 108, 8, Math.min(h.uid, MAX_ID));
  writeOctal(block, 116, 8, Math.min(h.gid, MAX_ID));
  writeOctal(block, 124, 12, h.size > MAX_SIZE ? 0 : h.size);
  writeOctal(block, 136, 12, h.mtime);
  block[156] = TYPEFLAG[h.type];
  block.write(linkFits ? linkname : asciiFallback(linkname, 100), 157, 100, 'latin1');
  block.write('ustar\u000000', 257, 8, 'latin1');
  // uname (265) and gname (297) stay empty: ids are numeric on purpose.
  writeOctal(block, 329, 8, h.devmajor ?? 0);
  writeOctal(block, 337, 8, h.devminor ?? 0);
  block.write(prefix, 345, 155, 'latin1');
  writeChecksum(block);

  if (pax.length === 0) return block;
  const records = encodePaxRecords(pax);
  const paxHeader = encodeHeader({
    name: PAX_NAME,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: records.length,
    mtime: h.mtime,
  });
  paxHeader[156] = TYPEFLAG.pax;
  writeChecksum(paxHeader);
  return Buffer.concat([paxHeader, records, padding(records.length), block]);
}

/** Zero bytes that bring a body of `size` bytes up to a block boundary. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? ZEROS.subarray(0, 0) : ZEROS.subarray(0, BLOCK - rest);
}

/** PAX records "<len> <key>=<value>\n", sorted by key so the order never varies. */
export function encodePaxRecords(records: Array<[string, string]>): Buffer {
  const sorted = [...records].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const parts = sorted.map(([key, value]) => {
    const body = Buffer.byteLength(` ${key}=${value}\n`);
    let len = body + String(body).length;
    if (String(len).length !== String(body).length) len = body + String(len).length;
    return Buffer.from(`${len} ${key}=${value}\n`, 'utf8');
  });
  return Buffer.concat(parts);
}

export interface LayerTarOptions {
  /** Upper bound for every entry's mtime (SOURCE_DATE_EPOCH). */
  sourceDateEpoch: number;
  /**
   * Body chunks may be views into one reused buffer, valid only until the
   * next chunk is asked for (for consumers that hash or copy each chunk).
   */
  reuseBuffers?: boolean;
}

/** A tar entry for a tree node, plus the body to stream after it. */
export interface TreeEntry {
  header: TarHeader;
  body: BodyRef | undefined;
}

/**
 * The entries of a layer in walk order (depth first, names bytewise sorted,
 * parents first). The root directory itself is not an entry, as in Docker's
 * layers: the runtime creates "/". A FileNode reachable from several paths is
 * written with its body at the first path and as hard links at the others.
 */
export function* treeEntries(root: RootTree, options: LayerTarOptions): Generator<TreeEntry> {
  const clampTo = checkEpoch(options.sourceDateEpoch);
  const firstPathOf = new Map<FileNode, string>();
  for (const [path, node] of root.walk()) {
    const name = path.replace(/^\/+/, '');
    const base = {
      name,
      mode: node.meta.mode,
      uid: node.meta.uid,
      gid: node.meta.gid,
      mtime: Math.max(0, Math.min(Math.floor(node.meta.mtime), clampTo)),
    };
    yield entryFor(node, base, firstPathOf);
  }
}

function entryFor(node: TreeNode, base: Omit<TarHeader, 'type' | 'size'>, firstPathOf: Map<FileNode, string>): TreeEntry {
  switch (node.type) {
    case 'file': {
      const first = firstPathOf.get(node);
      if (first !== undefined) return { header: { ...base, type: 'hardlink', size: 0, linkname: first }, body: undefined };
      firstPathOf.set(node, base.name);
      return { header: { ...base, type: 'file', size: node.size }, body: node.body };
    }
    case 'dir':
      return { header: { ...base, type: 'dir', size: 0 }, body: undefined };
    case 'symlink':
      return { header: { ...base, type: 'symlink', size: 0, linkname: node.target }, body: undefined };
    case 'fifo':
      return { header: { ...base, type: 'fifo', size: 0 }, body: undefined };
    case 'char':
    case 'block':
      return { header: { ...base, type: node.type, size: 0, devmajor: node.devmajor, devminor: node.devminor }, body: undefined };
  }
}

/**
 * The layer tar as a stream of buffers (headers, body chunks, padding, end
 * marker). Bodies come from root.bodies.chunks(), so only one chunk of file
 * content is held at a time.
 */
export async function* layerTar(root: RootTree, options: LayerTarOptions): AsyncGenerator<Buffer> {
  const scratch = options.reuseBuffers ? Buffer.allocUnsafe(1 << 20) : undefined;
  for (const { header, body } of treeEntries(root, options)) {
    yield encodeHeader(header);
    if (!body) continue;
    let seen = 0;
    for await (const chunk of root.bodies.chunks(body, scratch)) {
      seen += chunk.length;
      yield chunk;
    }
    if (seen !== header.size) {
      throw new BaseimgError('INTERNAL', `/${header.name}: body has ${seen} bytes but the tree says ${header.size}`);
    }
    const pad = padding(header.size);
    if (pad.length > 0) yield pad;
  }
  yield END_OF_ARCHIVE;
}

function checkEpoch(sde: number): number {
  if (!Number.isSafeInteger(sde) || sde < 0 || sde > MAX_SIZE) {
    throw new BaseimgError('IMAGE', `SOURCE_DATE_EPOCH ${sde} is not a whole number of seconds between 0 and ${MAX_SIZE}`, {
      hint: 'set source-date-epoch in the spec or SOURCE_DATE_EPOCH to a Unix time in seconds',
    });
  }
  return sde;
}

function checkEntry(h: TarHeader, name: string): void {
  const bad = (what: string): never => {
    throw new BaseimgError('IMAGE', `cannot write tar entry ${JSON.stringify(name)}: ${what}`);
  };
  if (name === '' || name.startsWith('/') || name.includes('\0')) bad('invalid name');
  for (const [field, v, max] of [
    ['uid', h.uid, Number.MAX_SAFE_INTEGER],
    ['gid', h.gid, Number.MAX_SAFE_INTEGER],
    ['size', h.size, Number.MAX_SAFE_INTEGER],
    ['mtime', h.mtime, MAX_SIZE],
    ['devmajor', h.devmajor ?? 0, MAX_ID],
    ['devminor', h.devminor ?? 0, MAX_ID],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0 || v > max) bad(`${field} ${v} out of range`);
  }
  if (h.size !== 0 && h.type !== 'file') bad(`a ${h.type} cannot have a body`);
  if ((h.type === 'symlink' || h.type === 'hardlink') && !h.linkname) bad('link without a target');
  if (h.linkname?.includes('\0')) bad('link target contains NUL');
}

/**
 * Fit a name in ustar's name (100 bytes) and prefix (155 bytes) fields,
 * splitting at the first "/" that leaves at most 100 bytes for the name part;
 * undefined if it cannot (too long, or not ASCII: ustar has no defined
 * encoding, PAX paths are UTF-8).
 */
function splitUstarName(name: string): [prefix: string, name: string] | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= 100) return ['', name];
  if (name.length > 256) return undefined;
  for (let i = name.indexOf('/'); i !== -1 && i <= 155; i = name.indexOf('/', i + 1)) {
    const rest = name.length - i - 1;
    if (rest > 0 && rest <= 100) return [name.slice(0, i), name.slice(i + 1)];
  }
  return undefined;
}

/** What goes in a ustar field whose real value is in a PAX record: printable ASCII, truncated. */
function asciiFallback(s: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[^\x20-\x7e]/g, '_').slice(0, max);
}

function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s);
}

/** `width - 1` octal digits, zero-padded, then NUL. */
function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new BaseimgError('INTERNAL', `tar field overflow: ${value} in ${width} bytes`);
  block.write(digits.padStart(width - 1, '0'), offset, width - 1, 'latin1');
  block[offset + width - 1] = 0;
}

/** Checksum of the block with the checksum field as spaces: 6 octal digits, NUL, space. */
function writeChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  block.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  block[154] = 0;
  block[155] = 0x20;
}
