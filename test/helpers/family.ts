/**
 * The distroless family of one Debian release (specs/debian<N>/), built from
 * the real mirror by bin/baseimg and run in podman: every flavour, its
 * debug variant and its nonroot variant, each built once into one shared
 * download and layer cache. test/integration/family-debian12.test.ts and
 * family-debian13.test.ts call runFamilyTests; the checks are the issue's
 * acceptance list (python3 imports ssl/sqlite3/json, java -version, node
 * prints its OpenSSL, /busybox/sh -c id, nonroot runs as 65532) plus layer
 * sharing: each image's layers are its parent's layers plus its own.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { compileProbe, parseProbeOutput } from './probe.js';
import { debianMirrorProblem, haveTool, needTools, runOk, skipOrFail } from './tools.js';

export const FLAVOURS = ['static', 'base-nossl', 'base', 'cc', 'python3', 'java', 'nodejs'] as const;
export type Flavour = (typeof FLAVOURS)[number];
/** Each flavour's first include (its layer parent). */
export const PARENT: Record<Flavour, Flavour | undefined> = {
  static: undefined,
  'base-nossl': 'static',
  base: 'base-nossl',
  cc: 'base',
  python3: 'cc',
  java: 'cc',
  nodejs: 'cc',
};

/** One download/layer cache for every test that builds from the real mirror (BASEIMG_TEST_CACHE overrides). */
export function sharedCacheDir(): string {
  return process.env.BASEIMG_TEST_CACHE ?? join(tmpdir(), 'baseimg-test-cache');
}

interface Built {
  spec: string;
  ref: string;
  layers: string[];
  user: string | undefined;
  workdir: string | undefined;
  ms: number;
}

