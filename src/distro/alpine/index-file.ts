/**
 * APKINDEX.tar.gz checked and opened: the signature member, then the index
 * member (a tar of APKINDEX and, usually, DESCRIPTION). The signature covers
 * the raw bytes of the index member only, so nothing may follow it. An
 * unsigned index is one member holding the tar (allow-untrusted only).
 */
import type { Reporter } from '../../pipeline/context.js';
import { BaseimgError } from '../../util/errors.js';
import { parseApkIndexText, type ApkIndexEntry } from './apkindex.js';
import { readSignedMembers } from './signed-members.js';
import { bytesOf, verifySignatures } from './signature.js';
import { enforceVerdict, type TrustPolicy } from './trust.js';

export interface ApkIndexFile {
  /** DESCRIPTION ("v3.16.3-13-g4d933a1fa3"), trimmed; undefined when absent or empty. */
  description: string | undefined;
  entries: ApkIndexEntry[];
  /** The trusted key that signed it; undefined when allow-untrusted let it through. */
  keyName: string | undefined;
}

/** A generous cap on the uncompressed index (Alpine edge community is about 10 MB). */
const INDEX_MAX_BYTES = 512 * 1024 * 1024;

export async function openApkIndex(buf: Buffer, policy: TrustPolicy, what: string, reporter: Reporter): Promise<ApkIndexFile> {
  const members = (await readSignedMembers(buf, true, { signedMaxBytes: INDEX_MAX_BYTES }, what))!;
  if (members.signed.end !== buf.length) {
    throw new BaseimgError('VERIFY', `${what}: ${buf.length - members.signed.end} unexpected bytes after the ${members.signatures.length > 0 ? 'signed ' : ''}index member`, {
      hint: 'only the index member is covered by the signature; the file is damaged or was tampered with',
    });
  }
  const signedBytes = buf.subarray(members.signed.start, members.signed.end);
  const verdict = await verifySignatures(members.signatures, policy.keys, bytesOf(signedBytes));
  const keyName = enforceVerdict(verdict, what, policy, reporter);

  const index = members.entries.find((e) => e.name === 'APKINDEX');
  if (index === undefined || index.type !== 'file') {
    throw new BaseimgError('VERIFY', `${what} holds no APKINDEX file (found: ${members.entries.map((e) => e.name).join(', ') || 'nothing'})`);
  }
  const description = members.entries.find((e) => e.name === 'DESCRIPTION' && e.type === 'file')?.body.toString('utf8').trim();
  return {
    description: description === '' ? undefined : description,
    entries: parseApkIndexText(index.body.toString('utf8'), what),
    keyName,
  };
}
