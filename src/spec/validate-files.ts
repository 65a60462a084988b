/**
 * The custom-base keys: [[files]] (local files and directories copied into
 * the image), strip (package files removed by glob) and layers (how an
 * include chain becomes layers). Sources of [[files]] are only named here;
 * the build reads them (they may be large), and reports a problem with the
 * FILE:LINE kept in the entry.
 */
import type { KeyPath } from './locate.js';
import type { FileEntry, LayerMode } from './types.js';
import { MAX_ID, nearest, type Section } from './validate-fields.js';
import { fileMode, imagePath } from './validate-paths.js';
import { checkGlob as checkStripPattern } from '../util/glob.js';

const FILE_KEYS = ['source', 'path', 'mode', 'dir-mode', 'uid', 'gid'];
const LAYER_MODES: readonly LayerMode[] = ['per-spec', 'flat'];

export function validateFiles(top: Section): FileEntry[] {
  const seen = new Map<string, KeyPath>();
  return top.tables('files').map((s) => {
    s.allowOnly(FILE_KEYS);
    const source = s.requiredString('source', 'source = "build/app" (a file or a directory, relative to this spec)');
    const entry: FileEntry = {
      source: s.ctx.localPath(s.at('source'), source),
      path: imagePath(s),
      mode: fileMode(s, 'mode'),
      dirMode: fileMode(s, 'dir-mode') ?? 0o755,
      uid: s.integer('uid', 0, MAX_ID) ?? 0,
      gid: s.integer('gid', 0, MAX_ID) ?? 0,
      where: s.ctx.where(s.at('source')),
    };
    const first = seen.get(entry.path);
    if (first !== undefined) s.fail('path', `"${entry.path}" is already the destination of ${s.ctx.refer(first, s.path)}`);
    seen.set(entry.path, s.path);
    return entry;
  });
}

export function validateStrip(top: Section): string[] {
  const patterns = top.strings('strip') ?? [];
  patterns.forEach((p, i) => {
    const problem = checkStripPattern(p);
    if (problem !== undefined) top.ctx.fail([...top.at('strip'), i], `"${p}": ${problem}`, 'for example strip = ["/usr/share/doc/*", "/usr/share/man/**"]');
    if (patterns.indexOf(p) !== i) top.ctx.fail([...top.at('strip'), i], `"${p}" is listed twice`);
  });
  return patterns;
}

export function validateLayers(top: Section): LayerMode {
  const mode = top.string('layers') ?? 'per-spec';
  if (!(LAYER_MODES as readonly string[]).includes(mode)) {
    top.fail('layers', `expected "per-spec" or "flat", got "${mode}"${nearest(mode, LAYER_MODES)}`);
  }
  return mode as LayerMode;
}
