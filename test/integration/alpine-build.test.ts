/**
 * Alpine end to end through the CLI, against repositories served from
 * 127.0.0.1 and built from the shared fixtures:
 *  - "main": the melange/apko test packages (each signed by its own test
 *    key) plus a ca-certificates-bundle made here, under an APKINDEX made
 *    and signed here with a key generated for the run;
 *  - "third-party": a real abuild-built repository (busybox 1.37.0-r20 and
 *    friends) with its own index and signature, as published.
 * The image is read back independently: every installed package is in
 * /lib/apk/db/installed with every file its data tar holds; real clients
 * load it (podman, skopeo, umoci); two builds give the same bytes; and bad
 * input fails cleanly.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describeRun, listDir, makeTempDir, runCli, sha256File, type CliResult } from '../helpers/cli.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { readImageTarball, readTarEntries, textAt, type ImageTarball, type TarEntry } from '../helpers/image-reader.js';
import { compileProbe, parseProbeOutput } from '../helpers/probe.js';
import { needTools, runOk, skipOrFail } from '../helpers/tools.js';
import { CERT } from '../helpers/finalize-fixtures.js';
import { parseImageRef } from '../../src/image/tarball.js';
import {
  alpineFixturesMissing, fixture, fixtureKey, flipByte, generateApkKey, gzipMembers, makeApk, makeApkIndex, writeRepo, type ApkTestKey,
} from '../helpers/alpine-repo.js';

const MAIN_APKS = [
  'custom-ca-certs-1-1.0.0-r0.apk', 'custom-ca-certs-2-1.0.0-r0.apk', 'package-x-1.0.0-r0.apk', 'package-y-1.0.0-r0.apk',
  'pretend-baselayout-1.0.0-r0.apk', 'replayout-1.0.0-r0.apk', 'tzdata-2023c-r0.apk',
];
const THIRD_PARTY_APKS = ['busybox-1.37.0-r20.apk', 'busybox-binsh-1.37.0-r20.apk', 'ssl_client-1.37.0-r20.apk'];
const PACKAGE_KEYS = ['melange.rsa.pub', 'private_pkg_key.rsa.pub', 'local-melange.rsa.pub'];
const ARISU_KEY = 'arisudesu@users.noreply.github.com-66758c7b.rsa.pub';
const TAG = `baseimg-it-alpine:t${process.pid}`;

let work: string;
let server: TestServer;
let signer: ApkTestKey;
let signerKeyPath: string;
let bundleApk: Buffer;
let main: { spec: string; build: CliResult; tar: string; image: ImageTarball; layer: Map<string, TarEntry> } | undefined;
let loaded = false;
let caseNumber = 0;

const toml = (s: string): string => JSON.stringify(s);
const tomlList = (items: string[]): string => `[${items.map(toml).join(', ')}]`;

interface AlpineSpecOptions {
  name?: string;
  repositories?: string[];
  keys?: string[];
  include: string[];
  exclude?: string[];
  allowUntrusted?: boolean;
  tables?: string;
}

function alpineSpec(o: AlpineSpecOptions): string {
  return [
    `name = ${toml(o.name ?? 'alpine-fixture')}`,
    '[source]',
    'distro = "alpine"',
    `repositories = ${tomlList(o.repositories ?? [`${server.url}/main`])}`,
    `keys = ${tomlList(o.keys ?? [signerKeyPath, ...PACKAGE_KEYS.map(fixtureKey)])}`,
    ...(o.allowUntrusted ? ['allow-untrusted = true'] : []),
    '[packages]',
    `include = ${tomlList(o.include)}`,
    `exclude = ${tomlList(o.exclude ?? [])}`,
    o.tables ?? '',
  ].join('\n');
}

const MAIN_INCLUDE = ['replayout', 'custom-ca-certs-1', 'custom-ca-certs-2', 'package-y', 'tzdata'];
const MAIN_TABLES = '[ca-certificates]\nbundle = true\n[image]\nuser = "nonroot"\nworkdir = "/home/nonroot"\n';

async function build(name: string, spec: string, extra: string[] = []): Promise<{ run: CliResult; tar: string }> {
  const specPath = join(work, `${name}.toml`);
  await writeFile(specPath, spec);
  const tar = join(work, `${name}.tar`);
  const run = await runCli(['build', specPath, '-o', tar, '--cache-dir', join(work, `cache-${name}`), '--tag', TAG, ...extra]);
  return { run, tar };
}

before(async () => {
  if (alpineFixturesMissing()) return;
  work = await makeTempDir('alpine');
  signer = generateApkKey('baseimg-it.rsa.pub');
  signerKeyPath = join(work, 'keys', signer.name);
  await mkdir(join(work, 'keys'));
  await writeFile(signerKeyPath, signer.publicPem);
  bundleApk = makeApk({
    name: 'ca-certificates-bundle',
    version: '20240705-r0',
    origin: 'ca-certificates',
    keys: [signer],
    entries: [{ path: 'etc/', type: 'dir' }, { path: 'etc/ssl/', type: 'dir' }, { path: 'etc/ssl/certs/', type: 'dir' }, { path: 'etc/ssl/certs/ca-certificates.crt', content: CERT('mozilla') }],
  }).file;

  const root = join(work, 'served');
  const mainApks: Record<string, Buffer | string> = { 'ca-certificates-bundle-20240705-r0.apk': bundleApk };
  for (const f of MAIN_APKS) mainApks[f] = fixture(`test-apks/${f}`);
  const apkBytes = await Promise.all(Object.values(mainApks).map((v) => (typeof v === 'string' ? readFile(v) : v)));
  await writeRepo(root, { name: 'main', index: makeApkIndex(apkBytes.map((apk) => ({ apk })), { keys: [signer], description: 'baseimg-it' }), apks: mainApks });
  await writeRepo(root, {
    name: 'third-party',
    index: await readFile(fixture('apkindex/third-party-arisu-3.21-testing-x86_64/APKINDEX.tar.gz')),
    apks: Object.fromEntries(THIRD_PARTY_APKS.map((f) => [f, fixture(`real-apks/third-party/${f}`)])),
  });
  await writeRepo(root, { name: 'unsigned', index: await readFile(fixture('apkindex/unsigned-x86_64/APKINDEX.tar.gz')), apks: {} });
  const hello = await readFile(fixture('test-apks/unsigned/hello-0.1.0-r0.apk'));
  await writeRepo(root, { name: 'unsigned-hello', index: makeApkIndex([{ apk: hello }]), apks: { 'hello-0.1.0-r0.apk': hello } });
  // package-x's data member with one byte changed; the index still names the original.
  const x = await readFile(fixture('test-apks/package-x-1.0.0-r0.apk'));
  const data = gzipMembers(x)[2]!;
  await writeRepo(root, {
    name: 'tampered',
    index: makeApkIndex([{ apk: x }], { keys: [signer] }),
    apks: { 'package-x-1.0.0-r0.apk': flipByte(x, Math.floor((data[0] + data[1]) / 2)) },
  });
  server = await serveDirectory(root);

  const spec = alpineSpec({ include: MAIN_INCLUDE, tables: MAIN_TABLES });
  const { run, tar } = await build('main', spec, ['--json']);
  if (run.code === 0) {
    const image = await readImageTarball(tar);
    main = { spec, build: run, tar, image, layer: image.layers[0]! };
  } else {
    main = undefined;
    process.stderr.write(describeRun(run));
  }
});

after(async () => {
  if (loaded) runOk('podman', ['rmi', '--force', TAG]);
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

function built(): NonNullable<typeof main> {
  assert.ok(main, 'the main Alpine build failed (its output is above)');
  return main;
}

/** Non-directory entries of an .apk's data tar ("usr/share/x"), read with node:zlib and tar-stream. */
async function dataFiles(apk: Buffer): Promise<string[]> {
  const members = gzipMembers(apk);
  const hasSignature = gunzipSync(apk.subarray(members[0]![0], members[0]![1])).subarray(0, 100).toString('latin1').includes('.SIGN.');
  const dataStart = members[hasSignature ? 2 : 1]![0];
  const entries = await readTarEntries(gunzipSync(apk.subarray(dataStart)));
  return entries.filter((e) => e.type !== 'directory' && !e.path.startsWith('PaxHeaders')).map((e) => e.path.replace(/^\.\//, ''));
}

/** path → owning package, from the R: lines of /lib/apk/db/installed. */
function dbFiles(installed: string): Map<string, string> {
  const owners = new Map<string, string>();
  let pkg = '';
  let dir = '';
  for (const line of installed.split('\n')) {
    if (line.startsWith('P:')) pkg = line.slice(2);
    else if (line.startsWith('F:')) dir = line.slice(2);
    else if (line.startsWith('R:')) owners.set(dir === '' ? line.slice(2) : `${dir}/${line.slice(2)}`, pkg);
  }
  return owners;
}

describe('Alpine build from served fixture repositories', { skip: alpineFixturesMissing() }, () => {
  it('baseimg resolve explains every package', async () => {
    const specPath = join(work, 'main.toml');
    const r = await runCli(['resolve', specPath, '--json', '--cache-dir', join(work, 'cache-resolve')]);
    assert.equal(r.code, 0, describeRun(r));
    const doc = JSON.parse(r.stdout) as { packages: Array<{ name: string; reason: string; repository: string }>; sources: Array<{ url: string; key?: string }> };
    const reasons = Object.fromEntries(doc.packages.map((p) => [p.name, p.reason]));
    assert.deepEqual(reasons, {
      'ca-certificates-bundle': 'CA bundle (ca-certificates.bundle = true)',
      'custom-ca-certs-1': 'requested',
      'custom-ca-certs-2': 'requested',
      'package-x': 'package-y → package-x',
      'package-y': 'requested',
      'pretend-baselayout': 'replayout → pretend-baselayout',
      replayout: 'requested',
      tzdata: 'requested',
    });
    assert.equal(doc.sources[0]!.url, `${server.url}/main/x86_64/APKINDEX.tar.gz`);
  });

  it('builds; /lib/apk/db/installed lists every package with every file it placed', async () => {
    const { layer, build: run } = built();
    const installed = textAt(layer, 'lib/apk/db/installed');
    const packages = [...installed.matchAll(/^P:(.+)$/gm)].map((m) => m[1]);
    assert.deepEqual([...packages].sort(), ['ca-certificates-bundle', 'custom-ca-certs-1', 'custom-ca-certs-2', 'package-x', 'package-y', 'pretend-baselayout', 'replayout', 'tzdata']);
    const owners = dbFiles(installed);
    for (const [name, bytes] of [['ca-certificates-bundle', bundleApk], ...MAIN_APKS.map((f) => [f.replace(/-[0-9][^-]*-r[0-9]+\.apk$/, ''), readFileSync(fixture(`test-apks/${f}`))] as const)] as Array<[string, Buffer]>) {
      for (const path of await dataFiles(bytes)) {
        const expected = name === 'pretend-baselayout' && path === 'etc/os-release' ? 'replayout' : name;
        assert.equal(owners.get(path), expected, `${path} of ${name}`);
        assert.ok(layer.has(path), `${path} is in the image`);
      }
    }
    assert.equal(owners.size, [...owners.keys()].length);
    assert.match(run.stderr, /resolved 8 packages/);
  });

  it('writes /etc/apk, accounts, os-release and the CA bundle with the packages\' local certificates', () => {
    const { layer } = built();
    assert.equal(textAt(layer, 'etc/apk/world'), 'ca-certificates-bundle\ncustom-ca-certs-1\ncustom-ca-certs-2\npackage-y\nreplayout\ntzdata\n');
    assert.equal(textAt(layer, 'etc/apk/repositories'), `${server.url}/main\n`);
    assert.equal(textAt(layer, 'etc/apk/arch'), 'x86_64\n');
    assert.deepEqual([...layer.keys()].filter((p) => p.startsWith('etc/apk/keys/')).sort(), [signer.name, ...PACKAGE_KEYS].map((k) => `etc/apk/keys/${k}`).sort());
    assert.match(textAt(layer, 'etc/passwd'), /^nonroot:x:65532:65532:nonroot:\/home\/nonroot:\/sbin\/nologin$/m);
    assert.equal(layer.get('tmp')!.mode & 0o7777, 0o1777);
    assert.match(textAt(layer, 'etc/os-release'), /^ID=replaces$/m);
    const bundle = textAt(layer, 'etc/ssl/certs/ca-certificates.crt');
    assert.ok(bundle.startsWith(CERT('mozilla')));
    assert.equal(bundle.match(/BEGIN CERTIFICATE/g)?.length, 5, 'the shipped one and cert-a..d from custom-ca-certs-1 and -2');
  });

  it('is byte-reproducible: cold cache, warm cache, offline', async () => {
    const { spec, tar } = built();
    const again = await build('main-again', spec);
    assert.equal(again.run.code, 0, describeRun(again.run));
    assert.equal(await sha256File(again.tar), await sha256File(tar));
    const apkRequests = (): number => server.requests.filter((r) => r.path.endsWith('.apk')).length;
    const before = apkRequests();
    const warm = await runCli(['build', join(work, 'main-again.toml'), '-o', join(work, 'warm.tar'), '--cache-dir', join(work, 'cache-main-again'), '--tag', TAG]);
    assert.equal(warm.code, 0, describeRun(warm));
    assert.equal(apkRequests(), before, 'a warm cache serves the packages by their recorded hashes');
    assert.equal(await sha256File(join(work, 'warm.tar')), await sha256File(tar));
    // The first build recorded each package's file hash under its C:, so the cache serves everything offline.
    const offline = await runCli(['build', join(work, 'main.toml'), '-o', join(work, 'offline.tar'), '--cache-dir', join(work, 'cache-main'), '--tag', TAG, '--offline']);
    assert.equal(offline.code, 0, describeRun(offline));
    assert.equal(await sha256File(join(work, 'offline.tar')), await sha256File(tar));
  });

  it('locks; a --locked --offline build from the cache gives the same image; a tampered lock hash is refused', async () => {
    const { tar } = built();
    const specPath = join(work, 'main.toml');
    const lockRun = await runCli(['lock', specPath, '--cache-dir', join(work, 'cache-main')]);
    assert.equal(lockRun.code, 0, describeRun(lockRun));
    const lockPath = join(work, 'main.lock.json');
    const lock = JSON.parse(await readFile(lockPath, 'utf8')) as { architectures: Array<{ packages: Array<{ name: string; sha256: string; checksum: string | null }> }> };
    const packages = lock.architectures[0]!.packages;
    assert.ok(packages.length >= MAIN_INCLUDE.length);
    for (const p of packages) {
      assert.match(p.sha256, /^[0-9a-f]{64}$/, `${p.name}: the lock records the file's SHA-256`);
      assert.match(p.checksum ?? '', /^Q1/, `${p.name}: and its C: checksum`);
    }
    const locked = await runCli(['build', specPath, '--locked', '--offline', '-o', join(work, 'locked.tar'), '--cache-dir', join(work, 'cache-main'), '--tag', TAG]);
    assert.equal(locked.code, 0, describeRun(locked));
    assert.equal(await sha256File(join(work, 'locked.tar')), await sha256File(tar));

    packages[0]!.sha256 = '0'.repeat(64);
    const tamperedPath = join(work, 'tampered.lock.json');
    await writeFile(tamperedPath, JSON.stringify(lock, null, 2));
    const bad = await runCli(['build', specPath, '--locked', '--lock', tamperedPath, '-o', join(work, 'tampered.tar'), '--cache-dir', join(work, 'cache-main'), '--tag', TAG]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, new RegExp(`${packages[0]!.name}[^\n]*(sha256|SHA-256|hash)`, 'i'), 'the error names the package and the hash');
  });

  it('real abuild packages: scripts are listed as skipped, never run', async () => {
    const spec = alpineSpec({
      name: 'busybox',
      repositories: [`${server.url}/third-party`],
      keys: [fixtureKey(ARISU_KEY)],
      include: ['busybox', 'busybox-binsh'],
      exclude: ['so:libc.musl-x86_64.so.1'],
    });
    const { run, tar } = await build('busybox', spec);
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stderr, /busybox 1\.37\.0-r20: not running \.post-install, \.post-upgrade, \.trigger \(triggers on [^)]+\): baseimg never runs package scripts/);
    const layer = (await readImageTarball(tar)).layers[0]!;
    const owners = dbFiles(textAt(layer, 'lib/apk/db/installed'));
    assert.equal(owners.get('bin/busybox'), 'busybox');
    assert.equal(owners.get('bin/sh'), 'busybox-binsh');
    assert.equal(layer.get('bin/sh')!.linkname, '/bin/busybox');
  });

  it('an unsigned repository and package build only with allow-untrusted, with warnings', async (t) => {
    const spec = (allow: boolean): string => alpineSpec({ name: 'unsigned', repositories: [`${server.url}/unsigned-hello`], keys: [], include: ['hello'], exclude: ['busybox'], allowUntrusted: allow });
    const { run } = await build('unsigned', spec(true));
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stderr, /APKINDEX of .*unsigned-hello \(x86_64\) is not signed; accepted because allow-untrusted = true/);
    assert.match(run.stderr, /package hello 0\.1\.0-r0 .* is not signed; accepted because allow-untrusted = true/);
    await buildFails(t, spec(false), /APKINDEX of .*unsigned-hello \(x86_64\) is not signed/);
  });

  it('podman loads the image and runs a program in it as nonroot', async (t) => {
    if (!needTools(t, 'podman')) return;
    const probe = compileProbe(work, 'static');
    const load = runOk('podman', ['load', '-i', built().tar]);
    loaded = true;
    assert.match(load.stdout + load.stderr, new RegExp(TAG.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    if ('problem' in probe) return skipOrFail(t, probe.problem);
    const r = runOk('podman', ['run', '--rm', '--network', 'none', '-v', `${probe.path}:/probe:ro`, parseImageRef(TAG).fullName, '/probe']);
    const out = parseProbeOutput(r.stdout);
    assert.equal(out.get('user'), 'nonroot');
    assert.equal(out.get('home_owned'), 'yes');
    assert.equal(out.get('ca_bundle_certs'), '5');
  });

  it('skopeo reads it as an OCI and a Docker archive', (t) => {
    if (!needTools(t, 'skopeo')) return;
    const oci = JSON.parse(runOk('skopeo', ['inspect', `oci-archive:${built().tar}`]).stdout) as { Digest: string; Architecture: string; Layers: string[] };
    assert.equal(oci.Architecture, 'amd64');
    assert.equal(oci.Layers.length, 1);
    assert.equal(oci.Digest, built().image.manifestDigest);
    runOk('skopeo', ['inspect', `docker-archive:${built().tar}`]);
  });

  it('umoci unpacks it with owners and modes intact', async (t) => {
    if (!needTools(t, 'umoci')) return;
    const layout = join(work, 'layout');
    await mkdir(layout);
    runOk('tar', ['-xf', built().tar, '-C', layout]);
    const bundle = join(work, 'bundle');
    runOk('umoci', ['unpack', '--rootless', '--image', `${layout}:${TAG.split(':')[1]}`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    assert.equal(statSync(join(rootfs, 'tmp')).mode & 0o7777, 0o1777);
    assert.match(readFileSync(join(rootfs, 'lib/apk/db/installed'), 'utf8'), /^P:tzdata$/m);
    assert.equal(statSync(join(rootfs, 'usr/share/zoneinfo/right/Pacific/Kwajalein')).nlink > 1, true, 'hard links survive');
  });
});

/** A failing build: exit status, one short error on stderr, nothing on stdout, no output or scratch file left. */
async function buildFails(t: TestContext, spec: string, pattern: RegExp, code = 1): Promise<void> {
  const dir = join(work, `fail-${++caseNumber}`);
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await mkdir(join(dir, 'out'));
  await writeFile(join(dir, 'spec.toml'), spec);
  const run = await runCli(['build', join(dir, 'spec.toml'), '-o', join(dir, 'out', 'image.tar'), '--cache-dir', join(dir, 'cache')], { env: { TMPDIR: join(dir, 'tmp') } });
  assert.equal(run.code, code, describeRun(run));
  assert.equal(run.stdout, '');
  assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace');
  assert.deepEqual(await listDir(join(dir, 'out')), []);
  assert.deepEqual(await listDir(join(dir, 'tmp')), []);
  const at = run.stderr.search(/^(baseimg: )?error: /m);
  assert.ok(at >= 0, `no error line:\n${run.stderr}`);
  const message = run.stderr.slice(at);
  assert.ok(message.trimEnd().split('\n').length <= 3, `not short:\n${message}`);
  assert.match(message, pattern);
  t.diagnostic(message.split('\n')[0]!);
}

describe('Alpine bad input', { skip: alpineFixturesMissing() }, () => {
  it('an unknown package: suggests close names', (t) =>
    buildFails(t, alpineSpec({ include: ['packge-x'] }), /unknown package "packge-x" in packages\.include \(did you mean "package-x" or "package-y"\?\)/));

  it('an index signed by a key the spec does not trust', (t) =>
    buildFails(t, alpineSpec({ keys: PACKAGE_KEYS.map(fixtureKey), include: ['package-x'] }), /APKINDEX of .*\/main \(x86_64\) is signed by baseimg-it\.rsa\.pub \(RSA256\), which is not among the trusted keys/));

  it('an unsigned repository without allow-untrusted', (t) =>
    buildFails(t, alpineSpec({ repositories: [`${server.url}/unsigned`], include: ['wolfi-baselayout'] }), /APKINDEX of .*\/unsigned \(x86_64\) is not signed/));

  it('a package whose data was changed after signing', (t) =>
    buildFails(t, alpineSpec({ repositories: [`${server.url}/tampered`], include: ['package-x'], exclude: ['pretend-baselayout'] }), /package package-x 1\.0\.0-r0 .*: the data part does not match its datahash/));

  it('a repository URL with no index', (t) =>
    buildFails(t, alpineSpec({ repositories: [`${server.url}/nothing-here`], include: ['x'] }), /repository .*\/nothing-here has no index for x86_64/));

  it('the CA bundle wanted from a repository that lacks it', (t) =>
    buildFails(t, alpineSpec({ repositories: [`${server.url}/third-party`], keys: [fixtureKey(ARISU_KEY)], include: ['busybox'], exclude: ['so:libc.musl-x86_64.so.1'], tables: '[ca-certificates]\nbundle = true' }),
      /unknown package "ca-certificates-bundle" for CA bundle \(ca-certificates\.bundle = true\)/));

  it('a key file that does not exist is a spec error (exit 2)', (t) =>
    buildFails(t, alpineSpec({ keys: [join(work, 'nope.rsa.pub')], include: ['x'] }), /source\.keys/, 2));
});

describe('Alpine specs that include another (layers)', { skip: alpineFixturesMissing() }, () => {
  it('lays out a child as its parent\'s layer plus one holding its packages and the new apk database', async () => {
    const parent = await build('layer-parent', alpineSpec({ name: 'layer-parent', include: ['replayout', 'tzdata'] }), ['--json']);
    assert.equal(parent.run.code, 0, describeRun(parent.run));
    const child = await build('layer-child', 'include = ["layer-parent.toml"]\n\n[packages]\ninclude = ["package-y"]\n', ['--json']);
    assert.equal(child.run.code, 0, describeRun(child.run));
    const [p, c] = [await readImageTarball(parent.tar), await readImageTarball(child.tar)];
    assert.equal(p.manifest.layers.length, 1);
    assert.equal(c.manifest.layers.length, 2);
    assert.deepEqual(c.manifest.layers[0], p.manifest.layers[0], 'the parent\'s layer, byte for byte');
    const top = c.layers[1]!;
    const installed = textAt(top, 'lib/apk/db/installed');
    assert.match(installed, /^P:package-y$/m);
    assert.match(installed, /^P:tzdata$/m, 'the database in the child layer lists every package of the image');
    assert.ok(![...top.keys()].some((path) => path.startsWith('usr/share/zoneinfo/')), 'tzdata stays in the parent\'s layer');
  });
});
