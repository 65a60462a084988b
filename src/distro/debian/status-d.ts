/**
 * The package database as distroless writes it, one file pair per package:
 *   /var/lib/dpkg/status.d/<name>          the package's control file, verbatim
 *   /var/lib/dpkg/status.d/<name>.md5sums  its md5sums file
 * syft (and so grype) and trivy read these to list the image's packages and
 * their files; syft takes licenses from /usr/share/doc/<name>/copyright.
 *
 * Honesty rule: an md5sums file lists only files that are really in the
 * image. Normally that is every line, and the file is the package's own,
 * byte for byte. Lines naming a path that is absent (a package used only as
 * the CA bundle's source, say) are dropped, so a scanner never reports files
 * that are not there; a file with no line left is not written.
 *
 * /var/lib/dpkg/status is not written, as in distroless: it would claim a
 * complete dpkg installation (Status: install ok installed) without the
 * info/*.list files, conffile hashes or scripts dpkg expects, and the tools
 * that matter read status.d.
 */
import type { RootTree } from '../../rootfs/tree.js';
import { BaseimgError } from '../../util/errors.js';
import { writeGeneratedFile } from '../../finalize/paths.js';

export const STATUS_D = '/var/lib/dpkg/status.d';

export interface StatusDPackage {
  name: string;
  /** DEBIAN/control, verbatim. */
  control: Buffer;
  /** DEBIAN/md5sums, verbatim (absent in some packages). */
  md5sums: Buffer | undefined;
}

const MD5SUMS_LINE = /^[0-9a-f]{32} [ *](.+)$/;

/**
 * `md5sums` reduced to the lines whose file exists in the tree (symlinked
 * parents such as merged /usr followed). Unparseable lines are kept as they
 * are. Returns the input itself when nothing is dropped.
 */
export function presentMd5sums(root: RootTree, md5sums: Buffer): Buffer {
  const text = md5sums.toString('utf8');
  const lines = text.split('\n');
  const trailing = lines[lines.length - 1] === '' ? lines.pop() : undefined;
  const kept = lines.filter((line) => {
    const m = MD5SUMS_LINE.exec(line);
    if (!m) return true;
    return isPresentFile(root, `/${m[1]!}`);
  });
  if (kept.length === lines.length) return md5sums;
  if (kept.length === 0) return Buffer.alloc(0);
  return Buffer.from(kept.join('\n') + (trailing !== undefined ? '\n' : ''), 'utf8');
}

function isPresentFile(root: RootTree, path: string): boolean {
  try {
    const node = root.get(path, false);
    return node !== undefined && node.type !== 'dir';
  } catch {
    return false; // a path the tree refuses (".." or NUL) names nothing in the image
  }
}

/** Write status.d entries (0644 root) for `packages`. */
export async function writeStatusD(root: RootTree, packages: readonly StatusDPackage[], options: { mtime: number }): Promise<void> {
  const { mtime } = options;
  root.addDirectory(STATUS_D, { mode: 0o755, uid: 0, gid: 0, mtime });
  const seen = new Set<string>();
  for (const pkg of packages) {
    // A name becomes a file name: refuse anything dpkg itself would not accept.
    if (!/^[a-z0-9][a-z0-9+.-]+$/.test(pkg.name)) {
      throw new BaseimgError('INTERNAL', `package name ${JSON.stringify(pkg.name)} cannot name a status.d file`);
    }
    if (seen.has(pkg.name)) throw new BaseimgError('INTERNAL', `package ${pkg.name} recorded twice in status.d`);
    seen.add(pkg.name);
    await writeGeneratedFile(root, `${STATUS_D}/${pkg.name}`, pkg.control, { mode: 0o644, mtime });
    if (pkg.md5sums === undefined) continue;
    const md5sums = presentMd5sums(root, pkg.md5sums);
    if (md5sums.length > 0) await writeGeneratedFile(root, `${STATUS_D}/${pkg.name}.md5sums`, md5sums, { mode: 0o644, mtime });
  }
}
