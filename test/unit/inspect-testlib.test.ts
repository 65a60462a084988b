/**
 * Shared by the inspect tests (imported by the other inspect-*.test.ts files;
 * its own tests check the reference flattener on hand-worked cases):
 *
 *  - buildArchive(): image tarballs in the layouts real tools write (OCI
 *    layout, Docker 25+ with and without "manifests": null, docker save with
 *    <id>/layer.tar, podman's symlinked layer blobs), from raw layer entries,
 *    with gzip, zstd or no compression;
 *  - referenceFlatten(): an independent flattening that knows nothing of
 *    src/: the archive read with tar-stream, the manifest followed by hand,
 *    layers applied in order to a map of paths with whiteouts handled as the
 *    OCI image spec describes them (a different algorithm from src/inspect's
 *    tree: whiteouts first against the set of lower paths, then entries);
 * The comparisons (and running bin/baseimg) are in inspect-compare.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { decompress as zstdDecompress } from 'fzstd';
import { compress, rawTar, type RawTarEntry } from '../helpers/make-deb.js';

/** The shared fixture images, read in place (../shared beside the project, in CI too). */
export const FIXTURES = join(PROJECT_ROOT, '..', 'shared', 'fixtures', 'images');

const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

// ---------------------------------------------------------------- building archives

/** 'zst' is a zstd frame of raw blocks (no zstd binary needed); 'zst-cli' is real zstd -3 output (needs the zstd tool). */
export type LayerCompression = 'gz' | 'zst' | 'zst-cli' | 'none';

export interface TestLayer {
  entries?: RawTarEntry[];
  /** Raw tar bytes instead of entries. */
  tar?: Buffer;
  compression?: LayerCompression;
  /** Stored blob bytes override (after compression), for corruption tests. */
  stored?: Buffer;
}

export interface TestImage {
  layers: TestLayer[];
  tag?: string;
  architecture?: string;
  os?: string;
  config?: Record<string, unknown>;
}

export type ArchiveStyle = 'oci' | 'docker25' | 'docker25-null-index' | 'docker' | 'docker-symlinks';

export interface BuiltBlobs {
  layers: Array<{ stored: Buffer; tar: Buffer; digest: string; diffId: string }>;
  config: Buffer;
  configDigest: string;
  manifest: Buffer;
  manifestDigest: string;
}

export interface BuiltArchive {
  tar: Buffer;
  images: BuiltBlobs[];
  /** Outer entries, for tests that want to tamper before packing again. */
  entries: RawTarEntry[];
}

export async function blobsOf(image: TestImage): Promise<BuiltBlobs> {
  const layers = [];
  for (const l of image.layers) {
    const tar = l.tar ?? rawTar(l.entries ?? []);
    const stored = l.stored ?? (await compressLayer(tar, l.compression ?? 'gz'));
    layers.push({ stored, tar, digest: sha256(stored), diffId: sha256(tar) });
  }
  const config = Buffer.from(JSON.stringify({
    architecture: image.architecture ?? 'amd64',
    os: image.os ?? 'linux',
    created: '2023-11-14T22:13:20Z',
    config: { User: '65532', Env: ['PATH=/usr/bin:/bin'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created_by: `test layer ${i + 1}` })),
    ...image.config,
  }));
  const mediaType = (c: LayerCompression | undefined): string =>
    `application/vnd.oci.image.layer.v1.tar${c === 'none' ? '' : c?.startsWith('zst') ? '+zstd' : '+gzip'}`;
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l, i) => ({ mediaType: mediaType(image.layers[i]!.compression), digest: l.digest, size: l.stored.length })),
  }));
  return { layers, config, configDigest: sha256(config), manifest, manifestDigest: sha256(manifest) };
}

async function compressLayer(tar: Buffer, kind: LayerCompression): Promise<Buffer> {
  if (kind === 'zst') return zstdRawBlocks(tar);
  return compress(tar, kind === 'zst-cli' ? 'zst' : kind);
}

