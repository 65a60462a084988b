/**
 * Fetches and verifies dists/<suite>/InRelease (or Release + Release.gpg when
 * the mirror has no InRelease) and parses it into a ReleaseInfo.
 *
 * Trust rules, as apt applies them:
 *  - at least one signature must verify with a key from the keyrings, and
 *    that key must be neither expired nor revoked at ctx.now. (openpgp.js
 *    itself only checks the key at signing time, so we check again.)
 *  - Valid-Until, when present, must not have passed; Date must not lie more
 *    than 10 minutes in the future (a wrong clock or a replayed file).
 *  - the file must describe the suite we asked for (Suite or Codename), so a
 *    mirror cannot substitute another suite's signed Release.
 * --insecure-skip-verify still runs the signature and date checks but turns
 * their failures into warnings naming the file (docs/SECURITY.md); the suite
 * check and every checksum stay enforced.
 */
import { readFile, stat } from 'node:fs/promises';
import type * as openpgp from 'openpgp';
import type { BuildContext } from '../../pipeline/context.js';
import { BaseimgError } from '../../util/errors.js';
import { normalizeSha256, sha256Hex } from '../../cache/cas.js';
import { isNotFoundError } from '../../net/http.js';
import { field, parseDeb822Text } from './deb822.js';
import { recallTrusted, rememberTrusted } from './release-trust.js';
import type { ReleaseInfo } from './types.js';

export const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const MAX_RELEASE_BYTES = 32 * 1024 * 1024;
const FUTURE_TOLERANCE_MS = 10 * 60 * 1000;
const KEYRING_HINT = 'install the debian-archive-keyring package, or list keyring files in source.keyring in the spec';

type Key = openpgp.PublicKey;

/** openpgp.js is loaded when a signature is checked, not before (~0.13 s; a remembered check needs none, release-trust.ts). */
const loadOpenpgp = (): Promise<typeof openpgp> => import('openpgp');

const keyringCache = new Map<string, Promise<Key[]>>();

/** Public keys from binary (.gpg) or ASCII-armored (.asc) keyring files; empty list = the host's Debian keyring. */
export async function loadKeyring(paths: readonly string[]): Promise<Key[]> {
  const files = paths.length > 0 ? paths : [DEFAULT_KEYRING];
  const keys: Key[] = [];
  for (const path of files) keys.push(...(await loadKeyringFile(path)));
  return keys;
}

async function loadKeyringFile(path: string): Promise<Key[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new BaseimgError('VERIFY', `keyring ${path} not found`, { hint: KEYRING_HINT });
  }
  // Keyed by mtime and size too, so a replaced file is read again.
  const cacheKey = `${path}\0${info.mtimeMs}\0${info.size}`;
  let pending = keyringCache.get(cacheKey);
  if (pending === undefined) {
    pending = readKeyringFile(path);
    keyringCache.set(cacheKey, pending);
    pending.catch(() => keyringCache.delete(cacheKey));
  }
  return pending;
}

async function readKeyringFile(path: string): Promise<Key[]> {
  try {
    const data = await readFile(path);
    const armored = data.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP');
    const keys = armored
      ? await (await loadOpenpgp()).readKeys({ armoredKeys: data.toString('utf8') })
      : await (await loadOpenpgp()).readKeys({ binaryKeys: new Uint8Array(data) });
    return keys.map((k) => k.toPublic());
  } catch (err) {
    throw new BaseimgError('VERIFY', `cannot read keyring ${path}: ${(err as Error).message}`, { hint: KEYRING_HINT, cause: err });
  }
}

interface SignatureCheck {
  keyID: openpgp.KeyID;
  verified: Promise<true>;
  signature?: Promise<openpgp.Signature>;
}

/** openpgp's wording for the two common cases, shortened for our messages. */
function describeSignatureFailure(message: string): string {
  if (/could not find signing key/i.test(message)) return 'unknown key';
  if (/digest did not match/i.test(message)) return 'bad signature';
  return message;
}

/**
 * Fingerprints of the trusted keys whose signatures verify and are valid at
 * `now`; a VERIFY error naming `url` and every key ID found otherwise.
 */
