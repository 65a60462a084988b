// Benchmark: baseimg (cold and warm cache) against mmdebstrap --variant=extract
// installing exactly the packages baseimg resolved, from the same mirror.
//
//   npm run bench                          debian12/base and one large image, 5 runs each
//   npm run bench -- --runs 9              more runs
//   npm run bench -- --spec specs/x.toml   other specs (repeatable)
//   options: --no-mmdebstrap, --no-write (print only), --keep (leave the work directory)
//
// Runs alternate (cold, warm, mmdebstrap, then the next spec, then again) so
// that load from other jobs on the host spreads over all three. Cold = a new,
// empty cache directory; warm = a cache filled by an unmeasured build first.
// The table goes into docs/PERFORMANCE.md between the bench markers; the
// timing goals live here, never in the unit tests.
//
// Needs /usr/bin/time and mmdebstrap: installed with apt-get when missing and
// running as root (as scripts/ensure-tools.mjs does for the tests).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { TIME, describeMachine, have, measure, median, renderReport, spliceReport } from './bench-lib.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'baseimg');
const DOC = join(ROOT, 'docs', 'PERFORMANCE.md');

/** The large image: the python3 spec once it exists, else the bench's own. */
const LARGE_CANDIDATES = ['specs/debian12/python3.toml', 'scripts/bench-specs/large.toml'];

/** Goals from issue 9, as ratios of medians and absolute limits. */
const GOALS = { cold: 0.5, warm: 0.1, largeRssMiB: 300, parseMBps: 50 };

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    spec: { type: 'string', multiple: true },
    'no-mmdebstrap': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'parse-probe': { type: 'string' },
  },
});

if (opts['parse-probe'] !== undefined) {
  await parseProbe(opts['parse-probe']);
  process.exit(0);
}

const runs = Number(opts.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
const withMm = !opts['no-mmdebstrap'];

ensureTools();
if (!existsSync(join(ROOT, 'dist', 'src', 'cli.js'))) execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', ROOT], { stdio: 'inherit' });

const { loadSpec } = await import(pathToFileURL(join(ROOT, 'dist/src/spec/load.js')).href);
const { resolveDebianMirrors } = await import(pathToFileURL(join(ROOT, 'dist/src/distro/debian/mirror.js')).href);

const specFiles = opts.spec ?? ['specs/debian12/base.toml', LARGE_CANDIDATES.find((f) => existsSync(join(ROOT, f)))];
const work = await mkdtemp(join(tmpdir(), 'baseimg-bench-'));
const env = { ...process.env, LANG: 'C.UTF-8', TZ: 'UTC' };
delete env.BASEIMG_DEBUG;
const machine = describeMachine();
const loadBefore = machine.load();

try {
  const specs = [];
  for (const [i, file] of specFiles.entries()) specs.push(await prepareSpec(resolve(ROOT, file), join(work, `spec-${i}`)));

  const results = Object.fromEntries(specs.map((s) => [s.label, { cold: [], warm: [], rebuild: [], mmdebstrap: [] }]));
  const timings = Object.fromEntries(specs.map((s) => [s.label, { cold: [], warm: [], rebuild: [] }]));
  for (let run = 1; run <= runs; run++) {
    for (const spec of specs) {
      // rebuild = the warm cache with the image cache off: what a warm build costs when the
      // inputs changed a little (every cache below the finished image still helps).
      for (const state of ['cold', 'warm', 'rebuild']) {
        const cache = state === 'cold' ? join(spec.dir, `cold-cache-${run}`) : spec.warmCache;
        const r = await buildOnce(spec, cache, `${state}-${run}`, state === 'rebuild' ? { BASEIMG_NO_IMAGE_CACHE: '1' } : {});
        results[spec.label][state].push(r);
        timings[spec.label][state].push(r.timings);
        if (state === 'cold') await rm(cache, { recursive: true, force: true });
        log(`${spec.label} run ${run}/${runs} baseimg ${state}: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU, ${r.rss.toFixed(0)} MiB`);
      }
      if (withMm) {
        const r = await mmdebstrapOnce(spec, run);
        results[spec.label].mmdebstrap.push(r);
        log(`${spec.label} run ${run}/${runs} mmdebstrap: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU, ${r.rss.toFixed(0)} MiB`);
      }
    }
  }

  const parse = await measureParsing(specs[0], runs);
  const profiles = Object.fromEntries(specs.map((s) => [s.label, { cold: medianTimings(timings[s.label].cold), warm: medianTimings(timings[s.label].warm), rebuild: medianTimings(timings[s.label].rebuild) }]));
  const report = renderReport({
    machine,
    date: new Date().toISOString().slice(0, 10),
    runs,
    loadBefore,
    loadAfter: machine.load(),
    specs,
    results,
    profiles,
    targets: targets(specs, results, parse),
    parse,
  });
  process.stdout.write(`\n${report}\n`);
  if (!opts['no-write']) {
    const doc = existsSync(DOC) ? await readFile(DOC, 'utf8') : '# Performance\n';
    await writeFile(DOC, spliceReport(doc, report));
    log(`wrote ${DOC}`);
  }
} finally {
  if (opts.keep) log(`work directory kept: ${work}`);
  else await rm(work, { recursive: true, force: true });
}

function log(message) {
  process.stderr.write(`bench: ${message}\n`);
}

function ensureTools() {
  const missing = [[TIME, 'time'], ['mmdebstrap', 'mmdebstrap']].filter(([cmd, pkg]) => (pkg === 'mmdebstrap' ? withMm : true) && !have(cmd));
  if (missing.length === 0) return;
  const pkgs = missing.map(([, pkg]) => pkg);
  if (process.getuid?.() !== 0 || !have('apt-get')) throw new Error(`bench needs ${pkgs.join(', ')}: install them (apt-get install ${pkgs.join(' ')})`);
  log(`installing ${pkgs.join(' ')} with apt-get`);
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env: aptEnv });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env: aptEnv });
}