/**
 * A valid zstd frame that stores `data` in raw (uncompressed) blocks of up to
 * 128 KiB (RFC 8878 §3.1.1): enough to exercise detection and decoding
 * without the zstd tool, which unit tests must not need.
 */
export function zstdRawBlocks(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3])]; // magic; no checksum, no content size; window 2^17
  const max = 128 << 10;
  let at = 0;
  do {
    const size = Math.min(max, data.length - at);
    const last = at + size >= data.length ? 1 : 0;
    const header = (size << 3) | last; // block type 0 = raw
    parts.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff]), data.subarray(at, at + size));
    at += size;
  } while (at < data.length);
  return Buffer.concat(parts);
}

const hex = (digest: string): string => digest.slice(7);
const file = (name: string, content: Buffer | string): RawTarEntry => ({ name, content, mode: 0o644 });

/** An image tarball holding `images` in the given layout. */
export async function buildArchive(images: TestImage | TestImage[], style: ArchiveStyle = 'oci'): Promise<BuiltArchive> {
  const list = Array.isArray(images) ? images : [images];
  const built = await Promise.all(list.map(blobsOf));
  const entries: RawTarEntry[] = [];
  const tags = list.map((img, i) => img.tag ?? `inspect-test-${i + 1}:latest`);
  if (style === 'oci' || style.startsWith('docker25')) {
    const blobs = new Map<string, Buffer>();
    for (const b of built) {
      blobs.set(hex(b.configDigest), b.config);
      blobs.set(hex(b.manifestDigest), b.manifest);
      for (const l of b.layers) blobs.set(hex(l.digest), l.stored);
    }
    entries.push({ name: 'blobs/', type: 'dir', mode: 0o755 }, { name: 'blobs/sha256/', type: 'dir', mode: 0o755 });
    for (const [h, data] of [...blobs].sort()) entries.push(file(`blobs/sha256/${h}`, data));
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: style === 'docker25-null-index' ? null : built.map((b, i) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: b.manifestDigest, size: b.manifest.length,
        platform: { architecture: list[i]!.architecture ?? 'amd64', os: list[i]!.os ?? 'linux' },
        annotations: { 'io.containerd.image.name': `docker.io/library/${tags[i]}`, 'org.opencontainers.image.ref.name': tags[i]!.split(':')[1] },
      })),
    };
    entries.push(file('index.json', JSON.stringify(index)));
    if (style !== 'oci') {
      entries.push(file('manifest.json', JSON.stringify(built.map((b, i) => ({
        Config: `blobs/sha256/${hex(b.configDigest)}`, RepoTags: [tags[i]], Layers: b.layers.map((l) => `blobs/sha256/${hex(l.digest)}`),
      })))));
    }
    entries.push(file('oci-layout', '{"imageLayoutVersion":"1.0.0"}'));
  } else {
    // docker save: <config hex>.json, <id>/layer.tar (+ VERSION, json), manifest.json, repositories
    const manifest = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const [i, b] of built.entries()) {
      entries.push(file(`${hex(b.configDigest)}.json`, b.config));
      const layerPaths: string[] = [];
      let parent = '';
      for (const l of b.layers) {
        const id = createHash('sha256').update(`${parent}/${l.diffId}`).digest('hex');
        entries.push({ name: `${id}/`, type: 'dir', mode: 0o755 }, file(`${id}/VERSION`, '1.0'), file(`${id}/json`, JSON.stringify({ id, ...(parent ? { parent } : {}) })));
        if (style === 'docker-symlinks') {
          // podman: the blob at top level, <id>/layer.tar a symlink to it
          entries.push(file(`${hex(l.diffId)}.tar`, l.stored), { name: `${id}/layer.tar`, type: 'symlink', linkname: `../${hex(l.diffId)}.tar` });
          layerPaths.push(`${hex(l.diffId)}.tar`);
        } else {
          entries.push(file(`${id}/layer.tar`, l.stored));
          layerPaths.push(`${id}/layer.tar`);
        }
        parent = id;
      }
      const [repo, tag] = tags[i]!.split(':') as [string, string];
      repositories[repo] = { ...repositories[repo], [tag]: parent };
      manifest.push({ Config: `${hex(b.configDigest)}.json`, RepoTags: [tags[i]], Layers: layerPaths });
    }
    entries.push(file('manifest.json', JSON.stringify(manifest)), file('repositories', JSON.stringify(repositories)));
  }
  return { tar: rawTar(entries), images: built, entries };
}

