/**
 * Conformance: every image spec in specs/ (the files directly under
 * specs/<family>/; specs/<family>/fragments/ holds includes, not images),
 * built once for amd64 with bin/baseimg into a shared download cache, then
 * handed to tools we did not write:
 *
 *   podman load, podman run of a static probe (uid, passwd, home, CA bundle)
 *   skopeo inspect oci-archive: and docker-archive:
 *   skopeo copy to a docker-registry on 127.0.0.1 and back (digest kept)
 *   umoci unpack, oci-image-tool validate, crane validate --tarball
 *
 * Run by `npm run test:conformance` (CI runs it after `npm test`). A spec
 * whose package source cannot be reached is skipped with a message; under
 * CI=true only the sources listed in UNREACHABLE_HERE may be skipped, and
 * only when they really cannot be reached. crane comes from the host's
 * Debian mirror (suite sid) when it is not installed; without it that one
 * check is skipped with a message.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { loadSpec } from '../../src/spec/load.js';
import { defaultCacheDir } from '../../src/cache/cas.js';
import { BASEIMG_BIN, PROJECT_ROOT } from '../helpers/cli.js';
import { compileProbe, parseProbeOutput } from '../helpers/probe.js';
import { obtainCrane } from '../helpers/crane.js';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { debianMirrorProblem, haveTool, IS_CI, skipOrFail } from '../helpers/tools.js';

/** Sources this network cannot reach (only Debian's archive and npm are reachable here); documented in docs/conformance.md. */
const UNREACHABLE_HERE: Record<string, string> = {
  alpine: 'the public Alpine mirror is not reachable from this network (docs/conformance.md)',
};
const TOOLS = ['podman', 'skopeo', 'umoci', 'oci-image-tool', REGISTRY_BIN, 'gcc'];
const CONCURRENCY = 2;

