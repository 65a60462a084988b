/**
 * The push client against an in-process registry (test/helpers/fake-registry.ts):
 * WWW-Authenticate parsing, credentials from the environment and Docker's
 * config.json, the bearer-token flow with its cache, basic auth, retries,
 * monolithic and chunked uploads, cross-repository mounts, manifests and
 * indexes in the right order, and the errors a user sees.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseChallenges } from '../../src/registry/challenge.js';
import { findCredentials, type CredentialLookup } from '../../src/registry/credentials.js';
import { parseRegistryRef, isLoopbackHost } from '../../src/registry/reference.js';
import { RegistryTransport } from '../../src/registry/transport.js';
import { RegistryClient } from '../../src/registry/client.js';
import { BlobMemory } from '../../src/registry/blob-memory.js';
import { pushPlan } from '../../src/registry/push.js';
import { createPushProgress } from '../../src/registry/progress.js';
import type { PlanBlob, PlanNode, PushPlan } from '../../src/registry/plan.js';
import { canonicalJsonBytes, sha256Digest } from '../../src/util/digest.js';
import { BaseimgError } from '../../src/util/errors.js';
import { startFakeRegistry, type FakeRegistryOptions } from '../helpers/fake-registry.js';

const NO_CREDS: CredentialLookup = { credentials: undefined, notes: [] };
const CREDS: CredentialLookup = { credentials: { username: 'ci', password: 's3cret', source: 'test' }, notes: [] };

function blobOf(data: Buffer, mediaType: string, role: string): PlanBlob {
  return { digest: sha256Digest(data), size: data.length, mediaType, role, open: async function* (s, e) { if (e > s) yield data.subarray(s, e); } };
}

/** A manifest over a config and the given layers, as a plan node. */
function manifestNode(layers: Buffer[], arch = 'amd64'): PlanNode {
  const config = blobOf(canonicalJsonBytes({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }), 'application/vnd.oci.image.config.v1+json', 'config');
  const layerBlobs = layers.map((l, i) => blobOf(l, 'application/vnd.oci.image.layer.v1.tar+gzip', `layer ${i + 1}`));
  const bytes = canonicalJsonBytes({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layerBlobs.map((b) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size })),
  });
  return { kind: 'manifest', digest: sha256Digest(bytes), mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes, platform: { os: 'linux', architecture: arch }, children: [], blobs: [config, ...layerBlobs] };
}

function indexNode(children: PlanNode[]): PlanNode {
  const bytes = canonicalJsonBytes({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: children.map((c) => ({ mediaType: c.mediaType, digest: c.digest, size: c.bytes.length, platform: c.platform })),
  });
  return { kind: 'index', digest: sha256Digest(bytes), mediaType: 'application/vnd.oci.image.index.v1+json', bytes, platform: undefined, children, blobs: [] };
}

const plan = (top: PlanNode): PushPlan => ({ label: 'test', top, close: async () => {} });
const quietProgress = createPushProgress('quiet');

async function push(registry: { host: string }, repo: string, top: PlanNode, opts: { creds?: CredentialLookup; chunkSize?: number; memory?: BlobMemory; mountFrom?: string[] } = {}) {
  const transport = new RegistryTransport({ registry: registry.host, baseUrl: `http://${registry.host}`, credentials: opts.creds ?? NO_CREDS, retries: 2, sleep: async () => {} });
  try {
    const client = new RegistryClient(transport, { chunkSize: opts.chunkSize ?? 1 << 20 });
    const ref = parseRegistryRef(`${registry.host}/${repo}:v1`);
    const memory = opts.memory ?? (await BlobMemory.open(undefined, registry.host));
    const result = await pushPlan(client, ref, plan(top), { mountFrom: opts.mountFrom ?? [], memory, progress: quietProgress });
    return { result, counts: transport.counts, auth: transport.auth };
  } finally {
    await transport.close();
  }
}

async function withRegistry<T>(options: FakeRegistryOptions, fn: (r: Awaited<ReturnType<typeof startFakeRegistry>>) => Promise<T>): Promise<T> {
  const r = await startFakeRegistry(options);
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

const layerA = Buffer.from('layer A '.repeat(1000));
const layerB = Buffer.from('layer B '.repeat(3000));

describe('WWW-Authenticate', () => {
  it('parses bearer parameters with quoted commas and escapes', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
    ]);
    assert.deepEqual(parseChallenges('Basic realm="say \\"hi\\""'), [{ scheme: 'basic', params: { realm: 'say "hi"' } }]);
    assert.deepEqual(parseChallenges(['Basic realm=x', 'Bearer realm="r", error="insufficient_scope"']).map((c) => c.scheme), ['basic', 'bearer']);
    assert.deepEqual(parseChallenges(undefined), []);
  });
});