async function acceptedSigners(signatures: SignatureCheck[], keys: Key[], now: Date, url: string, expiry?: { until: number }): Promise<string[]> {
  const signers: string[] = [];
  const problems: string[] = [];
  for (const sig of signatures) {
    const id = sig.keyID.toHex();
    try {
      await sig.verified;
    } catch (err) {
      problems.push(`${id}: ${describeSignatureFailure((err as Error).message)}`);
      continue;
    }
    const key = keys.find((k) => k.getKeys(sig.keyID).length > 0)!;
    let signingKey: Key | openpgp.Subkey;
    try {
      signingKey = await key.getSigningKey(sig.keyID, now);
    } catch (err) {
      problems.push(`${id}: key not valid on ${now.toISOString()} (${(err as Error).message})`);
      continue;
    }
    signers.push(key.getFingerprint());
    if (expiry) expiry.until = Math.min(expiry.until, await validUntil(key, signingKey, sig, now));
  }
  if (signers.length === 0) {
    const found = problems.length > 0 ? problems.join('; ') : 'no signatures';
    throw new BaseimgError('VERIFY', `${url}: no valid signature from a trusted key (${found})`, {
      hint: `if the archive moved to new keys, update the keyring (${KEYRING_HINT})`,
    });
  }
  return [...new Set(signers)];
}

/**
 * When an accepted signature stops counting: the earliest expiry of the
 * primary key, the signing subkey and the signature itself (ms; Infinity
 * when none expires). Remembered checks end there (release-trust.ts).
 */
async function validUntil(key: Key, signingKey: Key | openpgp.Subkey, sig: SignatureCheck, now: Date): Promise<number> {
  const times: Array<Date | number | null> = [await key.getExpirationTime()];
  if (signingKey !== key) times.push(await (signingKey as openpgp.Subkey).getExpirationTime(now));
  const packet = (await sig.signature)?.packets[0];
  if (packet !== undefined) times.push(packet.getExpirationTime());
  // null: openpgp could not tell; then nothing is remembered beyond this build.
  return Math.min(...times.map((t) => (t === null ? now.getTime() : t instanceof Date ? t.getTime() : t)));
}

/**
 * The date openpgp checks signature creation against: a signature made
 * moments ago must not fail because our clock is a little behind the
 * archive's (the same allowance as for the Date field).
 */
function skewTolerant(now: Date): Date {
  return new Date(now.getTime() + FUTURE_TOLERANCE_MS);
}

/**
 * Verifies an InRelease document and returns the signed text, the signer
 * fingerprints and until when (ms) the accepted signatures stay valid.
 */
export async function verifyInRelease(armored: string, keys: Key[], now: Date, url: string): Promise<{ text: string; signedBy: string[]; trustedUntil: number }> {
  const message = await readCleartext(armored, url);
  const result = await (await loadOpenpgp()).verify({ message, verificationKeys: keys, date: skewTolerant(now) });
  const expiry = { until: Infinity };
  const signedBy = await acceptedSigners(result.signatures, keys, now, url, expiry);
  return { text: message.getText(), signedBy, trustedUntil: expiry.until };
}

async function readCleartext(armored: string, url: string): Promise<openpgp.CleartextMessage> {
  try {
    return await (await loadOpenpgp()).readCleartextMessage({ cleartextMessage: armored });
  } catch (err) {
    throw new BaseimgError('VERIFY', `${url}: not a signed InRelease file (${(err as Error).message})`, { cause: err });
  }
}

/** Verifies Release against its detached Release.gpg signature. */
export async function verifyDetached(data: Buffer, signature: Buffer, keys: Key[], now: Date, url: string): Promise<string[]> {
  let sig: openpgp.Signature;
  try {
    sig = signature.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP')
      ? await (await loadOpenpgp()).readSignature({ armoredSignature: signature.toString('utf8') })
      : await (await loadOpenpgp()).readSignature({ binarySignature: new Uint8Array(signature) });
  } catch (err) {
    throw new BaseimgError('VERIFY', `${url}.gpg: not an OpenPGP signature (${(err as Error).message})`, { cause: err });
  }
  const message = await (await loadOpenpgp()).createMessage({ binary: new Uint8Array(data) });
  const result = await (await loadOpenpgp()).verify({ message, signature: sig, verificationKeys: keys, date: skewTolerant(now) });
  return acceptedSigners(result.signatures, keys, now, url);
}

/** The keyring files (the default one when the spec names none) and their keys, loaded on first use. */
interface Keyring {
  files: readonly string[];
  keys(): Promise<Key[]>;
}

/** The Release text as fetched and (unless verification is skipped) verified. */
interface SignedRelease {
  url: string;
  text: string;
  sha256: string;
  signedBy: string[];
}

/**
 * Runs a signature check. With --insecure-skip-verify a VERIFY failure is
 * turned into a warning that names the file and what failed, so a skipped
 * check is never silent; without it the error stands.
 */
async function verifyOrWarn(ctx: BuildContext, url: string, verify: () => Promise<string[]>): Promise<string[]> {
  try {
    return await verify();
  } catch (err) {
    if (!ctx.insecureSkipVerify || !(err instanceof BaseimgError && err.code === 'VERIFY')) throw err;
    ctx.reporter.warn(`NOT verifying the signature of ${url} (--insecure-skip-verify): ${err.message}`);
    return [];
  }
}