const dirE = (name: string, mode = 0o755, extra: Partial<RawTarEntry> = {}): RawTarEntry => ({ name, type: 'dir', mode, ...extra });
const fileE = (name: string, content: string | Buffer, mode = 0o644, extra: Partial<RawTarEntry> = {}): RawTarEntry => ({ name, content, mode, ...extra });

/** Three layers exercising replacement, whiteouts, an opaque directory and cross-layer hard links. */
export const THREE_LAYERS: TestImage['layers'] = [
  {
    entries: [
      dirE('./'), dirE('etc/'), fileE('etc/passwd', 'root:x:0:0::/root:/sbin/nologin\n'), dirE('usr/'), dirE('usr/bin/'),
      fileE('usr/bin/tool', Buffer.alloc(5000, 7), 0o755), dirE('var/'), dirE('var/cache/'), fileE('var/cache/a', 'a'), fileE('var/cache/b', 'b'),
      fileE('old', 'old file'), dirE('gone/'), fileE('gone/x', 'x'), fileE('replaced', 'was a file'), dirE('dir2file/'), fileE('dir2file/inner', 'i'),
      { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
    ],
  },
  {
    entries: [
      dirE('var/cache/', 0o700, { uid: 5, gid: 6 }), fileE('var/cache/.wh..wh..opq', ''), fileE('var/cache/c', 'c'),
      fileE('.wh.old', ''), fileE('.wh.gone', ''), { name: 'replaced', type: 'symlink', linkname: 'etc/passwd' },
      fileE('dir2file', 'now a file'), { name: 'usr/bin/tool-link', type: 'hardlink', linkname: 'usr/bin/tool' },
      fileE('setuid', 'x', 0o4755, { uid: 1000, gid: 1000 }),
    ],
  },
  {
    entries: [fileE('etc/passwd', 'root:x:0:0::/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n'), fileE('gone', 'back as a file')],
  },
];

// ---------------------------------------------------------------- independent flattening

export interface RefEntry {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkTarget?: string;
  content?: Buffer;
  /** Hard links share an inode number. */
  inode: number;
  implicit?: boolean;
}

export type RefFs = Map<string, RefEntry>;

interface RawEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname: string | undefined;
  content: Buffer;
}

/** Every entry of a tar, bodies included (tar-stream, no hardening). */
export async function readAll(tar: Buffer): Promise<RawEntry[]> {
  const out: RawEntry[] = [];
  const parser = extract();
  const done = new Promise<void>((resolve, reject) => {
    parser.on('finish', resolve);
    parser.on('error', reject);
  });
  parser.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      // tar-stream leaves PAX uid/gid (ids beyond ustar's 7 octal digits) in header.pax
      const pax = (header as { pax?: Record<string, string> }).pax ?? {};
      const uid = pax.uid !== undefined ? Number(pax.uid) : header.uid ?? 0;
      const gid = pax.gid !== undefined ? Number(pax.gid) : header.gid ?? 0;
      out.push({ name: header.name, type: header.type ?? 'file', mode: header.mode ?? 0, uid, gid, linkname: header.linkname ?? undefined, content: Buffer.concat(chunks) });
      next();
    });
  });
  parser.end(tar);
  await done;
  return out;
}

const clean = (name: string): string => name.split('/').filter((p) => p !== '' && p !== '.').join('/');
const TYPES: Record<string, RefEntry['type']> = { file: 'file', 'contiguous-file': 'file', directory: 'dir', symlink: 'symlink', 'character-device': 'char', 'block-device': 'block', fifo: 'fifo' };