describe('references', () => {
  it('splits registry, repository and tag the way Docker normalises them', () => {
    assert.deepEqual(parseRegistryRef('127.0.0.1:5000/team/app:1.0'), { registry: '127.0.0.1:5000', apiHost: '127.0.0.1:5000', repository: 'team/app', tag: '1.0', fullName: '127.0.0.1:5000/team/app:1.0' });
    const hub = parseRegistryRef('static');
    assert.equal(hub.apiHost, 'registry-1.docker.io');
    assert.equal(hub.repository, 'library/static');
    assert.equal(hub.tag, 'latest');
    assert.throws(() => parseRegistryRef('Bad/Name:tag'), (e: BaseimgError) => e.code === 'USAGE');
    assert.ok(isLoopbackHost('127.0.0.1:5000') && isLoopbackHost('localhost') && isLoopbackHost('[::1]:5000'));
    assert.ok(!isLoopbackHost('registry.example:5000'));
  });
});

describe('credentials', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baseimg-creds-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('takes BASEIMG_REGISTRY_USER/PASSWORD first, and refuses one without the other', async () => {
    const found = await findCredentials('r.example', { BASEIMG_REGISTRY_USER: 'u', BASEIMG_REGISTRY_PASSWORD: 'p', HOME: dir });
    assert.equal(found.credentials?.username, 'u');
    await assert.rejects(findCredentials('r.example', { BASEIMG_REGISTRY_USER: 'u', HOME: dir }), /BASEIMG_REGISTRY_PASSWORD is not set/);
  });

  it('reads auths from $DOCKER_CONFIG/config.json by host, URL or Docker Hub alias', async () => {
    const auth = (u: string, p: string): string => Buffer.from(`${u}:${p}`).toString('base64');
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: { 'https://r.example:5000/v2/': { auth: auth('alice', 'pw:with:colons') }, 'https://index.docker.io/v1/': { auth: auth('hub', 'x') }, 'other.example': { username: 'bob', password: 'b' } },
        credHelpers: { 'helper.example': 'ecr-login' },
      }),
    );
    const env = { DOCKER_CONFIG: dir };
    assert.deepEqual((await findCredentials('r.example:5000', env)).credentials, { username: 'alice', password: 'pw:with:colons', source: `${join(dir, 'config.json')} (auths."https://r.example:5000/v2/")` });
    assert.equal((await findCredentials('docker.io', env)).credentials?.username, 'hub');
    assert.equal((await findCredentials('other.example', env)).credentials?.username, 'bob');
    const none = await findCredentials('helper.example', env);
    assert.equal(none.credentials, undefined);
    assert.match(none.notes.join(), /credential helper "ecr-login"/);
    assert.equal((await findCredentials('r.example:5000', { HOME: join(dir, 'nowhere') })).credentials, undefined);
  });
});

