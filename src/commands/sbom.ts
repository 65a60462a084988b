/** `baseimg sbom IMG [--format spdx|cyclonedx] [--derive]`: print an image's SBOM on stdout. */
import { printNotes, withImage, writeStdout, type ImageCommandOptions } from '../inspect/cli-common.js';
import { imageSbom } from '../sbom/from-image.js';
import type { SbomFormat } from '../sbom/render.js';

export interface SbomCommandOptions extends ImageCommandOptions {
  format?: SbomFormat;
  /** Ignore an embedded SBOM and derive one from the package database. */
  derive?: boolean;
}

export async function runSbom(imagePath: string, opts: SbomCommandOptions): Promise<void> {
  await withImage(imagePath, opts, async (img) => {
    const sbom = await imageSbom(img, opts.format ?? 'spdx', { derive: opts.derive ?? false });
    printNotes(sbom.notes, {});
    process.stderr.write(sbom.origin === 'embedded' ? 'note: the SBOM embedded in the image (/var/lib/db/sbom)\n' : 'note: derived from the image\'s package database\n');
    await writeStdout(sbom.data);
  });
}
