/**
 * Typed, path-aware reads from parsed JSON, for validating lock files.
 * Every problem is a LOCK error naming the file and the key path
 * ("static.lock.json: architectures[0].packages[2].sha256: ...").
 */
import { BaseimgError } from '../util/errors.js';
import type { JsonValue } from './types.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export class JsonReader {
  constructor(
    private readonly file: string,
    private readonly value: unknown,
    private readonly path: string,
  ) {}

  static root(file: string, value: unknown): JsonReader {
    return new JsonReader(file, value, '');
  }

  fail(problem: string): never {
    const where = this.path === '' ? this.file : `${this.file}: ${this.path}`;
    throw new BaseimgError('LOCK', `${where}: ${problem}`, {
      hint: 'lock files are written by `baseimg lock`; re-create it rather than editing it by hand',
    });
  }

  /** An object with exactly these keys (all required; unknown keys are errors). */
  object(keys: readonly string[]): Record<string, JsonReader> {
    const v = this.value;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(`expected an object, got ${kind(v)}`);
    const record = v as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!keys.includes(key)) this.child(key).fail('unknown key');
    }
    const out: Record<string, JsonReader> = {};
    for (const key of keys) {
      if (!Object.prototype.hasOwnProperty.call(record, key)) this.fail(`missing key "${key}"`);
      out[key] = this.child(key);
    }
    return out;
  }

  array(): JsonReader[] {
    if (!Array.isArray(this.value)) this.fail(`expected an array, got ${kind(this.value)}`);
    return this.value.map((item, i) => new JsonReader(this.file, item, `${this.path}[${i}]`));
  }

  string(): string {
    if (typeof this.value !== 'string') this.fail(`expected a string, got ${kind(this.value)}`);
    return this.value;
  }

  nonEmptyString(): string {
    const s = this.string();
    if (s === '') this.fail('expected a non-empty string');
    return s;
  }

  nullableString(): string | null {
    return this.value === null ? null : this.string();
  }

  integer(): number {
    const v = this.value;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(`expected a non-negative integer, got ${kind(v)}`);
    return v;
  }

  nullableInteger(): number | null {
    return this.value === null ? null : this.integer();
  }

  sha256(): string {
    const s = this.string();
    if (!SHA256_HEX.test(s)) this.fail(`"${s}" is not a SHA-256 hex digest (64 lowercase hex digits)`);
    return s;
  }

  strings(): string[] {
    return this.array().map((r) => r.string());
  }

  /** An object of string values, in the order written. */
  stringRecord(): Record<string, string> {
    const v = this.value;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(`expected an object, got ${kind(v)}`);
    return Object.fromEntries(Object.keys(v).map((key) => [key, this.child(key).string()]));
  }

  /** Any JSON value, checked to be plain JSON. */
  json(): JsonValue {
    return this.value as JsonValue;
  }

  private child(key: string): JsonReader {
    const path = /^[A-Za-z_][\w-]*$/.test(key) ? (this.path === '' ? key : `${this.path}.${key}`) : `${this.path}[${JSON.stringify(key)}]`;
    return new JsonReader(this.file, (this.value as Record<string, unknown>)[key], path);
  }
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'object') return 'an object';
  return typeof v;
}
