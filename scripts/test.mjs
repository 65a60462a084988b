// The whole test suite: install the tools the tests drive (when possible),
// type-check and compile, then run unit and integration tests with node:test.
//   node scripts/test.mjs                 everything
//   node scripts/test.mjs --only unit     unit tests only (no network, no tools)
//   node scripts/test.mjs test/unit/x.test.ts ...   just those files
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
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
