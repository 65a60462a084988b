/**
 * The keys an Alpine build trusts: the spec's `source.keys` (files, or URLs
 * fetched at build time), else the host's /etc/apk/keys as apk itself would
 * use them. A key is known by its file name, which is what signatures name
 * (".SIGN.RSA.<file name>") and what the image's /etc/apk/keys gets.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { BuildContext } from '../../pipeline/context.js';
import { BaseimgError } from '../../util/errors.js';

export interface TrustedKey {
  /** File name ("alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"). */
  name: string;
  key: KeyObject;
  /** The PEM bytes, copied into the image's /etc/apk/keys. */
  pem: Buffer;
  /** Where it came from (path or URL), for messages. */
  source: string;
}

export const HOST_KEYS_DIR = '/etc/apk/keys';
const MAX_KEY_BYTES = 64 * 1024;

export async function loadTrustedKeys(sources: readonly string[], ctx: BuildContext, hostKeysDir = HOST_KEYS_DIR): Promise<TrustedKey[]> {
  if (sources.length === 0) return loadHostKeys(hostKeysDir, ctx);
  const keys = await Promise.all(sources.map((source) => (/^https?:/i.test(source) ? fetchKey(source, ctx) : readKey(source))));
  return keys.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function readKey(path: string): Promise<TrustedKey> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (e) {
    throw new BaseimgError('SPEC', `source.keys: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseKey(basename(path), pem, path);
}

async function fetchKey(url: string, ctx: BuildContext): Promise<TrustedKey> {
  const name = decodeURIComponent(basename(new URL(url).pathname));
  const pem = await ctx.fetcher.fetchBuffer(url, { what: `signing key ${name}`, maxBytes: MAX_KEY_BYTES });
  return parseKey(name, pem, url);
}

async function loadHostKeys(dir: string, ctx: BuildContext): Promise<TrustedKey[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.pub')).sort();
  } catch {
    return [];
  }
  ctx.reporter.debug(`source.keys is empty: trusting the ${names.length} keys in ${dir}`);
  return Promise.all(names.map(async (n) => parseKey(n, await readFile(join(dir, n)), join(dir, n))));
}

/** A PEM RSA public key; anything else is refused with the file named. */
export function parseKey(name: string, pem: Buffer, source: string): TrustedKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new BaseimgError('SPEC', `signing key ${source} is not a PEM public key: ${(e as Error).message}`, {
      hint: 'apk keys are PEM files ("-----BEGIN PUBLIC KEY-----"), usually named *.rsa.pub',
      cause: e,
    });
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new BaseimgError('SPEC', `signing key ${source} is a ${key.asymmetricKeyType ?? 'non-RSA'} key; apk signatures are RSA`);
  }
  if (name === '' || name.includes('/') || name.startsWith('.')) {
    throw new BaseimgError('SPEC', `signing key ${source}: "${name}" cannot name a key file`);
  }
  return { name, key, pem, source };
}
