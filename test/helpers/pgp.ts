/**
 * OpenPGP keys and signatures for fabricated archives, in the formats apt and gpgv consume
 * (clearsigned InRelease, armored detached Release.gpg, binary keyring files).
 */
import * as openpgp from 'openpgp';

export interface TestKeyOptions {
  name: string;
  email: string;
  /** Generate a key that expired a day after its creation, a year ago. */
  expired?: boolean;
  /** Creation time (default: now, or a year ago for expired keys). */
  date?: Date;
  /** 'ecc' (Ed25519, fast; default) or 'rsa' (3072-bit, like real archive keys, slow). */
  algorithm?: 'ecc' | 'rsa';
  /** Sign with a dedicated signing subkey rather than the primary key. */
  signingSubkey?: boolean;
}

export interface TestKey {
  armoredPrivate: string;
  armoredPublic: string;
  /** Transferable public key packets: a valid keyring file for `gpgv --keyring` or apt's Signed-By. */
  binaryPublic: Buffer;
  /** Primary key fingerprint, upper-case hex. */
  fingerprint: string;
  /** Fingerprint of the (sub)key that actually makes signatures, upper-case hex. */
  signingFingerprint: string;
  privateKey: openpgp.PrivateKey;
  publicKey: openpgp.PublicKey;
  created: Date;
  /** undefined when the key never expires. */
  expires: Date | undefined;
}

const DAY_SECONDS = 24 * 60 * 60;
/** No random salt notation in signatures: archive signatures made by gpg carry none. */
const SIGN_CONFIG = { nonDeterministicSignaturesViaNotation: false };
const keyCache = new Map<string, Promise<TestKey>>();

async function createKey(options: TestKeyOptions): Promise<TestKey> {
  // openpgp rejects a creation time in the future, and a backdated key must be whole seconds.
  const created = new Date(
    Math.floor((options.date ?? (options.expired ? new Date(Date.now() - 365 * DAY_SECONDS * 1000) : new Date())).getTime() / 1000) * 1000,
  );
  const keyExpirationTime = options.expired ? DAY_SECONDS : 0;
  const algorithm =
    options.algorithm === 'rsa' ? { type: 'rsa' as const, rsaBits: 3072 } : { type: 'ecc' as const, curve: 'ed25519Legacy' as const };
  const subkeys = options.signingSubkey ? [{ ...algorithm, sign: true }] : [];
  const { privateKey, publicKey } = await openpgp.generateKey({
    ...algorithm,
    userIDs: [{ name: options.name, email: options.email }],
    date: created,
    keyExpirationTime,
    subkeys,
    format: 'object',
  });
  const signingKey = options.signingSubkey ? privateKey.getSubkeys()[0]! : privateKey;
  return {
    armoredPrivate: privateKey.armor(),
    armoredPublic: publicKey.armor(),
    binaryPublic: Buffer.from(publicKey.write()),
    fingerprint: privateKey.getFingerprint().toUpperCase(),
    signingFingerprint: signingKey.getFingerprint().toUpperCase(),
    privateKey,
    publicKey,
    created,
    expires: options.expired ? new Date(created.getTime() + keyExpirationTime * 1000) : undefined,
  };
}

/** Generates (once per process per distinct option set) a key for signing test archives. */
export function generateTestKey(options: TestKeyOptions): Promise<TestKey> {
  const cacheKey = JSON.stringify([
    options.name, options.email, !!options.expired, options.date?.getTime(), options.algorithm ?? 'ecc', !!options.signingSubkey,
  ]);
  let key = keyCache.get(cacheKey);
  if (!key) {
    key = createKey(options);
    keyCache.set(cacheKey, key);
  }
  return key;
}

/** Concatenated public keys: one keyring file trusting all of them. */
export function keyringOf(keys: TestKey[]): Buffer {
  return Buffer.concat(keys.map((k) => k.binaryPublic));
}

/** A signing time at which the key is valid: the requested one, or for expired keys, just after creation. */
function signingDate(keys: TestKey[], date: Date | undefined): Date | undefined {
  if (date) return date;
  const expired = keys.find((k) => k.expires && k.expires.getTime() <= Date.now());
  return expired ? new Date(expired.created.getTime() + 60_000) : undefined;
}

export interface SignOptions {
  /** Signature creation time (default: now, or inside the validity of an expired key). */
  date?: Date;
}

/**
 * Clearsigns `text` as an InRelease file. Several keys make several signatures. The final
 * newline belongs to the framing, as with gpg --clearsign, and openpgp.js's CRLF line endings in
 * the cleartext are turned back into LF (the signature covers canonical CRLF text either way).
 */
export async function clearsign(text: string, key: TestKey | TestKey[], options: SignOptions = {}): Promise<string> {
  const keys = Array.isArray(key) ? key : [key];
  const message = await openpgp.createCleartextMessage({ text: text.replace(/\n$/, '') });
  const date = signingDate(keys, options.date);
  const signed = await openpgp.sign({ message, signingKeys: keys.map((k) => k.privateKey), config: SIGN_CONFIG, ...(date ? { date } : {}) });
  const split = signed.indexOf('-----BEGIN PGP SIGNATURE-----');
  return signed.slice(0, split).replace(/\r\n/g, '\n') + signed.slice(split);
}

/** An armored detached signature over `text` (Release.gpg). */
export async function detachSign(text: string | Buffer, key: TestKey | TestKey[], options: SignOptions = {}): Promise<string> {
  const keys = Array.isArray(key) ? key : [key];
  const message = await openpgp.createMessage({ binary: typeof text === 'string' ? Buffer.from(text, 'utf8') : text });
  const date = signingDate(keys, options.date);
  return openpgp.sign({ message, signingKeys: keys.map((k) => k.privateKey), detached: true, config: SIGN_CONFIG, ...(date ? { date } : {}) });
}
