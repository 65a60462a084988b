/**
 * Remembers that an InRelease file verified, so the next build that fetches
 * the very same bytes does not verify its signatures again. Checking three
 * InRelease files with openpgp.js costs ~0.3 s of CPU, plus ~0.13 s to load
 * openpgp.js at all: a third of a warm build of a small image.
 *
 * An entry is keyed by the InRelease's SHA-256 and the keyring files'
 * contents, and holds the signed text, the signers and when it was checked.
 * It is used only while all of this holds:
 *  - the same bytes and the same keyring (a revocation or a new keyring file
 *    is a new key, so everything is checked again);
 *  - no earlier than the check and at most MAX_AGE after it, and before any
 *    accepted signing key or signature expires (trustedUntil).
 * The dates in the Release itself (Valid-Until, Date) are checked on every
 * build, from the text, as before. --insecure-skip-verify neither reads nor
 * writes entries. Like every derived entry, it is as trustworthy as the
 * cache directory: whoever can write there can change what gets built.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { BuildContext } from '../../pipeline/context.js';

const FORMAT = 'inrelease-trust/v1';
/** After this, openpgp.js checks the file again even if nothing expired. */
const MAX_AGE_MS = 6 * 60 * 60 * 1000;

export interface TrustedRelease {
  text: string;
  signedBy: string[];
}

/** SHA-256 over the keyring files' names and contents; undefined when one cannot be read (the full check reports it). */
async function keyringIdentity(paths: readonly string[]): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    for (const path of paths) {
      const data = await readFile(path);
      hash.update(`${path}\0${data.length}\0`).update(data);
    }
  } catch {
    return undefined;
  }
  return hash.digest('hex');
}

async function entryKey(inReleaseSha256: string, keyringFiles: readonly string[]): Promise<string | undefined> {
  const keyring = await keyringIdentity(keyringFiles);
  return keyring === undefined ? undefined : `${FORMAT}/${inReleaseSha256}/${keyring}`;
}

/** The text and signers of an InRelease that verified before and may still be trusted at ctx.now. */
export async function recallTrusted(ctx: BuildContext, inReleaseSha256: string, keyringFiles: readonly string[]): Promise<TrustedRelease | undefined> {
  if (ctx.insecureSkipVerify) return undefined;
  const key = await entryKey(inReleaseSha256, keyringFiles);
  const raw = key === undefined ? undefined : await ctx.derived.get(key);
  if (raw === undefined) return undefined;
  try {
    const e = JSON.parse(raw.toString('utf8')) as { text?: unknown; signedBy?: unknown; verifiedAt?: unknown; trustedUntil?: unknown };
    const now = ctx.now.getTime();
    if (typeof e.text !== 'string' || !Array.isArray(e.signedBy) || e.signedBy.length === 0) return undefined;
    if (!e.signedBy.every((s) => typeof s === 'string')) return undefined;
    if (typeof e.verifiedAt !== 'number' || typeof e.trustedUntil !== 'number') return undefined;
    if (now < e.verifiedAt || now >= Math.min(e.verifiedAt + MAX_AGE_MS, e.trustedUntil)) return undefined;
    return { text: e.text, signedBy: e.signedBy as string[] };
  } catch {
    return undefined;
  }
}

/** Records a successful verification at ctx.now (best effort). `trustedUntil`: ms since the epoch, or Infinity. */
export async function rememberTrusted(
  ctx: BuildContext,
  inReleaseSha256: string,
  keyringFiles: readonly string[],
  release: TrustedRelease & { trustedUntil: number },
): Promise<void> {
  if (ctx.insecureSkipVerify || release.signedBy.length === 0) return;
  try {
    const key = await entryKey(inReleaseSha256, keyringFiles);
    if (key === undefined) return;
    const trustedUntil = Number.isFinite(release.trustedUntil) ? release.trustedUntil : Number.MAX_SAFE_INTEGER;
    const entry = { text: release.text, signedBy: release.signedBy, verifiedAt: ctx.now.getTime(), trustedUntil };
    await ctx.derived.put(key, Buffer.from(JSON.stringify(entry)));
  } catch (e) {
    ctx.reporter.debug(`InRelease ${inReleaseSha256} verification not remembered: ${String(e)}`);
  }
}
