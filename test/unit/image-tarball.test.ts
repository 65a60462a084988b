import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ajvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import { extract, type Header } from 'tar-stream';
import { buildImageConfig, buildManifest, rfc3339 } from '../../src/image/config.js';
import { writeLayer } from '../../src/image/layer.js';
import { parseImageRef, writeImageTarball, writeOciLayoutDir } from '../../src/image/tarball.js';
import type { ImageConfigInput, Layer } from '../../src/image/types.js';
import { BodyStore } from '../../src/rootfs/body-store.js';
import { RootTree } from '../../src/rootfs/tree.js';
import { AtomicWriter, writeFileAtomic } from '../../src/util/atomic-file.js';
import { canonicalJson, hashFile } from '../../src/util/digest.js';

const SDE = 1700000000;
const SCHEMAS = join(import.meta.dirname, '../../../shared/schemas/oci-image-spec');
const FIXTURES = join(import.meta.dirname, '../../../shared/fixtures/images');

let scratch: string;
let layer: Layer;
let store: BodyStore;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-tarball-test-'));
  store = new BodyStore({ dir: scratch });
  const tree = new RootTree(store);
  const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 0 };
  tree.addFile('/etc/passwd', meta, await store.put(Buffer.from('root:x:0:0:root:/root:/sbin/nologin\n')), 36);
  tree.addDirectory('/tmp', { ...meta, mode: 0o1777 });
  layer = await writeLayer(tree, { sourceDateEpoch: SDE, dir: scratch });
});
after(async () => {
  await store.close();
  await rm(scratch, { recursive: true, force: true });
});

function configInput(over: Partial<ImageConfigInput> = {}): ImageConfigInput {
  return {
    arch: 'amd64',
    user: '65532',
    env: [
      ['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ['SSL_CERT_FILE', '/etc/ssl/certs/ca-certificates.crt'],
    ],
    entrypoint: ['/app'],
    cmd: undefined,
    workdir: '/home/nonroot',
    labels: { 'org.example.z': '1', 'org.example.a': '2' },
    exposedPorts: ['8080', '53/udp'],
    stopSignal: 'SIGTERM',
    createdBy: 'baseimg 0.1.0 build static',
    sourceDateEpoch: SDE,
    ...over,
  };
}

function imageOptions(over: Record<string, unknown> = {}) {
  return {
    layers: [layer],
    configJson: buildImageConfig(configInput(), [layer.diffId]),
    manifestAnnotations: { 'org.opencontainers.image.title': 'static' },
    tag: 'static:latest',
    sourceDateEpoch: SDE,
    ...over,
  };
}

/** ajv over the spec's own draft-04 schemas, read in place. */
function ociValidator(): (schema: string, value: unknown) => void {
  // CommonJS modules: the ESM default import is module.exports, whose
  // `default` property is the class / plugin itself.
  const Ajv = ajvDraft04.default;
  const addFormats = ajvFormats.default;
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  for (const f of readdirSync(SCHEMAS).filter((n) => n.endsWith('.json'))) {
    // The schemas refer to their neighbours by file name ("defs.json#/…"), as
    // the spec's own Go validator resolves them; their draft-04 "id"s (some
    // nested, some outside .../schema/image/) would move that base, so they
    // are dropped and every file is registered under its name.
    const schema = withoutIds(JSON.parse(readFileSync(join(SCHEMAS, f), 'utf8')));
    ajv.addSchema(schema as object, `https://opencontainers.org/schema/image/${f}`);
  }
  return (name, value) => {
    const validate = ajv.getSchema(`https://opencontainers.org/schema/image/${name}`)!;
    assert.ok(validate(value), `${name}: ${JSON.stringify(validate.errors)}`);
  };
}

function withoutIds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutIds);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k, x]) => !(k === 'id' && typeof x === 'string'))
      .map(([k, x]) => [k, withoutIds(x)]),
  );
}

interface Entry {
  header: Header;
  body: Buffer;
}