async function unpackLayer(stored: Buffer): Promise<Buffer> {
  if (stored[0] === 0x1f && stored[1] === 0x8b) return gunzipSync(stored);
  if (stored.readUInt32LE(0) === 0xfd2fb528) return Buffer.from(zstdDecompress(stored));
  return stored;
}

/** Apply layer tars, bottom first, to a map of paths ("/a/b"). */
export async function flattenLayerTars(layers: Buffer[]): Promise<RefFs> {
  const fs: RefFs = new Map([['/', { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, inode: 0, implicit: true }]]);
  let inode = 1;
  const dropTree = (p: string, only?: Set<string>): void => {
    for (const k of [...fs.keys()]) if ((k === p || k.startsWith(p === '/' ? '/' : `${p}/`)) && k !== '/' && (!only || only.has(k))) fs.delete(k);
  };
  for (const layer of layers) {
    const entries = await readAll(layer);
    const lower = new Set(fs.keys());
    for (const e of entries) {
      const parts = clean(e.name).split('/');
      const base = parts.pop()!;
      const dir = '/' + parts.join('/');
      if (!base.startsWith('.wh.')) continue;
      if (base === '.wh..wh..opq') {
        for (const k of lower) if (k.startsWith(dir === '/' ? '/' : `${dir}/`) && k !== '/') fs.delete(k);
      } else if (!base.startsWith('.wh..wh.')) {
        dropTree(`${dir === '/' ? '' : dir}/${base.slice(4)}`, lower);
      }
    }
    for (const e of entries) {
      const rel = clean(e.name);
      if (rel.split('/').pop()!.startsWith('.wh.')) continue;
      const p = '/' + rel;
      const meta = { mode: e.mode & 0o7777, uid: e.uid, gid: e.gid };
      if (rel === '') {
        if (e.type === 'directory') Object.assign(fs.get('/')!, meta, { implicit: false });
        continue;
      }
      const segs = rel.split('/');
      for (let i = 1; i < segs.length; i++) {
        const a = '/' + segs.slice(0, i).join('/');
        if (!fs.has(a)) fs.set(a, { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, inode: inode++, implicit: true });
      }
      const existing = fs.get(p);
      if (e.type === 'directory' && existing?.type === 'dir') {
        Object.assign(existing, meta, { implicit: false });
        continue;
      }
      if (e.type === 'link') {
        const target = fs.get('/' + clean(e.linkname ?? ''));
        assert.ok(target, `reference: hard link ${p} to missing ${e.linkname}`);
        dropTree(p);
        fs.set(p, target);
        continue;
      }
      dropTree(p);
      const type = TYPES[e.type];
      assert.ok(type, `reference: unexpected entry type ${e.type}`);
      fs.set(p, {
        type, ...meta, inode: inode++,
        size: type === 'file' ? e.content.length : 0,
        ...(type === 'file' ? { content: e.content } : {}),
        ...(type === 'symlink' ? { linkTarget: e.linkname ?? '', mode: 0o777 } : {}),
      });
    }
  }
  return fs;
}

export interface RefImage {
  fs: RefFs;
  layers: Buffer[];
  /** Whether any layer was missing from the archive (foreign, left out). */
  skipped: number;
}

/**
 * Flatten the image in an archive without src/: index.json (manifest chosen
 * by `pick`, default the only one), else manifest.json entry `pick`, else
 * repositories + parent chains, else the whole tar as a root filesystem.
 */
