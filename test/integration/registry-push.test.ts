/**
 * `baseimg push` and `baseimg build --push` against a real registry: Debian's
 * docker-registry (distribution 2.8) on 127.0.0.1, started and stopped here,
 * with a recording proxy in front so the test sees every request. The pushed
 * image is read back by skopeo and podman, whose digests must equal ours.
 * A second registry requires htpasswd basic auth.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { standardFixtureRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, makeTempDir, runCli } from '../helpers/cli.js';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { haveTool, IS_CI, runOk, skipOrFail } from '../helpers/tools.js';

const TOOLS = [REGISTRY_BIN, 'htpasswd', 'skopeo', 'podman'];
const missing = TOOLS.filter((t) => !haveTool(t));
const ACCOUNT = { user: 'pusher', password: 'correct horse' };

let work: string;
let server: TestServer;
let registry: TestRegistry;
let authRegistry: TestRegistry;
let specPath: string;
let image: string;
let built: { digest: string; configDigest: string };
const pulled: string[] = [];

interface PushJson {
  reference: string;
  digest: string;
  mediaType: string;
  blobs: Array<{ digest: string; action: string; from?: string }>;
}

async function push(args: string[], env: Record<string, string | undefined> = {}): Promise<{ json: PushJson; requests: string[] }> {
  const before = registry.requests.length;
  const r = await runCli(['push', ...args, '--json'], { env });
  assert.equal(r.code, 0, describeRun(r));
  return { json: JSON.parse(r.stdout) as PushJson, requests: registry.requests.slice(before) };
}

const blobUploads = (requests: string[]): string[] => requests.filter((r) => /^(POST|PATCH|PUT) \/v2\/[^ ]+\/blobs\/uploads/.test(r));

before(async () => {
  if (missing.length > 0) return;
  work = await makeTempDir('push');
  const repo = await standardFixtureRepo(join(work, 'repo'));
  server = await serveDirectory(repo.root);
  specPath = join(work, 'pushed.toml');
  await writeFile(specPath, fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'pushed' }));
  image = join(work, 'pushed.tar');
  const b = await runCli(['build', specPath, '-o', image, '--cache-dir', join(work, 'cache'), '--json']);
  assert.equal(b.code, 0, describeRun(b));
  built = JSON.parse(b.stdout) as typeof built;
  registry = await startRegistry({ record: true });
  authRegistry = await startRegistry({ auth: ACCOUNT });
});

after(async () => {
  if (pulled.length > 0) spawnSync('podman', ['rmi', '--force', ...pulled], { stdio: 'ignore' });
  await registry?.stop();
  await authRegistry?.stop();
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('baseimg push to docker-registry on 127.0.0.1', () => {
  it('has the tools', (t) => {
    if (missing.length > 0) skipOrFail(t, `${missing.join(', ')} not installed (packages docker-registry, apache2-utils, skopeo, podman)`);
  });

  it('pushes; skopeo and podman read back the same manifest digest', { skip: missing.length > 0 }, async () => {
    const ref = `${registry.host}/team/pushed:1.0`;
    const { json, requests } = await push([image, ref, '--insecure', '--cache-dir', join(work, 'cache')]);
    assert.equal(json.digest, built.digest);
    assert.equal(json.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(json.blobs.map((b) => b.action), ['uploaded', 'uploaded']);
    assert.ok(requests.includes(`PUT /v2/team/pushed/manifests/1.0`), requests.join('\n'));

    const direct = `${registry.directHost}/team/pushed:1.0`; // tools bypass the in-process recording proxy
    const inspect = JSON.parse(runOk('skopeo', ['inspect', '--tls-verify=false', `docker://${direct}`]).stdout) as { Digest: string; Architecture: string };
    assert.equal(inspect.Digest, built.digest);
    assert.equal(inspect.Architecture, 'amd64');
    const raw = runOk('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${direct}`]).stdout;
    assert.match(raw, /"mediaType":"application\/vnd.oci.image.manifest.v1\+json"/);

    runOk('podman', ['pull', '--tls-verify=false', direct]);
    pulled.push(direct);
    assert.equal(runOk('podman', ['image', 'inspect', '--format', '{{.Digest}}', direct]).stdout.trim(), built.digest);
  });

  it('a second push of the same image uploads no blob', { skip: missing.length > 0 }, async () => {
    const { json, requests } = await push([image, `${registry.host}/team/pushed:1.0`, '--insecure', '--cache-dir', join(work, 'cache')]);
    assert.deepEqual(json.blobs.map((b) => b.action), ['exists', 'exists']);
    assert.deepEqual(blobUploads(requests), [], requests.join('\n'));
    assert.equal(requests.filter((r) => r.startsWith('HEAD ')).length, 2);
  });

  it('mounts blobs into another repository of the same registry instead of uploading them', { skip: missing.length > 0 }, async () => {
    const { json, requests } = await push([image, `${registry.host}/other/pushed:1.0`, '--insecure', '--cache-dir', join(work, 'cache')]);
    assert.deepEqual(json.blobs.map((b) => `${b.action} ${b.from}`), ['mounted team/pushed', 'mounted team/pushed']);
    assert.equal(requests.filter((r) => /^POST .*\?mount=sha256%3A[0-9a-f]{64}&from=team%2Fpushed$/.test(r)).length, 2, requests.join('\n'));
    assert.equal(requests.filter((r) => /^(PUT|PATCH) .*blobs\/uploads/.test(r)).length, 0);
    runOk('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.directHost}/other/pushed:1.0`]);
  });

  it('sends large blobs in PATCH chunks (--chunk-size) that the registry accepts', { skip: missing.length > 0 }, async () => {
    const fresh = join(work, 'fresh-cache'); // no memory of earlier pushes, so nothing is mounted
    const { json, requests } = await push([image, `${registry.host}/chunked/pushed:1.0`, '--insecure', '--chunk-size', '4K', '--cache-dir', fresh]);
    assert.equal(json.digest, built.digest);
    const patches = requests.filter((r) => r.startsWith('PATCH '));
    assert.ok(patches.length >= 2, `the ~10 KB layer went in several chunks:\n${requests.join('\n')}`);
    const copied = join(work, 'chunked-copy');
    runOk('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.directHost}/chunked/pushed:1.0`, `oci:${copied}:x`]);
  });

  it('build --push builds and pushes in one run', { skip: missing.length > 0 }, async () => {
    const r = await runCli(['build', specPath, '-o', join(work, 'again.tar'), '--cache-dir', join(work, 'cache'), '--push', `${registry.host}/team/built:1`, '--insecure', '--json']);
    assert.equal(r.code, 0, describeRun(r));
    const out = JSON.parse(r.stdout) as { digest: string; push: PushJson };
    assert.equal(out.push.digest, out.digest);
    assert.equal(out.digest, built.digest, 'same spec, same packages: same image');
    assert.equal(out.push.reference, `${registry.host}/team/built:1`);
  });

  it('without --insecure, a plain-http registry is a clear error', { skip: missing.length > 0 }, async () => {
    const r = await runCli(['push', image, `${registry.host}/team/pushed:tls`]);
    assert.equal(r.code, 1, describeRun(r));
    assert.match(r.stderr, /--insecure/);
  });

  it('pushes what other tools saved: a podman docker-archive', { skip: missing.length > 0 }, async () => {
    const saved = join(work, 'podman-save.tar');
    runOk('podman', ['save', '--format', 'docker-archive', '-o', saved, `${registry.directHost}/team/pushed:1.0`]);
    const { json } = await push([saved, `${registry.host}/team/resaved:1`, '--insecure', '--cache-dir', join(work, 'cache')]);
    const inspect = JSON.parse(runOk('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.directHost}/team/resaved:1`]).stdout) as { Digest: string };
    assert.equal(inspect.Digest, json.digest);
  });
});

describe('registry with htpasswd basic auth', () => {
  const env = { BASEIMG_REGISTRY_USER: ACCOUNT.user, BASEIMG_REGISTRY_PASSWORD: ACCOUNT.password };

  it('accepts the right credentials from the environment', { skip: missing.length > 0 }, async () => {
    const r = await runCli(['push', image, `${authRegistry.host}/team/auth:1`, '--insecure', '--json'], { env });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal((JSON.parse(r.stdout) as PushJson).digest, built.digest);
    const inspect = JSON.parse(runOk('skopeo', ['inspect', '--tls-verify=false', '--creds', `${ACCOUNT.user}:${ACCOUNT.password}`, `docker://${authRegistry.host}/team/auth:1`]).stdout) as { Digest: string };
    assert.equal(inspect.Digest, built.digest);
  });

  it('accepts credentials from $DOCKER_CONFIG/config.json', { skip: missing.length > 0 }, async () => {
    const dir = join(work, 'docker-config');
    await mkdir(dir, { recursive: true });
    const auth = Buffer.from(`${ACCOUNT.user}:${ACCOUNT.password}`).toString('base64');
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [authRegistry.host]: { auth } } }));
    const r = await runCli(['push', image, `${authRegistry.host}/team/auth:2`, '--insecure'], { env: { DOCKER_CONFIG: dir } });
    assert.equal(r.code, 0, describeRun(r));
  });

  it('rejects a push without credentials, saying how to give them', { skip: missing.length > 0 }, async () => {
    const r = await runCli(['push', image, `${authRegistry.host}/team/auth:3`, '--insecure'], { env: { DOCKER_CONFIG: join(work, 'no-such-config') } });
    assert.equal(r.code, 1, describeRun(r));
    assert.match(r.stderr, new RegExp(`baseimg: error: registry ${authRegistry.host.replace(/\./g, '\\.')} requires authentication \\(Basic\\) for blob sha256:[0-9a-f]{64} of team/auth and no credentials were found`));
    assert.match(r.stderr, /hint: set BASEIMG_REGISTRY_USER and BASEIMG_REGISTRY_PASSWORD/);
  });

  it('rejects wrong credentials, naming where they came from', { skip: missing.length > 0 }, async () => {
    const r = await runCli(['push', image, `${authRegistry.host}/team/auth:4`, '--insecure'], { env: { ...env, BASEIMG_REGISTRY_PASSWORD: 'wrong' } });
    assert.equal(r.code, 1, describeRun(r));
    assert.match(r.stderr, /rejected the credentials from BASEIMG_REGISTRY_USER\/BASEIMG_REGISTRY_PASSWORD/);
  });
});

if (IS_CI && missing.length > 0) {
  it('CI has the registry tools', () => assert.fail(`${missing.join(', ')} missing under CI=true`));
}
