/** The include chain of a spec: the specs whose images lie below it (src/pipeline/layer-stack.ts). */
import path from 'node:path';
import { loadSpec } from '../spec/load.js';
import type { Spec } from '../spec/types.js';
import { BaseimgError, isBaseimgError } from '../util/errors.js';

/** The specs whose images lie below `spec`, root ancestor first, then `spec`. */
export async function specChain(spec: Spec): Promise<Spec[]> {
  const chain = [spec];
  for (let s = spec; s.layerParent !== undefined; ) {
    const child = s;
    s = await loadParent(s.layerParent, child);
    chain.unshift(s);
  }
  return chain;
}

async function loadParent(file: string, child: Spec): Promise<Spec> {
  try {
    return await loadSpec(displayName(file));
  } catch (e) {
    if (!isBaseimgError(e) || e.code !== 'SPEC') throw e;
    throw new BaseimgError('SPEC', e.message, {
      hint: `${displayName(file)} is the first include of ${displayName(child.file)}, so its image is the lower layers: it must be a complete spec on its own. Put fragments after it in include, or set layers = "flat" in ${displayName(child.file)}`,
      cause: e,
    });
  }
}

/** A path as short as it can be said from here (relative when below the working directory). */
export function displayName(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}
