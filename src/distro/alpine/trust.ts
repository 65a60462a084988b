/** What a signature verdict means for the build, given the spec's keys and allow-untrusted. */
import type { Reporter } from '../../pipeline/context.js';
import { BaseimgError } from '../../util/errors.js';
import type { TrustedKey } from './keys.js';
import type { SignatureVerdict } from './signature.js';

export interface TrustPolicy {
  keys: TrustedKey[];
  allowUntrusted: boolean;
  /** --insecure-skip-verify (BuildContext.insecureSkipVerify): signatures are not enforced; checksums still are. */
  skipSignatures?: boolean;
}

/** The name of the key that vouches for `what`, or undefined when allow-untrusted let it through. */
export function enforceVerdict(verdict: SignatureVerdict, what: string, policy: TrustPolicy, reporter: Reporter): string | undefined {
  const trusted = policy.keys.length === 0 ? 'none' : policy.keys.map((k) => k.name).join(', ');
  if (policy.skipSignatures && verdict.status !== 'verified') {
    const why = verdict.status === 'unsigned' ? 'not signed'
      : verdict.status === 'untrusted' ? `signed by ${verdict.keyNames.join(', ')}, not a trusted key`
      : `the signature by trusted key ${verdict.keyNames.join(', ')} does not match the content`;
    reporter.warn(`NOT verifying the signature of ${what} (--insecure-skip-verify): ${why}`);
    return undefined;
  }
  switch (verdict.status) {
    case 'verified':
      return verdict.keyName;
    case 'invalid':
      throw new BaseimgError('VERIFY', `${what}: signature by trusted key ${verdict.keyNames.join(', ')} does not match the content (it was changed after signing)`, {
        hint: 'delete the file from the cache and download it again; if it persists, the mirror or the connection is not to be trusted',
      });
    case 'untrusted':
      if (policy.allowUntrusted) {
        reporter.warn(`${what} is signed by ${verdict.keyNames.join(', ')}, which is not a trusted key; accepted because allow-untrusted = true`);
        return undefined;
      }
      throw new BaseimgError('VERIFY', `${what} is signed by ${verdict.keyNames.join(', ')}, which is not among the trusted keys (${trusted})`, {
        hint: 'add the public key to source.keys (apk matches keys by file name), or set allow-untrusted = true if you trust the repository by other means',
      });
    case 'unsigned':
      if (policy.allowUntrusted) {
        reporter.warn(`${what} is not signed; accepted because allow-untrusted = true`);
        return undefined;
      }
      throw new BaseimgError('VERIFY', `${what} is not signed`, {
        hint: 'set allow-untrusted = true in [source] only for repositories you trust by other means',
      });
  }
}
