/**
 * src/inspect reads every archive layout and layer compression to the same
 * filesystem as the independent reference flattener: OCI layout, Docker 25+
 * (index + manifest.json, and "manifests": null), docker save with
 * <id>/layer.tar, podman's symlinked layer blobs, a layout directory, a
 * gzip-compressed tarball; gzip, zstd and uncompressed layers. Also: choosing
 * among several images, and the notes for odd archives.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ImageArchive, openImage, type Image } from '../../src/inspect/index.js';
import { BaseimgError } from '../../src/util/errors.js';
import type { RawTarEntry } from '../helpers/make-deb.js';
import { comparable, contents } from './inspect-compare.test.js';
import { buildArchive, referenceFlatten, THREE_LAYERS, type ArchiveStyle, type RefFs, type TestImage } from './inspect-testlib.test.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baseimg-inspect-formats-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
async function save(tar: Buffer, name = `img-${++counter}.tar`): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, tar);
  return path;
}

/** The view of `img` in the reference's shape, contents hashed through the content reader. */
async function viewOf(img: Image): Promise<{ meta: ReturnType<typeof comparable>; content: Record<string, string> }> {
  const flat = await img.flatten({ digests: true });
  const fs: RefFs = new Map();
  const content: Record<string, string> = {};
  for (const [path, node] of flat.view.walk()) {
    if (path === '/') continue;
    const m = node.kind === 'file' ? node.inode : node;
    fs.set(path, {
      type: node.kind, mode: m.mode, uid: m.uid, gid: m.gid, size: node.kind === 'file' ? node.inode.size : 0, inode: 0,
      ...(node.kind === 'symlink' ? { linkTarget: node.target } : {}),
    });
    if (node.kind === 'file') {
      const chunks: Buffer[] = [];
      for await (const c of img.readFile(flat.view, path)) chunks.push(c);
      const { createHash } = await import('node:crypto');
      content[path] = `sha256:${createHash('sha256').update(Buffer.concat(chunks)).digest('hex')}`;
      assert.equal(content[path], node.inode.sha256, `${path}: content read later differs from the hash taken while flattening`);
    }
  }
  return { meta: comparable(fs), content };
}

async function assertSameAsReference(path: string, tar: Buffer, pick: Parameters<typeof referenceFlatten>[1] = {}, selector = {}): Promise<void> {
  const ref = await referenceFlatten(tar, pick);
  const img = await openImage(path, selector);
  try {
    const got = await viewOf(img);
    assert.deepEqual(got.meta, comparable(ref.fs));
    assert.deepEqual(got.content, contents(ref.fs));
  } finally {
    await img.close();
  }
}

const dirE = (name: string, mode = 0o755, extra: Partial<RawTarEntry> = {}): RawTarEntry => ({ name, type: 'dir', mode, ...extra });
const fileE = (name: string, content: string | Buffer, mode = 0o644, extra: Partial<RawTarEntry> = {}): RawTarEntry => ({ name, content, mode, ...extra });

