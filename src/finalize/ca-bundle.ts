/**
 * The CA bundle as Debian's update-ca-certificates builds it, reduced to what
 * decides its bytes:
 *  - certificates are appended in the order given; each goes through
 *    `sed -e '$a\'`, which adds "\n" to a body whose last line lacks one and
 *    leaves every other byte alone (an empty body stays empty, CR stays);
 *  - the packaged certificates come first, in the order of
 *    /etc/ca-certificates.conf, then the local ones sorted by path.
 * Both orders come from `sort`, which maintainer scripts run under
 * LC_ALL=C.UTF-8 (mmdebstrap sets it; debootstrap and a plain container have
 * C/POSIX): comparison by code point, i.e. by UTF-8 bytes. A UTF-8 locale
 * such as en_US would order "_" and case differently; that is not reproduced.
 *
 * Which files take part is the distro's business (src/distro/debian/finalize.ts).
 */
import { compareNames } from '../rootfs/tree.js';

export interface CertificateFile {
  /** Name as sorted: relative to /usr/share/ca-certificates, or the full local path. */
  name: string;
  body: Buffer;
}

const NEWLINE = 0x0a;

/** `sed -e '$a\'`: make sure a non-empty body ends with a newline. */
export function withFinalNewline(body: Buffer): Buffer {
  if (body.length === 0 || body[body.length - 1] === NEWLINE) return body;
  return Buffer.concat([body, Buffer.from('\n')]);
}

/** Order of `sort` under the C / C.UTF-8 locale: by the bytes of the UTF-8 names. */
export function sortLikeCLocale<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => compareNames(key(a), key(b)));
}

/**
 * The bundle: `packaged` in the order given (the caller has sorted it the way
 * the conffile lists it), then `local` sorted by name, each newline-terminated.
 */
export function buildCaBundle(packaged: readonly CertificateFile[], local: readonly CertificateFile[] = []): Buffer {
  const ordered = [...packaged, ...sortLikeCLocale(local, (c) => c.name)];
  return Buffer.concat(ordered.map((c) => withFinalNewline(c.body)));
}
