/**
 * Where SBOMs go and how they are written: pretty JSON (2 spaces, keys in
 * the order the renderers build them, a final newline), so the bytes depend
 * only on the model.
 */
import { basename, dirname, join } from 'node:path';
import type { SbomModel } from './model.js';
import { renderSpdx } from './spdx.js';
import { renderCycloneDx } from './cyclonedx.js';

export type SbomFormat = 'spdx' | 'cyclonedx';
export const SBOM_FORMATS: readonly SbomFormat[] = ['spdx', 'cyclonedx'];

/** apko's place for SBOMs inside an image. */
export const SBOM_DIR_IN_IMAGE = '/var/lib/db/sbom';
export const EMBEDDED_SBOM: Record<SbomFormat, string> = {
  spdx: `${SBOM_DIR_IN_IMAGE}/baseimg.spdx.json`,
  cyclonedx: `${SBOM_DIR_IN_IMAGE}/baseimg.cdx.json`,
};

const SUFFIX: Record<SbomFormat, string> = { spdx: '.spdx.json', cyclonedx: '.cdx.json' };

export function serializeJson(doc: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8');
}

export function renderSbom(model: SbomModel, format: SbomFormat): Buffer {
  return serializeJson(format === 'spdx' ? renderSpdx(model) : renderCycloneDx(model));
}

/** NAME.spdx.json and NAME.cdx.json for output NAME.tar, in `dir` (default: beside the tarball). */
export function besideSbomPaths(output: string, dir: string | undefined): Record<SbomFormat, string> {
  const name = basename(output).replace(/\.tar$/, '');
  const where = dir ?? dirname(output);
  return { spdx: join(where, `${name}${SUFFIX.spdx}`), cyclonedx: join(where, `${name}${SUFFIX.cyclonedx}`) };
}