async function fetchInRelease(ctx: BuildContext, url: string, suite: string, keyring: Keyring): Promise<SignedRelease> {
  const file = await ctx.fetcher.fetchFile(url, { what: `InRelease of ${suite}`, maxBytes: MAX_RELEASE_BYTES });
  // These very bytes verified against this keyring recently: no openpgp.js needed (release-trust.ts).
  const recalled = await recallTrusted(ctx, file.sha256, keyring.files);
  if (recalled !== undefined) return { url, ...recalled, sha256: file.sha256 };
  const armored = await readFile(file.path, 'utf8');
  const text = (await readCleartext(armored, url)).getText();
  let trustedUntil = -Infinity;
  const signedBy = await verifyOrWarn(ctx, url, async () => {
    const verified = await verifyInRelease(armored, await keyring.keys(), ctx.now, url);
    trustedUntil = verified.trustedUntil;
    return verified.signedBy;
  });
  if (trustedUntil > ctx.now.getTime()) await rememberTrusted(ctx, file.sha256, keyring.files, { text, signedBy, trustedUntil });
  return { url, text, sha256: file.sha256, signedBy };
}

/** For archives without InRelease: Release plus its detached signature Release.gpg. */
async function fetchDetachedRelease(ctx: BuildContext, url: string, suite: string, keyring: Keyring): Promise<SignedRelease> {
  const release = await ctx.fetcher.fetchBuffer(url, { what: `Release of ${suite}`, maxBytes: MAX_RELEASE_BYTES });
  const signedBy = await verifyOrWarn(ctx, url, async () => {
    let signature: Buffer;
    try {
      signature = await ctx.fetcher.fetchBuffer(`${url}.gpg`, { what: `Release.gpg of ${suite}`, maxBytes: 1024 * 1024 });
    } catch (err) {
      if (!isNotFoundError(err)) throw err;
      throw new BaseimgError('VERIFY', `${url} is not signed: neither InRelease nor Release.gpg exists`, {
        hint: 'use a mirror that publishes signed Release files',
      });
    }
    return verifyDetached(release, signature, await keyring.keys(), ctx.now, url);
  });
  return { url, text: release.toString('utf8'), sha256: sha256Hex(release), signedBy };
}

/** The keyring; with --insecure-skip-verify a missing or unreadable one is a warning (every signature then fails, warned too). */
async function keyringFor(ctx: BuildContext, keyring: readonly string[]): Promise<Key[]> {
  try {
    return await loadKeyring(keyring);
  } catch (err) {
    if (!ctx.insecureSkipVerify || !(err instanceof BaseimgError)) throw err;
    ctx.reporter.warn(`NOT using a keyring (--insecure-skip-verify): ${err.message}`);
    return [];
  }
}

/**
 * Downloads and verifies the Release file of `suite` at `baseUrl`. A suite
 * the mirror does not have surfaces as the InRelease not-found error
 * (see isNotFoundError), for the caller to explain.
 */
export async function fetchRelease(ctx: BuildContext, baseUrl: string, suite: string, keyringFiles: readonly string[]): Promise<ReleaseInfo> {
  const dists = `${baseUrl}/dists/${suite}`;
  // Keys are read only when a signature is checked (not for a remembered check).
  let keys: Promise<Key[]> | undefined;
  const keyring: Keyring = {
    files: keyringFiles.length > 0 ? keyringFiles : [DEFAULT_KEYRING],
    keys: () => (keys ??= keyringFor(ctx, keyringFiles)),
  };
  let signed: SignedRelease;
  try {
    signed = await fetchInRelease(ctx, `${dists}/InRelease`, suite, keyring);
  } catch (err) {
    if (!isNotFoundError(err)) throw err;
    try {
      signed = await fetchDetachedRelease(ctx, `${dists}/Release`, suite, keyring);
    } catch (fallbackErr) {
      // Neither file: report the InRelease as missing.
      throw isNotFoundError(fallbackErr) ? err : fallbackErr;
    }
  }
  const info = parseRelease(signed.text, { url: signed.url, suite, baseUrl, sha256: signed.sha256, signedBy: signed.signedBy });
  try {
    checkFreshness(info, ctx.now, signed.url);
  } catch (err) {
    // Skipped checks are still evaluated, so the warning says what was let through.
    if (!ctx.insecureSkipVerify) throw err;
    ctx.reporter.warn(`NOT enforcing (--insecure-skip-verify): ${(err as Error).message}`);
  }
  return info;
}

