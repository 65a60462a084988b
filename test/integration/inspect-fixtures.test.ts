/**
 * `baseimg ls|du|cat|export` over every image tarball and OCI layout in
 * ../shared/fixtures/images (read in place; PROVENANCE.md there lists their
 * quirks), checked against two independent flattenings:
 *  - the reference flattener of the inspect test library (tar-stream + a
 *    path map), for every fixture;
 *  - `skopeo copy docker-archive:… oci:…` + `umoci unpack`, for the
 *    fixtures those tools accept (skips when they are missing; fails under CI=true).
 * Also the fixtures' error paths and `inspect`/`diff` on them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { needTools, runOk, skipOrFail } from '../helpers/tools.js';
import {
  assertCliMatchesReference,
  baseimgJson,
  baseimgOk,
  comparable,
  contents,
  describeResult,
  fsFromDir,
  runBaseimg,
} from '../unit/inspect-compare.test.js';
import { buildArchive, FIXTURES, referenceFlatten } from '../unit/inspect-testlib.test.js';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-inspect-fixtures-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function tarballs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return tarballs(p);
    return /\.tar(\.gz)?$/.test(name) ? [p] : [];
  }).sort();
}

/** Fixtures holding several images: how to select each, and which manifest.json entry the reference should take. */
const MULTI: Record<string, Array<{ select: string[]; entry: number }>> = {
  'test_bundle.tar': [{ select: ['--image', 'test_image_2'], entry: 0 }, { select: ['--image', 'test_image_1'], entry: 1 }],
};
/** Fixtures that are not readable images, and what baseimg must say. */
const BROKEN: Record<string, RegExp> = {
  'null_manifest.tar': /null_manifest\.tar holds no image: no index\.json, manifest\.json lists no images/,
};

const ALL = tarballs(FIXTURES);

