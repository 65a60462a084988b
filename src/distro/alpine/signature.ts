/**
 * apk v2 signatures: tar entries named ".SIGN.<type>.<key file name>" whose
 * body is an RSA PKCS#1 v1.5 signature over the raw bytes of the gzip member
 * that follows (or, for packages without a datahash, over everything after
 * the signature member). RSA = SHA-1, RSA256 = SHA-256, RSA512 = SHA-512.
 *
 * Policy (as apk-tools): one signature that verifies with a trusted key is
 * enough. A signature that names a trusted key but does not verify means the
 * content was changed: that is refused even with allow-untrusted, which only
 * excuses signatures by unknown keys and missing signatures.
 */
import { createVerify, type Verify } from 'node:crypto';
import type { TrustedKey } from './keys.js';

export interface ApkSignature {
  /** The entry name (".SIGN.RSA.alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"). */
  entry: string;
  /** "RSA", "RSA256", "RSA512", or another type this version cannot check ("DSA"). */
  type: string;
  keyName: string;
  signature: Buffer;
}

export type SignatureVerdict =
  | { status: 'verified'; keyName: string }
  /** Signed, but by no key we trust. */
  | { status: 'untrusted'; keyNames: string[] }
  /** A trusted key's signature does not match: the signed bytes were changed. */
  | { status: 'invalid'; keyNames: string[] }
  | { status: 'unsigned' };

const DIGESTS: Record<string, string> = { RSA: 'sha1', RSA256: 'sha256', RSA512: 'sha512' };

/** ".SIGN.RSA256.key.rsa.pub" → type and key name; undefined for other names. */
export function parseSignatureName(name: string): { type: string; keyName: string } | undefined {
  const m = /^\.SIGN\.([A-Z0-9]+)\.(.+)$/.exec(name.replace(/^(\.\/)+/, ''));
  return m ? { type: m[1]!, keyName: m[2]! } : undefined;
}

/** Something that feeds the signed bytes to `update`, in order (a buffer, or a file streamed). */
export type SignedData = (update: (chunk: Buffer) => void) => Promise<void>;

export function bytesOf(buf: Buffer): SignedData {
  return async (update) => update(buf);
}

interface Attempt {
  sig: ApkSignature;
  key: TrustedKey;
  /** Whether the signature names this key (a renamed key file is still tried, after the named ones). */
  named: boolean;
  verifier: Verify;
}

export async function verifySignatures(signatures: readonly ApkSignature[], keys: readonly TrustedKey[], data: SignedData): Promise<SignatureVerdict> {
  if (signatures.length === 0) return { status: 'unsigned' };
  const attempts: Attempt[] = [];
  for (const sig of signatures) {
    const digest = DIGESTS[sig.type];
    if (digest === undefined) continue;
    for (const key of keys) attempts.push({ sig, key, named: key.name === sig.keyName, verifier: createVerify(digest) });
  }
  if (attempts.length > 0) await data((chunk) => attempts.forEach((a) => a.verifier.update(chunk)));
  const results = attempts.map((a) => ({ ...a, ok: safeVerify(a) }));
  const named = results.filter((r) => r.named);
  const good = named.find((r) => r.ok) ?? results.find((r) => r.ok);
  if (good) return { status: 'verified', keyName: good.key.name };
  const failedTrusted = [...new Set(named.map((r) => r.key.name))];
  if (failedTrusted.length > 0) return { status: 'invalid', keyNames: failedTrusted };
  return { status: 'untrusted', keyNames: signatures.map((s) => `${s.keyName} (${s.type})`) };
}

function safeVerify(a: Attempt): boolean {
  try {
    return a.verifier.verify(a.key.key, a.sig.signature);
  } catch {
    return false; // a malformed signature (wrong length) simply does not verify
  }
}