async function readTar(path: string): Promise<Entry[]> {
  const ex = extract();
  const entries: Entry[] = [];
  const done = (async () => {
    for await (const e of ex) {
      const parts: Buffer[] = [];
      for await (const c of e) parts.push(c as Buffer);
      entries.push({ header: e.header, body: Buffer.concat(parts) });
    }
  })();
  ex.end(await readFile(path));
  await done;
  return entries;
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('image config and manifest', () => {
  it('serialises the config canonically with fixed omission rules', () => {
    const json = buildImageConfig(configInput(), [layer.diffId]).toString();
    assert.equal(
      json,
      canonicalJson({
        architecture: 'amd64',
        config: {
          Entrypoint: ['/app'],
          Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'],
          ExposedPorts: { '53/udp': {}, '8080/tcp': {} },
          Labels: { 'org.example.a': '2', 'org.example.z': '1' },
          StopSignal: 'SIGTERM',
          User: '65532',
          WorkingDir: '/home/nonroot',
        },
        created: '2023-11-14T22:13:20Z',
        history: [{ created: '2023-11-14T22:13:20Z', created_by: 'baseimg 0.1.0 build static' }],
        os: 'linux',
        rootfs: { diff_ids: [layer.diffId], type: 'layers' },
      }),
    );
    assert.ok(json.startsWith('{"architecture":"amd64","config":{"Entrypoint":["/app"],"Env":['), 'sorted keys, no whitespace');
    assert.ok(!/\s"|":\s|,\s/.test(json));

    const bare = JSON.parse(
      buildImageConfig(configInput({ env: [], entrypoint: [], cmd: undefined, labels: {}, exposedPorts: [], stopSignal: undefined, user: '', workdir: '', comment: 'hi' }), []).toString(),
    ) as Record<string, unknown>;
    assert.deepEqual(bare.config, {});
    assert.deepEqual(bare.history, []);
    const arm = JSON.parse(buildImageConfig(configInput({ arch: 'arm64', comment: 'c' }), ['sha256:' + 'a'.repeat(64)]).toString()) as Record<string, unknown>;
    assert.equal(arm.architecture, 'arm64');
    assert.equal(arm.variant, 'v8');
    assert.deepEqual(arm.history, [{ created: '2023-11-14T22:13:20Z', created_by: 'baseimg 0.1.0 build static', comment: 'c' }]);
  });

  it('rejects unresolved users, bad env names and bad ports', () => {
    assert.throws(() => buildImageConfig(configInput({ user: 'nonroot' }), []), /must be resolved/);
    assert.throws(() => buildImageConfig(configInput({ env: [['A=B', 'c']] }), []), /environment variable/);
    assert.throws(() => buildImageConfig(configInput({ exposedPorts: ['http'] }), []), /exposed port/);
    assert.throws(() => buildImageConfig(configInput({ exposedPorts: ['70000'] }), []), /exposed port/);
  });

  it('formats SOURCE_DATE_EPOCH as RFC 3339 UTC regardless of TZ', () => {
    const old = process.env.TZ;
    process.env.TZ = 'America/St_Johns';
    try {
      assert.equal(rfc3339(SDE), '2023-11-14T22:13:20Z');
      assert.equal(rfc3339(0), '1970-01-01T00:00:00Z');
    } finally {
      if (old === undefined) delete process.env.TZ;
      else process.env.TZ = old;
    }
    assert.throws(() => rfc3339(-5), /SOURCE_DATE_EPOCH/);
  });

  it('validates config, manifest, index and oci-layout against the OCI schemas', async () => {
    const validate = ociValidator();
    const out = join(scratch, 'schema.tar');
    await writeImageTarball(out, imageOptions());
    const files = new Map((await readTar(out)).map((e) => [e.header.name, e.body]));
    const index = JSON.parse(files.get('index.json')!.toString()) as { manifests: Array<{ digest: string }> };
    const manifestBytes = files.get(`blobs/sha256/${index.manifests[0]!.digest.slice(7)}`)!;
    const manifest = JSON.parse(manifestBytes.toString()) as { config: { digest: string } };
    validate('image-index-schema.json', index);
    validate('image-manifest-schema.json', manifest);
    validate('config-schema.json', JSON.parse(files.get(`blobs/sha256/${manifest.config.digest.slice(7)}`)!.toString()));
    validate('image-layout-schema.json', JSON.parse(files.get('oci-layout')!.toString()));
    // The validator does reject: a manifest without layers is not one.
    assert.throws(() => validate('image-manifest-schema.json', { ...manifest, layers: undefined, schemaVersion: 1 }));
  });

  it('puts the created time and sorted user annotations in the manifest', () => {
    const m = JSON.parse(
      buildManifest({
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: layer.digest, size: 5 },
        layers: [layer],
        sourceDateEpoch: SDE,
        annotations: { 'z.last': '1', 'a.first': '2' },
      }).toString(),
    ) as { annotations: Record<string, string>; layers: unknown[] };
    assert.deepEqual(Object.keys(m.annotations), ['a.first', 'org.opencontainers.image.created', 'z.last']);
    assert.equal(m.annotations['org.opencontainers.image.created'], '2023-11-14T22:13:20Z');
    assert.deepEqual(m.layers, [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }]);
  });
});

