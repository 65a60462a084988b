/** `baseimg ls IMG [PATH]`: list a directory of the flattened image, like ls -l or tree. */
import { withImage, printJson, printNotes, writeStdout, type ImageCommandOptions } from '../inspect/cli-common.js';
import { FsView, metaOf, pathInfo, sizeOf, type FsNode, type Resolved } from '../inspect/fs-view.js';
import { colourEnabled, formatTable, formatTime, humanBytes, makeStyle, modeString, paintName, type Style } from '../inspect/output.js';
import { BaseimgError } from '../util/errors.js';

export interface LsCommandOptions extends ImageCommandOptions {
  long?: boolean;
  tree?: boolean;
  depth?: number;
}

export async function runLs(imagePath: string, path: string | undefined, opts: LsCommandOptions): Promise<void> {
  const target = path ?? '/';
  await withImage(imagePath, opts, async (img) => {
    const flat = await img.flatten();
    // Like ls: a symlink argument is listed itself with -l, followed without (a trailing "/" always follows).
    const follow = opts.tree || !opts.long || target.endsWith('/');
    const start = flat.view.lookup(target, follow);
    if (!start) throw new BaseimgError('IMAGE', `${img.label}: ${target}: no such file or directory in the image`);
    const maxDepth = opts.depth ?? (opts.tree ? Infinity : 1);
    const all = [...flat.view.walk(start, maxDepth)];
    const entries = start.node.kind === 'dir' ? all.filter(([, , depth]) => depth > 0) : all;
    const notes = [...img.notes, ...flat.notes];
    if (opts.json) {
      return printJson({ image: img.label, path: target, entries: entries.map(([p, n, d]) => ({ ...pathInfo(p, n), depth: d })), notes });
    }
    printNotes(notes, opts);
    const style = makeStyle(colourEnabled(process.stdout));
    await writeStdout(opts.tree ? formatTree(start, maxDepth, !!opts.long, style) : formatList(start, entries, !!opts.long, style));
  });
}

function displayName(start: Resolved, path: string, node: FsNode, style: Style): string {
  const base = start.node.kind === 'dir' ? path.slice(start.parts.length === 0 ? 1 : `/${start.parts.join('/')}/`.length) : path;
  const m = metaOf(node);
  const name = paintName(style, node.kind, m.mode, base);
  return node.kind === 'symlink' ? `${name} -> ${node.target}` : name;
}

function longColumns(node: FsNode): string[] {
  const m = metaOf(node);
  const size = node.kind === 'char' || node.kind === 'block' ? `${node.devmajor}, ${node.devminor}` : humanBytes(sizeOf(node));
  return [modeString(node.kind, m.mode), `${m.uid}:${m.gid}`, size, formatTime(m.mtime)];
}

function formatList(start: Resolved, entries: Array<[string, FsNode, number]>, long: boolean, style: Style): string {
  if (!long) return entries.map(([p, n]) => displayName(start, p, n, style) + '\n').join('');
  const rows = entries.map(([p, n]) => [...longColumns(n), displayName(start, p, n, style)]);
  return formatTable(rows, ['l', 'r', 'r', 'l', 'l']);
}

/** tree(1)-style drawing; with long, each line starts with [mode uid:gid size]. */
function formatTree(start: Resolved, maxDepth: number, long: boolean, style: Style): string {
  const lines: string[] = [];
  let dirs = 0;
  let files = 0;
  const label = (node: FsNode, name: string): string => {
    const m = metaOf(node);
    const info = long ? `[${longColumns(node).slice(0, 3).join(' ')}]  ` : '';
    const shown = paintName(style, node.kind, m.mode, name);
    return info + (node.kind === 'symlink' ? `${shown} -> ${node.target}` : shown);
  };
  const visit = (dir: FsNode, prefix: string, depth: number): void => {
    if (dir.kind !== 'dir' || depth >= maxDepth) return;
    const kids = FsView.sortedChildren(dir);
    kids.forEach(([name, node], i) => {
      const last = i === kids.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${label(node, name)}`);
      if (node.kind === 'dir') dirs++;
      else files++;
      visit(node, prefix + (last ? '    ' : '│   '), depth + 1);
    });
  };
  lines.push(label(start.node, start.parts.length ? `/${start.parts.join('/')}` : '/'));
  visit(start.node, '', 0);
  lines.push('', `${dirs} director${dirs === 1 ? 'y' : 'ies'}, ${files} file${files === 1 ? '' : 's'}`);
  return lines.join('\n') + '\n';
}
