/**
 * build-examples/*: each example's run.sh, as CI runs it. The scripts build
 * from the real mirror into the shared test cache, run the images in podman
 * (and podman build, skopeo, a local docker-registry) and exit non-zero on
 * the first failed check; their output is the test's diagnostic. Without a
 * mirror or a tool an example skips with a message (under CI=true: fails).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { sharedCacheDir } from '../helpers/family.js';
import { debianMirrorProblem, needTools, skipOrFail } from '../helpers/tools.js';

const EXAMPLES = join(PROJECT_ROOT, 'build-examples');
/** What each example drives besides bash and node. */
const TOOLS: Record<string, string[]> = {
  'static-c': ['gcc', 'podman'],
  'python-app': ['podman'],
  'ci-pipeline': ['docker-registry', 'skopeo'],
  dockerfile: ['podman'],
};

const examples = readdirSync(EXAMPLES).filter((d) => existsSync(join(EXAMPLES, d, 'run.sh'))).sort();
const mirrorProblem = debianMirrorProblem(['bookworm', 'bookworm-updates', 'bookworm-security']);

describe('build-examples', () => {
  it('has a run.sh for every example, and each is listed here', () => {
    assert.deepEqual(examples, Object.keys(TOOLS).sort());
  });

  for (const name of examples) {
    it(`${name}/run.sh`, { timeout: 900_000 }, (t) => {
      if (mirrorProblem !== undefined) return skipOrFail(t, mirrorProblem);
      if (!needTools(t, 'bash', ...TOOLS[name]!)) return;
      const started = performance.now();
      const r = spawnSync('bash', [join(EXAMPLES, name, 'run.sh')], {
        encoding: 'utf8',
        // The caller's environment (it may name the mirror: BASEIMG_DEBIAN_MIRROR), plus the shared cache.
        env: { ...withoutTestRunner(process.env), BASEIMG_CACHE_DIR: sharedCacheDir() },
        timeout: 900_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      for (const line of `${r.stdout}${r.stderr}`.trim().split('\n')) t.diagnostic(line);
      t.diagnostic(`${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
      assert.equal(r.status, 0, `${name}/run.sh exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`.slice(-6000));
    });
  }
});

/** The environment minus what node:test sets for its own children. */
function withoutTestRunner(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _context, NODE_OPTIONS: _options, ...rest } = env;
  return rest;
}