const specs = readdirSync(join(PROJECT_ROOT, 'specs'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => readdirSync(join(PROJECT_ROOT, 'specs', d.name)).filter((f) => f.endsWith('.toml')).map((f) => `specs/${d.name}/${f}`))
  .sort()
  // BASEIMG_CONFORMANCE_ONLY=debian12/static,alpine: a subset while working on one spec.
  .filter((f) => !process.env.BASEIMG_CONFORMANCE_ONLY || process.env.BASEIMG_CONFORMANCE_ONLY.split(',').some((s) => f.includes(s)));

let scratch: string;
let cacheDir: string;
let registry: TestRegistry | undefined;
let probe: { path: string } | { problem: string } = { problem: 'not compiled' };
let crane: { path: string } | { problem: string } = { problem: 'not looked for' };
const missing = TOOLS.filter((t) => !haveTool(t));
const loaded: string[] = [];

/** Run a command without blocking the event loop (specs run concurrently); resolves with its output, rejects on failure. */
function run(cmd: string, args: string[], timeoutMs = 600_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: PROJECT_ROOT, timeout: timeoutMs, maxBuffer: 256 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed (${err.code ?? err.signal}):\n${`${stdout}\n${stderr}`.trim().slice(-4000)}`));
      else resolve({ stdout, stderr });
    });
  });
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-conformance-'));
  cacheDir = process.env.BASEIMG_CONFORMANCE_CACHE ?? defaultCacheDir(process.env);
  await mkdir(cacheDir, { recursive: true });
  if (missing.length > 0) return;
  probe = compileProbe(scratch, 'static');
  registry = await startRegistry();
  crane = await obtainCrane(cacheDir);
});

after(async () => {
  if (loaded.length > 0) await run('podman', ['rmi', '--force', ...loaded]).catch(() => undefined);
  await registry?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Why the spec's packages cannot be fetched here, or undefined. */
async function sourceProblem(specFile: string): Promise<string | undefined> {
  const spec = await loadSpec(join(PROJECT_ROOT, specFile));
  if (spec.source.distro === 'debian') return spec.source.mirror ? undefined : debianMirrorProblem(spec.source.suites);
  const url = `${spec.source.repositories[0]}/x86_64/APKINDEX.tar.gz`;
  try {
    const r = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    return r.ok ? undefined : `${url}: HTTP ${r.status}`;
  } catch (e) {
    return `${UNREACHABLE_HERE.alpine ?? 'Alpine mirror unreachable'} (${(e as Error).message})`;
  }
}

function skipSource(t: TestContext, specFile: string, problem: string): void {
  const family = specFile.split('/')[1]!;
  if (UNREACHABLE_HERE[family] !== undefined) t.skip(`${specFile}: ${problem}`);
  else skipOrFail(t, `${specFile}: ${problem}`);
}

interface Built {
  tar: string;
  ref: string;
  digest: string;
  layers: number;
  user: string;
}

/**
 * podman's image store, with concurrent loads of images that share layers, once
 * failed an inspect right after a load ("locating item named "manifest" for
 * image with ID …: file does not exist"): loads and their inspect run one at a
 * time; the runs stay concurrent.
 */
let podmanStore: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
  const result = podmanStore.then(fn, fn);
  podmanStore = result.catch(() => undefined);
  return result;
}

async function build(specFile: string): Promise<Built> {
  const name = `${basename(dirname(specFile))}-${basename(specFile, '.toml')}`;
  const ref = `baseimg-conformance/${name}:t${process.pid}`;
  const tar = join(scratch, `${name}.tar`);
  const r = await run(process.execPath, [BASEIMG_BIN, 'build', specFile, '--arch', 'amd64', '-o', tar, '--tag', ref, '--cache-dir', cacheDir, '--json', '-q'], 900_000);
  const out = JSON.parse(r.stdout) as { digest: string; layers: unknown[] };
  const config = JSON.parse((await run('skopeo', ['inspect', '--config', '--raw', `oci-archive:${tar}`])).stdout) as { config?: { User?: string } };
  return { tar, ref: `docker.io/${ref}`, digest: out.digest, layers: out.layers.length, user: config.config?.User ?? '' };
}

describe('conformance of every spec with real clients (amd64)', { concurrency: CONCURRENCY }, () => {
  it('has the tools', (t) => {
    if (missing.length > 0) skipOrFail(t, `${missing.join(', ')} not installed`);
    else if ('problem' in probe) skipOrFail(t, probe.problem);
    if ('problem' in crane) t.diagnostic(`crane validate will be skipped: ${crane.problem}`);
  });

  for (const specFile of specs) {
    it(specFile, { timeout: 30 * 60_000 }, async (t) => {
      if (missing.length > 0 || 'problem' in probe) return t.skip('tools missing (see "has the tools")');
      const problem = await sourceProblem(specFile);
      if (problem !== undefined) return skipSource(t, specFile, problem);
      const started = performance.now();
      const img = await build(specFile);
      t.diagnostic(`built in ${((performance.now() - started) / 1000).toFixed(1)} s: ${img.digest}`);

      await t.test('podman load, then run a static probe as the image user', async () => {
        const { load, digest } = await oneAtATime(async () => {
          const load = await run('podman', ['load', '-i', img.tar]);
          loaded.push(img.ref);
          return { load, digest: (await run('podman', ['image', 'inspect', '--format', '{{.Digest}}', img.ref])).stdout.trim() };
        });
        assert.match(load.stdout + load.stderr, new RegExp(`Loaded image: ${img.ref.replace(/[.]/g, '\\.')}`));
        assert.equal(digest, img.digest);
        const out = parseProbeOutput((await run('podman', ['run', '--rm', '--network', 'none', '-v', `${(probe as { path: string }).path}:/probe:ro`, '--entrypoint', '/probe', img.ref])).stdout);
        assert.equal(out.get('uid'), (img.user || '0').split(':')[0], 'the probe runs as the image user');
      });

      await t.test('skopeo inspect on oci-archive: and docker-archive:', async () => {
        const oci = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${img.tar}`])).stdout) as { Digest: string; Architecture: string; Layers: string[] };
        assert.equal(oci.Digest, img.digest);
        assert.equal(oci.Architecture, 'amd64');
        const docker = JSON.parse((await run('skopeo', ['inspect', `docker-archive:${img.tar}`])).stdout) as { Architecture: string; Layers: string[] };
        assert.equal(docker.Architecture, 'amd64');
        assert.equal(docker.Layers.length, img.layers);
      });

      await t.test('skopeo copy to docker-registry on 127.0.0.1 and back keeps the digest', async () => {
        const remote = `docker://${registry!.host}/conformance/${basename(img.ref).replace(/:.*/, '')}:t`;
        await run('skopeo', ['copy', '--dest-tls-verify=false', `oci-archive:${img.tar}`, remote]);
        const inspect = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', remote])).stdout) as { Digest: string };
        assert.equal(inspect.Digest, img.digest);
        const back = join(scratch, `${basename(img.tar, '.tar')}-back`);
        await run('skopeo', ['copy', '--src-tls-verify=false', remote, `oci:${back}:t`]);
        const local = JSON.parse((await run('skopeo', ['inspect', `oci:${back}:t`])).stdout) as { Digest: string };
        assert.equal(local.Digest, img.digest);
        await rm(back, { recursive: true, force: true });
      });

      await t.test('umoci unpack and oci-image-tool validate the layout', async () => {
        const layout = join(scratch, `${basename(img.tar, '.tar')}-layout`);
        const bundle = join(scratch, `${basename(img.tar, '.tar')}-bundle`);
        await mkdir(layout);
        await run('tar', ['-xf', img.tar, '-C', layout]);
        const tag = img.ref.slice(img.ref.lastIndexOf(':') + 1);
        await run('oci-image-tool', ['validate', '--type', 'image', '--ref', `name=${tag}`, layout]);
        await run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
        const config = JSON.parse((await run('cat', [join(bundle, 'config.json')])).stdout) as { process: { user: { uid: number } } };
        assert.equal(String(config.process.user.uid), (img.user || '0').split(':')[0]);
        await rm(layout, { recursive: true, force: true });
        await rm(bundle, { recursive: true, force: true });
      });

      await t.test('crane validate --tarball', async (t) => {
        if ('problem' in crane) return t.skip(crane.problem);
        const r = await run(crane.path, ['validate', '--tarball', img.tar]);
        assert.match(r.stdout + r.stderr, /PASS/);
      });
      await rm(img.tar, { force: true });
    });
  }
});

if (IS_CI && specs.length === 0) it('finds specs', () => assert.fail('no specs under specs/'));
