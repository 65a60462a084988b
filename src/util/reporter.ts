/**
 * Progress and log output. Four modes:
 *  - tty:   a live progress bar (cli-progress) on stderr, short stage lines;
 *  - plain: one line per stage on stderr, no bars (CI logs, pipes);
 *  - json:  one JSON object per event on stderr, so stdout stays a single result document;
 *  - quiet: warnings only.
 * Everything goes to stderr: stdout is reserved for command results.
 */
import { createRequire } from 'node:module';
import type cliProgress from 'cli-progress';
import type { ProgressTask, Reporter } from '../pipeline/context.js';

export type ReporterMode = 'tty' | 'plain' | 'json' | 'quiet';

export function chooseReporterMode(options: { quiet?: boolean; json?: boolean }, stream: NodeJS.WriteStream = process.stderr): ReporterMode {
  if (options.json) return 'json';
  if (options.quiet) return 'quiet';
  if (stream.isTTY && !process.env.CI && process.env.TERM !== 'dumb') return 'tty';
  return 'plain';
}

export interface ConsoleReporter extends Reporter {
  /** Stage durations recorded so far, in insertion order. */
  readonly timings: Array<[string, number]>;
  /** Stop any live bar (call before printing results). */
  close(): void;
}

export function createReporter(mode: ReporterMode, stream: NodeJS.WriteStream = process.stderr): ConsoleReporter {
  const debugOn = process.env.BASEIMG_DEBUG === '1';
  const timings: Array<[string, number]> = [];
  let bar: cliProgress.SingleBar | undefined;

  const write = (line: string): void => {
    if (bar) bar.stop();
    bar = undefined;
    stream.write(line + '\n');
  };
  const event = (kind: string, fields: Record<string, unknown>): void => {
    stream.write(JSON.stringify({ event: kind, ...fields }) + '\n');
  };

  return {
    timings,
    info(message) {
      if (mode === 'tty' || mode === 'plain') write(message);
      else if (mode === 'json') event('info', { message });
    },
    warn(message) {
      if (mode === 'json') event('warning', { message });
      else write(`warning: ${message}`);
    },
    debug(message) {
      if (!debugOn) return;
      if (mode === 'json') event('debug', { message });
      else write(`debug: ${message}`);
    },
    timing(stage, ms) {
      // Repeated stages add up: sub-stages ("unpack/decompress") are reported
      // once per package, and multi-platform builds run every stage per platform.
      const entry = timings.find(([name]) => name === stage);
      if (entry) entry[1] += ms;
      else timings.push([stage, ms]);
      // One event per stage; sub-stages only reach the final result's timings.
      if (mode === 'json' && !stage.includes('/')) event('timing', { stage, ms: Math.round(ms) });
    },
    task(label, total) {
      return mode === 'tty' ? ttyTask(label, total) : silentTask(label, total, mode === 'json' ? event : undefined);
    },
    close() {
      bar?.stop();
      bar = undefined;
    },
  };

  function ttyTask(label: string, total: number | undefined): ProgressTask {
    bar?.stop();
    // Loaded for the first bar only: non-TTY runs never draw one.
    const progress = createRequire(import.meta.url)('cli-progress') as typeof cliProgress;
    const b = new progress.SingleBar(
      {
        stream,
        format: `${label} [{bar}] {percentage}% {value}/{total}`,
        hideCursor: true,
        clearOnComplete: true,
        barsize: 30,
        fps: 10,
        formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? humanBytesIfLarge(v) : String(v)),
      },
      progress.Presets.shades_classic,
    );
    b.start(total ?? 0, 0);
    bar = b;
    let value = 0;
    return {
      tick(n) {
        value += n;
        b.update(value);
      },
      setTotal(t) {
        b.setTotal(t);
      },
      done() {
        b.stop();
        if (bar === b) bar = undefined;
      },
    };
  }
}

function silentTask(label: string, total: number | undefined, event?: (k: string, f: Record<string, unknown>) => void): ProgressTask {
  let value = 0;
  let t = total;
  return {
    tick(n) {
      value += n;
    },
    setTotal(n) {
      t = n;
    },
    done() {
      event?.('progress', { task: label, done: value, total: t ?? value });
    },
  };
}

function humanBytesIfLarge(v: number): string {
  return v >= 1024 * 1024 ? humanBytes(v) : String(v);
}

/** 1536 → "1.5 KiB"; binary units as du -h uses them. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** A reporter that records nothing; for tests and library use. */
export function nullReporter(): ConsoleReporter {
  return createReporter('quiet', { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream);
}
