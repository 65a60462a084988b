/**
 * Helpers for `--timings`. A stage is a step of the pipeline ("resolve",
 * "layer"); a sub-stage is named "stage/part" ("layer/gzip"). Sub-stages
 * record busy time summed over every piece of work (three indexes, a hundred
 * packages), so the parts of a stage whose work overlaps (gzip runs beside
 * tar generation) can add up to more than the stage's wall time.
 */

export type TimingSink = (stage: string, ms: number) => void;

/**
 * Passes `source` through, adding the time spent waiting for each item to
 * `add` (for a decompressor: its CPU time plus reading its input).
 */
export async function* timedIterable<T>(source: AsyncIterable<T>, add: (ms: number) => void): AsyncGenerator<T, void, undefined> {
  const it = source[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      const started = performance.now();
      const next = await it.next();
      add(performance.now() - started);
      if (next.done === true) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // Stopping early must still close the source (xz releases its decoder that way).
    if (!done) await it.return?.();
  }
}

/** Time `fn` and report it under `stage`. */
export async function timed<T>(sink: TimingSink | undefined, stage: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    sink?.(stage, performance.now() - started);
  }
}

/**
 * The --timings table: stages with their share of the total, each followed
 * by its sub-stages, indented (sub-stages have no share: they may overlap).
 */
export function formatTimings(timings: ReadonlyArray<readonly [string, number]>): string {
  const top = timings.filter(([name]) => !name.includes('/'));
  const total = top.reduce((n, [, ms]) => n + ms, 0);
  const label = (name: string): string => (name.includes('/') ? `  ${name.slice(name.indexOf('/') + 1)}` : name);
  const width = Math.max(...timings.map(([name]) => label(name).length), 5);
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(3).padStart(8)} s`;
  let out = '';
  for (const [name, ms] of top) {
    out += `  ${name.padEnd(width)}  ${seconds(ms)}  ${((100 * ms) / (total || 1)).toFixed(0).padStart(3)}%\n`;
    for (const [sub, subMs] of timings) {
      if (sub.startsWith(`${name}/`)) out += `  ${label(sub).padEnd(width)}  ${seconds(subMs)}\n`;
    }
  }
  // Sub-stages whose stage was never timed as a whole still show up.
  for (const [name, ms] of timings) {
    if (name.includes('/') && !top.some(([t]) => name.startsWith(`${t}/`))) out += `  ${name.padEnd(width)}  ${seconds(ms)}\n`;
  }
  return out;
}
