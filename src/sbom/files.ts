/**
 * --sbom-files: SHA-256 and SHA-1 (SPDX 2.3 requires SHA-1 for files) of
 * every regular file in the root tree, with the package that installed it.
 * A file baseimg generated belongs to the image, unless the package
 * database lists it for a package (the CA source's copyright file).
 * baseimg's own SBOM files are left out: a document cannot hash itself.
 * (Other files under /var/lib/db/sbom, such as the per-package SBOMs Wolfi
 * packages ship, are listed like any other.)
 */
import { createHash } from 'node:crypto';
import type { RootTree } from '../rootfs/tree.js';
import type { SbomFile } from './model.js';

export async function hashTreeFiles(root: RootTree, options: { exclude: ReadonlySet<string>; dbOwners: ReadonlyMap<string, string> }): Promise<SbomFile[]> {
  const out: SbomFile[] = [];
  for (const [path, node] of root.walk()) {
    if (node.type !== 'file' || options.exclude.has(path)) continue;
    const body = await root.bodies.read(node.body);
    out.push({
      path,
      sha256: createHash('sha256').update(body).digest('hex'),
      sha1: createHash('sha1').update(body).digest('hex'),
      owner: node.owner ?? options.dbOwners.get(path),
    });
  }
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}
