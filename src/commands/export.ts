/** `baseimg export IMG DIR|-`: the flattened root filesystem as a directory, or as a tar on stdout. */
import { bufferedSink, withImage, printJson, printNotes, writeStdout, type ImageCommandOptions } from '../inspect/cli-common.js';
import { exportToDirectory } from '../inspect/export-dir.js';
import { writeRootfsTar } from '../inspect/export-tar.js';
import { humanBytes } from '../inspect/output.js';
import { BaseimgError } from '../util/errors.js';

export type ExportCommandOptions = ImageCommandOptions;

export async function runExport(imagePath: string, target: string, opts: ExportCommandOptions): Promise<void> {
  const toStdout = target === '-';
  if (toStdout && process.stdout.isTTY) {
    throw new BaseimgError('USAGE', 'refusing to write a tar archive to a terminal', { hint: `redirect it: baseimg export ${imagePath} - > rootfs.tar` });
  }
  await withImage(imagePath, opts, async (img) => {
    const flat = await img.flatten();
    const notes = [...img.notes, ...flat.notes];
    if (toStdout) {
      const out = bufferedSink(writeStdout);
      const stats = await writeRootfsTar(flat.view, img.content, out.sink);
      await out.flush();
      // stdout carries the tar, so the summary (human or --json) goes to stderr.
      if (opts.json) process.stderr.write(JSON.stringify({ image: img.label, target: '-', ...stats, notes }) + '\n');
      else printNotes(notes, opts);
      return;
    }
    const result = await exportToDirectory(flat.view, img.content, target);
    for (const s of result.skipped) notes.push(`${s.path} skipped: ${s.why}`);
    if (!result.owners) notes.push('not running as root: files are owned by you, not by the uids/gids the image records');
    if (opts.json) return printJson({ image: img.label, target, ...result, notes });
    printNotes(notes, opts);
    process.stderr.write(`exported ${result.entries} entries (${humanBytes(result.bytes)} in files) to ${target}\n`);
  });
}
