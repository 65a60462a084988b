/** `baseimg cat IMG PATH`: a file's bytes, symlinks followed inside the image. */
import { withImage, printJson, printNotes, writeStdout, type ImageCommandOptions } from '../inspect/cli-common.js';
import { Sha256Counter } from '../util/digest.js';

export type CatCommandOptions = ImageCommandOptions;

/** --json carries the content in the document, so it must fit in memory. */
const MAX_JSON_CONTENT = 64 << 20;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function runCat(imagePath: string, path: string, opts: CatCommandOptions): Promise<void> {
  await withImage(imagePath, opts, async (img) => {
    const flat = await img.flatten();
    const notes = [...img.notes, ...flat.notes];
    const file = img.fileAt(flat.view, path);
    if (!opts.json) {
      printNotes(notes, opts);
      for await (const chunk of img.content.read(file.inode)) await writeStdout(chunk);
      return;
    }
    const data = await img.content.readBuffer(file.inode, MAX_JSON_CONTENT);
    const hash = new Sha256Counter();
    hash.update(data);
    let text: string | undefined;
    try {
      text = utf8.decode(data);
    } catch {
      text = undefined;
    }
    const i = file.inode;
    await printJson({
      image: img.label,
      path,
      resolvedPath: file.path,
      size: i.size,
      mode: i.mode,
      uid: i.uid,
      gid: i.gid,
      mtime: i.mtime,
      sha256: hash.digest(),
      encoding: text === undefined ? 'base64' : 'utf8',
      content: text ?? data.toString('base64'),
      notes,
    });
  });
}