describe('push against a registry', () => {
  it('uploads every blob once, then manifests by digest and the index by tag; a second push uploads nothing', async () => {
    await withRegistry({}, async (reg) => {
      const amd = manifestNode([layerA, layerB]);
      const arm = manifestNode([layerA], 'arm64'); // layer A shared between platforms
      const top = indexNode([amd, arm]);
      const first = await push(reg, 'team/app', top);
      assert.equal(first.result.digest, top.digest);
      assert.equal(first.result.blobs.length, 4, 'two configs and two layers, the shared one once');
      assert.deepEqual(first.result.blobs.map((b) => b.action), ['uploaded', 'uploaded', 'uploaded', 'uploaded']);
      assert.equal(reg.manifests.get(`team/app:v1`)?.body.equals(top.bytes), true);
      assert.equal(reg.manifests.get(`team/app:v1`)?.mediaType, 'application/vnd.oci.image.index.v1+json');
      const order = reg.log.filter((l) => l.startsWith('PUT /v2/team/app/manifests/'));
      assert.deepEqual(order, [`PUT /v2/team/app/manifests/${amd.digest}`, `PUT /v2/team/app/manifests/${arm.digest}`, 'PUT /v2/team/app/manifests/v1']);

      reg.log.length = 0;
      const second = await push(reg, 'team/app', top);
      assert.deepEqual(second.result.blobs.map((b) => b.action), ['exists', 'exists', 'exists', 'exists']);
      assert.equal(reg.log.filter((l) => /^(POST|PATCH)|blobs\/uploads/.test(l)).length, 0, reg.log.join('\n'));
    });
  });

  it('sends blobs above the chunk size in PATCH chunks that the registry reassembles', async () => {
    await withRegistry({}, async (reg) => {
      const top = manifestNode([layerB]); // 24,000 bytes
      await push(reg, 'team/chunked', top, { chunkSize: 5000 });
      const patches = reg.log.filter((l) => l.startsWith('PATCH'));
      assert.equal(patches.length, 5);
      assert.ok(reg.blobs.get(sha256Digest(layerB))?.equals(layerB));
    });
  });

  it('mounts blobs from a repository known to hold them instead of uploading', async () => {
    await withRegistry({}, async (reg) => {
      const dir = await mkdtemp(join(tmpdir(), 'baseimg-mem-'));
      try {
        const top = manifestNode([layerA]);
        await push(reg, 'team/one', top, { memory: await BlobMemory.open(dir, reg.host) });
        reg.log.length = 0;
        const r = await push(reg, 'team/two', top, { memory: await BlobMemory.open(dir, reg.host) });
        assert.deepEqual(r.result.blobs.map((b) => `${b.action} ${b.from}`), ['mounted team/one', 'mounted team/one']);
        assert.ok(reg.log.some((l) => l.includes('mount=sha256') && l.includes('from=team%2Fone')));
        assert.ok(!reg.log.some((l) => l.startsWith('PUT /v2/team/two/blobs')), 'no upload');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  it('uploads when the registry declines the mount (202) in the session it opened', async () => {
    await withRegistry({ noMount: true }, async (reg) => {
      const top = manifestNode([layerA]);
      await push(reg, 'team/one', top);
      reg.log.length = 0;
      const r = await push(reg, 'team/two', top, { mountFrom: ['team/one'] });
      assert.deepEqual(r.result.blobs.map((b) => b.action), ['uploaded', 'uploaded']);
      assert.equal(reg.log.filter((l) => l.startsWith('POST')).length, 2, 'one POST per blob: the mount attempt opened the session');
    });
  });

  it('retries 503s with backoff, and restarts an upload whose session was lost', async () => {
    await withRegistry({ faults: [{ match: /^HEAD /, status: 503, times: 2 }, { match: /^PUT \/v2\/team\/app\/blobs\/uploads/, status: 503, times: 1 }] }, async (reg) => {
      const r = await push(reg, 'team/app', manifestNode([layerA]));
      assert.deepEqual(r.result.blobs.map((b) => b.action), ['uploaded', 'uploaded']);
      assert.equal(reg.log.filter((l) => l.startsWith('POST')).length, 3, 'the failed upload started again from POST');
    });
  });

  it('gives up after the retries with a message naming the registry and the request', async () => {
    await withRegistry({ faults: [{ match: /^HEAD /, status: 503, times: 100 }] }, async (reg) => {
      await assert.rejects(push(reg, 'team/app', manifestNode([layerA])), (e: BaseimgError) => {
        assert.equal(e.code, 'NETWORK');
        assert.match(e.message, new RegExp(`registry ${reg.host}: blob sha256:[0-9a-f]{64} of team/app: HTTP 503 \\(3 attempts\\)`));
        return true;
      });
    });
  });
});

describe('authentication', () => {
  const bearer = { kind: 'bearer' as const, user: 'ci', password: 's3cret' };

  it('bearer: fetches a token for the repository scope once and reuses it', async () => {
    await withRegistry({ auth: bearer }, async (reg) => {
      const r = await push(reg, 'team/app', manifestNode([layerA, layerB]), { creds: CREDS });
      assert.equal(r.result.blobs.length, 3);
      assert.equal(reg.tokensIssued, 1, 'one token for repository:team/app:pull,push');
      assert.equal(reg.log.filter((l) => l.startsWith('GET /token')).length, 1);
      assert.match(reg.log.find((l) => l.startsWith('GET /token'))!, /scope=repository%3Ateam%2Fapp%3Apull%2Cpush/);
    });
  });

  it('bearer: wrong or missing credentials are a clear error', async () => {
    await withRegistry({ auth: bearer }, async (reg) => {
      const wrong: CredentialLookup = { credentials: { username: 'ci', password: 'nope', source: 'BASEIMG_REGISTRY_USER/BASEIMG_REGISTRY_PASSWORD' }, notes: [] };
      await assert.rejects(push(reg, 'team/app', manifestNode([layerA]), { creds: wrong }), /rejected the credentials from BASEIMG_REGISTRY_USER\/BASEIMG_REGISTRY_PASSWORD/);
      await assert.rejects(push(reg, 'team/app', manifestNode([layerA])), (e: BaseimgError) => /requires authentication \(Bearer\).*no credentials were found/.test(e.message) && /BASEIMG_REGISTRY_USER/.test(e.hint ?? ''));
    });
  });

  it('basic: sends credentials once challenged, and reports missing ones', async () => {
    await withRegistry({ auth: { kind: 'basic', user: 'ci', password: 's3cret' } }, async (reg) => {
      const r = await push(reg, 'team/app', manifestNode([layerA]), { creds: CREDS });
      assert.equal(r.result.digest.startsWith('sha256:'), true);
      const challenged = reg.log.length - (r.result.blobs.length * 3 + 1); // HEAD, POST, PUT per blob; the manifest
      assert.ok(challenged >= 1 && challenged <= 3, `only the first requests in flight (at most 3) were answered 401:\n${reg.log.join('\n')}`);
      await assert.rejects(push(reg, 'team/app', manifestNode([layerA])), /requires authentication \(Basic\)/);
      const wrong: CredentialLookup = { credentials: { username: 'ci', password: 'x', source: 'config.json' }, notes: [] };
      await assert.rejects(push(reg, 'team/app', manifestNode([layerA]), { creds: wrong }), /rejected the credentials from config\.json/);
    });
  });
});