describe('image references', () => {
  it('normalises names the way Docker does', () => {
    assert.deepEqual(parseImageRef('static:latest'), { fullName: 'docker.io/library/static:latest', repoTag: 'static:latest', tag: 'latest' });
    assert.deepEqual(parseImageRef('static'), { fullName: 'docker.io/library/static:latest', repoTag: 'static:latest', tag: 'latest' });
    assert.deepEqual(parseImageRef('team/app:1.2'), { fullName: 'docker.io/team/app:1.2', repoTag: 'team/app:1.2', tag: '1.2' });
    assert.deepEqual(parseImageRef('docker.io/library/static:v1'), { fullName: 'docker.io/library/static:v1', repoTag: 'static:v1', tag: 'v1' });
    assert.deepEqual(parseImageRef('localhost:5000/x/y:t'), { fullName: 'localhost:5000/x/y:t', repoTag: 'localhost:5000/x/y:t', tag: 't' });
    assert.deepEqual(parseImageRef('ghcr.io/o/base:nonroot'), { fullName: 'ghcr.io/o/base:nonroot', repoTag: 'ghcr.io/o/base:nonroot', tag: 'nonroot' });
    for (const bad of ['Static:latest', 'static:', 'a@sha256:' + '0'.repeat(64), 'a//b', 'static:-x', '']) {
      assert.throws(() => parseImageRef(bad), /invalid image tag/, bad);
    }
  });
});

