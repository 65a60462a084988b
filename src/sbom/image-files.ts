/**
 * Read-only access to an image's files, the one thing the SBOM code needs
 * from an image: a RootTree during a build, an image tarball for
 * `baseimg sbom`. Paths are absolute inside the image; symlinks resolve
 * inside it.
 */
import type { RootTree } from '../rootfs/tree.js';
import { compareNames } from '../rootfs/tree.js';

export interface ImageFiles {
  /** Bytes of the regular file at `path` (symlinks followed), undefined when there is none. */
  readFile(path: string): Promise<Buffer | undefined>;
  /** `path` with every symlink resolved, undefined when it does not exist. */
  realpath(path: string): string | undefined;
  /** Names in the directory at `path` (symlinks followed), byte-sorted; [] when there is none. */
  list(path: string): string[];
}

/** ImageFiles over a build's RootTree. */
export function treeFiles(root: RootTree): ImageFiles {
  const safe = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch {
      return fallback; // a path the tree refuses ("..", NUL) names nothing
    }
  };
  return {
    async readFile(path) {
      const node = safe(() => root.get(path, true), undefined);
      return node?.type === 'file' ? root.bodies.read(node.body) : undefined;
    },
    realpath: (path) => safe(() => root.realpath(path), undefined),
    list(path) {
      const node = safe(() => root.get(path, true), undefined);
      return node?.type === 'dir' ? [...node.children.keys()].sort(compareNames) : [];
    },
  };
}
