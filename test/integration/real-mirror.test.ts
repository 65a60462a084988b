/**
 * The shipped specs (debian12 and debian13, static and base) built by
 * bin/baseimg from the real Debian archive, then handed to real clients:
 * podman (load + run a probe as nonroot and as root), skopeo (OCI and
 * Docker archive), umoci unpack and oci-image-tool validate. Asserts
 * properties that survive archive updates, not versions: every resolved
 * package has its status.d entry, os-release names the release, trixie has
 * merged /usr, the CA bundle is where OpenSSL and static programs look.
 *
 * The mirror comes from BASEIMG_DEBIAN_MIRROR or the host's apt sources, as
 * for any build. Without a mirror or a tool the tests skip with a message;
 * under CI=true that is a failure. All four builds share one download cache.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { checkImageRef } from '../../src/util/reference.js';
import { compileProbe, debianGlibcVersion, hostGlibcVersion, parseProbeOutput, type ProbeKind } from '../helpers/probe.js';
import { debianMirrorProblem, haveTool, needTools, runOk, skipOrFail } from '../helpers/tools.js';

interface Target {
  spec: string;
  release: '12' | '13';
  flavour: 'static' | 'base';
  suites: string[];
}

const BOOKWORM = ['bookworm', 'bookworm-updates', 'bookworm-security'];
const TRIXIE = ['trixie', 'trixie-updates', 'trixie-security'];
const TARGETS: Target[] = [
  { spec: 'specs/debian12/static.toml', release: '12', flavour: 'static', suites: BOOKWORM },
  { spec: 'specs/debian12/base.toml', release: '12', flavour: 'base', suites: BOOKWORM },
  { spec: 'specs/debian13/static.toml', release: '13', flavour: 'static', suites: TRIXIE },
  { spec: 'specs/debian13/base.toml', release: '13', flavour: 'base', suites: TRIXIE },
];

const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const NONROOT_UID = 65532;
const TRIPLET: Record<string, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

interface PackageRef {
  name: string;
  version: string;
  architecture: string;
}

/** One built image and where its pieces were unpacked. */
interface Built {
  name: string;
  tar: string;
  ref: { fullName: string; tag: string };
  arch: string;
  digest: string;
  /** Bottom first: base is static's layer, base-nossl's, then its own (include chain). */
  layers: Array<{ digest: string; diffId: string }>;
  /** From `baseimg build --json`. */
  packages: PackageRef[];
  /** From `baseimg resolve --json`. */
  resolved: PackageRef[];
  buildMs: number;
  resolveMs: number;
  stageMs: Record<string, number>;
  /** The tarball extracted: an OCI image layout. */
  layoutDir: string;
  /** The layers extracted in order with tar, independent of the clients under test. */
  rootfs: string;
  loaded: boolean;
}

const mirrorProblem = debianMirrorProblem([...BOOKWORM, ...TRIXIE]);
let scratch: string;
let cacheDir: string;
const probes = new Map<ProbeKind, { path: string } | { problem: string }>();
const loadedImages: string[] = [];

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-real-mirror-'));
  cacheDir = join(scratch, 'cache');
  if (haveTool('gcc')) for (const kind of ['static', 'dynamic'] as const) probes.set(kind, compileProbe(scratch, kind));
});

