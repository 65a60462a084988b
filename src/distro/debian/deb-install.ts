/**
 * Unpack one verified .deb into the root tree with dpkg's semantics: the
 * control member is read whole (it is small) and checked against what the
 * resolver expected, then data.tar is streamed entry by entry into the tree,
 * refusing anything that would escape the root or hide surprises in an image.
 */
import { stat } from 'node:fs/promises';
import { ArArchive, type ArMember } from '../../archive/ar-reader.js';
import { compressionOfMember, decompressStream } from '../../archive/decompress.js';
import { readTar, type TarEntry } from '../../archive/tar-reader.js';
import type { Reporter } from '../../pipeline/context.js';
import type { RootTree } from '../../rootfs/tree.js';
import type { Meta } from '../../rootfs/types.js';
import { BaseimgError, isBaseimgError } from '../../util/errors.js';
import type { InstalledPackage, ResolvedPackage } from '../types.js';
import { makeConflictHandler, type IncomingEntry } from './conflicts.js';
import { field, parseDeb822Text } from './deb822.js';
import { compareVersions } from './version.js';
import type { DebDataCache } from './data-cache.js';
import { dataEntries, prefillData } from './deb-data.js';

export interface InstallDebOptions {
  /** Cap on data.tar's decompressed size; default from Installed-Size (see defaultUnpackLimit). */
  maxUnpackedBytes?: number;
  /** Cap on the number of data.tar entries (default 1,000,000). */
  maxEntries?: number;
  reporter?: Reporter;
  /**
   * Packages already in the tree, by name, for the Replaces checks. Default:
   * every package installDeb has put into this tree so far.
   */
  installed?: ReadonlyMap<string, ResolvedPackage>;
  /** Decompressed data.tar members from earlier builds (data-cache.ts). */
  dataCache?: DebDataCache | undefined;
}

/** InstalledPackage plus what only a .deb has. */
export interface DebInstalledPackage extends InstalledPackage {
  /** ./conffiles lines (absolute paths, possibly with dpkg flags), empty when absent. */
  conffiles: string[];
}

const CONTROL_LIMIT = 16 * 1024 * 1024;
const CONTROL_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_ENTRIES = 1_000_000;
const MIB = 1024 * 1024;

/** Packages installed into each tree by installDeb, for the Replaces checks of later ones. */
const installedByTree = new WeakMap<RootTree, Map<string, ResolvedPackage>>();

/**
 * Decompression-bomb guard: a generous multiple of the declared size, or of
 * the .deb itself when the index gives no Installed-Size.
 */
export function defaultUnpackLimit(installedSize: number | undefined, debSize: number): number {
  if (installedSize !== undefined) return Math.max(4 * installedSize + 64 * MIB, 64 * MIB);
  return 200 * debSize;
}

/**
 * Unpack the .deb at `file` (already verified against `pkg.sha256`) into
 * `root`, owned by `pkg.name`. Installs into one tree must run one at a
 * time: the tree's conflict handler is swapped for the duration.
 */
export async function installDeb(
  pkg: ResolvedPackage,
  file: string,
  root: RootTree,
  options: InstallDebOptions = {},
): Promise<DebInstalledPackage> {
  const label = `${pkg.name} ${pkg.version}`;
  const ar = await ArArchive.open(file);
  try {
    const layout = memberLayout(ar, label);
    await checkFormatVersion(ar, layout.debianBinary, label);
    const control = await readControl(ar, layout.control, label);
    checkIdentity(control.control, pkg, file);
    const unpacked = await unpackData(ar, layout.data, pkg, root, {
      ...(await dataLimits(pkg, file, options)),
      installed: options.installed ?? registryFor(root),
      cache: options.dataCache,
      reporter: options.reporter,
    });
    registryFor(root).set(pkg.name, pkg);
    options.reporter?.debug(`unpacked ${label}: ${unpacked.entries} entries, ${unpacked.files.length} non-directories`);
    return { pkg, files: unpacked.files, control: control.control, md5sums: control.md5sums, conffiles: control.conffiles, newestMtime: unpacked.newestMtime };
  } finally {
    await ar.close();
  }
}

/**
 * Decompresses the data.tar of the .deb at `file` (verified against
 * `pkg.sha256`) into the data cache, ahead of its installDeb, which then
 * replays it; the same limits apply. Nothing happens without a data cache
 * or when the member is cached already.
 */
export async function prepareDeb(pkg: ResolvedPackage, file: string, options: InstallDebOptions & { signal?: AbortSignal } = {}): Promise<void> {
  if (options.dataCache === undefined) return;
  const label = `${pkg.name} ${pkg.version}`;
  const ar = await ArArchive.open(file);
  try {
    const { data } = memberLayout(ar, label);
    await prefillData(ar, data, pkg, compressionOfMember(data.name, label), `${data.name} of ${label}`, {
      ...(await dataLimits(pkg, file, options)),
      cache: options.dataCache,
      reporter: options.reporter,
      signal: options.signal,
    });
  } finally {
    await ar.close();
  }
}

