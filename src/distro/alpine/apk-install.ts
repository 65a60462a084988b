/**
 * Unpack the data part of a verified .apk into the root tree with apk's
 * semantics, and record what apk's installed database needs about it.
 *
 *  - Entries keep their tar mode (setuid and sticky bits included) and
 *    numeric owner; symlinks, hard links (to an earlier file of the same
 *    package) and FIFOs are kept; device nodes, absolute names and ".." are
 *    refused, as for .deb packages.
 *  - Each file's and symlink's APK-TOOLS.checksum.SHA1 PAX record is checked
 *    against what is unpacked and becomes its Z: line in the database.
 *  - Extended attributes (SCHILY.xattr.*) are not carried into the image:
 *    the layer writer has no xattr support. Dropping security.capability
 *    changes behaviour, so that one is a warning; others are debug notes.
 *  - A path another package already ships may be overwritten as apk allows:
 *    by a package of the same origin, or one that "replaces" the owner;
 *    an owner that replaces the newcomer keeps its file. Anything else is a
 *    CONFLICT.
 *  - The data part is hashed again while it is read, so the bytes unpacked
 *    are the bytes verified.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { decompressStream } from '../../archive/decompress.js';
import { readTar, type TarEntry } from '../../archive/tar-reader.js';
import type { Reporter } from '../../pipeline/context.js';
import type { RootTree } from '../../rootfs/tree.js';
import type { ConflictHandler, Meta } from '../../rootfs/types.js';
import { BaseimgError, isBaseimgError } from '../../util/errors.js';
import type { ResolvedPackage } from '../types.js';
import { versionMatches, type ApkDependency } from './dependency.js';
import type { DbDirectory, DbFile } from './installed-db.js';

/** What the conflict rules need to know about a package already in the tree. */
export interface InstalledInfo {
  version: string;
  checksum: string;
  origin: string | undefined;
  replaces: ApkDependency[];
  replacesPriority: number;
}

export interface UnpackOptions {
  /** SHA-256 (hex) the data part was verified to have. */
  dataSha256: string;
  dataOffset: number;
  maxUnpackedBytes: number;
  maxEntries: number;
  /** Packages already in the tree (this one is added when it is done). */
  installed: Map<string, InstalledInfo>;
  self: InstalledInfo;
  reporter: Reporter;
}

export interface UnpackedApk {
  /** Canonical paths of the non-directory entries placed for this package. */
  files: string[];
  /** Database view: directories in archive order, each with its files. */
  dirs: DbDirectory[];
  newestMtime: number;
  entries: number;
}