describe('writeImageTarball', () => {
  it('writes an OCI layout plus docker manifest.json with deterministic headers', async () => {
    const out = join(scratch, 'static.tar');
    const written = await writeImageTarball(out, imageOptions());
    const bytes = await readFile(out);
    assert.equal(written.size, bytes.length);
    assert.equal(written.path, out);
    const entries = await readTar(out);

    const names = entries.map((e) => e.header.name);
    const blobNames = names.filter((n) => n.startsWith('blobs/sha256/') && n.length > 13);
    assert.deepEqual(names, ['blobs/', 'blobs/sha256/', ...[...blobNames].sort(), 'index.json', 'manifest.json', 'oci-layout']);
    assert.equal(blobNames.length, 3, 'config, layer, manifest');
    for (const e of entries) {
      const h = e.header;
      assert.equal(h.mode, h.type === 'directory' ? 0o755 : 0o644, h.name);
      assert.deepEqual([h.uid, h.gid, h.uname, h.gname], [0, 0, '', ''], h.name);
      assert.equal(h.mtime!.getTime() / 1000, SDE, h.name);
      if (h.name.startsWith('blobs/sha256/') && h.type === 'file') assert.equal(sha(e.body), `sha256:${h.name.slice(13)}`, 'blob named by its digest');
    }
    assert.ok(bytes.subarray(bytes.length - 1024).every((b) => b === 0), 'ends with the end-of-archive marker');

    const file = (n: string): Buffer => entries.find((e) => e.header.name === n)!.body;
    assert.equal(file('oci-layout').toString(), '{"imageLayoutVersion":"1.0.0"}');
    const index = JSON.parse(file('index.json').toString());
    assert.deepEqual(index, {
      manifests: [
        {
          annotations: { 'io.containerd.image.name': 'docker.io/library/static:latest', 'org.opencontainers.image.ref.name': 'latest' },
          digest: written.digest,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          platform: { architecture: 'amd64', os: 'linux' },
          size: file(`blobs/sha256/${written.digest.slice(7)}`).length,
        },
      ],
      mediaType: 'application/vnd.oci.image.index.v1+json',
      schemaVersion: 2,
    });
    const manifest = JSON.parse(file(`blobs/sha256/${written.digest.slice(7)}`).toString());
    assert.equal(manifest.config.digest, written.configDigest);
    assert.deepEqual(manifest.layers, [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }]);
    assert.equal(manifest.annotations['org.opencontainers.image.title'], 'static');
    assert.deepEqual(file(`blobs/sha256/${layer.digest.slice(7)}`), await readFile(layer.path));

    // Docker's manifest.json: same shape as a real `docker save` fixture, paths into blobs/.
    const docker = JSON.parse(file('manifest.json').toString());
    const fixture = await fixtureManifest();
    assert.ok(Array.isArray(docker) && docker.length === 1);
    for (const key of ['Config', 'RepoTags', 'Layers']) assert.equal(typeof docker[0][key], typeof fixture[0]![key], key);
    assert.deepEqual(docker[0], { Config: `blobs/sha256/${written.configDigest.slice(7)}`, Layers: [`blobs/sha256/${layer.digest.slice(7)}`], RepoTags: ['static:latest'] });
    for (const p of [docker[0].Config, ...docker[0].Layers]) assert.ok(names.includes(p), `${p} is in the tarball`);
  });

  it('is byte-identical across runs and independent of TZ and umask', async () => {
    const a = join(scratch, 'a.tar');
    const b = join(scratch, 'b.tar');
    const ra = await writeImageTarball(a, imageOptions());
    const oldTz = process.env.TZ;
    const oldUmask = process.umask(0o077);
    try {
      process.env.TZ = 'Asia/Kathmandu';
      const rb = await writeImageTarball(b, imageOptions());
      assert.deepEqual({ ...rb, path: a }, ra);
    } finally {
      if (oldTz === undefined) delete process.env.TZ;
      else process.env.TZ = oldTz;
      process.umask(oldUmask);
    }
    assert.deepEqual(await readFile(b), await readFile(a));
  });

  it('refuses a damaged layer blob and leaves no output, keeping an existing file', async () => {
    const dir = await mkdtemp(join(scratch, 'damaged-'));
    const out = join(dir, 'img.tar');
    await writeFile(out, 'previous image');
    const damaged = join(dir, 'layer.tar.gz');
    const blob = await readFile(layer.path);
    blob[blob.length - 1] = blob[blob.length - 1]! ^ 0xff;
    await writeFile(damaged, blob);
    await assert.rejects(writeImageTarball(out, imageOptions({ layers: [{ ...layer, path: damaged }] })), /changed since it was written/);
    assert.equal(await readFile(out, 'utf8'), 'previous image');
    assert.deepEqual((await readdir(dir)).sort(), ['img.tar', 'layer.tar.gz']);
    await assert.rejects(writeImageTarball(out, imageOptions({ configJson: buildImageConfig(configInput(), []) })), /diff_ids/);
    await assert.rejects(writeImageTarball(out, imageOptions({ tag: 'Bad Tag' })), /invalid image tag/);
    assert.deepEqual((await readdir(dir)).sort(), ['img.tar', 'layer.tar.gz']);
  });

  it('leaves nothing when aborted before or during the write', async () => {
    const dir = await mkdtemp(join(scratch, 'abort-'));
    const out = join(dir, 'img.tar');
    const before = new AbortController();
    before.abort();
    await assert.rejects(writeImageTarball(out, imageOptions({ signal: before.signal })), { name: 'AbortError' });
    const during = new AbortController();
    const p = writeImageTarball(out, imageOptions({ signal: during.signal }));
    setImmediate(() => during.abort());
    await assert.rejects(p, { name: 'AbortError' });
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('writeOciLayoutDir', () => {
  it('writes the same files as the tarball and replaces an existing layout only on success', async () => {
    const tarPath = join(scratch, 'layout-ref.tar');
    const dir = join(scratch, 'layout');
    const fromTar = await writeImageTarball(tarPath, imageOptions());
    await writeOciLayoutDir(dir, imageOptions({ tag: 'other:old' }));
    const written = await writeOciLayoutDir(dir, imageOptions());
    assert.equal(written.digest, fromTar.digest);
    for (const e of await readTar(tarPath)) {
      if (e.header.type === 'file') assert.deepEqual(await readFile(join(dir, e.header.name)), e.body, e.header.name);
    }
    assert.deepEqual((await readdir(join(dir, 'blobs/sha256'))).length, 3);
    await assert.rejects(writeOciLayoutDir(dir, imageOptions({ layers: [{ ...layer, path: join(scratch, 'missing') }] })));
    assert.ok(existsSync(join(dir, 'index.json')), 'old layout kept');
    assert.deepEqual((await readdir(scratch)).filter((n) => n.includes('.tmp-')), []);
  });
});

describe('atomic files', () => {
  it('commits on success and leaves nothing on failure or abort', async () => {
    const dir = await mkdtemp(join(scratch, 'atomic-'));
    const path = join(dir, 'out.bin');
    await writeFileAtomic(path, async (w) => {
      await w.write(Buffer.from('one'));
      assert.ok(w.tempPath.startsWith(join(dir, '.out.bin.tmp-')));
      assert.ok(existsSync(w.tempPath));
      assert.ok(!existsSync(path), 'not visible before commit');
    });
    assert.equal(await readFile(path, 'utf8'), 'one');

    await assert.rejects(
      writeFileAtomic(path, async (w) => {
        await w.write(Buffer.from('two'));
        throw new Error('boom');
      }),
      /boom/,
    );
    const ac = new AbortController();
    await assert.rejects(
      writeFileAtomic(
        path,
        async (w) => {
          await w.write(Buffer.from('three'));
          ac.abort();
          await w.write(Buffer.from('more'));
        },
        { signal: ac.signal },
      ),
      { name: 'AbortError' },
    );
    const late = new AbortController();
    await assert.rejects(writeFileAtomic(path, async (w) => void (await w.write(Buffer.from('four')), late.abort()), { signal: late.signal }), {
      name: 'AbortError',
    });
    assert.equal(await readFile(path, 'utf8'), 'one');
    assert.deepEqual(await readdir(dir), ['out.bin']);

    const w = await AtomicWriter.create(join(dir, 'x'));
    await w.write(Buffer.from('abc'));
    await w.discard();
    await w.discard();
    assert.deepEqual(await readdir(dir), ['out.bin']);
  });
});

describe('canonical JSON and hashing', () => {
  it('sorts keys at every level, drops undefined members and rejects what JSON cannot hold', async () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: null, y: 'é\n' }], c: undefined }, é: true, Z: 1.5e21 }), '{"Z":1.5e+21,"a":{"d":[3,{"y":"é\\n","z":null}]},"b":1,"é":true}');
    assert.throws(() => canonicalJson({ a: Number.NaN }), /NaN at \$\.a/);
    assert.throws(() => canonicalJson([undefined]), /undefined at \$\[0\]/);
    assert.throws(() => canonicalJson({ d: new Date(0) }), /non-plain object/);
    const path = join(scratch, 'hash-me');
    await writeFile(path, 'abc');
    assert.deepEqual(await hashFile(path), { size: 3, digest: 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' });
  });
});

/** manifest.json of a real `docker save` tarball from the shared fixtures. */
async function fixtureManifest(): Promise<Array<Record<string, unknown>>> {
  const entries = await readTar(join(FIXTURES, 'test_image_1.tar'));
  const m = entries.find((e) => e.header.name === 'manifest.json');
  assert.ok(m, 'fixture has manifest.json');
  return JSON.parse(m.body.toString()) as Array<Record<string, unknown>>;
}
