/**
 * Fabricates real-format .deb files (ar + control.tar + data.tar) for offline tests,
 * plus a low-level tar writer able to produce archives that well-behaved tools refuse to.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { pack as tarPack, type Header as TarHeader } from 'tar-stream';
import { writeAr, type ArMember } from './ar.js';

export type Compression = 'gz' | 'xz' | 'zst' | 'none';
export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface DebEntry {
  /** "./usr/bin/x"; "usr/bin/x" and "/usr/bin/x" are normalised to that form. */
  path: string;
  type: EntryType;
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Seconds since the epoch. */
  mtime?: number;
  /** Symlink target as stored, or (for hardlinks) the path of the earlier entry. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

export interface DebSpec {
  name: string;
  version: string;
  architecture: string;
  /** Extra control fields (Depends, Provides, Description, ...). Installed-Size is computed unless given. */
  control?: Record<string, string>;
  entries: DebEntry[];
  /** Generate ./md5sums for regular files, as dh_md5sums does (conffiles excluded). Default true. */
  md5sums?: boolean;
  /** Absolute paths ("/etc/foo") listed in ./conffiles. */
  conffiles?: string[];
  /** preinst/postinst/prerm/postrm (or any other control member) added to control.tar, mode 0755. */
  maintainerScripts?: Record<string, string>;
  controlCompression?: Compression;
  dataCompression?: Compression;
  /** Keep entries exactly as listed: no implicit parents ("./", "./usr/", ...), no sorting. */
  noImplicitDirs?: boolean;
  /** Default mtime for entries and ar members (seconds). */
  mtime?: number;
  /** Bypass: these bytes become the data member verbatim (name still follows dataCompression). */
  rawDataTar?: Buffer;
  /** Bypass: these bytes become the control member verbatim. */
  rawControlTar?: Buffer;
  /** Appended after data.tar. */
  extraMembers?: ArMember[];
  /** Last word on the ar member list (reorder, drop, rename) for hostile tests. */
  rewriteMembers?: (members: ArMember[]) => ArMember[];
}

/** A fixed default timestamp (2023-11-14T22:13:20Z) so builds are reproducible. */
export const DEFAULT_MTIME = 1_700_000_000;
export const DEFAULT_MAINTAINER = 'Baseimg Test Suite <tests@example.invalid>';

// ---------------------------------------------------------------- compression

