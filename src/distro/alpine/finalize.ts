/**
 * Alpine's finalize, in a fixed order so the result depends only on the inputs:
 *   1. accounts: /etc/passwd, /etc/group (the spec's, replacing
 *      alpine-baselayout's), home directories, /home, /tmp 1777
 *   2. os-release: the distribution's (alpine-release, wolfi-baselayout),
 *      PRETTY_NAME from the spec
 *   3. the CA bundle (ca-bundle.ts)
 *   4. apk's database and /etc/apk, last, so it sees the final tree
 * No nsswitch.conf: musl does not read one, and glibc distributions in this
 * family (Wolfi) ship theirs in their baselayout.
 */
import type { BuildContext } from '../../pipeline/context.js';
import type { RootTree } from '../../rootfs/tree.js';
import type { Spec } from '../../spec/types.js';
import { writeAccounts } from '../../finalize/accounts.js';
import { findOsRelease, overridePrettyName } from '../../finalize/os-release.js';
import { finishCaBundle } from './ca-bundle.js';
import { writeApkDatabase, type ApkDbFiles } from './installed-db.js';

export async function finalizeAlpine(root: RootTree, spec: Spec, ctx: BuildContext, db: ApkDbFiles, mtime: number): Promise<void> {
  for (const path of ['/etc/passwd', '/etc/group']) {
    const owner = root.get(path, false)?.owner;
    if (owner !== undefined) ctx.reporter.debug(`${path} shipped by ${owner} is replaced by the spec's accounts`);
  }
  await writeAccounts(root, spec.accounts, { mtime });

  const prettyName = spec.osRelease.prettyName;
  if (prettyName !== undefined) {
    const edited = await overridePrettyName(root, prettyName, mtime);
    if (edited === undefined) ctx.reporter.warn('os-release.pretty-name is ignored: no package ships /etc/os-release (add alpine-release, or wolfi-baselayout for Wolfi)');
  } else if (findOsRelease(root) === undefined) {
    ctx.reporter.info('no /etc/os-release in the image (alpine-release or wolfi-baselayout ship it); scanners will not recognise the distribution');
  }

  await finishCaBundle(root, spec, ctx, mtime);
  await writeApkDatabase(root, db, mtime);
}