describe('inspect: every fixture tarball', () => {
  it('finds the fixtures', (t) => {
    if (ALL.length === 0) skipOrFail(t, `no fixture images at ${FIXTURES}`);
    else assert.ok(ALL.length >= 15, `only ${ALL.length} fixture tarballs`);
  });

  for (const file of ALL) {
    const name = relative(FIXTURES, file);
    if (BROKEN[name]) {
      it(`${name}: a clear error`, async () => {
        const r = await runBaseimg(['ls', file]);
        assert.equal(r.code, 1, describeResult(['ls', file], r));
        assert.match(r.stderr, /^baseimg: error: /);
        assert.match(r.stderr, BROKEN[name]!);
      });
      continue;
    }
    for (const { select, entry } of MULTI[name] ?? [{ select: [], entry: 0 }]) {
      it(`${name}${select.length ? ` ${select.join(' ')}` : ''}: ls, du, cat and export agree with the reference flattening`, async () => {
        const ref = await referenceFlatten(await readFile(file), { entry });
        await assertCliMatchesReference(file, ref.fs, select, scratch);
      });
    }
  }

  it('test_bundle.tar without --image lists both images and exits 2', async () => {
    const r = await runBaseimg(['ls', join(FIXTURES, 'test_bundle.tar')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /holds 2 images; choose one with --image NAME or --platform OS\/ARCH:\n {2}test_image_2 \[linux\/amd64\]\n {2}test_image_1 \[linux\/amd64\]/);
  });

  it('notes what is odd about a fixture: missing foreign layer, renamed config, gzip, no manifest', async () => {
    const notesOf = async (f: string): Promise<string> => ((await baseimgJson(['inspect', join(FIXTURES, f)])).notes as string[]).join('\n');
    assert.match(await notesOf('sparse_foreign.tar'), /layer 2 \(015b6ec6[0-9a-f]+\.tar\.gz\) is a foreign layer the archive does not include; skipped.*example\.com/);
    assert.match(await notesOf('mutate/source_image_with_empty_layer_history.tar'), /config 6e0b0504[0-9a-f]+\.json is named after sha256:6e0b0504[0-9a-f]+ but its content hashes to sha256:05b5ec12/);
    assert.match(await notesOf('test_image_1.tar.gz'), /gzip-compressed/);
    assert.match(await notesOf('no_manifest.tar'), /no manifest\.json or index\.json; the image was pieced together from repositories/);
    assert.match(await notesOf('content.tar'), /plain root filesystem tar/);
  });

  it('inspect reports layers, platform and names of a docker save fixture', async () => {
    const doc = await baseimgJson(['inspect', join(FIXTURES, 'mutate/whiteout_image.tar')]);
    assert.equal(doc.archive.format, 'docker-archive');
    assert.equal(doc.image.platform, 'linux/amd64');
    assert.deepEqual(doc.layers.map((l: { entries: number; whiteouts: number; compression: string }) => [l.entries, l.whiteouts, l.compression]), [[3, 0, 'uncompressed'], [2, 1, 'uncompressed'], [0, 0, 'uncompressed']]);
    assert.equal(doc.packages.count, 0);
    assert.equal(doc.sbom.present, false);
  });

  it('diff shows what a whiteout and a symlink replacement change', async () => {
    const doc = await baseimgJson(['diff', join(FIXTURES, 'mutate/source_image.tar'), join(FIXTURES, 'mutate/overwritten_file.tar')]);
    assert.deepEqual(doc.added.map((p: { path: string }) => p.path), ['/bar.txt', '/foo.txt']);
    assert.deepEqual(doc.removed.map((p: { path: string }) => p.path), ['/bar', '/foo']);
    const human = (await baseimgOk(['diff', join(FIXTURES, 'test_image_1.tar'), join(FIXTURES, 'test_load_manifest.tar')], { NO_COLOR: '1' })).toString();
    assert.match(human, /^files 0 added, 0 removed, 0 changed$/m);
  });
});

describe('inspect: hostile and broken images through the CLI', () => {
  it('a layer with ../ fails with an error and a hint, and export writes nothing at all', async () => {
    const { tar } = await buildArchive({ layers: [{ entries: [{ name: 'ok', content: 'fine' }, { name: '../../escape', content: 'x' }] }] }, 'docker');
    const image = join(scratch, 'hostile.tar');
    await writeFile(image, tar);
    const target = join(scratch, 'hostile-out');
    const r = await runBaseimg(['export', image, target]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^baseimg: error: layer 1 \([0-9a-f]{64}\/layer\.tar\) of .*hostile\.tar: entry "\.\.\/\.\.\/escape" climbs out of the image root with "\.\."$/m);
    assert.match(r.stderr, /^ {2}hint: /m);
    assert.equal(existsSync(target), false);
    assert.equal(existsSync(join(scratch, '..', 'escape')), false);
  });

  it('a symlink written through lands inside the export directory', async () => {
    const outside = await mkdtemp(join(scratch, 'outside-'));
    const { tar } = await buildArchive({ layers: [{ entries: [{ name: 'evil', type: 'symlink', linkname: outside }] }, { entries: [{ name: 'evil/pwned', content: 'x' }] }] }, 'oci');
    const image = join(scratch, 'through.tar');
    await writeFile(image, tar);
    const target = join(scratch, 'through-out');
    await baseimgOk(['export', image, target]);
    assert.deepEqual(readdirSync(outside), []);
    assert.equal(statSync(join(target, outside, 'pwned')).isFile(), true);
  });
});

describe('inspect: the fixture OCI layouts', () => {
  const LAYOUTS = join(FIXTURES, 'layout');
  const cases: Array<{ dir: string; select: string[]; manifest?: string; error?: RegExp }> = [
    { dir: 'test_index', select: ['--image', '1'], manifest: 'sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650' },
    { dir: 'test_index', select: ['--image', '2'], manifest: 'sha256:32589985702551b6c56033bb3334432a0a513bf9d6aceda0f67c42b003850720' },
    { dir: 'test_gc_index', select: [] },
    { dir: 'test_index_one_image', select: [] },
    { dir: 'test_index_media_type', select: [] },
    { dir: 'test_gc_image_unknown_mediatype', select: [], error: /manifest blobs\/sha256\/32589985[0-9a-f]+ is not in the archive/ },
  ];

  /** The layout packed as a tarball the way `tar -C dir -cf - .` does it. */
  function packed(dir: string): Buffer {
    const r = spawnSync('tar', ['-C', dir, '-cf', '-', '.'], { maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr?.toString());
    return r.stdout;
  }

  for (const c of cases) {
    it(`${c.dir}${c.select.length ? ` ${c.select.join(' ')}` : ''}: as a directory and as a tarball`, async (t) => {
      const dir = join(LAYOUTS, c.dir);
      if (!existsSync(dir)) return skipOrFail(t, `${dir} is missing`);
      const tar = packed(dir);
      const tarPath = join(scratch, `${c.dir}.tar`);
      await writeFile(tarPath, tar);
      for (const image of [dir, tarPath]) {
        if (c.error) {
          const r = await runBaseimg(['ls', image]);
          assert.equal(r.code, 1, r.stderr);
          assert.match(r.stderr, c.error);
          continue;
        }
        const ref = await referenceFlatten(tar, c.manifest ? { manifestDigest: c.manifest } : {});
        await assertCliMatchesReference(image, ref.fs, c.select, scratch);
      }
    });
  }
});

describe('inspect: fixtures against skopeo + umoci', () => {
  /** skopeo source references of the fixtures those tools read (the others: see PROVENANCE.md). */
  const ACCEPTED: Array<{ file: string; source: string; select: string[] }> = [
    ...['test_image_1.tar', 'test_image_2.tar', 'test_load_manifest.tar', 'mutate/overwritten_file.tar', 'mutate/source_image.tar',
      'mutate/source_image_with_empty_layer_history.tar', 'mutate/whiteout_dir.tar', 'mutate/whiteout_image.tar'].map((file) => ({ file, source: file, select: [] as string[] })),
    { file: 'test_bundle.tar', source: 'test_bundle.tar:@0', select: ['--image', 'test_image_2'] },
    { file: 'test_bundle.tar', source: 'test_bundle.tar:@1', select: ['--image', 'test_image_1'] },
  ];

  for (const c of ACCEPTED) {
    it(`${c.source}: baseimg export equals umoci unpack`, async (t) => {
      if (!needTools(t, 'skopeo', 'umoci')) return;
      const work = await mkdtemp(join(scratch, 'umoci-'));
      runOk('skopeo', ['copy', '-q', `docker-archive:${join(FIXTURES, c.source)}`, `oci:${join(work, 'layout')}:t`]);
      runOk('umoci', ['unpack', '--image', `${join(work, 'layout')}:t`, join(work, 'bundle')], { cwd: work });
      const theirs = await fsFromDir(join(work, 'bundle', 'rootfs'));
      const target = join(work, 'ours');
      await baseimgOk(['export', join(FIXTURES, c.file), target, ...c.select]);
      const ours = await fsFromDir(target);
      assert.deepEqual(comparable(ours), comparable(theirs));
      assert.deepEqual(contents(ours), contents(theirs));
    });
  }

  it('layout/test_index_one_image: baseimg export equals umoci unpack', async (t) => {
    if (!needTools(t, 'umoci')) return;
    const work = await mkdtemp(join(scratch, 'umoci-layout-'));
    const layout = join(work, 'layout');
    await cp(join(FIXTURES, 'layout', 'test_index_one_image'), layout, { recursive: true });
    runOk('chmod', ['-R', 'u+w', layout]);
    // umoci finds images by ref name, which this layout lacks; the copy gets one (the other layouts use Docker media types umoci refuses)
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    index.manifests[0].annotations = { 'org.opencontainers.image.ref.name': 't' };
    await writeFile(join(layout, 'index.json'), JSON.stringify(index));
    runOk('umoci', ['unpack', '--image', `${layout}:t`, join(work, 'bundle')], { cwd: work });
    const target = join(work, 'ours');
    await baseimgOk(['export', join(FIXTURES, 'layout', 'test_index_one_image'), target]);
    assert.deepEqual(comparable(await fsFromDir(target)), comparable(await fsFromDir(join(work, 'bundle', 'rootfs'))));
    assert.deepEqual(contents(await fsFromDir(target)), contents(await fsFromDir(join(work, 'bundle', 'rootfs'))));
  });
});
