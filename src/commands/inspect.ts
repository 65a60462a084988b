/** `baseimg inspect IMG`: what an image is (config, layers, packages, SBOM), from any image tarball. */
import { withImage, printJson, printNotes, writeStdout, type ImageCommandOptions } from '../inspect/cli-common.js';
import { compressionName } from '../inspect/compression.js';
import type { Image } from '../inspect/image.js';
import { colourEnabled, formatTable, humanBytes, makeStyle } from '../inspect/output.js';
import { isPackageDatabasePath, readPackageDatabase, type PackageDatabase } from '../inspect/packages/index.js';
import { platformString } from '../inspect/select.js';
import type { LayerStats } from '../inspect/types.js';
import type { FsView } from '../inspect/fs-view.js';

export type InspectCommandOptions = ImageCommandOptions;

export async function runInspect(imagePath: string, opts: InspectCommandOptions): Promise<void> {
  await withImage(imagePath, opts, async (img) => {
    const flat = await img.flatten({ capture: isPackageDatabasePath });
    const db = await readPackageDatabase(flat.view, (inode) => img.content.readBuffer(inode));
    const doc = inspectDocument(img, flat.view, flat.layers, db, [...img.notes, ...flat.notes, ...db.notes]);
    if (opts.json) return printJson(doc);
    printNotes(doc.notes, opts);
    await writeStdout(formatInspect(doc));
  });
}

export type InspectDocument = ReturnType<typeof inspectDocument>;

export function inspectDocument(img: Image, view: FsView, stats: LayerStats[], db: PackageDatabase, notes: string[]) {
  const c = img.config;
  // history entries marked empty_layer have no layer; the others map onto the layers in order
  const history = c.history.filter((h) => !h.emptyLayer);
  const totals = view.totals();
  return {
    archive: { path: img.label, format: img.parts.format, images: img.archive.candidates.length },
    image: {
      refs: img.refs,
      digest: img.digest ?? null,
      configDigest: img.parts.configDigest || null,
      platform: platformString(img.platform),
      created: c.created ?? null,
    },
    config: {
      user: c.user ?? null,
      workdir: c.workdir ?? null,
      entrypoint: c.entrypoint ?? null,
      cmd: c.cmd ?? null,
      env: c.env,
      labels: c.labels,
      exposedPorts: c.exposedPorts,
    },
    layers: img.layers.map((l, i) => ({
      number: i + 1,
      blob: l.name,
      digest: l.digest ?? null,
      diffId: l.diffId ?? null,
      mediaType: l.mediaType ?? null,
      size: l.blob?.size ?? null,
      compression: stats[i]?.compression ? compressionName(stats[i]!.compression!) : null,
      uncompressedSize: stats[i]?.uncompressedSize ?? null,
      entries: stats[i]?.entries ?? 0,
      whiteouts: stats[i]?.whiteouts ?? 0,
      foreign: l.foreign,
      skipped: stats[i]?.skipped ?? false,
      createdBy: history[i]?.createdBy ?? null,
    })),
    filesystem: { files: totals.files, directories: totals.dirs, symlinks: totals.symlinks, other: totals.others, bytes: totals.bytes },
    packages: {
      databases: db.databases,
      count: db.packages.length,
      list: db.packages.map((p) => ({ name: p.name, version: p.version, architecture: p.architecture ?? null, manager: p.manager, source: p.source ?? null, database: p.database })),
    },
    sbom: db.sbom ? { present: true, path: db.sbom.path, files: db.sbom.files } : { present: false, path: '/var/lib/db/sbom', files: [] as string[] },
    notes,
  };
}

export function formatInspect(doc: InspectDocument, style = makeStyle(colourEnabled(process.stdout))): string {
  const dash = (v: string | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : v);
  const head: string[][] = [
    ['image', doc.archive.path + (doc.archive.images > 1 ? ` (1 of ${doc.archive.images} images)` : '')],
    ['format', doc.archive.format],
    ['name', doc.image.refs.length ? doc.image.refs.join(', ') : '-'],
    ['digest', dash(doc.image.digest)],
    ['platform', doc.image.platform],
    ['created', dash(doc.image.created)],
    ['user', dash(doc.config.user)],
    ['workdir', dash(doc.config.workdir)],
    ['entrypoint', doc.config.entrypoint?.length ? JSON.stringify(doc.config.entrypoint) : '-'],
    ['cmd', doc.config.cmd?.length ? JSON.stringify(doc.config.cmd) : '-'],
  ];
  doc.config.env.forEach((e, i) => head.push([i === 0 ? 'env' : '', e]));
  if (doc.config.env.length === 0) head.push(['env', '-']);
  for (const [k, v] of Object.entries(doc.config.labels)) head.push(['label', `${k}=${v}`]);
  if (doc.config.exposedPorts.length) head.push(['ports', doc.config.exposedPorts.join(' ')]);
  let out = formatTable(head.map(([k, v]) => [style.bold(k!), v!]));

  const stored = doc.layers.reduce((n, l) => n + (l.size ?? 0), 0);
  const unpacked = doc.layers.reduce((n, l) => n + (l.uncompressedSize ?? 0), 0);
  out += `\n${style.bold('layers')} ${doc.layers.length}, ${humanBytes(stored)} stored, ${humanBytes(unpacked)} as tar\n`;
  const layerRows = doc.layers.map((l) => [
    String(l.number),
    l.digest ? l.digest.slice(0, 19) : l.blob.length > 40 ? `…${l.blob.slice(-39)}` : l.blob,
    l.size === null ? 'absent' : humanBytes(l.size),
    l.uncompressedSize === null ? '-' : humanBytes(l.uncompressedSize),
    l.skipped ? 'skipped (foreign)' : dash(l.compression),
    String(l.entries),
    dash(l.createdBy?.replace(/\s+/g, ' ').slice(0, 60)),
  ]);
  out += indent(formatTable([['#', 'BLOB', 'STORED', 'TAR', 'COMPRESSION', 'ENTRIES', 'CREATED BY'], ...layerRows], ['r', 'l', 'r', 'r', 'l', 'r', 'l']));

  const fs = doc.filesystem;
  out += `\n${style.bold('filesystem')} ${count(fs.files, 'file')}, ${count(fs.directories, 'directory', 'directories')}, ${count(fs.symlinks, 'symlink')}${fs.other ? `, ${fs.other} other` : ''}; ${humanBytes(fs.bytes)} in files\n`;

  const dbs = doc.packages.databases.map((d) => `${d.kind} ${d.path}`).join(', ');
  out += `\n${style.bold('packages')} ${doc.packages.count}${dbs ? ` (${dbs})` : ' (no dpkg or apk database found)'}\n`;
  if (doc.packages.count > 0) {
    const rows = doc.packages.list.map((p) => [p.name, p.version, dash(p.architecture), dash(p.source)]);
    out += indent(formatTable([['NAME', 'VERSION', 'ARCH', 'SOURCE'], ...rows]));
  }
  out += `\n${style.bold('sbom')} ${doc.sbom.present ? `${doc.sbom.path} (${doc.sbom.files.length} files: ${doc.sbom.files.slice(0, 5).join(', ')}${doc.sbom.files.length > 5 ? ', …' : ''})` : `none (no ${doc.sbom.path})`}\n`;
  return out;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '  ');
}