function runFilter(command: string, args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${command} exited ${code}: ${Buffer.concat(err).toString()}`));
    });
    child.stdin.end(input);
  });
}

/** Compresses deterministically (single-threaded xz, gzip header without mtime). */
export async function compress(data: Buffer, kind: Compression): Promise<Buffer> {
  switch (kind) {
    case 'none':
      return data;
    case 'gz':
      return gzipSync(data, { level: 9 });
    case 'xz':
      return runFilter('xz', ['-c', '-6', '-T1'], data);
    case 'zst':
      return runFilter('zstd', ['-q', '-c', '-3'], data);
  }
}

/** The inverse of compress(). */
export async function decompress(data: Buffer, kind: Compression): Promise<Buffer> {
  switch (kind) {
    case 'none':
      return data;
    case 'gz':
      return gunzipSync(data);
    case 'xz':
      return runFilter('xz', ['-dc'], data);
    case 'zst':
      return runFilter('zstd', ['-q', '-dc'], data);
  }
}

export function compressionSuffix(kind: Compression): string {
  return kind === 'none' ? '' : `.${kind}`;
}

// ---------------------------------------------------------------- entries

export function normaliseEntryPath(path: string): string {
  const bare = path.replace(/^\.\//, '').replace(/^\/+/, '').replace(/\/+$/, '');
  return bare === '' || bare === '.' ? './' : `./${bare}`;
}

/** Byte-wise, component-wise order: a directory comes right before its contents, as in dpkg-deb output. */
function comparePaths(a: string, b: string): number {
  const pa = a.split('/').filter(Boolean);
  const pb = b.split('/').filter(Boolean);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = Buffer.compare(Buffer.from(pa[i]!), Buffer.from(pb[i]!));
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

/** Entries in data.tar order: normalised, implicit parents added, sorted, hardlinks after their targets. */
export function dataTarEntries(spec: Pick<DebSpec, 'entries' | 'noImplicitDirs'>): DebEntry[] {
  const entries = spec.entries.map((e) => ({ ...e, path: normaliseEntryPath(e.path) }));
  if (!spec.noImplicitDirs) {
    const present = new Set(entries.map((e) => e.path));
    for (const entry of [...entries]) {
      const parts = entry.path.split('/').slice(1, -1);
      for (let i = 0; i <= parts.length; i++) {
        const dir = i === 0 ? './' : `./${parts.slice(0, i).join('/')}`;
        if (!present.has(dir)) {
          present.add(dir);
          entries.push({ path: dir, type: 'dir' });
        }
      }
    }
    entries.sort((a, b) => comparePaths(a.path, b.path));
  }
  // A hardlink must follow the entry it points at, whatever the sort said.
  const ordered: DebEntry[] = [];
  const pending = new Map<string, DebEntry[]>();
  const placed = new Set<string>();
  const place = (entry: DebEntry): void => {
    ordered.push(entry);
    placed.add(entry.path);
    for (const waiting of pending.get(entry.path) ?? []) place(waiting);
    pending.delete(entry.path);
  };
  for (const entry of entries) {
    const target = entry.type === 'hardlink' ? normaliseEntryPath(entry.linkname ?? '') : undefined;
    if (target !== undefined && !placed.has(target) && entries.some((e) => e.path === target)) {
      pending.set(target, [...(pending.get(target) ?? []), entry]);
    } else {
      place(entry);
    }
  }
  return ordered;
}

function contentOf(entry: DebEntry): Buffer {
  if (entry.content === undefined) return Buffer.alloc(0);
  return typeof entry.content === 'string' ? Buffer.from(entry.content, 'utf8') : entry.content;
}

/** Installed-Size in KiB, as dpkg-gencontrol counts: file sizes rounded up, one per other inode. */
export function installedSizeKiB(entries: DebEntry[]): number {
  let total = 0;
  for (const entry of entries) {
    if (entry.type === 'file') total += Math.ceil(contentOf(entry).length / 1024);
    else if (entry.type !== 'hardlink') total += 1;
  }
  return total;
}

// ---------------------------------------------------------------- control

/** dpkg-gencontrol's field order; unknown fields follow in the order given, Description last. */
const CONTROL_FIELD_ORDER = [
  'Package', 'Source', 'Version', 'Architecture', 'Essential', 'Protected', 'Maintainer', 'Installed-Size',
  'Provides', 'Pre-Depends', 'Depends', 'Recommends', 'Suggests', 'Breaks', 'Conflicts', 'Replaces',
  'Enhances', 'Built-Using', 'Section', 'Priority', 'Multi-Arch', 'Homepage',
];

/** Formats a possibly multi-line value: continuation lines indented, blank ones as " .". */
function formatValue(value: string): string {
  const [first, ...rest] = value.split('\n');
  const continuation = rest.map((line) => {
    const trimmed = line.replace(/^ /, '');
    return trimmed.trim() === '' ? ' .' : ` ${trimmed}`;
  });
  return [first, ...continuation].join('\n');
}

/** Control fields in canonical order, as [name, value] pairs. */
export function debControlFields(spec: DebSpec): Array<[string, string]> {
  const given = { ...(spec.control ?? {}) };
  const fields: Record<string, string> = {
    Package: spec.name,
    Version: spec.version,
    Architecture: spec.architecture,
    Maintainer: DEFAULT_MAINTAINER,
    'Installed-Size': String(installedSizeKiB(dataTarEntries(spec))),
    Description: `${spec.name} fabricated for tests\nA small package with the shape of the real ${spec.name}.`,
    ...given,
  };
  const known = CONTROL_FIELD_ORDER.filter((name) => name in fields);
  const unknown = Object.keys(fields).filter((n) => !CONTROL_FIELD_ORDER.includes(n) && n !== 'Description');
  return [...known, ...unknown, 'Description'].map((name) => [name, formatValue(fields[name]!)]);
}

/** The exact text of ./control. */
export function debControlParagraph(spec: DebSpec): string {
  return debControlFields(spec).map(([name, value]) => `${name}: ${value}\n`).join('');
}

function md5sumsText(entries: DebEntry[], conffiles: string[]): string {
  const contentByPath = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.path, contentOf(e)]));
  const excluded = new Set(conffiles.map(normaliseEntryPath));
  let text = '';
  for (const entry of entries) {
    if (excluded.has(entry.path)) continue;
    const content =
      entry.type === 'file' ? contentOf(entry)
      : entry.type === 'hardlink' ? contentByPath.get(normaliseEntryPath(entry.linkname ?? ''))
      : undefined;
    if (content === undefined) continue;
    text += `${createHash('md5').update(content).digest('hex')}  ${entry.path.slice(2)}\n`;
  }
  return text;
}

// ---------------------------------------------------------------- tar (well-formed)

const TAR_TYPE: Record<EntryType, TarHeader['type']> = {
  file: 'file', dir: 'directory', symlink: 'symlink', hardlink: 'link',
  char: 'character-device', block: 'block-device', fifo: 'fifo',
};

const DEFAULT_MODE: Record<EntryType, number> = {
  file: 0o644, dir: 0o755, symlink: 0o777, hardlink: 0o644, char: 0o666, block: 0o660, fifo: 0o644,
};

/** A well-formed tar of `entries` in the given order, via tar-stream (PAX for long names). */
export async function packTar(entries: DebEntry[], defaultMtime = DEFAULT_MTIME): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const collected = new Promise<void>((resolve, reject) => {
    pack.on('data', (chunk: unknown) => {
      chunks.push(chunk as Buffer);
    });
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const entry of entries) {
    const name = entry.type === 'dir' && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
    const body = entry.type === 'file' ? contentOf(entry) : undefined;
    const header: Partial<TarHeader> & Pick<TarHeader, 'name'> = {
      name,
      type: TAR_TYPE[entry.type],
      mode: entry.mode ?? DEFAULT_MODE[entry.type],
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      uname: entry.uname ?? 'root',
      gname: entry.gname ?? 'root',
      mtime: new Date((entry.mtime ?? defaultMtime) * 1000),
      size: body?.length ?? 0,
      linkname: entry.linkname ?? '',
      devmajor: entry.devmajor ?? 0,
      devminor: entry.devminor ?? 0,
    };
    await new Promise<void>((resolve, reject) =>
      pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------- tar (hostile)

export interface RawTarEntry {
  /** Bytes are used verbatim, so invalid UTF-8, "../x" and "/abs" all go through. */
  name: string | Buffer;
  /** An EntryType, or a raw one-character typeflag (e.g. 'L', 'x', 'g', 'S'). */
  type?: EntryType | string;
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
  linkname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  /** How to carry a name/linkname over 100 bytes: GNU 'L'/'K' records (default), PAX records, or cut it. */
  longNames?: 'gnu' | 'pax' | 'truncate';
  /** Extra PAX records for this entry (e.g. { path: '../../etc/passwd' }, { size: '999' }). */
  pax?: Record<string, string | Buffer>;
  /** Lie about the size in the header; the content is still written as given. */
  headerSize?: number;
  /** Corrupt the header checksum. */
  badChecksum?: boolean;
}

const TYPEFLAG: Record<EntryType, string> = {
  file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6',
};

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function asBytes(value: string | Buffer | undefined): Buffer {
  if (value === undefined) return Buffer.alloc(0);
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

function padToBlock(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

interface HeaderFields {
  name: Buffer; typeflag: string; size: number; mode: number; uid: number; gid: number; mtime: number;
  linkname: Buffer; uname: string; gname: string; devmajor: number; devminor: number; badChecksum?: boolean;
}

/** One 512-byte GNU-magic header ("ustar  \0"), the flavour dpkg-deb itself writes. */
function tarHeader(h: HeaderFields): Buffer {
  const block = Buffer.alloc(512);
  h.name.copy(block, 0, 0, Math.min(100, h.name.length));
  block.write(octal(h.mode & 0o7777777, 8), 100, 'ascii');
  block.write(octal(h.uid, 8), 108, 'ascii');
  block.write(octal(h.gid, 8), 116, 'ascii');
  block.write(octal(h.size, 12), 124, 'ascii');
  block.write(octal(h.mtime, 12), 136, 'ascii');
  block.write(h.typeflag.slice(0, 1), 156, 'latin1');
  h.linkname.copy(block, 157, 0, Math.min(100, h.linkname.length));
  block.write('ustar  \0', 257, 'ascii');
  block.write(h.uname.slice(0, 31), 265, 'utf8');
  block.write(h.gname.slice(0, 31), 297, 'utf8');
  block.write(octal(h.devmajor, 8), 329, 'ascii');
  block.write(octal(h.devminor, 8), 337, 'ascii');
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  if (h.badChecksum) sum += 1;
  block.write(octal(sum, 7) + ' ', 148, 'ascii');
  return block;
}

function paxRecords(records: Record<string, Buffer>): Buffer {
  const out: Buffer[] = [];
  for (const [key, value] of Object.entries(records)) {
    // The length prefix counts itself, so grow it until it is self-consistent.
    const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length = String(length).length + body.length;
    out.push(Buffer.from(String(length)), body);
  }
  return Buffer.concat(out);
}

/** Writes a tar byte by byte, without any of the checks or normalisation real tar writers apply. */
export function rawTar(entries: RawTarEntry[], options: { trailer?: boolean } = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const typeflag = type in TYPEFLAG ? TYPEFLAG[type as EntryType] : type;
    const name = asBytes(entry.name);
    const linkname = asBytes(entry.linkname);
    const content = asBytes(entry.content);
    const longNames = entry.longNames ?? 'gnu';
    const common = {
      mode: 0, uid: 0, gid: 0, mtime: entry.mtime ?? DEFAULT_MTIME, linkname: Buffer.alloc(0),
      uname: 'root', gname: 'root', devmajor: 0, devminor: 0,
    };
    const pax: Record<string, Buffer> = {};
    for (const [key, value] of Object.entries(entry.pax ?? {})) pax[key] = asBytes(value);
    if (longNames === 'gnu') {
      for (const [value, flag] of [[linkname, 'K'], [name, 'L']] as const) {
        if (value.length <= 100) continue;
        const data = Buffer.concat([value, Buffer.alloc(1)]);
        blocks.push(tarHeader({ ...common, name: Buffer.from('././@LongLink'), typeflag: flag, size: data.length }));
        blocks.push(padToBlock(data));
      }
    } else if (longNames === 'pax') {
      if (name.length > 100 && !pax.path) pax.path = name;
      if (linkname.length > 100 && !pax.linkpath) pax.linkpath = linkname;
    }
    if (Object.keys(pax).length > 0) {
      const data = paxRecords(pax);
      const paxName = Buffer.from(`./PaxHeaders/${name.subarray(Math.max(0, name.length - 80)).toString('latin1')}`);
      blocks.push(tarHeader({ ...common, mode: 0o644, name: paxName.subarray(0, 100), typeflag: 'x', size: data.length }));
      blocks.push(padToBlock(data));
    }
    const entryType = type as EntryType;
    blocks.push(tarHeader({
      name, linkname, typeflag,
      size: entry.headerSize ?? content.length,
      mode: entry.mode ?? DEFAULT_MODE[entryType] ?? 0o644,
      uid: entry.uid ?? 0, gid: entry.gid ?? 0, mtime: entry.mtime ?? DEFAULT_MTIME,
      uname: entry.uname ?? 'root', gname: entry.gname ?? 'root',
      devmajor: entry.devmajor ?? 0, devminor: entry.devminor ?? 0,
      badChecksum: entry.badChecksum,
    }));
    if (content.length > 0) blocks.push(padToBlock(content));
  }
  if (options.trailer ?? true) blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

// ---------------------------------------------------------------- .deb

/** The control.tar members dpkg-deb would write for `spec`, in order. */
function controlTarEntries(spec: DebSpec, data: DebEntry[]): DebEntry[] {
  const files: Record<string, { content: string; mode: number }> = {
    control: { content: debControlParagraph(spec), mode: 0o644 },
  };
  if (spec.conffiles?.length) files.conffiles = { content: spec.conffiles.map((c) => `${c}\n`).join(''), mode: 0o644 };
  if (spec.md5sums ?? true) {
    const md5 = md5sumsText(data, spec.conffiles ?? []);
    if (md5) files.md5sums = { content: md5, mode: 0o644 };
  }
  for (const [name, script] of Object.entries(spec.maintainerScripts ?? {})) files[name] = { content: script, mode: 0o755 };
  const names = Object.keys(files).sort();
  return [
    { path: './', type: 'dir' as const },
    ...names.map((name) => ({ path: `./${name}`, type: 'file' as const, ...files[name]! })),
  ];
}

export async function makeDeb(spec: DebSpec): Promise<Buffer> {
  const mtime = spec.mtime ?? DEFAULT_MTIME;
  const data = dataTarEntries(spec);
  const controlKind = spec.controlCompression ?? 'xz';
  const dataKind = spec.dataCompression ?? 'xz';
  const [controlTar, dataTar] = await Promise.all([
    spec.rawControlTar ?? compress(await packTar(controlTarEntries(spec, data), mtime), controlKind),
    spec.rawDataTar ?? compress(await packTar(data, mtime), dataKind),
  ]);
  let members: ArMember[] = [
    { name: 'debian-binary', data: Buffer.from('2.0\n'), mtime },
    { name: `control.tar${compressionSuffix(controlKind)}`, data: controlTar, mtime },
    { name: `data.tar${compressionSuffix(dataKind)}`, data: dataTar, mtime },
    ...(spec.extraMembers ?? []),
  ];
  if (spec.rewriteMembers) members = spec.rewriteMembers(members);
  return writeAr(members);
}
