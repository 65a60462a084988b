import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildContext } from '../../src/pipeline/context.js';
import type { DebianSource } from '../../src/spec/types.js';
import type { ReleaseInfo } from '../../src/distro/debian/types.js';
import { createFetcher } from '../../src/net/fetcher.js';
import { fetchRelease } from '../../src/distro/debian/release.js';
import { loadPackagesIndex, selectPackagesIndex } from '../../src/distro/debian/packages-index.js';
import { openDebianRepository } from '../../src/distro/debian/repository.js';
import { BaseimgError } from '../../src/util/errors.js';
import { createXzDecompressStream, xzDecompress } from '../../src/util/xz.js';
import { buildDebianRepo, type DebianRepo, type PackagesCompression } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { compress, type DebSpec } from '../helpers/make-deb.js';

const deb = (name: string, version: string, architecture: string, control: Record<string, string> = {}): DebSpec => ({
  name,
  version,
  architecture,
  control: { Description: `${name} for tests\nA longer description.`, ...control },
  entries: [{ path: `./usr/share/doc/${name}/copyright`, type: 'file', content: `${name}\n` }],
});

const MAIN = [
  deb('base-files', '12.4', 'amd64', { Essential: 'yes', Provides: 'base' }),
  deb('libc6', '2.36-9', 'amd64', { Depends: 'libgcc-s1', Maintainer: 'GNU Libc Maintainers <libc@example.org>' }),
  deb('libgcc-s1', '12.2.0-14', 'amd64'),
  deb('tzdata', '2024b-0+deb12u1', 'all'),
];
const CONTRIB = [deb('extra-tool', '1.0', 'amd64')];
const SECURITY = [deb('libc6', '2.36-9+deb12u9', 'amd64')];

let root: string;
let n = 0;
const closers: Array<() => Promise<void>> = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'baseimg-packages-'));
});
after(async () => {
  for (const close of closers) await close();
  await rm(root, { recursive: true, force: true });
});

interface Setup {
  repo: DebianRepo;
  server: TestServer;
  dir: string;
  /** A fresh context (own fetcher) over the shared cache directory of this setup. */
  context(offline?: boolean): BuildContext;
  release(suite?: string): Promise<ReleaseInfo>;
}

async function setup(compressions?: PackagesCompression[]): Promise<Setup> {
  const dir = join(root, `repo${n++}`);
  const repo = await buildDebianRepo(dir, {
    suites: [
      { name: 'fixture', components: { main: MAIN, contrib: CONTRIB }, architectures: ['amd64', 'arm64'] },
      { name: 'fixture-security', components: { main: SECURITY } },
    ],
    packagesCompression: compressions,
  });
  const server = await serveDirectory(dir);
  closers.push(() => server.close());
  const context = (offline = false): BuildContext => {
    const handle = createFetcher({ cacheDir: join(dir, '.cache'), offline, http: { sleep: async () => {}, env: {} } });
    closers.push(() => handle.close());
    return {
      fetcher: handle.fetcher,
      derived: handle.derived,
      reporter: { info() {}, warn() {}, debug() {}, task: () => ({ tick() {}, setTotal() {}, done() {} }), timing() {} },
      tmpDir: dir,
      now: new Date(),
      signal: new AbortController().signal,
      insecureSkipVerify: false,
      offline,
    };
  };
  const release = (suite = 'fixture'): Promise<ReleaseInfo> => fetchRelease(context(), server.url, suite, [repo.keyringPath]);
  return { repo, server, dir, context, release };
}

const indexRequests = (server: TestServer): string[] => server.requests.map((r) => r.path).filter((p) => p.includes('/binary-'));

