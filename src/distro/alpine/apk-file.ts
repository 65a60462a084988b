/**
 * A v2 .apk opened and verified before anything in it is unpacked:
 *
 *   [signature member] control member (.PKGINFO, scripts) data member(s)
 *
 * Checks, in order: the signature (over the raw control member, or over
 * control + data for packages without a datahash) with the trusted keys;
 * the control member against the index's C: ("Q1" + base64 SHA-1), which
 * ties the file to the signed index; .PKGINFO names the package the
 * resolver chose; the data part against .PKGINFO's datahash (SHA-256 hex).
 * The file is read in pieces: only the small leading members are held in
 * memory.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Reporter } from '../../pipeline/context.js';
import { BaseimgError } from '../../util/errors.js';
import { infoValue, parsePkgInfo, type PkgInfo } from './pkginfo.js';
import { readSignedMembers, type SignedMembers } from './signed-members.js';
import { bytesOf, verifySignatures, type SignedData } from './signature.js';
import { enforceVerdict, type TrustPolicy } from './trust.js';

export interface OpenedApk {
  file: string;
  size: number;
  members: SignedMembers;
  pkginfo: PkgInfo;
  /** .PKGINFO verbatim. */
  pkginfoText: Buffer;
  /** Control entries that are package scripts (".post-install", ".trigger"...), in archive order. */
  scripts: string[];
  /** Offset of the data part: everything after the control member. */
  dataOffset: number;
}

/** What the index says the file must be. */
export interface ApkExpectation {
  name: string;
  version: string;
  /** A: of the index entry, when it has one. */
  arch: string | undefined;
  /** C: of the index entry. */
  checksum: string;
}

export interface VerifiedApk {
  /** Key whose signature verified; undefined when allow-untrusted let the file through. */
  keyName: string | undefined;
  /** SHA-256 (hex) of the whole file and of its data part. */
  fileSha256: string;
  dataSha256: string;
}

const SCRIPT = /^\.(pre|post)-(install|upgrade|deinstall)$|^\.trigger$/;
const HEAD_FIRST_READ = 256 * 1024;
const HEAD_MAX = 64 * 1024 * 1024;
const CONTROL_MAX_BYTES = 16 * 1024 * 1024;

export async function openApk(file: string, what: string): Promise<OpenedApk> {
  const size = (await stat(file)).size;
  const members = await readLeadingMembers(file, size, what);
  const pkginfoEntry = members.entries.find((e) => e.name === '.PKGINFO');
  if (pkginfoEntry === undefined || pkginfoEntry.type !== 'file') {
    throw new BaseimgError('VERIFY', `${what}: the control member has no .PKGINFO`, { hint: 'the file is not a v2 apk package, or it is damaged' });
  }
  return {
    file,
    size,
    members,
    pkginfo: parsePkgInfo(pkginfoEntry.body.toString('utf8'), `.PKGINFO of ${what}`),
    pkginfoText: pkginfoEntry.body,
    scripts: members.entries.filter((e) => SCRIPT.test(e.name)).map((e) => e.name),
    dataOffset: members.signed.end,
  };
}

/** Read the head of the file, growing the read until the signature and control members fit. */
async function readLeadingMembers(file: string, size: number, what: string): Promise<SignedMembers> {
  const handle = await open(file, 'r');
  try {
    for (let want = Math.min(size, HEAD_FIRST_READ); ; want = Math.min(size, want * 4)) {
      const buf = Buffer.alloc(want);
      const { bytesRead } = await handle.read(buf, 0, want, 0);
      const head = buf.subarray(0, bytesRead);
      const members = await readSignedMembers(head, bytesRead >= size, { signedMaxBytes: CONTROL_MAX_BYTES }, what);
      if (members !== undefined) return members;
      if (want >= HEAD_MAX) throw new BaseimgError('VERIFY', `${what}: the control member is larger than ${HEAD_MAX} bytes`);
    }
  } finally {
    await handle.close();
  }
}

export async function verifyApk(apk: OpenedApk, expect: ApkExpectation, policy: TrustPolicy, reporter: Reporter, what: string): Promise<VerifiedApk> {
  const control = apk.members.signed;
  const datahash = infoValue(apk.pkginfo, 'datahash');
  // Without a datahash the signature covers control and data together (apk-v2(5)).
  const signed: SignedData = datahash !== undefined ? bytesOf(await readRange(apk.file, control.start, control.end)) : streamRange(apk.file, control.start);
  const verdict = await verifySignatures(apk.members.signatures, policy.keys, signed);
  const keyName = enforceVerdict(verdict, what, policy, reporter);

  const controlBytes = await readRange(apk.file, control.start, control.end);
  const q1 = `Q1${createHash('sha1').update(controlBytes).digest('base64')}`;
  if (q1 !== expect.checksum) {
    throw new BaseimgError('VERIFY', `${what}: the control member does not match the index (index C:${expect.checksum}, file ${q1})`, {
      hint: 'the file is not the one the signed index describes: delete it from the cache and download it again, or refresh the index',
    });
  }
  checkIdentity(apk.pkginfo, expect, what);

  const hashes = await hashFile(apk.file, apk.dataOffset);
  if (datahash !== undefined && hashes.dataSha256 !== datahash.toLowerCase()) {
    throw new BaseimgError('VERIFY', `${what}: the data part does not match its datahash (.PKGINFO ${datahash}, file ${hashes.dataSha256})`, {
      hint: 'the package contents were changed after it was built and signed; it is refused',
    });
  }
  if (datahash === undefined && keyName === undefined) reporter.warn(`${what} has no datahash and no trusted signature: its files cannot be verified`);
  return { keyName, ...hashes };
}

/**
 * .PKGINFO must describe the package the resolver chose. A "noarch" package
 * is indexed under the repository's architecture (A:x86_64 for
 * busybox-binsh), so that pair is accepted.
 */
function checkIdentity(info: PkgInfo, expect: ApkExpectation, what: string): void {
  const name = infoValue(info, 'pkgname');
  const version = infoValue(info, 'pkgver');
  const arch = infoValue(info, 'arch');
  const archOk = expect.arch === undefined || arch === expect.arch || arch === 'noarch';
  if (name !== expect.name || version !== expect.version || !archOk) {
    throw new BaseimgError(
      'VERIFY',
      `${what}: .PKGINFO describes ${name ?? '?'} ${version ?? '?'} (${arch ?? '?'}), not ${expect.name} ${expect.version} (${expect.arch ?? 'any arch'})`,
      { hint: 'the repository index and the package file disagree; report it to the repository' },
    );
  }
}

async function readRange(file: string, start: number, end: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(end - start);
    const { bytesRead } = await handle.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function streamRange(file: string, start: number): SignedData {
  return async (update) => {
    for await (const chunk of createReadStream(file, { start, highWaterMark: 1 << 20 })) update(chunk as Buffer);
  };
}

/** One pass over the file: SHA-256 of all of it and of the part from `dataOffset`. */
async function hashFile(file: string, dataOffset: number): Promise<{ fileSha256: string; dataSha256: string }> {
  const whole = createHash('sha256');
  const data = createHash('sha256');
  let at = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    whole.update(chunk);
    if (at + chunk.length > dataOffset) data.update(at >= dataOffset ? chunk : chunk.subarray(dataOffset - at));
    at += chunk.length;
  }
  return { fileSha256: whole.digest('hex'), dataSha256: data.digest('hex') };
}