export async function unpackApkData(pkg: ResolvedPackage, file: string, root: RootTree, options: UnpackOptions): Promise<UnpackedApk> {
  const label = `${pkg.name} ${pkg.version}`;
  const what = `data of ${label}`;
  const hash = createHash('sha256');
  const raw = (async function* () {
    for await (const chunk of createReadStream(file, { start: options.dataOffset, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      yield chunk;
    }
  })();
  const tar = readTar(decompressStream(raw, 'gz', { maxOutputBytes: options.maxUnpackedBytes, what }), {
    what,
    maxEntries: options.maxEntries,
    maxTotalBytes: options.maxUnpackedBytes,
  });
  const previous = root.onConflict;
  root.onConflict = conflictRules(pkg, options);
  const state = new UnpackState(pkg, root, options.reporter);
  try {
    for await (const entry of tar) await state.place(entry);
  } finally {
    root.onConflict = previous;
  }
  // readTar has drained the source; the hash covers every byte unpacked.
  if (hash.digest('hex') !== options.dataSha256) {
    throw new BaseimgError('VERIFY', `${what} changed between verification and unpacking: ${file}`, { hint: 'something is writing to the cache; run the build again' });
  }
  state.reportXattrs();
  options.installed.set(pkg.name, options.self);
  return { files: state.files, dirs: [...state.dirs.values()], newestMtime: state.newestMtime, entries: state.entries };
}

class UnpackState {
  files: string[] = [];
  dirs = new Map<string, DbDirectory>();
  newestMtime = 0;
  entries = 0;
  private regularFiles = new Map<string, string>();
  private xattrs = new Map<string, number>();

  constructor(
    private readonly pkg: ResolvedPackage,
    private readonly root: RootTree,
    private readonly reporter: Reporter,
  ) {}

  async place(entry: TarEntry): Promise<void> {
    this.entries += 1;
    this.newestMtime = Math.max(this.newestMtime, entry.mtime);
    const rel = relativePath(entry.path, this.pkg, 'entry');
    for (const key of Object.keys(entry.pax)) if (key.startsWith('SCHILY.xattr.')) this.xattrs.set(key.slice(13), (this.xattrs.get(key.slice(13)) ?? 0) + 1);
    const owner = { owner: this.pkg.name };
    const meta: Meta = { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: entry.mtime };
    const abs = `/${rel}`;
    try {
      if (entry.type === 'directory') {
        // The package root ("./") keeps the tree's metadata and is no database directory.
        if (rel === '') return;
        this.root.addDirectory(abs, meta, owner);
        this.dir(rel).meta = { uid: entry.uid, gid: entry.gid, mode: entry.mode };
        return;
      }
      if (rel === '') throw unpackError(this.pkg, `entry ${JSON.stringify(entry.path)} is a ${entry.type} at the package root`);
      const checksum = entry.pax['APK-TOOLS.checksum.SHA1'];
      switch (entry.type) {
        case 'file': {
          const sha1 = createHash('sha1');
          const ref = await this.root.bodies.putStream(hashing(entry.body, sha1), entry.size);
          checkSha1(sha1.digest('hex'), checksum, this.pkg, entry.path);
          const node = this.root.addFile(abs, meta, ref, entry.size, owner);
          if (this.root.get(abs) !== node) {
            this.root.bodies.release(ref); // an owner that replaces us kept its file
            return;
          }
          this.regularFiles.set(rel, abs);
          break;
        }
        case 'hardlink': {
          const target = relativePath(entry.linkname!, this.pkg, `hard link ${entry.path} to`);
          const targetPath = this.regularFiles.get(target);
          if (targetPath === undefined) throw unpackError(this.pkg, `hard link ${entry.path} points to ${entry.linkname}, which is not a regular file earlier in the package`);
          const node = this.root.addHardlink(abs, targetPath, owner);
          if (this.root.get(abs) !== node) return;
          this.regularFiles.set(rel, abs);
          break;
        }
        case 'symlink': {
          checkSha1(createHash('sha1').update(entry.linkname!).digest('hex'), checksum, this.pkg, entry.path);
          const node = this.root.addSymlink(abs, entry.linkname!, meta, owner);
          if (this.root.get(abs) !== node) return;
          break;
        }
        case 'fifo': {
          const node = this.root.addDevice(abs, 'fifo', meta, 0, 0, owner);
          if (this.root.get(abs) !== node) return;
          break;
        }
        case 'char':
        case 'block':
          // Policy shared with .deb: runtimes populate /dev; a device node in an image is a hazard.
          throw unpackError(this.pkg, `ships ${entry.type === 'char' ? 'character' : 'block'} device ${entry.path}; images must not contain device nodes`);
      }
      this.files.push(canonicalPath(this.root, abs));
      this.recordFile(rel, entry, checksum);
    } catch (e) {
      throw withPackage(e, this.pkg, entry.path);
    }
  }

  private recordFile(rel: string, entry: TarEntry, checksum: string | undefined): void {
    const slash = rel.lastIndexOf('/');
    const file: DbFile = {
      name: rel.slice(slash + 1),
      path: `/${rel}`,
      acl: { uid: entry.uid, gid: entry.gid, mode: entry.type === 'symlink' ? 0o777 : entry.mode },
      sha1: checksum,
    };
    this.dir(slash < 0 ? '' : rel.slice(0, slash)).files.push(file);
  }

  /** The database directory record for `rel`, created on first use (apk lists a file's directory even without its own entry). */
  private dir(rel: string): DbDirectory {
    let d = this.dirs.get(rel);
    if (d === undefined) this.dirs.set(rel, (d = { path: rel, meta: undefined, files: [] }));
    return d;
  }

  reportXattrs(): void {
    if (this.xattrs.size === 0) return;
    const list = [...this.xattrs].map(([name, n]) => `${name} (${n})`).join(', ');
    const message = `${this.pkg.name} ${this.pkg.version}: extended attributes are not carried into the image: ${list}`;
    if (this.xattrs.has('security.capability')) this.reporter.warn(`${message}; file capabilities are lost`);
    else this.reporter.debug(message);
  }
}

async function* hashing(body: AsyncIterable<Buffer>, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  for await (const chunk of body) {
    hash.update(chunk);
    yield chunk;
  }
}

function checkSha1(actual: string, recorded: string | undefined, pkg: ResolvedPackage, path: string): void {
  if (recorded === undefined || recorded.toLowerCase() === actual) return;
  throw new BaseimgError('VERIFY', `package ${pkg.name} ${pkg.version}: ${path} does not match its APK-TOOLS.checksum.SHA1 (${recorded}, unpacked ${actual})`, {
    hint: 'the package is internally inconsistent; it is refused',
  });
}

/** "./usr/bin/x" or "usr/bin/x" → "usr/bin/x" ("" for the package root); absolute names and ".." are refused. */
function relativePath(name: string, pkg: ResolvedPackage, role: string): string {
  if (name.startsWith('/')) throw unpackError(pkg, `${role} ${JSON.stringify(name)} is an absolute path`);
  if (name.includes('\0')) throw unpackError(pkg, `${role} ${JSON.stringify(name)} contains a NUL byte`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unpackError(pkg, `${role} ${JSON.stringify(name)} contains a ".." component`);
  return parts.join('/');
}

/** Where an entry really is: its parent with every symlink resolved. */
function canonicalPath(root: RootTree, path: string): string {
  const slash = path.lastIndexOf('/');
  const parent = root.realpath(path.slice(0, slash) || '/') ?? path.slice(0, slash);
  const name = path.slice(slash + 1);
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/**
 * apk's overwrite rules (database.c, apk_db_install_archive_entry): the
 * same origin may overwrite; otherwise whoever "replaces" the other wins,
 * the owner keeping its file when its replaces_priority is higher.
 */
function conflictRules(pkg: ResolvedPackage, options: UnpackOptions): ConflictHandler {
  const self = options.self;
  return (path, existing, incomingOwner) => {
    const ownerName = existing.owner!;
    const owner = options.installed.get(ownerName);
    if (owner === undefined || incomingOwner !== pkg.name) return 'replace';
    if (self.origin !== undefined && self.origin === owner.origin) return 'replace';
    const ownerPrio = owner.replaces.some((d) => d.name === pkg.name && versionMatches(d, pkg.version, self.checksum)) ? owner.replacesPriority : -1;
    const selfPrio = self.replaces.some((d) => d.name === ownerName && versionMatches(d, owner.version, owner.checksum)) ? self.replacesPriority : -1;
    if (ownerPrio > selfPrio) return 'keep';
    if (selfPrio >= 0) return 'replace';
    throw new BaseimgError('CONFLICT', `package ${pkg.name} ${pkg.version} ships ${path}, which package ${ownerName} ${owner.version} already installed`, {
      hint: `apk refuses to overwrite another package's files unless one "replaces" the other; exclude one of ${pkg.name} and ${ownerName}`,
    });
  };
}

function unpackError(pkg: ResolvedPackage, problem: string): BaseimgError {
  return new BaseimgError('UNPACK', `package ${pkg.name}: ${problem}`, { hint: 'the package is damaged or hostile; baseimg refuses to install it' });
}

function withPackage(e: unknown, pkg: ResolvedPackage, entryPath: string): unknown {
  if (!isBaseimgError(e) || e.message.includes(`package ${pkg.name}`)) return e;
  return new BaseimgError(e.code, `package ${pkg.name}, entry ${entryPath}: ${e.message}`, { hint: e.hint, cause: e });
}