/** The bomb guards for data.tar: the caller's, else from Installed-Size or the file's size. */
async function dataLimits(pkg: ResolvedPackage, file: string, options: InstallDebOptions): Promise<{ maxBytes: number; maxEntries: number }> {
  return {
    maxBytes: options.maxUnpackedBytes ?? defaultUnpackLimit(pkg.installedSize, (await stat(file)).size),
    maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
  };
}

function registryFor(root: RootTree): Map<string, ResolvedPackage> {
  let map = installedByTree.get(root);
  if (!map) installedByTree.set(root, (map = new Map()));
  return map;
}

// ---------------------------------------------------------------- members

interface Layout {
  debianBinary: ArMember;
  control: ArMember;
  data: ArMember;
}

/** deb(5): debian-binary, control.tar*, data.tar* in that order; '_' members may sit between; trailing members are ignored. */
function memberLayout(ar: ArArchive, label: string): Layout {
  const members = ar.members.filter((m, i) => i === 0 || !m.name.startsWith('_'));
  const [debianBinary, control, data] = members;
  if (debianBinary?.name !== 'debian-binary') {
    throw unpack(label, `${ar.file} does not start with a debian-binary member`);
  }
  if (!control?.name.startsWith('control.tar')) throw unpack(label, `${ar.file} has no control.tar member after debian-binary`);
  if (!data?.name.startsWith('data.tar')) throw unpack(label, `${ar.file} has no data.tar member after ${control.name}`);
  return { debianBinary, control, data };
}

async function checkFormatVersion(ar: ArArchive, member: ArMember, label: string): Promise<void> {
  if (member.size > 64) throw unpack(label, `debian-binary is ${member.size} bytes, too long for a format version`);
  const text = (await ar.read(member)).toString('latin1');
  if (!/^2\.[0-9]+\n/.test(text)) {
    throw unpack(label, `unsupported .deb format version ${JSON.stringify(text.trim())} (expected 2.x)`);
  }
}

// ---------------------------------------------------------------- control

interface ControlData {
  control: Buffer;
  md5sums: Buffer | undefined;
  conffiles: string[];
}

async function readControl(ar: ArArchive, member: ArMember, label: string): Promise<ControlData> {
  const what = `${member.name} of ${label}`;
  const kind = compressionOfMember(member.name, label);
  const bytes = decompressStream(ar.stream(member), kind, { maxOutputBytes: CONTROL_LIMIT, what });
  const wanted = new Map<string, Buffer>();
  for await (const entry of readTar(bytes, { what, maxEntries: CONTROL_MAX_ENTRIES, maxTotalBytes: CONTROL_LIMIT })) {
    const name = entry.path.replace(/^(\.\/)+/, '');
    if (name !== 'control' && name !== 'md5sums' && name !== 'conffiles') continue;
    if (entry.type !== 'file') throw unpack(label, `${member.name} holds ${name} as a ${entry.type}, not a regular file`);
    if (wanted.has(name)) throw unpack(label, `${member.name} holds ${name} twice`);
    wanted.set(name, await collect(entry.body, entry.size));
  }
  const control = wanted.get('control');
  if (!control) throw unpack(label, `${member.name} has no control file`);
  const conffiles = (wanted.get('conffiles')?.toString('utf8') ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return { control, md5sums: wanted.get('md5sums'), conffiles };
}

async function collect(body: AsyncIterable<Buffer>, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts, size);
}

/** The .deb must be the package the resolver chose, not merely a file with the right checksum. */
function checkIdentity(control: Buffer, pkg: ResolvedPackage, file: string): void {
  const paragraph = parseDeb822Text(control.toString('utf8'), { source: `the control file of ${pkg.name} ${pkg.version}`, errorCode: 'UNPACK' })[0] ?? {};
  const name = field(paragraph, 'Package');
  const version = field(paragraph, 'Version');
  const arch = field(paragraph, 'Architecture');
  const matches =
    name === pkg.name &&
    arch === pkg.architecture &&
    version !== undefined &&
    (version === pkg.version || safeCompare(version, pkg.version) === 0);
  if (!matches) {
    throw new BaseimgError(
      'UNPACK',
      `the .deb for ${pkg.name} ${pkg.version} (${pkg.architecture}) contains ${name ?? '?'} ${version ?? '?'} (${arch ?? '?'}): ${file}`,
      { hint: 'the repository index and the package file disagree; refresh the index or report it to the repository' },
    );
  }
}

