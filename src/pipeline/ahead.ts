/**
 * Work started ahead of the level that needs it. A layered image builds its
 * levels one after the other (layer-stack.ts), each fetching, then
 * unpacking its own packages: without this, level 2's downloads would start
 * only once level 1 is built, and each package's data would be decompressed
 * only when its install comes, with the decompressor idle in between.
 *
 * startAhead() starts every level's downloads at once (in level order, at
 * most DOWNLOAD_CONCURRENCY in flight) and hands each package, as soon as
 * it is here, to the backend's prepare() (Debian: data.tar decompressed into
 * the data cache), one package at a time, in the order the levels install
 * them. A level then waits only for its own packages:
 *  - fetch() returns the download started here, failure included: one
 *    series of attempts per file and build, reported by the level that
 *    needs the file exactly as before (src/net/missing.ts);
 *  - ready() resolves once the package's preparation ended, however it
 *    ended: preparation is best effort, and install() meets and reports any
 *    problem with the file itself.
 */
import type { DistroBackend, ResolvedPackage } from '../distro/types.js';
import type { BuildContext, DownloadResult } from './context.js';

export const DOWNLOAD_CONCURRENCY = 8;

export interface AheadLevel {
  backend: DistroBackend;
  /** The level's packages in install order. */
  installs: ResolvedPackage[];
  /** Every file the level downloads (installs plus what finalize reads). */
  downloads: ResolvedPackage[];
}

export interface Ahead {
  /** The verified download of `pkg` (started by startAhead, or now for a file it did not list). */
  fetch(pkg: ResolvedPackage): Promise<DownloadResult>;
  /** Resolves when `pkg`'s preparation is over (at once for a package without one). */
  ready(pkg: ResolvedPackage): Promise<void>;
  /** Starts nothing more and waits for what is under way; call once the build ends. */
  stop(): Promise<void>;
}

const keyOf = (pkg: ResolvedPackage): string => `${pkg.sha256} ${pkg.url}`;

export function startAhead(levels: AheadLevel[], ctx: BuildContext): Ahead {
  let stopped = false;
  const downloads = new Map<string, ResolvedPackage>();
  for (const level of levels) for (const pkg of level.downloads) if (!downloads.has(keyOf(pkg))) downloads.set(keyOf(pkg), pkg);

  const total = [...downloads.values()].reduce((n, p) => n + p.size, 0);
  const task = ctx.reporter.task(`fetching ${downloads.size} packages`, total);
  const fetched = new Map<string, Promise<DownloadResult>>();
  const fetchNow = (pkg: ResolvedPackage): Promise<DownloadResult> => {
    const p = ctx.fetcher.fetchFile(pkg.url, {
      // '' = the index gives no file hash (Alpine); the backend verifies the file itself.
      sha256: pkg.sha256 === '' ? undefined : pkg.sha256,
      size: pkg.size,
      what: `${pkg.name} ${pkg.version}`,
      onBytes: (n) => task.tick(n),
    });
    p.catch(() => undefined); // the level that needs the file awaits it and reports the failure
    return p;
  };

  // Deferred starts, so that downloads begin in level order with a bounded number in flight.
  const queue: Array<{ start(): void; cancel(): void; settled: Promise<unknown> }> = [];
  for (const [key, pkg] of downloads) {
    let start!: () => void;
    let cancel!: () => void;
    const p = new Promise<DownloadResult>((resolve, reject) => {
      start = () => void fetchNow(pkg).then(resolve, reject);
      cancel = () => reject(new Error('the build ended before this download started'));
    });
    const settled = p.catch(() => undefined);
    fetched.set(key, p);
    queue.push({ start, cancel, settled });
  }
  const fetchWorker = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (stopped) {
        next.cancel();
        continue;
      }
      // After an abort this fails at once, with the fetcher's own error.
      next.start();
      await next.settled;
    }
  };
  const fetching = Promise.all(Array.from({ length: Math.min(DOWNLOAD_CONCURRENCY, queue.length) }, fetchWorker)).finally(() => task.done());

  // Preparation, one package at a time in install order (it shares the decompressor with installs).
  const prepared = new Map<string, Promise<void>>();
  const order: Array<{ pkg: ResolvedPackage; backend: DistroBackend; done: () => void }> = [];
  for (const level of levels) {
    if (level.backend.prepare === undefined) continue;
    for (const pkg of level.installs) {
      const key = keyOf(pkg);
      if (prepared.has(key)) continue;
      prepared.set(key, new Promise<void>((done) => order.push({ pkg, backend: level.backend, done })));
    }
  }
  const preparing = (async () => {
    for (const item of order) {
      try {
        if (stopped || ctx.signal.aborted) continue;
        const file = await fetched.get(keyOf(item.pkg))!.catch(() => undefined);
        if (file === undefined || stopped || ctx.signal.aborted) continue;
        await item.backend.prepare!(item.pkg, file.path, ctx);
      } catch (e) {
        ctx.reporter.debug(`not prepared ahead: ${item.pkg.name} ${item.pkg.version}: ${(e as Error).message ?? String(e)}`);
      } finally {
        item.done();
      }
    }
  })();

  return {
    fetch: (pkg) => fetched.get(keyOf(pkg)) ?? fetchNow(pkg),
    ready: (pkg) => prepared.get(keyOf(pkg)) ?? Promise.resolve(),
    async stop() {
      stopped = true;
      await Promise.all([fetching, preparing]);
    },
  };
}
