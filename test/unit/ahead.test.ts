import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startAhead, DOWNLOAD_CONCURRENCY, type AheadLevel } from '../../src/pipeline/ahead.js';
import type { BuildContext, DownloadOptions, DownloadResult } from '../../src/pipeline/context.js';
import type { DistroBackend, ResolvedPackage } from '../../src/distro/types.js';

const pkg = (name: string): ResolvedPackage =>
  ({ name, version: '1', architecture: 'amd64', url: `http://mirror.test/${name}.deb`, sha256: name.padEnd(64, '0').slice(0, 64), size: 10 }) as ResolvedPackage;

/** A fetcher whose downloads finish when the test says so, recording the order they started in. */
function fakeContext(failing: Set<string> = new Set()) {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  let inFlight = 0;
  let maxInFlight = 0;
  const ctx = {
    fetcher: {
      fetchFile(url: string, _opts?: DownloadOptions): Promise<DownloadResult> {
        started.push(url);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return new Promise((resolve, reject) =>
          finish.set(url, () => {
            inFlight--;
            if (failing.has(url)) reject(new Error(`404 ${url}`));
            else resolve({ path: `/cache/${url.split('/').pop()}`, sha256: '', size: 10 });
          }),
        );
      },
      fetchBuffer: async () => Buffer.alloc(0),
    },
    reporter: { info() {}, warn() {}, debug() {}, task: () => ({ tick() {}, setTotal() {}, done() {} }), timing() {} },
    signal: new AbortController().signal,
  } as unknown as BuildContext;
  const finishAll = async (): Promise<void> => {
    for (let round = 0; round < 50; round++) {
      for (const [url, f] of [...finish]) {
        finish.delete(url);
        f();
      }
      await new Promise((r) => setImmediate(r));
    }
  };
  return { ctx, started, finishAll, maxInFlight: () => maxInFlight };
}

function backend(prepared: string[], fail?: string): DistroBackend {
  return {
    prepare: async (p: ResolvedPackage, file: string) => {
      prepared.push(`${p.name}@${file}`);
      if (p.name === fail) throw new Error('corrupt');
    },
  } as unknown as DistroBackend;
}

describe('startAhead', () => {
  it('downloads every level\'s packages once, in level order, with bounded concurrency', async () => {
    const { ctx, started, finishAll, maxInFlight } = fakeContext();
    const names = Array.from({ length: 12 }, (_, i) => pkg(`p${i}`));
    const levels: AheadLevel[] = [
      { backend: backend([]), installs: names.slice(0, 3), downloads: names.slice(0, 3) },
      { backend: backend([]), installs: names.slice(0, 12), downloads: names.slice(0, 12) },
    ];
    const ahead = startAhead(levels, ctx);
    await new Promise((r) => setImmediate(r));
    assert.equal(started.length, DOWNLOAD_CONCURRENCY);
    await finishAll();
    assert.deepEqual(started, names.map((p) => p.url));
    assert.equal(maxInFlight(), DOWNLOAD_CONCURRENCY);
    assert.equal((await ahead.fetch(names[11]!)).path, '/cache/p11.deb');
    await ahead.stop();
    assert.equal(started.length, 12, 'a level asking again does not download again');
  });

  it('prepares in install order, once each, and a failed preparation still counts as ready', async () => {
    const { ctx, finishAll } = fakeContext();
    const [a, b, c] = [pkg('a'), pkg('b'), pkg('c')];
    const prepared: string[] = [];
    const be = backend(prepared, 'b');
    const ahead = startAhead(
      [
        { backend: be, installs: [b, a], downloads: [a, b] },
        { backend: be, installs: [b, a, c], downloads: [a, b, c] },
      ],
      ctx,
    );
    await finishAll();
    await Promise.all([ahead.ready(a), ahead.ready(b), ahead.ready(c)]);
    assert.deepEqual(prepared, ['b@/cache/b.deb', 'a@/cache/a.deb', 'c@/cache/c.deb']);
    await ahead.ready(pkg('not listed'));
    await ahead.stop();
  });

  it('gives a failed download to the level that needs it, without trying again, and skips its preparation', async () => {
    const { ctx, started, finishAll } = fakeContext(new Set(['http://mirror.test/gone.deb']));
    const gone = pkg('gone');
    const prepared: string[] = [];
    const ahead = startAhead([{ backend: backend(prepared), installs: [gone], downloads: [gone] }], ctx);
    await finishAll();
    await assert.rejects(ahead.fetch(gone), /404/);
    await assert.rejects(ahead.fetch(gone), /404/);
    await ahead.ready(gone);
    assert.deepEqual(prepared, []);
    assert.equal(started.length, 1);
    await ahead.stop();
  });

  it('starts nothing once stopped; what had not started fails for whoever still asks', async () => {
    const { ctx, started, finishAll } = fakeContext();
    const names = Array.from({ length: DOWNLOAD_CONCURRENCY + 3 }, (_, i) => pkg(`q${i}`));
    const ahead = startAhead([{ backend: backend([]), installs: names, downloads: names }], ctx);
    await new Promise((r) => setImmediate(r));
    const stopping = ahead.stop();
    await finishAll();
    await stopping;
    assert.equal(started.length, DOWNLOAD_CONCURRENCY);
    await assert.rejects(ahead.fetch(names[names.length - 1]!), /build ended/);
  });
});
