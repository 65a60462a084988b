/**
 * Entry point of src/spec: read a spec file, parse its TOML and validate it
 * into the normalised Spec every later stage works from. All failures are
 * BaseimgErrors with code SPEC and a "FILE:LINE: ..." message.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { BaseimgError } from '../util/errors.js';
import { composeSpec } from './compose.js';
import type { Spec } from './types.js';
import { validateSpec } from './validate.js';
import { describeFsError, SpecContext, type ReadLocal } from './validate-fields.js';

export async function loadSpec(file: string): Promise<Spec> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new BaseimgError('SPEC', `cannot read spec ${file}: ${describeFsError(e)}`, { cause: e });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new BaseimgError('SPEC', `${file}: invalid TOML: the file is not valid UTF-8 text`, { cause: e });
  }
  return parseSpec(text, file);
}

/**
 * Parses and validates spec text. `file` names the spec in messages and
 * anchors relative paths; `readLocal` reads the files the spec refers to
 * (included specs, keyrings, certificates, [[paths]] sources) and is
 * replaceable in tests. Included specs are merged first (compose.ts), then
 * the result is validated as one spec whose errors name the file each value
 * came from.
 */
export function parseSpec(text: string, file: string, readLocal: ReadLocal = (absPath) => readFileSync(absPath)): Spec {
  const composed = composeSpec(text, file, readLocal);
  return validateSpec(composed.table, new SpecContext(file, text, readLocal, composed.origins), composed.includes);
}