export async function referenceFlatten(archive: Buffer, pick: { manifestDigest?: string; entry?: number } = {}): Promise<RefImage> {
  let outer = archive;
  if (outer[0] === 0x1f && outer[1] === 0x8b) outer = gunzipSync(outer);
  const files = new Map<string, RawEntry>();
  for (const e of await readAll(outer)) files.set(clean(e.name), e);
  const get = (name: string): Buffer | undefined => {
    let n = clean(name);
    for (let i = 0; i < 10; i++) {
      const e = files.get(n);
      if (!e) return undefined;
      if (e.type !== 'symlink') return e.content;
      n = clean([...n.split('/').slice(0, -1), ...(e.linkname ?? '').split('/')].reduce<string[]>((acc, p) => (p === '..' ? acc.slice(0, -1) : [...acc, p]), []).join('/'));
    }
    return undefined;
  };
  const json = (name: string): any => JSON.parse(get(name)!.toString('utf8'));
  const layerBlobs: Array<Buffer | undefined> = [];
  const index = get('index.json') ? json('index.json') : undefined;
  if (index?.manifests?.length) {
    const flat: any[] = [];
    const walk = (list: any[]): void => {
      for (const d of list) {
        const blob = get(`blobs/sha256/${hex(d.digest)}`);
        const doc = blob ? JSON.parse(blob.toString()) : undefined;
        if (doc?.manifests) walk(doc.manifests);
        else if (doc) flat.push({ digest: d.digest, doc });
      }
    };
    walk(index.manifests);
    const chosen = pick.manifestDigest ? flat.find((m) => m.digest === pick.manifestDigest) : flat[0];
    assert.ok(chosen, 'reference: no manifest');
    for (const l of chosen.doc.layers) layerBlobs.push(get(`blobs/sha256/${hex(l.digest)}`));
  } else if (get('manifest.json') && Array.isArray(json('manifest.json'))) {
    const entry = json('manifest.json')[pick.entry ?? 0];
    for (const l of entry.Layers) layerBlobs.push(get(l));
  } else if (get('repositories')) {
    const repos = json('repositories');
    let id: string | undefined = Object.values(Object.values(repos)[0] as Record<string, string>)[0];
    const chain: string[] = [];
    while (id) {
      chain.unshift(id);
      id = json(`${id}/json`).parent;
    }
    for (const c of chain) layerBlobs.push(get(`${c}/layer.tar`));
  } else {
    layerBlobs.push(outer);
  }
  const layers: Buffer[] = [];
  for (const b of layerBlobs) if (b) layers.push(await unpackLayer(b));
  return { fs: await flattenLayerTars(layers), layers, skipped: layerBlobs.filter((b) => !b).length };
}

// ---------------------------------------------------------------- self-checks

// Only when run as a test file itself, not when imported by another inspect test.
const runSelfChecks = process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename;

if (runSelfChecks) describe('inspect test library: reference flattener', () => {
  it('applies whiteouts, opaque directories and replacements the way the OCI spec describes', async () => {
    const l1 = rawTar([
      { name: 'a/', type: 'dir', mode: 0o755 }, { name: 'a/x', content: 'x' }, { name: 'a/y', content: 'y' },
      { name: 'b/', type: 'dir', mode: 0o755 }, { name: 'b/z', content: 'z' }, { name: 'f', content: 'file' },
    ]);
    const l2 = rawTar([
      { name: 'a/', type: 'dir', mode: 0o700 }, { name: 'a/.wh..wh..opq' }, { name: 'a/new', content: 'n' },
      { name: 'b/.wh.z' }, { name: 'f', type: 'symlink', linkname: 'b' }, { name: 'h', type: 'hardlink', linkname: 'a/new' },
    ]);
    const fs = await flattenLayerTars([l1, l2]);
    assert.deepEqual([...fs.keys()].sort(), ['/', '/a', '/a/new', '/b', '/f', '/h']);
    assert.equal(fs.get('/a')!.mode, 0o700);
    assert.equal(fs.get('/f')!.type, 'symlink');
    assert.equal(fs.get('/h')!.inode, fs.get('/a/new')!.inode);
  });

  it('reads every archive style back to the same filesystem', async () => {
    const image: TestImage = { layers: [{ entries: [{ name: 'etc/', type: 'dir', mode: 0o755 }, { name: 'etc/hostname', content: 'box\n' }] }] };
    for (const style of ['oci', 'docker25', 'docker25-null-index', 'docker', 'docker-symlinks'] as const) {
      const { tar } = await buildArchive(image, style);
      const ref = await referenceFlatten(tar);
      assert.deepEqual([...ref.fs.keys()].sort(), ['/', '/etc', '/etc/hostname'], style);
    }
  });
});
