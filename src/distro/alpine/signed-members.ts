/**
 * The leading members of a v2 apk or APKINDEX.tar.gz: an optional signature
 * member (a tar of ".SIGN.*" entries, perhaps behind a PAX header) and the
 * member it signs (the control member of a package, the index member of an
 * APKINDEX). Anything after that is the caller's business.
 */
import { BaseimgError } from '../../util/errors.js';
import { IncompleteMember, readGzipMember, type GzipMember } from './gzip-members.js';
import { parseSignatureName, type ApkSignature } from './signature.js';
import { readSmallTar, type SmallTarEntry } from './small-tar.js';

export interface SignedMembers {
  signatures: ApkSignature[];
  /** The control or index member: raw range and content. */
  signed: GzipMember;
  /** Its tar entries. */
  entries: SmallTarEntry[];
}

/** Limits on what a signature/control/index member may expand to. */
export interface MemberLimits {
  signedMaxBytes: number;
}

const SIGNATURE_MAX_BYTES = 1024 * 1024;

/**
 * Parse the leading members of `buf`. Returns undefined when `buf` ends
 * inside them and `complete` is false (read more and try again).
 */
export async function readSignedMembers(buf: Buffer, complete: boolean, limits: MemberLimits, what: string): Promise<SignedMembers | undefined> {
  try {
    const first = readGzipMember(buf, 0, Math.max(SIGNATURE_MAX_BYTES, limits.signedMaxBytes), what);
    const firstEntries = await readSmallTar(first.content, what);
    const signatures = signaturesOf(firstEntries, what);
    if (signatures.length === 0) return { signatures, signed: first, entries: firstEntries };
    const signed = readGzipMember(buf, first.end, limits.signedMaxBytes, what);
    return { signatures, signed, entries: await readSmallTar(signed.content, what) };
  } catch (e) {
    if (!(e instanceof IncompleteMember)) throw e;
    if (!complete) return undefined;
    throw new BaseimgError('VERIFY', `${what} is truncated`, { hint: 'the download is incomplete or the file is damaged' });
  }
}

/** The .SIGN entries of the first member; a member mixing them with other entries is refused. */
function signaturesOf(entries: SmallTarEntry[], what: string): ApkSignature[] {
  const signatures: ApkSignature[] = [];
  for (const entry of entries) {
    const parsed = parseSignatureName(entry.name);
    if (parsed) {
      if (entry.type !== 'file') throw new BaseimgError('VERIFY', `${what}: signature entry ${entry.name} is not a regular file`);
      signatures.push({ entry: entry.name, ...parsed, signature: entry.body });
    }
  }
  if (signatures.length > 0 && signatures.length !== entries.length) {
    const other = entries.find((e) => parseSignatureName(e.name) === undefined)!;
    throw new BaseimgError('VERIFY', `${what}: the signature member also holds ${other.name}`, {
      hint: 'signatures must sit alone in the first gzip member; the file is damaged or crafted',
    });
  }
  return signatures;
}
