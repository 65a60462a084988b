/**
 * Multi-architecture builds from the fixture archive (amd64 + arm64): one
 * run, one tarball holding an OCI image index with platform fields; read by
 * oci-image-tool, skopeo, podman and baseimg itself, and pushed as an index
 * to a docker-registry on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { standardFixtureRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, listDir, makeTempDir, runCli, sha256File } from '../helpers/cli.js';
import { REGISTRY_BIN, startRegistry } from '../helpers/registry.js';
import { needTools, runOk } from '../helpers/tools.js';

interface MultiJson {
  output: string;
  digest: string;
  mediaType: string;
  architectures: string[];
  images: Array<{ arch: string; digest: string; configDigest: string; sbom: { spdx: string; cyclonedx: string } }>;
}

const TAG = 'baseimg-it/multi:t1';
let work: string;
let server: TestServer;
let spec: string;
let tar: string;
let built: MultiJson;
let layout: string;
const loaded: string[] = [];

const sha256 = (data: string | Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const blob = (digest: string): string => join(layout, 'blobs', 'sha256', digest.slice(7));

before(async () => {
  work = await makeTempDir('multi');
  const repo = await standardFixtureRepo(join(work, 'repo'));
  server = await serveDirectory(repo.root);
  spec = join(work, 'multi.toml');
  await writeFile(spec, fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'multi', topLevel: 'arch = ["amd64", "arm64"]\ntag = "baseimg-it/multi:t1"' }));
  tar = join(work, 'out', 'multi.tar');
  await mkdir(join(work, 'out'));
  const r = await runCli(['build', spec, '-o', tar, '--cache-dir', join(work, 'cache'), '--json']);
  assert.equal(r.code, 0, describeRun(r));
  built = JSON.parse(r.stdout) as MultiJson;
  layout = join(work, 'layout');
  await mkdir(layout);
  runOk('tar', ['-xf', tar, '-C', layout]);
});

after(async () => {
  if (loaded.length > 0) spawnSync('podman', ['rmi', '--force', ...loaded], { stdio: 'ignore' });
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('build with arch = ["amd64", "arm64"]', () => {
  it('writes one tarball: index.json → image index → one manifest per platform', async () => {
    assert.equal(built.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(built.architectures, ['amd64', 'arm64']);
    const top = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; mediaType: string; annotations: Record<string, string> }> };
    assert.equal(top.manifests.length, 1);
    assert.equal(top.manifests[0]!.digest, built.digest);
    assert.equal(top.manifests[0]!.annotations['org.opencontainers.image.ref.name'], 't1');
    const index = JSON.parse(await readFile(blob(built.digest), 'utf8')) as { manifests: Array<{ digest: string; platform: Record<string, string> }> };
    assert.deepEqual(index.manifests.map((m) => m.platform), [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }]);
    assert.deepEqual(index.manifests.map((m) => m.digest), built.images.map((i) => i.digest));
    assert.notEqual(built.images[0]!.configDigest, built.images[1]!.configDigest);
    // Every blob stored once, named by its digest.
    for (const name of await listDir(join(layout, 'blobs', 'sha256'))) assert.equal(sha256(await readFile(join(layout, 'blobs', 'sha256', name))), `sha256:${name}`);
  });

  it("gives Docker's manifest.json one entry per platform: <tag>-<arch>, the first also <tag>", async () => {
    const manifest = JSON.parse(await readFile(join(layout, 'manifest.json'), 'utf8')) as Array<{ Config: string; RepoTags: string[] }>;
    assert.deepEqual(manifest.map((m) => m.RepoTags), [[TAG, `${TAG}-amd64`], [`${TAG}-arm64`]]);
    assert.deepEqual(manifest.map((m) => m.Config), built.images.map((i) => `blobs/sha256/${i.configDigest.slice(7)}`));
  });

  it('writes SBOMs per platform beside the tarball: NAME.<arch>.spdx.json and NAME.<arch>.cdx.json', async () => {
    assert.deepEqual(await listDir(join(work, 'out')), ['multi.amd64.cdx.json', 'multi.amd64.spdx.json', 'multi.arm64.cdx.json', 'multi.arm64.spdx.json', 'multi.tar']);
    for (const img of built.images) {
      const spdx = await readFile(img.sbom.spdx, 'utf8');
      assert.ok(spdx.includes(img.digest), `${img.arch} SBOM names its manifest digest`);
      assert.ok(spdx.includes(`arch=${img.arch}`) || spdx.includes(`"${img.arch}"`), `${img.arch} SBOM names its architecture`);
    }
  });

  it('is reproducible: a second build gives the same bytes', async () => {
    const again = join(work, 'again', 'multi.tar');
    await mkdir(join(work, 'again'));
    const r = await runCli(['build', spec, '-o', again, '--cache-dir', join(work, 'cache'), '--arch', 'amd64,arm64']);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(await sha256File(again), await sha256File(tar));
  });

  it('each platform image is the one --arch <that> alone builds; --frozen builds the same index from the lock', async () => {
    await mkdir(join(work, 'single'));
    await mkdir(join(work, 'frozen'));
    const single = await runCli(['build', spec, '--arch', 'arm64', '-o', join(work, 'single', 'arm.tar'), '--cache-dir', join(work, 'cache'), '--json']);
    assert.equal(single.code, 0, describeRun(single));
    assert.equal((JSON.parse(single.stdout) as { digest: string }).digest, built.images[1]!.digest);
    const lock = await runCli(['lock', spec, '--cache-dir', join(work, 'cache')]);
    assert.equal(lock.code, 0, describeRun(lock));
    const frozen = await runCli(['build', spec, '--frozen', '-o', join(work, 'frozen', 'multi.tar'), '--cache-dir', join(work, 'cache'), '--json']);
    assert.equal(frozen.code, 0, describeRun(frozen));
    assert.equal((JSON.parse(frozen.stdout) as MultiJson).digest, built.digest);
  });

  it('oci-image-tool validates the layout, the index, every manifest and config', (t) => {
    if (!needTools(t, 'oci-image-tool')) return;
    runOk('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=t1', layout]);
    runOk('oci-image-tool', ['validate', '--type', 'imageIndex', blob(built.digest)]);
    for (const img of built.images) {
      runOk('oci-image-tool', ['validate', '--type', 'manifest', blob(img.digest)]);
      runOk('oci-image-tool', ['validate', '--type', 'config', blob(img.configDigest)]);
    }
  });

  it('skopeo picks amd64 by default and arm64 with --override-arch, with different configs', (t) => {
    if (!needTools(t, 'skopeo')) return;
    const of = (arch?: string): { inspect: { Architecture: string }; config: string } => {
      const extra = arch ? ['--override-arch', arch] : [];
      return {
        inspect: JSON.parse(runOk('skopeo', ['inspect', ...extra, `oci-archive:${tar}`]).stdout) as { Architecture: string },
        config: sha256(runOk('skopeo', ['inspect', ...extra, '--config', '--raw', `oci-archive:${tar}`]).stdout),
      };
    };
    const amd = of();
    const arm = of('arm64');
    assert.equal(amd.inspect.Architecture, 'amd64');
    assert.equal(arm.inspect.Architecture, 'arm64');
    assert.equal(amd.config, built.images[0]!.configDigest);
    assert.equal(arm.config, built.images[1]!.configDigest);
  });

  it('podman load takes the host platform and keeps the index digest', (t) => {
    if (!needTools(t, 'podman')) return;
    const r = runOk('podman', ['load', '-i', tar]);
    const name = `docker.io/${TAG}`;
    loaded.push(name);
    assert.match(r.stdout + r.stderr, new RegExp(`Loaded image: ${name.replace(/[.]/g, '\\.')}`));
    const [digest, arch] = runOk('podman', ['image', 'inspect', '--format', '{{.Digest}} {{.Architecture}}', name]).stdout.trim().split(' ');
    assert.equal(digest, built.digest);
    assert.equal(arch, 'amd64');
  });

  it('baseimg inspect reads either platform, and asks which without --platform', async () => {
    const r = await runCli(['inspect', tar, '--platform', 'linux/arm64', '--json']);
    assert.equal(r.code, 0, describeRun(r));
    const doc = JSON.parse(r.stdout) as { image: { digest: string; platform: string } };
    assert.equal(doc.image.digest, built.images[1]!.digest);
    assert.equal(doc.image.platform, 'linux/arm64/v8');
    const noChoice = await runCli(['inspect', tar]);
    assert.equal(noChoice.code, 2, describeRun(noChoice));
    assert.match(noChoice.stderr, /--platform/);
  });

  it('push sends the index; the registry serves both platforms under one tag', async (t) => {
    if (!needTools(t, REGISTRY_BIN, 'skopeo')) return;
    const registry = await startRegistry();
    try {
      const ref = `${registry.host}/team/multi:1`;
      const r = await runCli(['push', tar, ref, '--insecure', '--cache-dir', join(work, 'cache'), '--json']);
      assert.equal(r.code, 0, describeRun(r));
      const pushed = JSON.parse(r.stdout) as { digest: string; manifests: Array<{ digest: string; platform?: string }> };
      assert.equal(pushed.digest, built.digest);
      assert.deepEqual(pushed.manifests.map((m) => m.platform ?? 'index'), ['linux/amd64', 'linux/arm64/v8', 'index']);
      const raw = runOk('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]).stdout;
      assert.equal(sha256(raw), built.digest);
      const arm = JSON.parse(runOk('skopeo', ['inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${ref}`]).stdout) as { Architecture: string };
      assert.equal(arm.Architecture, 'arm64');
      const one = await runCli(['push', tar, `${registry.host}/team/multi-arm:1`, '--platform', 'linux/arm64', '--insecure', '--cache-dir', join(work, 'cache'), '--json']);
      assert.equal(one.code, 0, describeRun(one));
      assert.equal((JSON.parse(one.stdout) as { digest: string }).digest, built.images[1]!.digest);
    } finally {
      await registry.stop();
    }
  });

  it('rejects an architecture listed twice', async () => {
    const r = await runCli(['build', spec, '--arch', 'amd64,amd64']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /listed twice/);
    assert.ok(!existsSync(join(process.cwd(), 'multi.tar')));
  });
});
