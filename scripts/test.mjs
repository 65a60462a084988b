// The whole test suite: install the tools the tests drive (when possible),
// type-check and compile, then run unit and integration tests with node:test.
//   node scripts/test.mjs                 everything, ending with the conformance suite
//   node scripts/test.mjs --no-conformance  everything but the conformance suite (~15 min less)
//   node scripts/test.mjs --only unit     unit tests only (no network, no tools)
//   node scripts/test.mjs test/unit/x.test.ts ...   just those files
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTools } from './ensure-tools.mjs';

const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const files = args.filter((a, i) => a.endsWith('.ts') && args[i - 1] !== '--only');

const listTests = (dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join(dir, f));

let testFiles = files;
if (testFiles.length === 0) {
  testFiles = listTests('test/unit');
  if (only !== 'unit') testFiles.push(...listTests('test/integration'));
}

if (only !== 'unit') ensureTools();

const run = (cmd, cmdArgs) => {
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

// Compile (also type-checks tests): bin/baseimg runs dist/, and the CLI tests run bin/baseimg.
run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...testFiles]);

// Reproducibility across conditions (cold/warm cache, TZ, umask, LANG, cwd, relative/absolute
// paths) for real specs and both fixture archives: `npm run repro` does the same for any spec.
if (only === undefined && files.length === 0) {
  const specs = hostHasDebianMirror() || process.env.CI === 'true' ? ['specs/debian12/static.toml', 'specs/debian12/base.toml'] : [];
  if (specs.length === 0) console.error('test: no Debian mirror configured; npm run repro checks the fixture archives only');
  run(process.execPath, ['scripts/repro.mjs', ...specs, '--fixture', 'debian', '--fixture', 'alpine']);
  // Every spec handed to podman, skopeo, a registry, umoci, oci-image-tool and crane (docs/conformance.md).
  if (!args.includes('--no-conformance')) run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/conformance/specs.test.ts']);
}

/** Whether baseimg would find a Debian mirror here without a spec naming one (see DEVELOPERS.md). */
function hostHasDebianMirror() {
  if (process.env.BASEIMG_DEBIAN_MIRROR) return true;
  const texts = [];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith('.sources') || f.endsWith('.list')) texts.push(readFileSync(join(dir, f), 'utf8'));
  if (existsSync('/etc/apt/sources.list')) texts.push(readFileSync('/etc/apt/sources.list', 'utf8'));
  return texts.some((t) => /^\s*(URIs:|deb\s)/m.test(t));
}