async function expectError(promise: Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<BaseimgError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof BaseimgError, `expected BaseimgError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

describe('loadPackagesIndex', () => {
  it('loads Packages.gz (preferred over .xz) by hash and maps every paragraph', async () => {
    const { repo, server, release, context } = await setup();
    const rel = await release();
    const packages = await loadPackagesIndex(context(), rel, { component: 'main', arch: 'amd64' });
    assert.deepEqual(packages.map((p) => p.name), ['base-files', 'libc6', 'libgcc-s1', 'tzdata']);
    const libc = packages.find((p) => p.name === 'libc6')!;
    const built = repo.pkg('libc6');
    assert.equal(libc.version, '2.36-9');
    assert.equal(libc.architecture, 'amd64');
    assert.equal(libc.filename, built.poolPath);
    assert.equal(libc.size, built.size);
    assert.equal(libc.sha256, built.sha256);
    assert.equal(libc.suite, 'fixture');
    assert.equal(libc.component, 'main');
    assert.equal(libc.baseUrl, server.url);
    assert.equal(libc.fields.Depends, 'libgcc-s1');
    assert.equal(libc.fields.Maintainer, 'GNU Libc Maintainers <libc@example.org>');
    assert.equal(packages.find((p) => p.name === 'tzdata')!.architecture, 'all');
    const requested = indexRequests(server);
    assert.equal(requested.length, 1);
    assert.match(requested[0]!, /^\/dists\/fixture\/main\/binary-amd64\/by-hash\/SHA256\/[0-9a-f]{64}$/);
  });

  it('loads the parsed copy from the derived cache without downloading or parsing again', async () => {
    const { server, release, context } = await setup();
    const rel = await release();
    const cold = await loadPackagesIndex(context(), rel, { component: 'main', arch: 'amd64' });
    const before = indexRequests(server).length;
    const warm = await loadPackagesIndex(context(true), rel, { component: 'main', arch: 'amd64' });
    assert.deepEqual(warm, cold);
    assert.equal(indexRequests(server).length, before);
  });

  it('falls back to the plain path when by-hash is missing', async () => {
    const { server, release, context, dir } = await setup();
    await rm(join(dir, 'dists/fixture/main/binary-amd64/by-hash'), { recursive: true });
    const packages = await loadPackagesIndex(context(), await release(), { component: 'main', arch: 'amd64' });
    assert.equal(packages.length, 4);
    assert.deepEqual(indexRequests(server).map((p) => p.replace(/[0-9a-f]{64}$/, 'HASH')), [
      '/dists/fixture/main/binary-amd64/by-hash/SHA256/HASH',
      '/dists/fixture/main/binary-amd64/Packages.gz',
    ]);
  });

  it('uses the plain path directly when the archive has no by-hash', async () => {
    const { server, release, context } = await setup();
    const rel = { ...(await release()), acquireByHash: false };
    await loadPackagesIndex(context(), rel, { component: 'main', arch: 'amd64' });
    assert.deepEqual(indexRequests(server), ['/dists/fixture/main/binary-amd64/Packages.gz']);
  });

  it('falls back to Packages.xz, then to the uncompressed index', async () => {
    for (const [compression, file] of [['xz', 'Packages.xz'], ['none', 'Packages']] as const) {
      const { server, release, context } = await setup([compression]);
      const rel = await release();
      assert.equal(selectPackagesIndex(rel, 'main', 'amd64').path, `main/binary-amd64/${file}`);
      const packages = await loadPackagesIndex(context(), { ...rel, acquireByHash: false }, { component: 'main', arch: 'amd64' });
      assert.equal(packages.length, 4);
      assert.deepEqual(indexRequests(server), [`/dists/fixture/main/binary-amd64/${file}`]);
    }
  });

  it('rejects a Packages file whose hash does not match the Release', async () => {
    const { repo, release, context } = await setup();
    const rel = await release();
    const listed = rel.files.get('main/binary-amd64/Packages.gz')!;
    const other = await compress(Buffer.from('Package: evil\n'), 'gz');
    await repo.tamperFile(`dists/fixture/main/binary-amd64/by-hash/SHA256/${listed.sha256}`, () => other);
    await expectError(loadPackagesIndex(context(), rel, { component: 'main', arch: 'amd64' }), 'VERIFY', /Packages index of fixture\/main/, /mismatch/);
  });

  it('checks the uncompressed checksum when the Release lists it', async () => {
    const { release, context } = await setup();
    const rel = await release();
    const files = new Map(rel.files);
    files.set('main/binary-amd64/Packages', { ...files.get('main/binary-amd64/Packages')!, sha256: '0'.repeat(64) });
    await expectError(
      loadPackagesIndex(context(), { ...rel, files }, { component: 'main', arch: 'amd64' }),
      'VERIFY',
      /decompressed index does not match the Release: expected sha256 0{64}/,
    );
  });

  it('names the index and package when a paragraph lacks SHA256, Size or Filename', async () => {
    for (const drop of ['SHA256', 'Size', 'Filename']) {
      const { repo, context, release, dir } = await setup(['xz']);
      const text = `Package: good\nVersion: 1\nArchitecture: all\nFilename: pool/g/good.deb\nSize: 1\nSHA256: ${'a'.repeat(64)}\n\n` +
        `Package: broken\nVersion: 1\nArchitecture: all\nFilename: pool/b/broken.deb\nSize: 1\nSHA256: ${'b'.repeat(64)}\n`.replace(new RegExp(`^${drop}: .*\\n`, 'm'), '');
      await writeFile(join(dir, 'dists/fixture/main/binary-amd64/Packages.xz'), await compress(Buffer.from(text), 'xz'));
      await repo.reindex('fixture');
      await expectError(
        loadPackagesIndex(context(), await release(), { component: 'main', arch: 'amd64' }),
        'VERIFY',
        /dists\/fixture\/main\/binary-amd64\/Packages\.xz: package "broken" has no valid/,
        new RegExp(drop),
      );
    }
  });

  it('rejects a Filename that leaves the archive', async () => {
    const { repo, context, release, dir } = await setup(['xz']);
    const text = `Package: sneaky\nVersion: 1\nArchitecture: all\nFilename: pool/../../etc/passwd\nSize: 1\nSHA256: ${'a'.repeat(64)}\n`;
    await writeFile(join(dir, 'dists/fixture/main/binary-amd64/Packages.xz'), await compress(Buffer.from(text), 'xz'));
    await repo.reindex('fixture');
    await expectError(loadPackagesIndex(context(), await release(), { component: 'main', arch: 'amd64' }), 'VERIFY', /package "sneaky" has no valid Filename/);
  });

  it('reports corrupt compressed data that matches its checksum', async () => {
    const { repo, context, release, dir } = await setup(['xz']);
    const good = await compress(Buffer.from('Package: x\n\n'.repeat(5000)), 'xz');
    await writeFile(join(dir, 'dists/fixture/main/binary-amd64/Packages.xz'), good.subarray(0, good.length - 40));
    await repo.reindex('fixture');
    const rel = await release();
    const files = new Map(rel.files);
    files.delete('main/binary-amd64/Packages');
    await expectError(loadPackagesIndex(context(), { ...rel, files }, { component: 'main', arch: 'amd64' }), 'VERIFY', /cannot decompress/);
  });

  it('releases the xz decoder when parsing fails midway', async () => {
    const { repo, context, release, dir } = await setup(['xz']);
    // A parse error on line 2, long before the end of the compressed stream.
    const text = 'Package: a\nPackage: a\n' + 'Filler: x\n'.repeat(200_000);
    await writeFile(join(dir, 'dists/fixture/contrib/binary-amd64/Packages.xz'), await compress(Buffer.from(text), 'xz'));
    await repo.reindex('fixture');
    const rel = await release();
    await expectError(loadPackagesIndex(context(), rel, { component: 'contrib', arch: 'amd64' }), 'VERIFY', /line 2: duplicate field "Package"/);
    // Decompression is serialised process-wide: this would hang if the failed stream kept the decoder.
    assert.equal((await loadPackagesIndex(context(), rel, { component: 'main', arch: 'amd64' })).length, 4);
  });

  it('explains a missing architecture', async () => {
    const { release } = await setup();
    const rel = await release();
    assert.throws(() => selectPackagesIndex(rel, 'main', 'riscv64'), (err: unknown) => {
      assert.ok(err instanceof BaseimgError);
      assert.equal(err.code, 'MIRROR');
      assert.match(err.message, /fixture\/main has no Packages index for riscv64/);
      assert.match(err.hint!, /amd64, arm64/);
      return true;
    });
  });
});

describe('openDebianRepository', () => {
  const source = (url: string, keyring: string, extra: Partial<DebianSource> = {}): DebianSource => ({
    distro: 'debian',
    mirror: url,
    securityMirror: url,
    suites: ['fixture', 'fixture-security'],
    components: ['main', 'contrib'].slice(0, extra.components?.length ?? 1),
    keyring: [keyring],
    mergedUsr: true,
    ...extra,
  });

  it('returns releases and packages in suite order, then component order', async () => {
    const { repo, server, context } = await setup();
    const opened = await openDebianRepository(source(server.url, repo.keyringPath, { suites: ['fixture', 'fixture-security'] }), 'amd64', context());
    assert.deepEqual(opened.releases.map((r) => r.suite), ['fixture', 'fixture-security']);
    assert.ok(opened.releases.every((r) => r.signedBy.length === 1));
    assert.deepEqual(opened.packages.map((p) => `${p.suite}/${p.name}`), [
      'fixture/base-files', 'fixture/libc6', 'fixture/libgcc-s1', 'fixture/tzdata', 'fixture-security/libc6',
    ]);
    const both = await openDebianRepository(
      source(server.url, repo.keyringPath, { suites: ['fixture'], components: ['contrib', 'main'] }),
      'amd64',
      context(),
    );
    assert.deepEqual(both.packages.map((p) => p.component), ['contrib', 'main', 'main', 'main', 'main']);
  });

  it('explains a suite the mirror does not have, with suggestions', async () => {
    const { repo, server, context } = await setup();
    const err = await expectError(
      openDebianRepository(source(server.url, repo.keyringPath, { suites: ['fixture', 'bookworm-updatse'] }), 'amd64', context()),
      'MIRROR',
      /suite "bookworm-updatse" not found: .*\/dists\/bookworm-updatse\/InRelease does not exist/,
      /did you mean "bookworm-updates"/,
    );
    assert.match(err.hint!, /source\.suites/);
  });

  it('lists the components when one is missing', async () => {
    const { repo, server, context } = await setup();
    const err = await expectError(
      openDebianRepository(source(server.url, repo.keyringPath, { suites: ['fixture'], components: ['main', 'non-free'] }), 'amd64', context()),
      'MIRROR',
      /component "non-free" is not in suite fixture/,
    );
    assert.match(err.hint!, /components of fixture: contrib, main/);
  });
});

describe('xzDecompress', () => {
  const text = Buffer.from('Package: hello\nVersion: 1.0\n\n'.repeat(20_000));
  let xz: Buffer;
  before(async () => {
    xz = await compress(text, 'xz');
  });

  async function drain(input: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Buffer> {
    const out: Buffer[] = [];
    for await (const chunk of xzDecompress(input, { what: 'test.xz', errorCode: 'VERIFY' })) out.push(chunk);
    return Buffer.concat(out);
  }

  it('decompresses input split anywhere, including empty chunks', async () => {
    assert.deepEqual(await drain([xz]), text);
    const pieces: Buffer[] = [];
    for (let at = 0; at < xz.length; at += 997) pieces.push(xz.subarray(at, at + 997), Buffer.alloc(0));
    assert.deepEqual(await drain(pieces), text);
  });

  it('reports truncated, corrupt, empty and non-xz input as BaseimgError naming the input', async () => {
    const corrupt = Buffer.from(xz);
    const middle = Math.floor(corrupt.length / 2);
    corrupt[middle] = corrupt[middle]! ^ 0xff;
    for (const [input, reason] of [
      [xz.subarray(0, xz.length - 30), /truncated|corrupt/],
      [corrupt, /corrupt data/],
      [Buffer.alloc(0), /truncated data/],
      [Buffer.from('plain text, not xz'), /not in xz format/],
    ] as const) {
      await assert.rejects(drain(input.length > 0 ? [input] : []), (err: unknown) => {
        assert.ok(err instanceof BaseimgError);
        assert.equal(err.code, 'VERIFY');
        assert.match(err.message, /^test\.xz: cannot decompress: /);
        assert.match(err.message, reason);
        return true;
      });
    }
  });

  it('passes errors of the compressed source through unchanged', async () => {
    const failing = (async function* () {
      yield xz.subarray(0, 100);
      throw new Error('disk read failed');
    })();
    await assert.rejects(drain(failing), /^Error: disk read failed$/);
  });

  it('frees the decoder when the consumer stops early', async () => {
    for await (const chunk of xzDecompress([xz])) {
      assert.ok(chunk.length > 0);
      break;
    }
    // Would wait forever on the library's global lock otherwise.
    assert.deepEqual(await drain([xz]), text);
  });

  it('works as a Duplex in stream.pipeline', async () => {
    const out: Buffer[] = [];
    await pipeline(
      Readable.from([xz]),
      createXzDecompressStream(),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          out.push(chunk);
          done();
        },
      }),
    );
    assert.deepEqual(Buffer.concat(out), text);
  });
});
