/**
 * The archive readers on hostile bytes: ar (the .deb container), tar
 * (every data, control, signature and index member), the leading gzip
 * members of an .apk/APKINDEX, and installDeb over all of them. Inputs are
 * valid archives with a few bytes changed, inserted, deleted or cut
 * (fuzzing near validity reaches the deep code paths) and arbitrary bytes.
 * Properties: only BaseimgErrors; a member or entry never claims bytes the
 * input does not have; limits hold; chunk boundaries never change the
 * result; every case finishes within the per-case time bound.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ArArchive } from '../../src/archive/ar-reader.js';
import { readTar } from '../../src/archive/tar-reader.js';
import { readSignedMembers } from '../../src/distro/alpine/signed-members.js';
import { installDeb } from '../../src/distro/debian/deb-install.js';
import { BodyStore } from '../../src/rootfs/body-store.js';
import { RootTree } from '../../src/rootfs/tree.js';
import { CASE_TIME_LIMIT_MS, FUZZ_RUNS, fuzzParameters, mutated, testTimeout, typedOnlyAsync } from '../helpers/fuzz.js';
import { makeDeb, rawTar, type RawTarEntry } from '../helpers/make-deb.js';
import { generateApkKey, makeApk } from '../helpers/alpine-repo.js';
import { resolved } from '../helpers/finalize-fixtures.js';

let work: string;
let deb: Buffer;
let scratch = 0;

/** Small archives touching every header feature the readers handle. */
const TAR_ENTRIES: RawTarEntry[] = [
  { name: './', type: 'dir' },
  { name: './usr/bin/tool', content: 'ELF'.repeat(50), mode: 0o4755 },
  { name: './usr/bin/link', type: 'hardlink', linkname: './usr/bin/tool' },
  { name: './usr/lib/sym', type: 'symlink', linkname: '../bin/tool' },
  { name: `./usr/share/${'long/'.repeat(30)}gnu`, content: 'g', longNames: 'gnu' },
  { name: `./usr/share/${'long/'.repeat(30)}pax`, content: 'p', longNames: 'pax', pax: { mtime: '1700000000.5', uid: '1000' } },
  { name: './run/fifo', type: 'fifo' },
];
const TAR = rawTar(TAR_ENTRIES);

before(async () => {
  // Thousands of small files: a RAM-backed directory when there is one.
  work = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'baseimg-fuzz-archives-'));
  deb = await makeDeb({
    name: 'fuzzed', version: '1.0', architecture: 'all', dataCompression: 'none', controlCompression: 'none',
    entries: [{ path: './usr/bin/tool', type: 'file', content: 'x'.repeat(300) }, { path: './usr/lib/l', type: 'symlink', linkname: '../bin/tool' }],
  });
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** An input written to a fresh file (the ar reader and installDeb read files). */
async function asFile(data: Buffer): Promise<string> {
  const path = join(work, `in-${++scratch % 64}`);
  await writeFile(path, data);
  return path;
}

async function* chunks(data: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const cut of cuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b)) {
    yield data.subarray(at, cut);
    at = cut;
  }
  yield data.subarray(at);
}

interface TarSummary {
  entries: Array<{ path: string; type: string; size: number; read: number }>;
}

async function readAll(data: Buffer, cuts: number[], limits = { maxEntries: 50, maxTotalBytes: 64 * 1024 }, allowMissingEnd = false): Promise<TarSummary> {
  const out: TarSummary = { entries: [] };
  for await (const e of readTar(chunks(data, cuts), { what: 'fuzz.tar', ...limits, allowMissingEnd })) {
    let read = 0;
    for await (const c of e.body) read += c.length;
    out.entries.push({ path: e.path, type: e.type, size: e.size, read });
  }
  return out;
}

const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const timed = <T>(extra: fc.Parameters<T> = {}): fc.Parameters<T> => fuzzParameters({ timeout: CASE_TIME_LIMIT_MS, ...extra });

