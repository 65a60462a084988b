// Property-based fuzzing at depth: every test/unit/fuzz-*.test.ts with
// 100,000 cases per property (npm test runs the same files with 10,000).
//   node scripts/fuzz.mjs                     100,000 runs each
//   node scripts/fuzz.mjs --runs 1000000      more
//   node scripts/fuzz.mjs test/unit/fuzz-spec.test.ts   one target
// A failure prints fast-check's seed and path; replay it exactly with
//   BASEIMG_FUZZ_SEED=<seed> BASEIMG_FUZZ_PATH=<path> node --import tsx --test <file>
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? args[runsAt + 1] : '100000';
if (!/^[1-9][0-9]*$/.test(runs ?? '')) {
  console.error(`fuzz: --runs expects a positive integer, got ${runs}`);
  process.exit(2);
}
const named = args.filter((a, i) => a.endsWith('.ts') && (runsAt < 0 || i !== runsAt + 1));
const files = named.length > 0
  ? named
  : readdirSync('test/unit').filter((f) => /^fuzz-.*\.test\.ts$/.test(f)).sort().map((f) => join('test/unit', f));

const started = Date.now();
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, BASEIMG_FUZZ_RUNS: runs },
});
console.error(`fuzz: ${files.length} files, ${runs} runs per property, ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(r.status ?? 1);
