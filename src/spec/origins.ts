/**
 * Where each value of a composed spec was written. A spec that includes
 * others is validated as one merged table, but an error must still name the
 * file and line the offending value came from, and a relative path must
 * start at that file's directory. Origins maps a key path of the merged
 * table to (file, key path in that file); the longest recorded prefix wins,
 * so a whole table taken from one file needs one entry.
 */
import path from 'node:path';
import { SourceIndex, type KeyPath } from './locate.js';

/** One spec file's text. */
export class SpecSource {
  private index: SourceIndex | undefined;
  /** Absolute path. */
  readonly abs: string;
  /** Absolute directory; relative paths written in this file start here. */
  readonly dir: string;

  constructor(
    /** The file as messages name it ("specs/debian12/base.toml"). */
    readonly name: string,
    readonly text: string,
  ) {
    this.abs = path.resolve(name);
    this.dir = path.dirname(this.abs);
  }

  /** Line lookups are only needed once something is wrong (and for raw literals), so index lazily. */
  get lines(): SourceIndex {
    this.index ??= SourceIndex.build(this.text);
    return this.index;
  }
}

export interface Origin {
  source: SpecSource;
  /** The key path inside `source`. */
  at: KeyPath;
}

const keyOf = (at: KeyPath): string => JSON.stringify(at);

export class Origins {
  private readonly entries = new Map<string, { at: KeyPath; origin: Origin }>();

  /** `fallback` owns every path nothing else claims (the top-level spec). */
  constructor(readonly fallback: SpecSource) {}

  set(at: KeyPath, origin: Origin): void {
    this.entries.set(keyOf(at), { at: [...at], origin });
  }

  /** The file and in-file key path of merged path `at`. */
  of(at: KeyPath): Origin {
    for (let n = at.length; n >= 0; n--) {
      const found = this.entries.get(keyOf(at.slice(0, n)));
      if (found !== undefined) return { source: found.origin.source, at: [...found.origin.at, ...at.slice(n)] };
    }
    return { source: this.fallback, at };
  }

  /** Record that merged `to` (and everything below it) is what `from` (and below) was in `src`. */
  copy(src: Origins, from: KeyPath, to: KeyPath): void {
    this.set(to, src.of(from));
    const prefix = keyOf(from);
    for (const { at, origin } of src.entries.values()) {
      if (at.length > from.length && keyOf(at.slice(0, from.length)) === prefix) {
        this.set([...to, ...at.slice(from.length)], origin);
      }
    }
  }
}