describe('inspect: archive layouts', () => {
  for (const style of ['oci', 'docker25', 'docker25-null-index', 'docker', 'docker-symlinks'] as ArchiveStyle[]) {
    for (const compression of ['gz', 'zst', 'none'] as const) {
      it(`${style} with ${compression} layers flattens like the reference`, async () => {
        const image: TestImage = { layers: THREE_LAYERS.map((l) => ({ ...l, compression })) };
        const { tar } = await buildArchive(image, style);
        await assertSameAsReference(await save(tar), tar);
      });
    }
  }

  it('reports the format, digest, platform and config of each layout', async () => {
    const image: TestImage = { layers: THREE_LAYERS, architecture: 'arm64', tag: 'demo:1.0', config: { variant: 'v8' } };
    for (const [style, format] of [['oci', 'oci-layout'], ['docker25', 'oci-layout'], ['docker25-null-index', 'docker-archive'], ['docker', 'docker-archive']] as const) {
      const built = await buildArchive(image, style);
      const archive = await ImageArchive.open(await save(built.tar));
      try {
        assert.equal(archive.format, format, style);
        const img = await archive.select();
        assert.deepEqual(img.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
        assert.equal(img.digest, format === 'oci-layout' ? built.images[0]!.manifestDigest : built.images[0]!.configDigest);
        assert.equal(img.config.user, '65532');
        assert.ok(img.refs.some((r) => r.includes('demo')), `${style}: ${img.refs.join(',')}`);
        assert.equal(img.layers.length, 3);
      } finally {
        await archive.close();
      }
    }
  });

  it('reads a gzip-compressed tarball and says so', async () => {
    const { tar } = await buildArchive({ layers: THREE_LAYERS }, 'docker');
    const path = await save(gzipSync(tar), 'compressed.tar.gz');
    await assertSameAsReference(path, tar);
    const archive = await ImageArchive.open(path);
    assert.match(archive.notes.join('\n'), /gzip-compressed/);
    await archive.close();
  });

  it('reads an OCI layout directory', async () => {
    const built = await buildArchive({ layers: THREE_LAYERS }, 'oci');
    const layout = join(dir, 'layout-dir');
    for (const e of built.entries) {
      const name = String(e.name);
      if (e.type === 'dir') await mkdir(join(layout, name), { recursive: true });
      else {
        await mkdir(dirname(join(layout, name)), { recursive: true });
        await writeFile(join(layout, name), e.content ?? '');
      }
    }
    await assertSameAsReference(layout, built.tar);
  });

  it('reads a plain root filesystem tar (docker export) as a one-layer image', async () => {
    const { rawTar } = await import('../helpers/make-deb.js');
    const tar = rawTar([dirE('etc/'), fileE('etc/hostname', 'box\n'), { name: 'link', type: 'symlink', linkname: 'etc/hostname' }]);
    await assertSameAsReference(await save(tar), tar);
    const archive = await ImageArchive.open(join(dir, `img-${counter}.tar`));
    assert.equal(archive.format, 'rootfs-tar');
    assert.match(archive.notes.join('\n'), /plain root filesystem/);
    await archive.close();
  });
});

describe('inspect: choosing an image', () => {
  const amd: TestImage = { layers: [{ entries: [fileE('which', 'amd64')] }], architecture: 'amd64', tag: 'multi:1' };
  const arm: TestImage = { layers: [{ entries: [fileE('which', 'arm64')] }], architecture: 'arm64', tag: 'multi:1' };
  const other: TestImage = { layers: [{ entries: [fileE('which', 'other')] }], architecture: 'amd64', tag: 'other:2' };

  it('selects by --platform and --image, with Docker name normalisation and digest prefixes', async () => {
    const built = await buildArchive([amd, arm, other], 'docker25');
    const path = await save(built.tar);
    const read = async (selector: object): Promise<string> => {
      const img = await openImage(path, selector);
      try {
        const flat = await img.flatten();
        const chunks: Buffer[] = [];
        for await (const c of img.readFile(flat.view, '/which')) chunks.push(c);
        return Buffer.concat(chunks).toString();
      } finally {
        await img.close();
      }
    };
    assert.equal(await read({ image: 'multi:1', platform: 'linux/arm64' }), 'arm64');
    assert.equal(await read({ image: 'docker.io/library/other:2' }), 'other');
    assert.equal(await read({ image: built.images[1]!.manifestDigest.slice(0, 19) }), 'arm64');
    assert.equal(await read({ image: built.images[0]!.manifestDigest.slice(7, 19) }), 'amd64');
  });

  it('lists the choices when the selection is ambiguous or matches nothing', async () => {
    const path = await save((await buildArchive([amd, arm, other], 'docker')).tar);
    await assert.rejects(openImage(path), (e: BaseimgError) => {
      assert.equal(e.code, 'USAGE');
      assert.match(e.message, /holds 3 images; choose one with --image NAME or --platform OS\/ARCH/);
      assert.match(e.message, /multi:1 \[linux\/amd64\]/);
      assert.match(e.message, /multi:1 \[linux\/arm64\]/);
      assert.match(e.message, /other:2 \[linux\/amd64\]/);
      return true;
    });
    await assert.rejects(openImage(path, { image: 'multi:1' }), /holds 2 images matching --image multi:1/);
    await assert.rejects(openImage(path, { platform: 'linux/s390x' }), /no image matches --platform linux\/s390x; it holds:/);
    await assert.rejects(openImage(path, { platform: 'linux' }), /is not os\/arch/);
    const img = await openImage(path, { image: 'multi', platform: 'linux/amd64' });
    assert.deepEqual(img.refs, ['multi:1']);
    await img.close();
  });
});

describe('inspect: foreign layers and odd archives', () => {
  it('skips a foreign layer left out of the archive, with a note naming it', async () => {
    const built = await buildArchive({ layers: [{ entries: [fileE('base', 'b')] }, { entries: [fileE('foreign', 'f')] }] }, 'oci');
    // Rewrite the manifest: layer 2 becomes non-distributable and its blob is dropped.
    const b = built.images[0]!;
    const manifest = JSON.parse(b.manifest.toString());
    manifest.layers[1].mediaType = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
    manifest.layers[1].urls = ['https://layers.example.invalid/foreign'];
    const { createHash } = await import('node:crypto');
    const mbytes = Buffer.from(JSON.stringify(manifest));
    const mdigest = `sha256:${createHash('sha256').update(mbytes).digest('hex')}`;
    const { rawTar } = await import('../helpers/make-deb.js');
    const entries = built.entries
      .filter((e) => e.name !== `blobs/sha256/${b.layers[1]!.digest.slice(7)}` && e.name !== `blobs/sha256/${b.manifestDigest.slice(7)}` && e.name !== 'index.json')
      .concat([
        { name: `blobs/sha256/${mdigest.slice(7)}`, content: mbytes },
        { name: 'index.json', content: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: mdigest, size: mbytes.length }] }) },
      ]);
    const img = await openImage(await save(rawTar(entries)));
    try {
      const flat = await img.flatten();
      assert.ok(flat.view.lookup('/base'));
      assert.equal(flat.view.lookup('/foreign'), undefined);
      assert.match(flat.notes.join('\n'), /layer 2 .* foreign layer the archive does not include; skipped.*layers\.example\.invalid/);
      assert.equal(flat.layers[1]!.skipped, true);
    } finally {
      await img.close();
    }
  });
});
