/**
 * Debian's finalize: what the maintainer scripts baseimg never runs would
 * have left, in a fixed order so the result depends only on the inputs:
 *   1. accounts: /etc/passwd, /etc/group, home directories, /home, /tmp
 *   2. /etc/nsswitch.conf (distroless's, unless a package ships one)
 *   3. os-release: PRETTY_NAME from the spec, in base-files' file
 *   4. CA certificates: bundle (+ conffile, local certificates, copyright),
 *      and Java's cacerts keystore where a JDK links to a missing one
 *   5. /var/lib/dpkg/status.d, last, so its md5sums see the final tree
 * Every generated file is root-owned with mtime = SOURCE_DATE_EPOCH.
 * No /etc/localtime or /etc/timezone: containers default to UTC without them.
 * The spec's `paths` entries are applied after this by the pipeline.
 */
import type { Arch, Spec } from '../../spec/types.js';
import type { BuildContext } from '../../pipeline/context.js';
import type { RootTree } from '../../rootfs/tree.js';
import type { InstalledPackage, ResolvedPackage } from '../types.js';
import { writeAccounts } from '../../finalize/accounts.js';
import { findOsRelease, overridePrettyName } from '../../finalize/os-release.js';
import { writeGeneratedFile } from '../../finalize/paths.js';
import { CA_BUNDLE, writeCaCertificates } from './ca-certificates.js';
import { writeJavaCacerts } from '../../finalize/java-cacerts.js';
import { writeStatusD, type StatusDPackage } from './status-d.js';

export interface FinalizeDebianOptions {
  /** mtime of every file finalize writes. */
  sourceDateEpoch: number;
  /** ca-certificates downloaded only to build the bundle (the spec wants it, the package is not installed). */
  caCertificates?: { pkg: ResolvedPackage; file: string } | undefined;
}

export const NSSWITCH_PATH = '/etc/nsswitch.conf';

/**
 * distroless's /etc/nsswitch.conf, byte for byte. "compat" reads the same
 * files as libc-bin's template ("files") when they hold no +/- entries.
 */
export const DISTROLESS_NSSWITCH = `# /etc/nsswitch.conf
#
# Example configuration of GNU Name Service Switch functionality.
# If you have the \`glibc-doc-reference' and \`info' packages installed, try:
# \`info libc "Name Service Switch"' for information about this file.

passwd:         compat
group:          compat
shadow:         compat
gshadow:        files

hosts:          files dns
networks:       files

protocols:      db files
services:       db files
ethers:         db files
rpc:            db files

netgroup:       nis
`;

export async function finalizeDebian(
  root: RootTree,
  installed: InstalledPackage[],
  spec: Spec,
  _arch: Arch,
  ctx: BuildContext,
  options: FinalizeDebianOptions,
): Promise<void> {
  const mtime = options.sourceDateEpoch;

  for (const path of ['/etc/passwd', '/etc/group']) {
    const owner = root.get(path, false)?.owner;
    if (owner !== undefined) ctx.reporter.debug(`${path} shipped by ${owner} is replaced by the spec's accounts`);
  }
  await writeAccounts(root, spec.accounts, { mtime });

  await writeNsswitch(root, mtime, ctx);
  await applyOsRelease(root, spec.osRelease.prettyName, mtime, ctx);

  const caSource = await writeCaCertificates(root, installed, spec, ctx, { mtime, caCertificates: options.caCertificates });
  for (const path of await writeJavaCacerts(root, CA_BUNDLE, { mtime })) {
    ctx.reporter.info(`wrote ${path}, Java's trust store, from the CA bundle (ca-certificates-java's postinst never runs)`);
  }

  const records: StatusDPackage[] = installed.map((p) => ({ name: p.pkg.name, control: p.control, md5sums: p.md5sums }));
  if (caSource) records.push(caSource);
  await writeStatusD(root, records, { mtime });
}

/** A package's own nsswitch.conf (a conffile) is kept; otherwise distroless's is written. */
async function writeNsswitch(root: RootTree, mtime: number, ctx: BuildContext): Promise<void> {
  const existing = root.get(NSSWITCH_PATH, false);
  if (existing !== undefined) {
    ctx.reporter.debug(`${NSSWITCH_PATH} shipped by ${existing.owner ?? 'baseimg'} is kept`);
    return;
  }
  await writeGeneratedFile(root, NSSWITCH_PATH, Buffer.from(DISTROLESS_NSSWITCH), { mode: 0o644, mtime });
}

/**
 * base-files' os-release is kept as shipped, with PRETTY_NAME rewritten when
 * the spec asks. Without base-files there is none, and none is invented: the
 * distribution facts in it (ID, VERSION_ID) must come from the distribution.
 */
async function applyOsRelease(root: RootTree, prettyName: string | undefined, mtime: number, ctx: BuildContext): Promise<void> {
  if (prettyName === undefined) {
    if (findOsRelease(root) === undefined) {
      ctx.reporter.info('no /etc/os-release in the image (base-files is not installed); scanners will not recognise the distribution');
    }
    return;
  }
  const edited = await overridePrettyName(root, prettyName, mtime);
  if (edited === undefined) {
    ctx.reporter.warn('os-release.pretty-name is ignored: no package ships /etc/os-release (add base-files to the packages)');
  } else {
    ctx.reporter.debug(`PRETTY_NAME set in ${edited}`);
  }
}
