/**
 * Plumbing shared by the inspect commands (src/commands/{inspect,ls,du,cat,diff,export}.ts):
 * open and select the image, report notes, write to stdout with backpressure.
 */
import { ImageArchive, type Image } from './image.js';
import type { ImageSelector } from './select.js';

export interface ImageCommandOptions extends ImageSelector {
  json?: boolean;
}

/** Open IMG, select one image, run `fn`, and always clean up (also on SIGINT/SIGTERM). */
export async function withImage<T>(path: string, opts: ImageCommandOptions, fn: (img: Image) => Promise<T>): Promise<T> {
  const archive = await ImageArchive.open(path);
  const onSignal = (sig: NodeJS.Signals): void => {
    void archive.close().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const img = await archive.select({ image: opts.image, platform: opts.platform });
    return await fn(img);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await archive.close();
  }
}

/** "note: …" lines on stderr (human mode only; --json puts notes in the document). */
export function printNotes(notes: readonly string[], opts: { json?: boolean }): void {
  if (opts.json) return;
  for (const n of new Set(notes)) process.stderr.write(`note: ${n}\n`);
}

let watching = false;

/** Write to stdout, waiting when the pipe is full; a reader that went away (`| head`) ends the run quietly. */
export function writeStdout(data: string | Buffer): Promise<void> {
  const out = process.stdout;
  if (!watching) {
    watching = true;
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
  if (out.write(data)) return Promise.resolve();
  return new Promise((resolve) => out.once('drain', resolve));
}

/** Collects small writes (tar headers) into 1 MiB chunks before they reach `write`. */
export function bufferedSink(write: (chunk: Buffer) => Promise<void>): { sink: (chunk: Buffer) => Promise<void>; flush: () => Promise<void> } {
  let parts: Buffer[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (size === 0) return;
    const chunk = Buffer.concat(parts, size);
    parts = [];
    size = 0;
    await write(chunk);
  };
  const sink = async (chunk: Buffer): Promise<void> => {
    if (chunk.length >= 1 << 20) {
      await flush();
      await write(chunk);
      return;
    }
    parts.push(chunk);
    size += chunk.length;
    if (size >= 1 << 20) await flush();
  };
  return { sink, flush };
}

export function printJson(doc: unknown): Promise<void> {
  return writeStdout(JSON.stringify(doc, null, 2) + '\n');
}