/** Resolves the spec once (filling its warm cache) and works out the mmdebstrap command. */
async function prepareSpec(file, dir) {
  await mkdir(dir, { recursive: true });
  const spec = await loadSpec(file);
  if (spec.source.distro !== 'debian') throw new Error(`${file}: the benchmark compares with mmdebstrap, so it needs a Debian spec`);
  const warmCache = join(dir, 'warm-cache');
  log(`${spec.name}: filling the warm cache`);
  const resolved = JSON.parse(spawnOk(BIN, ['resolve', file, '--json', '--cache-dir', warmCache]));
  await buildOnce({ file, dir }, warmCache, 'prefill');
  // The same mirror as baseimg: its own lookup (spec, environment, apt sources).
  const mirrors = resolveDebianMirrors(spec.source, { env });
  const sources = spec.source.suites.map((suite) => `deb ${mirrors.get(suite)} ${suite} ${spec.source.components.join(' ')}`);
  const arch = spec.arch[0];
  return {
    file,
    dir,
    label: spec.name,
    warmCache,
    arch,
    packages: resolved.packages.length,
    include: resolved.packages.map((p) => `${p.name}=${p.version}`),
    sources,
    suite: spec.source.suites[0],
  };
}

function spawnOk(cmd, args) {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

async function buildOnce(spec, cache, tag, extraEnv = {}) {
  const output = join(spec.dir, `out-${tag}.tar`);
  const r = await measure(BIN, ['build', spec.file, '--cache-dir', cache, '-o', output, '--timings', '--json'], { env: { ...env, ...extraEnv }, cwd: spec.dir, timeFile: join(spec.dir, 'time.txt') });
  const result = JSON.parse(r.stdout);
  await rm(output, { force: true });
  for (const f of Object.values(result.sbom ?? {})) await rm(f, { force: true });
  return { ...r, timings: result.timings ?? {} };
}

/** mmdebstrap as root when we are root (no namespaces needed), else in a user namespace. */
async function mmdebstrapOnce(spec, run) {
  const output = join(spec.dir, `mm-${run}.tar`);
  const mode = process.getuid?.() === 0 ? 'root' : 'unshare';
  const args = ['--quiet', `--mode=${mode}`, '--variant=extract', `--architectures=${spec.arch}`, `--include=${spec.include.join(',')}`, spec.suite, output, ...spec.sources];
  const r = await measure('mmdebstrap', args, { env, cwd: spec.dir, timeFile: join(spec.dir, 'time.txt') });
  await rm(output, { force: true });
  return r;
}

function medianTimings(list) {
  const names = [...new Set(list.flatMap((t) => Object.keys(t)))];
  return Object.fromEntries(names.map((n) => [n, median(list.map((t) => (t[n] ?? 0) / 1000))]));
}

/** Index parsing throughput, each in a fresh process (what a cold build sees). */
async function measureParsing(spec, n) {
  const rows = new Map();
  let megabytes = 0;
  for (let i = 0; i < n; i++) {
    const out = JSON.parse(spawnOk(process.execPath, [fileURLToPath(import.meta.url), '--parse-probe', JSON.stringify({ file: spec.file, cache: spec.warmCache })]));
    megabytes = out.megabytes;
    for (const [what, mbps] of Object.entries(out.rates)) rows.set(what, [...(rows.get(what) ?? []), mbps]);
  }
  return { megabytes, rows: [...rows].map(([what, values]) => ({ what, values })) };
}

/** Child process: decompress bookworm main's Packages from the warm cache and time the parsers on it. */
async function parseProbe(arg) {
  const { file, cache } = JSON.parse(arg);
  const load = (p) => import(pathToFileURL(join(ROOT, 'dist/src', p)).href);
  const { loadSpec: load2 } = await load('spec/load.js');
  const { resolveDebianMirrors: mirrorsOf } = await load('distro/debian/mirror.js');
  const { createFetcher } = await load('net/fetcher.js');
  const { fetchRelease } = await load('distro/debian/release.js');
  const { selectPackagesIndex } = await load('distro/debian/packages-index.js');
  const { parseDeb822Stream } = await load('distro/debian/deb822.js');
  // Absent in builds before the scanner (when benchmarking an older checkout).
  const scanPackagesIndex = (await load('distro/debian/index-scan.js').catch(() => ({}))).scanPackagesIndex;
  const { xzDecompress } = await load('util/xz.js');
  const { nullReporter } = await load('util/reporter.js');
  const spec = await load2(file);
  const suite = spec.source.suites[0];
  const baseUrl = mirrorsOf(spec.source, { env: process.env }).get(suite);
  const reporter = nullReporter();
  const { fetcher, derived, close } = createFetcher({ cacheDir: cache, offline: true, reporter });
  const ctx = { fetcher, derived, reporter, tmpDir: tmpdir(), now: new Date(), signal: new AbortController().signal, insecureSkipVerify: false, offline: true };
  const release = await fetchRelease(ctx, baseUrl, suite, spec.source.keyring);
  const index = selectPackagesIndex(release, spec.source.components[0], spec.arch[0]);
  const path = (await fetcher.fetchFile(`${baseUrl}/dists/${suite}/${index.path}`, { sha256: index.sha256, size: index.size })).path;
  await close();
  const { createReadStream } = await import('node:fs');
  const { createGunzip } = await import('node:zlib');
  const stream = index.compression === 'xz' ? xzDecompress(createReadStream(path)) : index.compression === 'gz' ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const text = Buffer.concat(chunks);
  const rates = {};
  async function* slices() {
    for (let at = 0; at < text.length; at += 1 << 16) yield text.subarray(at, at + (1 << 16));
  }
  // What a build does (packages-index.ts): scan, then read each package's key fields.
  let t = performance.now();
  if (scanPackagesIndex !== undefined) {
    const scanned = scanPackagesIndex(text, { source: 'bench' });
    for (let i = 0; i < scanned.count; i++) for (const k of ['Package', 'Version', 'Architecture', 'Filename', 'Size', 'SHA256']) scanned.key(i, k);
    rates['scan'] = text.length / 1e6 / ((performance.now() - t) / 1000);
  }
  // Every paragraph into an object, as builds did before the scan.
  t = performance.now();
  let count = 0;
  for await (const _ of parseDeb822Stream(slices())) count++;
  rates['full parse'] = text.length / 1e6 / ((performance.now() - t) / 1000);
  process.stdout.write(JSON.stringify({ megabytes: text.length / 1e6, paragraphs: count, rates }));
}

function targets(specs, results, parse) {
  const out = [];
  for (const spec of specs) {
    const r = results[spec.label];
    if (r.mmdebstrap.length === 0) continue;
    const mm = median(r.mmdebstrap.map((x) => x.wall));
    for (const state of ['cold', 'warm']) {
      const ratio = median(r[state].map((x) => x.wall)) / mm;
      out.push({ ok: ratio <= GOALS[state], text: `${spec.label} ${state}: ${ratio.toFixed(2)}× mmdebstrap's wall time (goal ≤ ${GOALS[state]}×)` });
    }
  }
  const large = specs[specs.length - 1];
  const rss = Math.max(...['cold', 'warm', 'rebuild'].flatMap((s) => results[large.label][s].map((x) => x.rss)));
  out.push({ ok: rss <= GOALS.largeRssMiB, text: `${large.label}: highest peak RSS ${rss.toFixed(0)} MiB (goal ≤ ${GOALS.largeRssMiB} MiB)` });
  if (parse) {
    const first = parse.rows[0];
    const m = median(first.values);
    out.push({ ok: m >= GOALS.parseMBps, text: `index parsing (${first.what}): ${m.toFixed(0)} MB/s (goal ≥ ${GOALS.parseMBps} MB/s)` });
  }
  return out;
}