/** Parses verified Release text. `suite` is the name requested; it must match Suite or Codename. */
export function parseRelease(
  text: string,
  meta: { url: string; suite: string; baseUrl: string; sha256: string; signedBy: string[] },
): ReleaseInfo {
  const paragraphs = parseDeb822Text(text, { source: meta.url });
  const p = paragraphs[0];
  if (p === undefined) throw new BaseimgError('VERIFY', `${meta.url}: empty Release file`);
  const codename = field(p, 'Codename');
  const suiteField = field(p, 'Suite');
  const requested = meta.suite.split('/')[0]!; // legacy "buster/updates" names the codename first
  if (requested !== codename && requested !== suiteField && meta.suite !== suiteField) {
    throw new BaseimgError(
      'VERIFY',
      `${meta.url}: describes suite "${suiteField ?? '?'}" (codename "${codename ?? '?'}"), not "${meta.suite}"`,
      { hint: 'the mirror serves a different suite under this name; check the suite name and the mirror' },
    );
  }
  const date = field(p, 'Date');
  const validUntil = field(p, 'Valid-Until');
  return {
    suite: meta.suite,
    codename,
    version: field(p, 'Version'),
    date,
    dateParsed: date === undefined ? undefined : parseDate(date, 'Date', meta.url),
    validUntil: validUntil === undefined ? undefined : parseDate(validUntil, 'Valid-Until', meta.url),
    acquireByHash: /^yes$/i.test(field(p, 'Acquire-By-Hash') ?? ''),
    files: parseChecksums(field(p, 'SHA256'), meta.url),
    sha256: meta.sha256,
    baseUrl: meta.baseUrl,
    signedBy: meta.signedBy,
  };
}

/** The SHA256 field: one " <hex> <size> <path>" line per file. */
function parseChecksums(value: string | undefined, url: string): Map<string, { size: number; sha256: string }> {
  if (value === undefined) {
    throw new BaseimgError('VERIFY', `${url}: no SHA256 checksums (only weaker hashes are not accepted)`);
  }
  const files = new Map<string, { size: number; sha256: string }>();
  for (const line of value.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length === 1 && parts[0] === '') continue;
    const [hex, size, path] = parts;
    // A size beyond 2^53 would lose digits as a number; no index is that large.
    if (parts.length !== 3 || !/^\d+$/.test(size!) || !Number.isSafeInteger(Number(size))) {
      throw new BaseimgError('VERIFY', `${url}: malformed SHA256 line "${line.trim()}"`);
    }
    files.set(path!, { size: Number(size), sha256: normalizeSha256(hex!, `${url}: checksum of ${path}`) });
  }
  return files;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const RFC2822_DATE = /^(?:[A-Z][a-z]{2}, +)?(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (UTC|GMT|Z|[+-]\d{4})$/;

/**
 * Parses an RFC 2822 date as dak writes it ("Sat, 11 Jul 2026 10:16:37 UTC").
 * Strict on purpose: Date.parse accepts almost anything, and these dates
 * decide whether a Release is trusted.
 */
export function parseReleaseDate(value: string): Date | undefined {
  const m = RFC2822_DATE.exec(value.trim());
  if (m === null) return undefined;
  const [, day, monthName, year, hh, mm, ss, zone] = m as unknown as string[];
  const month = MONTHS.indexOf(monthName!);
  if (month < 0 || Number(hh) > 23 || Number(mm) > 59 || Number(ss) > 60) return undefined;
  const local = Date.UTC(Number(year), month, Number(day), Number(hh), Number(mm), Number(ss));
  // Reject days that overflow into the next month ("31 Feb").
  if (new Date(local).getUTCDate() !== Number(day)) return undefined;
  const sign = zone!.startsWith('-') ? -1 : 1;
  const offsetMinutes = /^[+-]/.test(zone!) ? Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(3, 5)) : 0;
  return new Date(local - sign * offsetMinutes * 60_000);
}

function parseDate(value: string, name: string, url: string): Date {
  const date = parseReleaseDate(value);
  if (date === undefined) throw new BaseimgError('VERIFY', `${url}: cannot parse ${name} "${value}"`);
  return date;
}

/** Enforces Valid-Until and rejects a Date far in the future. */
export function checkFreshness(info: ReleaseInfo, now: Date, url: string): void {
  if (info.validUntil !== undefined && info.validUntil.getTime() < now.getTime()) {
    throw new BaseimgError(
      'VERIFY',
      `${url}: expired: Valid-Until ${info.validUntil.toISOString()} is before now (${now.toISOString()})`,
      { hint: 'the mirror is out of date (or the system clock is wrong); use an up-to-date mirror' },
    );
  }
  if (info.dateParsed !== undefined && info.dateParsed.getTime() > now.getTime() + FUTURE_TOLERANCE_MS) {
    throw new BaseimgError(
      'VERIFY',
      `${url}: Date ${info.dateParsed.toISOString()} is in the future (now: ${now.toISOString()})`,
      { hint: 'check the system clock' },
    );
  }
}
