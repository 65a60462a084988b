/**
 * Progress of a push, per blob: on a TTY one bar per blob being uploaded
 * (cli-progress MultiBar on stderr); otherwise one line per blob when it is
 * settled; JSON lines with --json; nothing with --quiet.
 */
import cliProgress from 'cli-progress';
import type { ReporterMode } from '../util/reporter.js';
import { humanBytes } from '../util/reporter.js';

export type BlobAction = 'exists' | 'mounted' | 'uploaded';

export interface BlobProgress {
  /** Bytes sent so far in the current attempt. */
  update(sent: number): void;
  done(action: BlobAction, from?: string): void;
}

export interface PushProgress {
  blob(digest: string, size: number, role: string): BlobProgress;
  close(): void;
}

export function createPushProgress(mode: ReporterMode, stream: NodeJS.WriteStream = process.stderr): PushProgress {
  if (mode === 'tty') return ttyProgress(stream);
  return {
    blob(digest, size, role) {
      return {
        update() {},
        done(action, from) {
          if (mode === 'plain') stream.write(`  ${short(digest)} ${role.padEnd(8).slice(0, 24)} ${humanBytes(size).padStart(9)}  ${describe(action, from)}\n`);
          else if (mode === 'json') stream.write(JSON.stringify({ event: 'blob', digest, size, role, action, ...(from ? { from } : {}) }) + '\n');
        },
      };
    },
    close() {},
  };
}

function ttyProgress(stream: NodeJS.WriteStream): PushProgress {
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: '  {digest} [{bar}] {percentage}% {sent}/{size} {state}',
      hideCursor: true,
      clearOnComplete: false,
      barsize: 24,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    blob(digest, size) {
      const bar = multi.create(Math.max(size, 1), 0, { digest: short(digest), sent: humanBytes(0), size: humanBytes(size), state: '' });
      return {
        update(sent) {
          bar.update(Math.min(sent, size), { sent: humanBytes(sent) });
        },
        done(action, from) {
          bar.update(Math.max(size, 1), { sent: humanBytes(size), state: describe(action, from) });
          bar.stop();
        },
      };
    },
    close() {
      multi.stop();
    },
  };
}

function short(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

function describe(action: BlobAction, from: string | undefined): string {
  if (action === 'exists') return 'already in the registry';
  if (action === 'mounted') return `mounted from ${from}`;
  return 'uploaded';
}