describe('tar reader', () => {
  it('mutated and random tars: entries within limits and input, or a BaseimgError', { timeout: testTimeout() }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated(TAR), bytes(2048)), fc.array(fc.nat(8192), { maxLength: 3 }), fc.boolean(), async (data, cuts, allowMissingEnd) => {
        const summary = await typedOnlyAsync('readTar', () => readAll(data, cuts, undefined, allowMissingEnd));
        if (summary === undefined) return;
        assert.ok(summary.entries.length <= 50);
        let total = 0;
        for (const e of summary.entries) {
          assert.equal(e.read, e.type === 'file' ? e.size : e.read, `${e.path}: body length differs from its header`);
          total += e.size;
        }
        assert.ok(total <= 64 * 1024 && total <= data.length, 'entries claim more than the input holds');
      }),
      timed(),
    );
  });

  it('the same entries (or the same error) however the input is chunked', { timeout: testTimeout() }, async () => {
    await fc.assert(
      fc.asyncProperty(mutated(TAR), fc.array(fc.nat(8192), { minLength: 1, maxLength: 5 }), async (data, cuts) => {
        const settle = (c: number[]): Promise<unknown> => readAll(data, c).then((s) => s, (e: Error) => ({ error: e.message }));
        assert.deepEqual(await settle(cuts), await settle([]));
      }),
      timed(),
    );
  });
});

describe('ar reader', () => {
  it('mutated .debs and random bytes: members inside the file, or a BaseimgError', { timeout: testTimeout() }, async () => {
    const arish = fc.array(fc.oneof(fc.constant(Buffer.from('!<arch>\n')), fc.constant(Buffer.from('debian-binary   1700000000  0     0     100644  4         `\n')), bytes(64)), { maxLength: 4 }).map((parts) => Buffer.concat(parts));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated(deb), arish), async (data) => {
        const file = await asFile(data);
        await typedOnlyAsync('ArArchive', async () => {
          const ar = await ArArchive.open(file);
          try {
            const size = (await stat(file)).size;
            for (const m of ar.members) {
              assert.ok(m.offset >= 68 && m.offset + m.size <= size, `${m.name} at ${m.offset}+${m.size} is outside the ${size}-byte file`);
              if (m.size <= 4096) assert.equal((await ar.read(m)).length, m.size);
            }
          } finally {
            await ar.close();
          }
        });
      }),
      timed(),
    );
  });

  // The whole installer costs ~2 ms a case, so it gets a tenth of the runs (1,000 in CI, 10,000 under npm run fuzz).
  it('installDeb over mutated .debs: installs, or a BaseimgError naming the package', { timeout: testTimeout() }, async () => {
    await fc.assert(
      fc.asyncProperty(mutated(deb), async (data) => {
        const file = await asFile(data);
        const tree = new RootTree(new BodyStore({ dir: work }));
        try {
          await installDeb(resolved('fuzzed'), file, tree, { maxUnpackedBytes: 1 << 20, maxEntries: 100 });
        } catch (e) {
          await typedOnlyAsync('installDeb', () => Promise.reject(e));
          assert.match((e as Error).message, /fuzzed|in-\d+/, 'the error names the package or its file');
        } finally {
          await tree.bodies.close();
        }
      }),
      timed({ numRuns: Math.ceil(FUZZ_RUNS / 10) }),
    );
  });
});

describe('apk leading gzip members (signature, control, index)', () => {
  const apk = makeApk({ name: 'fuzzed', version: '1.0-r0', keys: [generateApkKey('fuzz.rsa.pub', 1024)], entries: [{ path: 'etc/x', content: 'x' }] }).file;
  const index = gzipSync(rawTar([{ name: 'APKINDEX', content: 'P:a\nV:1\n' }, { name: 'DESCRIPTION', content: 'fuzz' }]));

  it('mutated packages and indexes: members inside the buffer, or a BaseimgError', { timeout: testTimeout() }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated(apk), mutated(index), bytes(1024)), fc.boolean(), async (data, complete) => {
        const members = await typedOnlyAsync('readSignedMembers', () => readSignedMembers(data, complete, { signedMaxBytes: 1 << 20 }, 'fuzz.apk'));
        if (members === undefined) return;
        assert.ok(members.signed.start >= 0 && members.signed.end <= data.length, 'the signed member lies outside the input');
      }),
      timed(),
    );
  });
});