after(async () => {
  if (loadedImages.length > 0 && haveTool('podman')) runOk('podman', ['rmi', '--force', ...loadedImages]);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

it('a Debian mirror is configured', (t) => {
  if (mirrorProblem !== undefined) skipOrFail(t, mirrorProblem);
});

/** Elapsed wall time of `fn` in ms, with its result. */
function timed<T>(fn: () => T): [T, number] {
  const started = performance.now();
  const result = fn();
  return [result, performance.now() - started];
}

async function buildTarget(target: Target): Promise<Built> {
  const name = `${target.flavour}-debian${target.release}`;
  const tagArg = `baseimg-it-real/${name}:t${process.pid}`;
  const ref = checkImageRef(tagArg);
  assert.ok(typeof ref !== 'string', ref as string);
  const tar = join(scratch, `${name}.tar`);

  const [build, buildMs] = timed(() =>
    runOk(process.execPath, ['bin/baseimg', 'build', target.spec, '-o', tar, '--tag', tagArg, '--cache-dir', cacheDir, '--json', '--timings'], { timeoutMs: 600_000 }),
  );
  const result = JSON.parse(build.stdout) as {
    arch: string;
    digest: string;
    layers: Array<{ digest: string; diffId: string }>;
    packages: PackageRef[];
    timings: Record<string, number>;
  };
  const [resolve, resolveMs] = timed(() => runOk(process.execPath, ['bin/baseimg', 'resolve', target.spec, '--cache-dir', cacheDir, '--json']));
  const resolved = (JSON.parse(resolve.stdout) as { packages: PackageRef[] }).packages;

  const layoutDir = join(scratch, `${name}-layout`);
  const rootfs = join(scratch, `${name}-rootfs`);
  await mkdir(layoutDir);
  await mkdir(rootfs);
  runOk('tar', ['-xf', tar, '-C', layoutDir]);
  assert.equal(result.layers.length, target.flavour === 'static' ? 1 : 3, 'one layer per spec of the include chain');
  // static → base-nossl → base only adds files, so no whiteouts to apply.
  for (const layer of result.layers) runOk('tar', ['-xzf', join(layoutDir, 'blobs/sha256', layer.digest.slice('sha256:'.length)), '-C', rootfs]);

  return {
    name,
    tar,
    ref,
    arch: result.arch,
    digest: result.digest,
    layers: result.layers,
    packages: result.packages,
    resolved,
    buildMs,
    resolveMs,
    stageMs: result.timings,
    layoutDir,
    rootfs,
    loaded: false,
  };
}

function needProbe(t: TestContext, kind: ProbeKind): string | undefined {
  if (!needTools(t, 'gcc')) return undefined;
  const probe = probes.get(kind)!;
  if ('path' in probe) return probe.path;
  skipOrFail(t, probe.problem);
  return undefined;
}

/** `podman load` once per image; later callers reuse it. */
function ensureLoaded(t: TestContext, built: Built): void {
  if (built.loaded) return;
  const load = runOk('podman', ['load', '-i', built.tar]);
  loadedImages.push(built.ref.fullName);
  built.loaded = true;
  t.diagnostic(`podman load: ${(load.stdout + load.stderr).trim().split('\n').find((l) => l.startsWith('Loaded image')) ?? '(no "Loaded image" line)'}`);
  assert.ok((load.stdout + load.stderr).includes(built.ref.fullName), `podman did not report loading ${built.ref.fullName}`);
}

/** Run a probe binary (bind-mounted read-only) in the image; its key=value output. */
function runProbe(built: Built, probePath: string, user: number | undefined): Map<string, string> {
  const userArgs = user === undefined ? [] : ['--user', String(user)];
  const r = runOk('podman', ['run', '--rm', '--network', 'none', ...userArgs, '-v', `${probePath}:/probe:ro`, built.ref.fullName, '/probe']);
  return parseProbeOutput(r.stdout);
}

const describeOptions = { skip: mirrorProblem === undefined ? false : `skipped: ${mirrorProblem}`, timeout: 900_000 };

for (const target of TARGETS) {
  describe(`${target.flavour}-debian${target.release} from the real mirror`, describeOptions, () => {
    let built: Built;
    const bundleSize = (): number => statSync(join(built.rootfs, CA_BUNDLE)).size;

    before(async () => {
      built = await buildTarget(target);
    });

    it('builds, and build and resolve agree on the packages', (t) => {
      const stages = Object.entries(built.stageMs)
        .map(([stage, ms]) => `${stage} ${(ms / 1000).toFixed(2)}`)
        .join(', ');
      t.diagnostic(`build ${built.name}: ${(built.buildMs / 1000).toFixed(1)} s wall (${stages} s), ${built.packages.length} packages, ${statSync(built.tar).size} bytes; resolve --json ${(built.resolveMs / 1000).toFixed(1)} s`);
      assert.match(built.digest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(built.arch, 'amd64', 'the shipped specs build for amd64 by default');
      assert.deepEqual(built.packages, built.resolved.map(({ name, version, architecture }) => ({ name, version, architecture })));
      const names = built.resolved.map((p) => p.name);
      for (const required of ['base-files', 'netbase', 'tzdata', 'media-types']) assert.ok(names.includes(required), `${required} not resolved`);
      assert.equal(names.includes('libc6'), target.flavour === 'base', 'libc6 only in base');
    });

    it('holds the dpkg status.d entries, os-release and accounts', () => {
      for (const pkg of built.resolved) {
        const file = join(built.rootfs, 'var/lib/dpkg/status.d', pkg.name);
        assert.ok(existsSync(file), `status.d/${pkg.name} missing`);
        const control = readFileSync(file, 'utf8');
        assert.match(control, new RegExp(`^Package: ${pkg.name.replace(/[+.]/g, '\\$&')}$`, 'm'));
        assert.ok(control.includes(`\nVersion: ${pkg.version}\n`), `status.d/${pkg.name} is not version ${pkg.version}`);
      }
      const osRelease = readFileSync(join(built.rootfs, 'usr/lib/os-release'), 'utf8');
      assert.match(osRelease, new RegExp(`^VERSION_ID="${target.release}"$`, 'm'));
      assert.match(osRelease, /^ID=debian$/m);
      if (target.release === '13') {
        assert.ok(lstatSync(join(built.rootfs, 'bin')).isSymbolicLink(), 'trixie /bin is not a symlink');
        assert.equal(readlinkSync(join(built.rootfs, 'bin')), 'usr/bin');
      }
      assert.match(readFileSync(join(built.rootfs, 'etc/passwd'), 'utf8'), /^nonroot:x:65532:65532:[^:]*:\/home\/nonroot:/m);
      const libc = join(built.rootfs, 'usr/lib', TRIPLET[built.arch]!, 'libc.so.6');
      assert.equal(existsSync(libc), target.flavour === 'base', `libc.so.6 ${target.flavour === 'base' ? 'missing from' : 'present in'} ${built.name}`);
      const index = JSON.parse(readFileSync(join(built.layoutDir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
      assert.equal(index.manifests[0]?.digest, built.digest, 'index.json names the digest the build reported');
    });

    it('podman loads it; a static probe sees nonroot and root with their homes and the CA bundle', (t) => {
      const probe = needProbe(t, 'static');
      if (probe === undefined || !needTools(t, 'podman')) return;
      ensureLoaded(t, built);
      const digest = runOk('podman', ['image', 'inspect', '--format', '{{.Digest}}', built.ref.fullName]).stdout.trim();
      assert.equal(digest, built.digest, 'podman keeps our manifest digest');

      const nonroot = runProbe(built, probe, NONROOT_UID);
      t.diagnostic(`probe as ${NONROOT_UID}: ${[...nonroot].map(([k, v]) => `${k}=${v}`).join(' ')}`);
      assert.equal(nonroot.get('uid'), String(NONROOT_UID));
      assert.equal(nonroot.get('gid'), String(NONROOT_UID));
      assert.equal(nonroot.get('user'), 'nonroot');
      assert.equal(nonroot.get('home'), '/home/nonroot');
      assert.equal(nonroot.get('home_exists'), 'yes');
      assert.equal(nonroot.get('home_owned'), 'yes');
      assert.equal(nonroot.get('ca_bundle_bytes'), String(bundleSize()), 'the probe reads the whole bundle');
      assert.ok(Number(nonroot.get('ca_bundle_certs')) > 100, `only ${nonroot.get('ca_bundle_certs')} certificates`);
      assert.equal(nonroot.get('tls:/etc/ssl/certs'), 'dir');
      assert.equal(nonroot.get('ssl_cert_file'), CA_BUNDLE, 'SSL_CERT_FILE in the image config names the bundle');
      assert.equal(nonroot.get(`tls:${CA_BUNDLE}`), String(bundleSize()));

      const root = runProbe(built, probe, undefined);
      t.diagnostic(`probe as default user: uid=${root.get('uid')} user=${root.get('user')} home=${root.get('home')}`);
      assert.equal(root.get('uid'), '0', 'the default user is root');
      assert.equal(root.get('user'), 'root');
      assert.equal(root.get('home'), '/root');
      assert.equal(root.get('home_exists'), 'yes');
      assert.equal(root.get('home_owned'), 'yes');
      assert.equal(root.get('ca_bundle_bytes'), String(bundleSize()));
    });

    if (target.flavour === 'base') {
      it('a dynamically linked probe loads libssl.so.3 and finds the CA bundle through OpenSSL', (t) => {
        const probe = needProbe(t, 'dynamic');
        if (probe === undefined || !needTools(t, 'podman')) return;
        // A binary linked here needs the host's glibc symbol versions: valid only if the image's glibc is not older.
        const host = hostGlibcVersion();
        const libc6 = built.resolved.find((p) => p.name === 'libc6');
        const image = libc6 && debianGlibcVersion(libc6.version);
        if (!host || !image || host[0] > image[0] || (host[0] === image[0] && host[1] > image[1])) {
          t.skip(`host glibc ${host?.join('.') ?? 'unknown'} is newer than the image's ${image?.join('.') ?? 'unknown'}: a probe linked here cannot run there`);
          return;
        }
        ensureLoaded(t, built);
        const out = runProbe(built, probe, NONROOT_UID);
        t.diagnostic(`dynamic probe: ${[...out].map(([k, v]) => `${k}=${v}`).join(' ')}`);
        assert.equal(out.get('dlopen'), 'OK');
        assert.match(out.get('openssl') ?? '', /^OpenSSL 3\./);
        assert.equal(out.get('cert_file_env'), 'SSL_CERT_FILE');
        assert.equal(out.get('cert_file'), CA_BUNDLE);
        assert.equal(out.get('cert_file_bytes'), String(bundleSize()));
      });
    }

    it('skopeo inspects it as an OCI archive and as a Docker archive', (t) => {
      if (!needTools(t, 'skopeo')) return;
      const oci = JSON.parse(runOk('skopeo', ['inspect', `oci-archive:${built.tar}`]).stdout) as Record<string, unknown>;
      t.diagnostic(`skopeo oci-archive: Digest ${String(oci.Digest)}, Architecture ${String(oci.Architecture)}, Os ${String(oci.Os)}`);
      assert.equal(oci.Digest, built.digest);
      assert.equal(oci.Architecture, built.arch);
      assert.equal(oci.Os, 'linux');
      assert.deepEqual(oci.Layers, built.layers.map((l) => l.digest));

      // The docker-archive transport reads manifest.json; its Digest is one skopeo synthesises, so not ours.
      const docker = JSON.parse(runOk('skopeo', ['inspect', `docker-archive:${built.tar}`]).stdout) as Record<string, unknown>;
      t.diagnostic(`skopeo docker-archive: Digest ${String(docker.Digest)} (synthesised), Architecture ${String(docker.Architecture)}`);
      assert.equal(docker.Architecture, built.arch);
      assert.equal(docker.Os, 'linux');
      assert.deepEqual(docker.Layers, built.layers.map((l) => l.diffId));
    });

    it('umoci unpacks the layout into a bundle whose rootfs has the accounts', async (t) => {
      if (!needTools(t, 'umoci')) return;
      const bundle = join(scratch, `${built.name}-bundle`);
      await rm(bundle, { recursive: true, force: true });
      const r = runOk('umoci', ['unpack', '--image', `${built.layoutDir}:${built.ref.tag}`, bundle]);
      t.diagnostic(`umoci unpack: exit 0${(r.stdout + r.stderr).trim() ? `, said: ${(r.stdout + r.stderr).trim().replace(/\n/g, ' | ').slice(0, 300)}` : ''}`);
      const rootfs = join(bundle, 'rootfs');
      assert.equal(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), readFileSync(join(built.rootfs, 'etc/passwd'), 'utf8'));
      assert.equal(statSync(join(rootfs, CA_BUNDLE.slice(1))).size, bundleSize());
      if (process.getuid?.() === 0) {
        // Only a root unpack can keep owners.
        const home = statSync(join(rootfs, 'home/nonroot'));
        assert.deepEqual([home.uid, home.gid], [NONROOT_UID, NONROOT_UID]);
      }
      const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { user: { uid: number } } };
      assert.equal(config.process.user.uid, 0, 'the runtime config runs as the image user (root)');
      await rm(bundle, { recursive: true, force: true });
    });

    // oci-image-tool 1.0.0-rc1 cannot walk a tar ("find failed: unable to
    // walk: end of walk") and says --type imageLayout is "unimplemented", so
    // it gets the extracted layout as --type image. That checks oci-layout,
    // that the ref resolves in index.json, the manifest and config against
    // the OCI schemas, and the config and layer blobs against their
    // descriptors' digests (a corrupted blob fails: "digest mismatch"). It
    // cannot check the tarball itself, Docker's manifest.json, or that the
    // image runs; podman, skopeo and umoci above cover those.
    it('oci-image-tool validates the extracted layout', (t) => {
      if (!needTools(t, 'oci-image-tool')) return;
      const r = runOk('oci-image-tool', ['validate', '--type', 'image', '--ref', `name=${built.ref.tag}`, built.layoutDir]);
      const said = (r.stdout + r.stderr).trim().replace(/\n/g, ' | ');
      t.diagnostic(`oci-image-tool: ${said}`);
      assert.match(said, /validation succeeded/i);
    });
  });
}