function safeCompare(a: string, b: string): number | undefined {
  try {
    return compareVersions(a, b);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- data

interface UnpackOptions {
  maxBytes: number;
  maxEntries: number;
  installed: ReadonlyMap<string, ResolvedPackage>;
  cache: DebDataCache | undefined;
  reporter: Reporter | undefined;
}

interface Unpacked {
  files: string[];
  entries: number;
  newestMtime: number;
}

async function unpackData(ar: ArArchive, member: ArMember, pkg: ResolvedPackage, root: RootTree, options: UnpackOptions): Promise<Unpacked> {
  const label = `${pkg.name} ${pkg.version}`;
  const what = `${member.name} of ${label}`;
  const kind = compressionOfMember(member.name, label);
  const data = await dataEntries(ar, member, pkg, kind, what, root, { maxBytes: options.maxBytes, maxEntries: options.maxEntries, cache: options.cache, reporter: options.reporter });

  let incoming: IncomingEntry | undefined;
  const previousHandler = root.onConflict;
  root.onConflict = makeConflictHandler(pkg, options.installed, () => incoming);
  // Archive path of each regular file so far → its canonical place, for hard links.
  const regularFiles = new Map<string, string>();
  const result: Unpacked = { files: [], entries: 0, newestMtime: 0 };
  try {
    for await (const entry of data.entries) {
      result.entries += 1;
      result.newestMtime = Math.max(result.newestMtime, entry.mtime);
      const path = archivePath(entry.path, pkg, 'entry');
      incoming = entry.type === 'symlink' ? { type: 'symlink', target: entry.linkname! } : { type: 'other' };
      const placed = await placeEntry(entry, path, pkg, root, regularFiles, data.source);
      if (placed !== undefined) result.files.push(placed);
    }
  } catch (e) {
    await data.failed();
    throw e;
  } finally {
    root.onConflict = previousHandler;
  }
  await data.succeeded();
  return result;
}

/** Put one entry into the tree; returns its canonical path, or undefined for directories. */
async function placeEntry(
  entry: TarEntry,
  path: string,
  pkg: ResolvedPackage,
  root: RootTree,
  regularFiles: Map<string, string>,
  source: number | undefined,
): Promise<string | undefined> {
  const owner = { owner: pkg.name };
  const meta: Meta = { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: entry.mtime };
  try {
    switch (entry.type) {
      case 'directory':
        // The root itself ("./") keeps the tree's metadata.
        if (path !== '/') root.addDirectory(path, meta, owner);
        return undefined;
      case 'file': {
        if (path === '/') throw unpack(pkg.name, `entry ${JSON.stringify(entry.path)} is a file at the package root`);
        const ref = source === undefined ? await root.bodies.putStream(entry.body, entry.size) : root.bodies.extent(source, entry.offset, entry.size);
        const node = root.addFile(path, meta, ref, entry.size, owner);
        // The conflict handler may have kept the other package's copy.
        if (root.get(path) !== node) root.bodies.release(ref);
        const canonical = canonicalPath(root, path);
        regularFiles.set(path, canonical);
        return canonical;
      }
      case 'hardlink': {
        const target = archivePath(entry.linkname!, pkg, `hard link ${entry.path} to`);
        const targetPlace = regularFiles.get(target);
        if (targetPlace === undefined) {
          throw unpack(pkg.name, `hard link ${entry.path} points to ${entry.linkname}, which is not a regular file earlier in the package`);
        }
        root.addHardlink(path, targetPlace, owner);
        const canonical = canonicalPath(root, path);
        regularFiles.set(path, canonical);
        return canonical;
      }
      case 'symlink':
        root.addSymlink(path, entry.linkname!, meta, owner);
        return canonicalPath(root, path);
      case 'fifo':
        root.addDevice(path, 'fifo', meta, 0, 0, owner);
        return canonicalPath(root, path);
      case 'char':
      case 'block':
        // Policy: images carry no device nodes. Container runtimes populate /dev
        // themselves, and a device node smuggled in by a package is a hazard.
        throw unpack(pkg.name, `ships ${entry.type === 'char' ? 'character' : 'block'} device ${entry.path}; images must not contain device nodes`);
    }
  } catch (e) {
    throw withPackage(e, pkg, entry.path);
  }
}

/**
 * "./usr/bin/x" or "usr/bin/x" → "/usr/bin/x" ("/" for the package root).
 * Absolute names and ".." components are refused: dpkg-deb never writes them.
 */
function archivePath(name: string, pkg: ResolvedPackage, role: string): string {
  if (name.startsWith('/')) throw unpack(pkg.name, `${role} ${JSON.stringify(name)} is an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unpack(pkg.name, `${role} ${JSON.stringify(name)} contains a ".." component`);
  if (name.includes('\0')) throw unpack(pkg.name, `${role} ${JSON.stringify(name)} contains a NUL byte`);
  return '/' + parts.join('/');
}

/** Where an entry really is: its parent with every symlink resolved (/bin/x → /usr/bin/x under merged /usr). */
function canonicalPath(root: RootTree, path: string): string {
  const slash = path.lastIndexOf('/');
  const parent = root.realpath(path.slice(0, slash) || '/') ?? path.slice(0, slash);
  const name = path.slice(slash + 1);
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function unpack(who: string, problem: string): BaseimgError {
  return new BaseimgError('UNPACK', `package ${who}: ${problem}`, {
    hint: 'the package is damaged or hostile; baseimg refuses to install it',
  });
}

/** Tree errors describe the path; make sure they also name the package and the archive entry. */
function withPackage(e: unknown, pkg: ResolvedPackage, entryPath: string): unknown {
  if (!isBaseimgError(e) || e.message.includes(`package ${pkg.name}`)) return e;
  return new BaseimgError(e.code, `package ${pkg.name}, entry ${entryPath}: ${e.message}`, { hint: e.hint, cause: e });
}
