/**
 * Which repositories of a registry already hold a blob, remembered from
 * earlier pushes (as docker's "v2 metadata" does), so a push to another
 * repository of the same registry can ask for a cross-repository mount
 * instead of uploading. A hint only: a stale entry costs one POST that the
 * registry answers with an upload session. Kept under the cache directory,
 * one small JSON file per registry, written atomically.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';

const MAX_REPOS_PER_BLOB = 4;
const MAX_BLOBS = 20_000;

export class BlobMemory {
  private repos = new Map<string, string[]>();
  private changed = false;

  private constructor(private readonly file: string | undefined) {}

  /** Memory for `registry` kept under `cacheDir`; undefined cacheDir = remember nothing. */
  static async open(cacheDir: string | undefined, registry: string): Promise<BlobMemory> {
    if (cacheDir === undefined) return new BlobMemory(undefined);
    const file = join(cacheDir, 'registry', `${registry.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
    const memory = new BlobMemory(file);
    try {
      const doc = JSON.parse(await readFile(file, 'utf8')) as unknown;
      if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
        for (const [digest, repos] of Object.entries(doc as Record<string, unknown>)) {
          if (Array.isArray(repos)) memory.repos.set(digest, repos.filter((r): r is string => typeof r === 'string'));
        }
      }
    } catch {
      // missing or unreadable: start empty (it is only a hint)
    }
    return memory;
  }

  /** Repositories other than `except` known to hold `digest`, most recent first. */
  sources(digest: string, except: string): string[] {
    return (this.repos.get(digest) ?? []).filter((r) => r !== except);
  }

  remember(digest: string, repo: string): void {
    const list = this.repos.get(digest) ?? [];
    if (list[0] === repo) return;
    this.repos.delete(digest); // re-insert: most recently used blobs last, oldest dropped first
    this.repos.set(digest, [repo, ...list.filter((r) => r !== repo)].slice(0, MAX_REPOS_PER_BLOB));
    this.changed = true;
  }

  async save(): Promise<void> {
    if (!this.file || !this.changed) return;
    const entries = [...this.repos].slice(-MAX_BLOBS);
    await mkdir(join(this.file, '..'), { recursive: true });
    const data = Buffer.from(JSON.stringify(Object.fromEntries(entries)) + '\n');
    await writeFileAtomic(this.file, (out) => out.write(data));
    this.changed = false;
  }
}
