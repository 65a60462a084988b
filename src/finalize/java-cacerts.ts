/**
 * Java's trust store, which Debian's ca-certificates-java makes in its
 * postinst (never run here): OpenJDK packages ship
 * /usr/lib/jvm/<jdk>/lib/security/cacerts as a link to
 * /etc/ssl/certs/java/cacerts, and without that file every TLS connection
 * from Java fails ("the trustAnchors parameter must be non-empty"). When the
 * image has such a dangling link and a CA bundle, the file is written from
 * the bundle as a JKS keystore, the format ca-certificates-java writes:
 *
 *   magic FEEDFEED, version 2, entry count, then per certificate: tag 2
 *   (trusted certificate), alias (Java modified UTF-8 with a 16-bit length),
 *   date (ms), type "X.509", DER length and bytes; then SHA-1 over the
 *   password as UTF-16BE, "Mighty Aphrodite" and everything before.
 *
 * Password "changeit" (Java's default for cacerts); aliases are the
 * certificates' subject CN (else O) in lower case, as keytool stores them,
 * with " 2", " 3"... on repeats; date = SOURCE_DATE_EPOCH; bundle order.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { posix } from 'node:path';
import type { RootTree } from '../rootfs/tree.js';
import { writeGeneratedFile } from './paths.js';

export const JAVA_CACERTS_PASSWORD = 'changeit';
const JVM_DIR = '/usr/lib/jvm';

/** The certificates of a PEM bundle, as DER, in order. */
export function pemCertificates(pem: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  }
  return out;
}

export function javaKeystore(certificates: readonly Buffer[], options: { mtime: number; password?: string }): Buffer {
  const parts: Buffer[] = [u32(0xfeedfeed), u32(2), u32(certificates.length)];
  const used = new Map<string, number>();
  for (const der of certificates) {
    const base = aliasOf(der);
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    parts.push(u32(2), utf(n === 1 ? base : `${base} ${n}`), u64(options.mtime * 1000), utf('X.509'), u32(der.length), der);
  }
  const body = Buffer.concat(parts);
  const password = options.password ?? JAVA_CACERTS_PASSWORD;
  const digest = createHash('sha1').update(Buffer.from(password, 'utf16le').swap16()).update('Mighty Aphrodite', 'utf8').update(body).digest();
  return Buffer.concat([body, digest]);
}

/**
 * Writes the keystore where a JDK's cacerts link points, when that file is
 * missing and `bundle` (the image's CA bundle path) exists. Returns the
 * paths written.
 */
export async function writeJavaCacerts(root: RootTree, bundle: string, options: { mtime: number }): Promise<string[]> {
  const jvms = root.get(JVM_DIR, true);
  const bundleNode = root.get(bundle, true);
  if (jvms?.type !== 'dir' || bundleNode?.type !== 'file') return [];
  const targets = new Set<string>();
  for (const name of [...jvms.children.keys()].sort()) {
    const linkPath = `${JVM_DIR}/${name}/lib/security/cacerts`;
    const link = root.get(linkPath, false);
    if (link?.type !== 'symlink') continue;
    const target = posix.resolve(posix.dirname(linkPath), link.target);
    if (root.get(target, true) === undefined) targets.add(target);
  }
  if (targets.size === 0) return [];
  const certificates = pemCertificates((await root.bodies.read(bundleNode.body)).toString('utf8'));
  const keystore = javaKeystore(certificates, { mtime: options.mtime });
  for (const target of targets) await writeGeneratedFile(root, target, keystore, { mode: 0o644, mtime: options.mtime });
  return [...targets];
}

/** Subject CN, else O, else the SHA-256 fingerprint; lower case (JKS aliases are). */
function aliasOf(der: Buffer): string {
  let subject = '';
  try {
    subject = new X509Certificate(der).subject;
  } catch {
    // Not parseable here: still a trusted certificate for Java to judge.
  }
  const field = (key: string): string | undefined => subject.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
  return (field('CN') ?? field('O') ?? createHash('sha256').update(der).digest('hex')).toLowerCase();
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** Java's DataOutput.writeUTF: modified UTF-8 (NUL as C0 80, astral characters as surrogate pairs) after a 16-bit length. */
function utf(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 1 && c <= 0x7f) bytes.push(c);
    else if (c <= 0x7ff) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  const len = Buffer.alloc(2);
  len.writeUInt16BE(Math.min(bytes.length, 0xffff));
  return Buffer.concat([len, Buffer.from(bytes.slice(0, 0xffff))]);
}