export function runFamilyTests(release: '12' | '13', suites: string[]): void {
  const mirrorProblem = debianMirrorProblem(suites);
  const specs = FLAVOURS.flatMap((f) => [f, `${f}-debug`, `${f}-nonroot`]);
  const built = new Map<string, Built>();
  const loaded: string[] = [];
  let scratch: string;
  let probe: { path: string } | { problem: string } | undefined;

  it(`a Debian mirror is configured (debian${release} family)`, (t) => {
    if (mirrorProblem !== undefined) skipOrFail(t, mirrorProblem);
  });

  describe(`debian${release} family from the real mirror`, { skip: mirrorProblem === undefined ? false : `skipped: ${mirrorProblem}`, timeout: 3_600_000 }, () => {
    before(() => {
      return (async () => {
        scratch = await mkdtemp(join(tmpdir(), `baseimg-family${release}-`));
        if (haveTool('gcc')) probe = compileProbe(scratch, 'static');
        for (const name of specs) {
          const tar = join(scratch, `${name}.tar`);
          const ref = `localhost/baseimg-it-family${release}/${name}:t${process.pid}`;
          const started = performance.now();
          const run = runOk(process.execPath, ['bin/baseimg', 'build', `specs/debian${release}/${name}.toml`, '-o', tar, '--tag', ref, '--cache-dir', sharedCacheDir(), '--json'], { timeoutMs: 900_000 });
          const result = JSON.parse(run.stdout) as { layers: Array<{ digest: string }> };
          const b: Built = { spec: name, ref, layers: result.layers.map((l) => l.digest), user: undefined, workdir: undefined, ms: performance.now() - started };
          built.set(name, b);
          if (haveTool('podman')) {
            runOk('podman', ['load', '-i', tar]);
            loaded.push(ref);
            const config = runOk('podman', ['image', 'inspect', '--format', '{{.Config.User}}|{{.Config.WorkingDir}}', ref]).stdout.trim().split('|');
            [b.user, b.workdir] = config;
          }
          await rm(tar, { force: true });
        }
      })();
    });

    after(async () => {
      if (loaded.length > 0) runOk('podman', ['rmi', '--force', ...loaded]);
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('builds every spec (times per build)', (t) => {
      assert.deepEqual([...built.keys()], specs);
      for (const b of built.values()) t.diagnostic(`${b.spec}: ${(b.ms / 1000).toFixed(1)} s, ${b.layers.length} layers`);
    });

    it('shares layers: each image is its parent\'s layers plus its own', () => {
      for (const flavour of FLAVOURS) {
        const own = built.get(flavour)!.layers;
        const parent = PARENT[flavour];
        if (parent === undefined) assert.equal(own.length, 1, flavour);
        else assert.deepEqual(own, [...built.get(parent)!.layers, own[own.length - 1]], `${flavour} = ${parent} + 1 layer`);
        const debug = built.get(`${flavour}-debug`)!.layers;
        assert.deepEqual(debug, [...own, debug[debug.length - 1]], `${flavour}-debug = ${flavour} + busybox`);
        assert.deepEqual(built.get(`${flavour}-nonroot`)!.layers, own, `${flavour}-nonroot has exactly ${flavour}'s layers`);
      }
      const all = new Set([...built.values()].flatMap((b) => b.layers));
      const total = [...built.values()].reduce((n, b) => n + b.layers.length, 0);
      assert.equal(all.size, FLAVOURS.length * 2, `${specs.length} images reference ${total} layers, ${all.size} distinct`);
    });

    const podman = (t: TestContext, ...args: string[]): string | undefined => {
      if (!needTools(t, 'podman')) return undefined;
      return runOk('podman', ['run', '--rm', '--network', 'none', ...args]).stdout;
    };
    const ref = (name: string): string => built.get(name)!.ref;

    it('python3 imports ssl, sqlite3 and json', (t) => {
      const out = podman(t, ref('python3'), '-c', 'import ssl, sqlite3, json; print(ssl.OPENSSL_VERSION)');
      if (out !== undefined) assert.match(out, /^OpenSSL 3\.\d+\.\d+/);
    });

    it('java runs -version and has a trust store', (t) => {
      if (!needTools(t, 'podman')) return;
      const r = runOk('podman', ['run', '--rm', '--network', 'none', ref('java'), '-version']);
      assert.match(r.stderr, new RegExp(`openjdk version "${release === '12' ? 17 : 21}\\.`));
      const viaPath = runOk('podman', ['run', '--rm', '--network', 'none', '--entrypoint', 'java', ref('java'), '-version']);
      assert.match(viaPath.stderr, /OpenJDK 64-Bit Server VM/);
      // Java's trust store, written from the CA bundle: keytool checks its SHA-1 with the password.
      const store = runOk('podman', ['run', '--rm', '--network', 'none', '--entrypoint', '/usr/lib/jvm/default-java/bin/keytool', ref('java'), '-list', '-cacerts', '-storepass', 'changeit']);
      const entries = Number(/Your keystore contains (\d+) entries/.exec(store.stdout)?.[1]);
      assert.ok(entries > 100, store.stdout.slice(0, 500));
    });

    it('nodejs prints its OpenSSL version', (t) => {
      const out = podman(t, ref('nodejs'), '-e', 'console.log(process.versions.openssl)');
      if (out !== undefined) assert.match(out, /^3\.\d+\.\d+/);
    });

    it('every debug variant runs /busybox/sh -c id', (t) => {
      for (const flavour of FLAVOURS) {
        const out = podman(t, ref(`${flavour}-debug`), '-c', 'id');
        if (out === undefined) return;
        assert.match(out, /^uid=0\(root\) gid=0\(root\)/, `${flavour}-debug`);
      }
    });

    it('every nonroot variant runs as 65532 in /home/nonroot', (t) => {
      if (probe === undefined) return skipOrFail(t, 'gcc not installed (needed for the probe)');
      if ('problem' in probe) return skipOrFail(t, probe.problem);
      for (const flavour of FLAVOURS) {
        const b = built.get(`${flavour}-nonroot`)!;
        assert.equal(b.user, '65532', flavour);
        assert.equal(b.workdir, '/home/nonroot', flavour);
        const out = podman(t, '-v', `${probe.path}:/probe:ro`, '--entrypoint', '/probe', b.ref);
        if (out === undefined) return;
        const values = parseProbeOutput(out);
        assert.equal(values.get('uid'), '65532', flavour);
        assert.equal(values.get('user'), 'nonroot', flavour);
        assert.equal(values.get('home_owned'), 'yes', flavour);
      }
      const py = podman(t, ref('python3-nonroot'), '-c', 'import os; print(os.getuid(), os.getcwd())');
      if (py !== undefined) assert.equal(py.trim(), '65532 /home/nonroot');
      const node = podman(t, ref('nodejs-nonroot'), '-e', 'console.log(process.getuid(), process.cwd())');
      if (node !== undefined) assert.equal(node.trim(), '65532 /home/nonroot');
    });
  });
}
