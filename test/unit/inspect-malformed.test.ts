/**
 * Broken and hostile archives give one clear IMAGE error naming the tarball
 * and the blob or path: missing blobs, digest and diff_id mismatches, "../"
 * and absolute names in a layer, truncated layers and tarballs, things that
 * are not tarballs at all.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageArchive, openImage } from '../../src/inspect/index.js';
import { BaseimgError } from '../../src/util/errors.js';
import { rawTar, type RawTarEntry } from '../helpers/make-deb.js';
import { buildArchive, FIXTURES, type ArchiveStyle, type TestLayer } from './inspect-testlib.test.js';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baseimg-inspect-bad-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function save(tar: Buffer): Promise<string> {
  const path = join(dir, `bad-${++n}.tar`);
  await writeFile(path, tar);
  return path;
}

/** Open, select, flatten: the whole read path. */
async function readAll(path: string): Promise<void> {
  const img = await openImage(path);
  try {
    await img.flatten();
  } finally {
    await img.close();
  }
}

async function assertImageError(path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(readAll(path), (e: unknown) => {
    assert.ok(e instanceof BaseimgError, `not a BaseimgError: ${String(e)}`);
    assert.equal(e.code, 'IMAGE', e.message);
    assert.ok(e.message.includes(path), `message does not name the tarball: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

const good: TestLayer[] = [{ entries: [{ name: 'etc/', type: 'dir', mode: 0o755 }, { name: 'etc/hostname', content: 'box\n' }] }];

/** The archive's outer entries with one changed or dropped. */
async function tampered(style: ArchiveStyle, layers: TestLayer[], edit: (entries: RawTarEntry[], hexes: { layer: string; config: string; manifest: string }) => RawTarEntry[]): Promise<string> {
  const built = await buildArchive({ layers }, style);
  const b = built.images[0]!;
  return save(rawTar(edit(built.entries, { layer: b.layers[0]!.digest.slice(7), config: b.configDigest.slice(7), manifest: b.manifestDigest.slice(7) })));
}

describe('inspect: missing and mismatched blobs', () => {
  it('names a missing layer blob', async () => {
    const path = await tampered('oci', good, (e, h) => e.filter((x) => x.name !== `blobs/sha256/${h.layer}`));
    await assertImageError(path, /layer 1 blobs\/sha256\/[0-9a-f]{64} is not in the archive/);
  });

  it('names a missing config, and a missing manifest', async () => {
    await assertImageError(await tampered('oci', good, (e, h) => e.filter((x) => x.name !== `blobs/sha256/${h.config}`)), /config blobs\/sha256\/[0-9a-f]{64} is not in the archive/);
    await assertImageError(await tampered('oci', good, (e, h) => e.filter((x) => x.name !== `blobs/sha256/${h.manifest}`)), /manifest blobs\/sha256\/[0-9a-f]{64} is not in the archive/);
    await assertImageError(await tampered('docker', good, (e) => e.filter((x) => !String(x.name).endsWith('/layer.tar'))), /layer 1 of manifest.json entry 1, [0-9a-f]{64}\/layer.tar is not in the archive/);
  });

  it('detects a layer blob whose bytes do not match its digest', async () => {
    const path = await tampered('oci', good, (e, h) => e.map((x) => (x.name === `blobs/sha256/${h.layer}` ? { ...x, content: Buffer.concat([x.content as Buffer, Buffer.alloc(1)]) } : x)));
    await assertImageError(path, /layer 1 \(blobs\/sha256\/[0-9a-f]{64}\) of .* is \d+ bytes, its descriptor says \d+|does not match its digest/);
  });

  it('detects a layer blob that decompresses fine but is not the blob the manifest names', async () => {
    // gzip's MTIME field changes the blob's digest without changing what it decompresses to
    const path = await tampered('oci', good, (e, h) => e.map((x) => (x.name === `blobs/sha256/${h.layer}` ? { ...x, content: Buffer.from(x.content as Buffer).fill(7, 4, 8) } : x)));
    await assertImageError(path, /layer 1 \(blobs\/sha256\/([0-9a-f]{64})\) of .* does not match its digest sha256:\1 \(the blob hashes to sha256:[0-9a-f]{64}\)/);
  });

  it('detects a layer whose content does not match the config diff_id (docker save has no layer digests)', async () => {
    const other = rawTar([{ name: 'etc/hostname', content: 'evil\n' }]);
    const path = await tampered('docker', [{ ...good[0]!, compression: 'none' }], (e) => e.map((x) => (String(x.name).endsWith('/layer.tar') ? { ...x, content: other } : x)));
    await assertImageError(path, /layer 1 \([0-9a-f]{64}\/layer.tar\) of .* does not match the config's diff_id sha256:[0-9a-f]{64} \(the tar hashes to sha256:[0-9a-f]{64}\)/);
  });

  it('detects a config or manifest blob that does not match its digest', async () => {
    const flip = (b: Buffer): Buffer => Buffer.from(b.toString().replace('"amd64"', '"arm64"'));
    await assertImageError(await tampered('oci', good, (e, h) => e.map((x) => (x.name === `blobs/sha256/${h.config}` ? { ...x, content: flip(x.content as Buffer) } : x))), /blobs\/sha256\/[0-9a-f]{64} does not match its digest/);
    const editManifest = (b: Buffer): Buffer => Buffer.from(b.toString().replace('"schemaVersion":2', '"schemaVersion":2,"x":1'));
    await assertImageError(await tampered('oci', good, (e, h) => e.map((x) => (x.name === `blobs/sha256/${h.manifest}` ? { ...x, content: editManifest(x.content as Buffer) } : x))), /does not match its digest/);
  });
});

describe('inspect: hostile layer entries', () => {
  const hostile = async (entries: RawTarEntry[], pattern: RegExp): Promise<void> => {
    for (const compression of ['gz', 'none'] as const) {
      const { tar } = await buildArchive({ layers: [{ entries, compression }] }, 'oci');
      await assertImageError(await save(tar), pattern);
    }
  };

  it('refuses ../ in an entry name', async () => {
    await hostile([{ name: '../../etc/cron.d/evil', content: 'x' }], /layer 1 .*: entry "\.\.\/\.\.\/etc\/cron\.d\/evil" climbs out of the image root/);
    await hostile([{ name: 'usr/../../x', content: 'x' }], /climbs out of the image root/);
  });

  it('refuses an absolute entry name, also one carried by a PAX header', async () => {
    await hostile([{ name: '/etc/passwd', content: 'x' }], /entry "\/etc\/passwd" has an absolute path/);
    await hostile([{ name: 'innocent', content: 'x', pax: { path: '/etc/shadow' } }], /entry "\/etc\/shadow" has an absolute path/);
  });

  it('refuses a hard link whose target climbs out', async () => {
    await hostile([{ name: 'x', type: 'hardlink', linkname: '../../etc/shadow' }], /hard link "x" → target "\.\.\/\.\.\/etc\/shadow" climbs out/);
  });

  it('refuses names that are not UTF-8', async () => {
    await hostile([{ name: Buffer.from([0x66, 0xff, 0x66]), content: 'x' }], /not valid UTF-8/);
  });
});

describe('inspect: truncation and garbage', () => {
  it('reports a truncated uncompressed layer', async () => {
    const tar = rawTar([{ name: 'big', content: Buffer.alloc(4096, 1) }]);
    const cut = tar.subarray(0, 1024);
    const { tar: archive } = await buildArchive({ layers: [{ tar: cut, compression: 'none' }] }, 'oci');
    await assertImageError(await save(archive), /layer 1 .* is truncated/);
  });

  it('reports a truncated gzip layer', async () => {
    const built = await buildArchive({ layers: [{ entries: [{ name: 'big', content: Buffer.alloc(100_000, 3) }] }] }, 'docker');
    const stored = built.images[0]!.layers[0]!.stored;
    const path = await tampered('docker', [{ entries: [{ name: 'big', content: Buffer.alloc(100_000, 3) }], stored: stored.subarray(0, stored.length - 20) }], (e) => e);
    await assertImageError(path, /layer 1 .*(corrupt|truncated|unexpected end)/i);
  });

  it('reports a truncated image tarball', async () => {
    const { tar } = await buildArchive({ layers: good }, 'oci');
    await assertImageError(await save(tar.subarray(0, tar.length - 2048)), /is truncated/);
    await assertImageError(await save(tar.subarray(0, 700)), /is truncated/);
  });

  it('says when a file is not an image tarball at all', async () => {
    await assertImageError(await save(Buffer.from('{"this is": "json"}\n'.repeat(40))), /is not a tar archive/);
    await assertImageError(await save(Buffer.alloc(0)), /is truncated: it is empty/);
    await assert.rejects(ImageArchive.open(join(dir, 'does-not-exist.tar')), /no such file or directory/);
  });

  it('says a tarball whose manifest.json is null holds no image', async () => {
    await assert.rejects(ImageArchive.open(join(FIXTURES, 'null_manifest.tar')), (e: BaseimgError) => {
      assert.equal(e.code, 'IMAGE');
      assert.match(e.message, /null_manifest\.tar holds no image: no index\.json, manifest\.json lists no images/);
      return true;
    });
  });
});
