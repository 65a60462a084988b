/**
 * SHA-256 helpers and the one JSON serialisation every image blob uses.
 *
 * canonicalJson follows RFC 8785 (JSON Canonicalization Scheme): object keys
 * sorted by UTF-16 code units at every level, no whitespace, numbers and
 * strings exactly as ECMAScript's JSON.stringify writes them. The bytes then
 * depend only on the value, never on the order in which code (or a user's
 * TOML table) happened to insert keys, so a config digest cannot drift because
 * someone reordered a literal. OCI and Docker readers do not care about key
 * order; Go tools happen to write struct fields in declaration order and map
 * keys sorted, which differs from ours only cosmetically.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { BaseimgError } from './errors.js';

export type Sha256Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** "sha256:<hex>" of some bytes. */
export function sha256Digest(data: Uint8Array | string): Sha256Digest {
  return `sha256:${sha256Hex(data)}`;
}

/** The hex part of "sha256:<hex>"; anything else is an error (it would become a path). */
export function digestHex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new BaseimgError('INTERNAL', `not a sha256 digest: ${JSON.stringify(digest)}`);
  return m[1]!;
}

/** Incremental SHA-256 that also counts bytes. */
export class Sha256Counter {
  private readonly hash: Hash = createHash('sha256');
  size = 0;

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }

  digest(): Sha256Digest {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/** Digest and length of everything an (async) iterable yields. */
export async function hashStream(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<{ digest: Sha256Digest; size: number }> {
  const h = new Sha256Counter();
  for await (const c of chunks) h.update(c);
  return { size: h.size, digest: h.digest() };
}

export function hashFile(path: string): Promise<{ digest: Sha256Digest; size: number }> {
  return hashStream(createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>);
}

/** RFC 8785 canonical JSON text of a JSON-compatible value (see the file comment). */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

/** canonicalJson as UTF-8 bytes: what gets hashed and stored as a blob. */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

function write(value: unknown, where: string): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw notJson(where, `the number ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        return `[${value.map((v, i) => (v === undefined ? throwNotJson(`${where}[${i}]`, 'undefined') : write(v, `${where}[${i}]`))).join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw notJson(where, 'a non-plain object');
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is what RFC 8785 specifies.
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write(obj[k], `${where}.${k}`)}`).join(',')}}`;
    }
    default:
      throw notJson(where, typeof value);
  }
}

function notJson(where: string, what: string): BaseimgError {
  return new BaseimgError('INTERNAL', `cannot serialise ${what} at ${where} as JSON`);
}

function throwNotJson(where: string, what: string): never {
  throw notJson(where, what);
}
