/**
 * `strip`: remove package files by glob (src/util/glob.ts) after unpacking
 * and before finalize, so everything finalize writes from the tree (the
 * dpkg status.d md5sums, apk's installed database, the SBOM) describes what
 * is really left: an md5sums line or apk R: entry for a stripped file is
 * dropped there, as for any absent file.
 *
 * Patterns match real paths (no symlinks in them: under merged /usr,
 * /bin/x is /usr/bin/x). A matched directory goes with everything below it.
 * Licences stay whatever the patterns say, because the SBOM and scanners
 * read them and licences require them: /usr/share/doc/<pkg>/copyright, the
 * links Debian puts at /usr/share/doc/<pkg> (they lead to another
 * package's copyright), /usr/share/common-licenses (copyright files point
 * there) and /usr/share/licenses (Alpine, Wolfi). Directories on the way to
 * a kept file stay too.
 */
import type { RootTree } from '../rootfs/tree.js';
import type { DirNode, TreeNode } from '../rootfs/types.js';
import { compileGlobs } from '../util/glob.js';

export interface StripResult {
  /** Regular files, links and other non-directories removed. */
  files: number;
  directories: number;
  /** Bytes of regular file content removed (a hard-linked body counts once). */
  bytes: number;
}

const KEEP = compileGlobs(['/usr/share/doc/*/copyright', '/usr/share/common-licenses/**', '/usr/share/licenses/**']);
const KEEP_LINK = compileGlobs(['/usr/share/doc/*']);

export function stripTree(root: RootTree, patterns: readonly string[]): StripResult {
  const result: StripResult = { files: 0, directories: 0, bytes: 0 };
  if (patterns.length === 0) return result;
  const matches = compileGlobs(patterns);
  const removedBodies = new Set<TreeNode>();
  const kept = new Set<TreeNode>();
  const visit = (dir: DirNode, path: string, inMatch: boolean): void => {
    for (const [name, node] of [...dir.children]) {
      const here = `${path}/${name}`;
      const matched = inMatch || matches(here);
      if (node.type === 'dir') {
        visit(node, here, matched);
        if (matched && node.children.size === 0) {
          dir.children.delete(name);
          result.directories++;
        }
        continue;
      }
      if (!matched || KEEP(here) || (node.type === 'symlink' && KEEP_LINK(here))) {
        kept.add(node);
        continue;
      }
      dir.children.delete(name);
      result.files++;
      if (node.type === 'file') removedBodies.add(node);
    }
  };
  visit(root.root, '', false);
  // A hard-linked body still reachable from a kept path was not freed.
  for (const node of removedBodies) if (!kept.has(node) && node.type === 'file') result.bytes += node.size;
  return result;
}
