/**
 * Reading container images that anyone wrote: baseimg's own tarballs,
 * `docker save` (legacy manifest.json and Docker 25+ OCI), `podman save`
 * (docker-archive and oci-archive), skopeo/umoci OCI layouts (tar or
 * directory), go-containerregistry tarballs, gzip/zstd-compressed tarballs,
 * and plain root filesystem tars (`docker export`, read as one layer).
 *
 * ## The API (what `baseimg inspect|ls|du|cat|diff|export` use, and what
 * ## `baseimg sbom IMG.tar` should use)
 *
 * ```ts
 * import { openImage, isPackageDatabasePath, readPackageDatabase, attributeFiles } from '../inspect/index.js';
 *
 * const img = await openImage('static.tar', { image: 'static:latest', platform: 'linux/amd64' });
 * try {
 *   img.refs; img.digest; img.platform;      // names, manifest digest (else config digest), os/arch
 *   img.config;                              // ImageConfigDoc: user, env, entrypoint, cmd, workdir, labels, history, raw
 *   img.layers;                              // LayerRef[]: blob, digest, diffId, mediaType, foreign
 *   img.notes;                               // oddities worth telling the user (sentences)
 *
 *   // One pass over every layer (digests and diff_ids verified on the way):
 *   const { view, layers, notes } = await img.flatten({ capture: isPackageDatabasePath });
 *   view.lookup('/etc/os-release', true);    // { node, parts } with symlinks followed inside the image
 *   for (const [path, node, depth] of view.walk()) { … }   // parents first, names in byte order
 *   view.totals();                           // files, dirs, symlinks, bytes (hard links once)
 *
 *   for await (const chunk of img.readFile(view, '/etc/passwd')) { … }   // content, streamed
 *   await img.content.readBuffer(inode);     // small files in memory; captured ones cost nothing
 *
 *   const db = await readPackageDatabase(view, (inode) => img.content.readBuffer(inode));
 *   db.packages;                             // InstalledPackage[]: dpkg status.d / status, apk installed
 *   db.databases; db.sbom;                   // which databases were found; /var/lib/db/sbom if present
 *   attributeFiles(view, db.packages);       // Map<inode|node, package>: who owns each file
 * } finally {
 *   await img.close();                       // removes the temporary copy of a compressed tarball
 * }
 * ```
 *
 * `ImageArchive.open(path)` lists the images of an archive without reading
 * any layer (`archive.candidates`), and `archive.select({ image, platform })`
 * picks one; several images and no selector is a USAGE error listing them.
 *
 * ## How it reads
 *
 * source.ts + tar-index.ts: a tarball is indexed by its headers once, with
 * positional reads (bodies skipped), so manifests and configs are read
 * directly and layers are byte ranges: nothing is read twice and images the
 * selector did not pick are never read. discover.ts (oci-index.ts,
 * docker-archive.ts) finds the images; select.ts chooses one.
 * layer-stream.ts streams a layer (compression by magic bytes), checks entry
 * names (absolute paths and ".." are errors) and verifies digests;
 * flatten.ts applies layers with OCI whiteouts; fs-view.ts is the result
 * (metadata only: content is fetched later by content.ts, directly from the
 * archive when the layer is uncompressed). Nothing holds a whole layer in memory.
 *
 * Errors about the archive are BaseimgError('IMAGE', …) naming the tarball
 * and the blob or path; a selector that matches nothing or several is 'USAGE'.
 */
export { ImageArchive, Image, openImage } from './image.js';
export type { ImageSelector } from './select.js';
export { parsePlatform, platformString, describeCandidate } from './select.js';
export type { ArchiveFormat, ImageCandidate, ImageConfigDoc, ImageParts, LayerRef, LayerStats, Platform } from './types.js';
export type { FlattenOptions, Flattened } from './flatten.js';
export { FsView, joinPath, metaOf, pathInfo, sizeOf, splitPath } from './fs-view.js';
export type { DirNode, FileInode, FileNode, FsNode, Meta, NodeKind, PathInfo, Resolved, SpecialNode, SymlinkNode } from './fs-view.js';
export { ContentReader } from './content.js';
export {
  attributeFiles,
  isPackageDatabasePath,
  md5sumsPaths,
  ownerKey,
  parseApkInstalled,
  readPackageDatabase,
  SBOM_DIR,
} from './packages/index.js';
export type { DatabaseKind, InstalledPackage, OwnerKey, PackageDatabase, PackageManager } from './packages/index.js';
export { duByPackage, duDirectories } from './du.js';
export type { DuRow, PackageUsage, UsageByPackage } from './du.js';
export { diffViews, diffPackages } from './diff.js';
export type { ChangedPath, ImageDiff, PackageChange } from './diff.js';
export { writeRootfsTar } from './export-tar.js';
export { exportToDirectory } from './export-dir.js';
