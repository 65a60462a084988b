// Reproducibility check: build each spec twice under different conditions and
// compare the results byte for byte.
//
//   npm run repro                                   every spec under specs/
//   npm run repro -- specs/debian12/static.toml     just these specs
//   npm run repro -- --fixture debian               a generated local fixture archive
//   npm run repro -- --compare A.tar B.tar          only explain how two tarballs differ
//   options: --keep (leave the work directory), --no-build (skip tsc),
//            --no-diffoscope (use the listing comparison even when diffoscope is there)
//
// Build A: cold cache, run from the project root with the spec path relative,
// TZ=UTC, LANG=C.UTF-8, umask 022. Build B: the now warm cache with the image
// cache off (BASEIMG_NO_IMAGE_CACHE=1, else B would copy A's tarball and prove
// nothing), so B builds every tree and layer again, run from an unrelated directory with the spec path absolute, TZ=Pacific/Chatham (+12:45),
// LANG=tr_TR.UTF-8 (dotless i), umask 077. Build C: a cold cache of its own
// with BASEIMG_DEFLATE=pako, so every layer is deflated by pako alone, where A
// used node:zlib if this Node's zlib passed its probe (src/image/deflate-engine.ts).
// All three must give the same manifest digest and the same tarball bytes. On a mismatch diffoscope shows the
// difference (installed with apt-get when running as root); without it, a
// listing of both tarballs (entries, the config and manifest, the layer's
// files) is compared instead.
//
// Specs whose sources are local fixtures take part through --fixture NAME:
// FIXTURES below generates the archive with the test helpers and writes a
// spec that reads it over file://. Add a family by adding an entry.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { ensureDiffoscope } from './ensure-tools.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'baseimg');

const CONDITIONS = {
  a: { label: 'cold cache, relative spec, project root, TZ=UTC, LANG=C.UTF-8, umask 022', tz: 'UTC', lang: 'C.UTF-8', umask: '022' },
  b: { label: 'warm cache (image cache off), absolute spec, elsewhere, TZ=Pacific/Chatham, LANG=tr_TR.UTF-8, umask 077', tz: 'Pacific/Chatham', lang: 'tr_TR.UTF-8', umask: '077', env: { BASEIMG_NO_IMAGE_CACHE: '1' } },
  c: { label: 'cold cache of its own, layers deflated by pako only (BASEIMG_DEFLATE=pako)', tz: 'UTC', lang: 'C.UTF-8', umask: '022', env: { BASEIMG_DEFLATE: 'pako' } },
};

/** Local fixture archives: name → (work dir) => absolute spec path. */
const FIXTURES = {
  async debian(dir) {
    const { tsImport } = await import('tsx/esm/api');
    const { standardFixtureRepo } = await tsImport('../test/helpers/debian-repo.ts', import.meta.url);
    const { fixtureSpec } = await tsImport('../test/helpers/cli.ts', import.meta.url);
    const repo = await standardFixtureRepo(join(dir, 'debian-archive'), { architectures: ['amd64'] });
    const mirror = pathToFileURL(repo.root).href;
    const spec = join(dir, 'debian-fixture.toml');
    await writeFile(spec, fixtureSpec({ mirror, keyring: repo.keyringPath, name: 'debian-fixture' }));
    return spec;
  },
  /** A real abuild-signed third-party repository from ../shared/fixtures/alpine, served as file://. */
  async alpine(dir) {
    const { tsImport } = await import('tsx/esm/api');
    const { fixture, fixtureKey, writeRepo, alpineFixturesMissing } = await tsImport('../test/helpers/alpine-repo.ts', import.meta.url);
    const missing = alpineFixturesMissing();
    if (missing) throw new Error(`the alpine fixture needs ../shared/fixtures/alpine: ${missing}`);
    const apks = ['busybox-1.37.0-r20.apk', 'busybox-binsh-1.37.0-r20.apk', 'ssl_client-1.37.0-r20.apk'];
    const archive = join(dir, 'alpine-archive');
    const repoDir = archive + (await writeRepo(archive, {
      name: 'third-party',
      index: await readFile(fixture('apkindex/third-party-arisu-3.21-testing-x86_64/APKINDEX.tar.gz')),
      apks: Object.fromEntries(apks.map((f) => [f, fixture(`real-apks/third-party/${f}`)])),
    }));
    const spec = join(dir, 'alpine-fixture.toml');
    const key = fixtureKey('arisudesu@users.noreply.github.com-66758c7b.rsa.pub');
    await writeFile(
      spec,
      [
        'name = "alpine-fixture"',
        '[source]',
        'distro = "alpine"',
        `repositories = [${JSON.stringify(pathToFileURL(repoDir).href)}]`,
        `keys = [${JSON.stringify(key)}]`,
        '[packages]',
        'include = ["busybox", "busybox-binsh"]',
        '# the fixture repository has no musl: reproducibility does not need the image to run',
        'exclude = ["so:libc.musl-x86_64.so.1"]',
        '[ca-certificates]',
        'bundle = false',
        '',
      ].join('\n'),
    );
    return spec;
  },
};

// ---------------------------------------------------------------- running builds

/** The caller's environment minus what would make the two builds differ on purpose. */
function baseEnv() {
  const env = { ...process.env };
  for (const key of ['SOURCE_DATE_EPOCH', 'XDG_CACHE_HOME', 'NODE_OPTIONS', 'LC_ALL', 'LANG', 'TZ']) delete env[key];
  return env;
}

function runBuild(specArg, output, cacheDir, cwd, condition) {
  const env = { ...baseEnv(), TZ: condition.tz, LANG: condition.lang, LC_ALL: condition.lang, ...condition.env };
  const args = [BIN, 'build', specArg, '-o', output, '--cache-dir', cacheDir, '--json', '--quiet'];
  const started = performance.now();
  return new Promise((resolveRun, reject) => {
    const child = spawn('sh', ['-c', `umask ${condition.umask} && exec "$0" "$@"`, process.execPath, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) return resolveRun({ ok: false, code, stderr, seconds });
      resolveRun({ ok: true, digest: JSON.parse(stdout).digest, seconds });
    });
  });
}

async function sha256OfFile(path) {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Builds one spec under each condition; returns { ok, line } and explains a mismatch. */
/** A build that failed only because a host could not be reached at all. */
const UNREACHABLE = /cannot download \S+: (host name (not found|lookup failed)|ECONNREFUSED|ENETUNREACH|EHOSTUNREACH)[^\n]*/;

async function reproduce({ spec, label }, work, explainOptions) {
  const dir = await mkdtemp(join(work, 'spec-'));
  const cache = join(dir, 'cache');
  const elsewhere = join(dir, 'elsewhere');
  await mkdir(elsewhere);
  const shown = label;
  const outA = join(dir, 'a.tar');
  const outB = join(dir, 'b.tar');
  const a = await runBuild(relative(ROOT, spec) || '.', outA, cache, ROOT, CONDITIONS.a);
  if (!a.ok && !explainOptions.strict && UNREACHABLE.test(a.stderr)) {
    // Specs for networks this machine cannot reach (the public Alpine mirror from a
    // Debian-only sandbox) are reported, not failed; --strict fails them.
    return { ok: true, skipped: true, line: `SKIP  ${shown}: its sources cannot be reached from here (${a.stderr.match(UNREACHABLE)[0]})` };
  }
  if (!a.ok) return { ok: false, line: `FAIL  ${shown}: build A exited ${a.code}\n${a.stderr}` };
  const b = await runBuild(spec, relative(elsewhere, outB), cache, elsewhere, CONDITIONS.b);
  if (!b.ok) return { ok: false, line: `FAIL  ${shown}: build B exited ${b.code}\n${b.stderr}` };
  const outC = join(dir, 'c.tar');
  const c = await runBuild(spec, outC, join(dir, 'cache-c'), ROOT, CONDITIONS.c);
  if (!c.ok) return { ok: false, line: `FAIL  ${shown}: build C exited ${c.code}\n${c.stderr}` };
  const [hashA, hashB, hashC] = await Promise.all([sha256OfFile(outA), sha256OfFile(outB), sha256OfFile(outC)]);
  const timing = `A ${a.seconds.toFixed(1)} s, B ${b.seconds.toFixed(1)} s, C ${c.seconds.toFixed(1)} s`;
  if (a.digest === b.digest && hashA === hashB && a.digest === c.digest && hashA === hashC) return { ok: true, line: `ok    ${shown}  ${a.digest}  (${timing})` };
  const [other, otherOut, otherHash, name] = hashA !== hashB ? [b, outB, hashB, 'B'] : [c, outC, hashC, 'C'];
  process.stdout.write(`MISMATCH ${shown}\n  A (${CONDITIONS.a.label}): ${a.digest}, tarball sha256 ${hashA}\n  ${name} (${CONDITIONS[name.toLowerCase()].label}): ${other.digest}, tarball sha256 ${otherHash}\n`);
  await explain(outA, otherOut, explainOptions);
  return { ok: false, line: `DIFF  ${shown}  A ${a.digest} ≠ ${name} ${other.digest}  (${timing})` };
}

async function explain(a, b, { diffoscope = true } = {}) {
  if (diffoscope && ensureDiffoscope({ log: (m) => process.stdout.write(`${m}\n`) })) {
    const parts = await mkdtemp(join(tmpdir(), 'baseimg-repro-parts-'));
    try {
      await writeParts(await readFile(a), join(parts, 'A'));
      await writeParts(await readFile(b), join(parts, 'B'));
      process.stdout.write('diffoscope of the two images by part (index, manifest, config, layers):\n');
      spawnSync('diffoscope', ['--text', '-', '--exclude-directory-metadata', 'yes', join(parts, 'A'), join(parts, 'B')], { stdio: 'inherit' });
    } finally {
      await rm(parts, { recursive: true, force: true });
    }
    return;
  }
  const why = diffoscope ? 'diffoscope is not installed' : 'diffoscope not used (--no-diffoscope)';
  process.stdout.write(`${why}: install diffoscope to see the difference in full (apt-get install diffoscope-minimal).\n`);
  process.stdout.write('Listing difference (- only in A, + only in B):\n');
  const [left, right] = [listImage(await readFile(a)), listImage(await readFile(b))];
  process.stdout.write(`${diffLines(left, right, 300).join('\n')}\n`);
}

// ---------------------------------------------------------------- listing tarballs

/** ustar/PAX entries of a tar file: { name, type, mode, uid, gid, size, mtime, linkname, data }. */
export function readTarEntries(buf) {
  const entries = [];
  let pax = {};
  let longName;
  for (let off = 0; off + 512 <= buf.length; ) {
    const header = buf.subarray(off, off + 512);
    if (header.every((byte) => byte === 0)) break;
    const str = (at, len) => header.subarray(at, at + len).toString('utf8').replace(/\0.*$/s, '');
    const num = (at, len) => parseInt(str(at, len).trim() || '0', 8);
    const size = num(124, 12);
    const type = str(156, 1) || '0';
    const data = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      pax = parsePax(data);
      continue;
    }
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    const prefix = str(345, 155);
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    entries.push({
      name,
      type,
      mode: num(100, 8),
      uid: Number(pax.uid ?? num(108, 8)),
      gid: Number(pax.gid ?? num(116, 8)),
      size: Number(pax.size ?? size),
      mtime: pax.mtime ?? String(num(136, 12)),
      linkname: pax.linkpath ?? str(157, 100),
      data,
    });
    pax = {};
    longName = undefined;
  }
  return entries;
}

function parsePax(data) {
  const out = {};
  let text = data.toString('utf8');
  while (text.length > 0) {
    const space = text.indexOf(' ');
    const length = parseInt(text.slice(0, space), 10);
    if (!(length > 0)) break;
    const record = text.slice(space + 1, length - 1);
    const eq = record.indexOf('=');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    text = text.slice(length);
  }
  return out;
}

const shortHash = (data) => createHash('sha256').update(data).digest('hex').slice(0, 16);

function describeEntry(e) {
  const what = e.type === '5' ? 'dir' : e.type === '2' ? `-> ${e.linkname}` : e.type === '1' ? `link to ${e.linkname}` : `${e.size} bytes ${shortHash(e.data)}`;
  return `${e.name} ${e.type} ${e.mode.toString(8).padStart(4, '0')} ${e.uid}:${e.gid} mtime ${e.mtime} ${what}`;
}

/**
 * An image tarball taken apart by role: the outer entries, index.json, the
 * manifest, the config and each layer as an uncompressed tar. Blobs are named
 * by digest, so a changed layer has another name in each tarball; by role
 * the two images line up.
 */
export function imageParts(tarBytes) {
  const entries = readTarEntries(tarBytes);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const blob = (digest) => byName.get(`blobs/sha256/${String(digest).replace(/^sha256:/, '')}`)?.data;
  const json = (data) => {
    try {
      return data === undefined ? undefined : JSON.parse(data.toString('utf8'));
    } catch {
      return undefined;
    }
  };
  const index = json(byName.get('index.json')?.data);
  const manifest = index?.manifests?.[0] ? json(blob(index.manifests[0].digest)) : undefined;
  const config = manifest?.config ? json(blob(manifest.config.digest)) : undefined;
  const layers = (manifest?.layers ?? []).map((layer) => {
    const data = blob(layer.digest);
    if (data === undefined) return undefined;
    return data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
  });
  return { entries, index, manifest, config, layers };
}

/** Lines describing an image tarball, by role (see imageParts). */
export function listImage(tarBytes) {
  const { entries, index, manifest, config, layers } = imageParts(tarBytes);
  const lines = entries.map((e) => `tar ${e.name.startsWith('blobs/sha256/') && e.type === '0' ? `blob ${e.size} bytes` : describeEntry(e)}`);
  const pretty = (label, value) => (value === undefined ? [] : JSON.stringify(value, null, 1).split('\n').map((l) => `${label} ${l}`));
  lines.push(...pretty('index.json', index), ...pretty('manifest', manifest), ...pretty('config', config));
  layers.forEach((raw, i) => {
    if (raw !== undefined) for (const e of readTarEntries(raw)) lines.push(`layer[${i}] ${describeEntry(e)}`);
  });
  return lines;
}

/** Writes the parts under `dir` with stable names, for diffoscope to compare like with like. */
async function writeParts(tarBytes, dir) {
  const { index, manifest, config, layers } = imageParts(tarBytes);
  await mkdir(dir, { recursive: true });
  const json = (value) => `${JSON.stringify(value ?? null, null, 2)}\n`;
  await writeFile(join(dir, 'index.json'), json(index));
  await writeFile(join(dir, 'manifest.json'), json(manifest));
  await writeFile(join(dir, 'config.json'), json(config));
  for (const [i, raw] of layers.entries()) if (raw !== undefined) await writeFile(join(dir, `layer-${i}.tar`), raw);
}

/** Lines only in `a` ("- ") and only in `b` ("+ "), in order, at most `limit`. */
export function diffLines(a, b, limit = Infinity) {
  const count = (lines) => lines.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map());
  const inA = count(a);
  const inB = count(b);
  const only = (lines, other, sign) => {
    const seen = new Map();
    return lines.filter((l) => {
      const n = (seen.get(l) ?? 0) + 1;
      seen.set(l, n);
      return n > (other.get(l) ?? 0);
    }).map((l) => `${sign} ${l}`);
  };
  const out = [...only(a, inB, '-'), ...only(b, inA, '+')];
  if (out.length === 0) return ['(the listings are identical: the difference is in bytes the listing does not show, e.g. gzip framing)'];
  return out.length > limit ? [...out.slice(0, limit), `… ${out.length - limit} more lines`] : out;
}

// ---------------------------------------------------------------- main

async function findSpecs(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    // specs/<family>/fragments/ holds includes (parts of specs), not images.
    if (entry.isDirectory()) {
      if (entry.name !== 'fragments') found.push(...(await findSpecs(path)));
    }
    else if (entry.name.endsWith('.toml')) found.push(path);
  }
  return found.sort();
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      fixture: { type: 'string', multiple: true },
      compare: { type: 'boolean' },
      keep: { type: 'boolean' },
      'no-build': { type: 'boolean' },
      'no-diffoscope': { type: 'boolean' },
      strict: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run repro -- [SPEC...] [--fixture debian|alpine]... [--keep] [--no-build] [--no-diffoscope] [--strict]\n       npm run repro -- --compare A.tar B.tar [--no-diffoscope]\n');
    return 0;
  }
  const explainOptions = { diffoscope: !values['no-diffoscope'], strict: values.strict ?? false };
  if (values.compare) {
    if (positionals.length !== 2) throw new Error('--compare takes two tarballs');
    const [a, b] = positionals.map((p) => resolve(p));
    if ((await sha256OfFile(a)) === (await sha256OfFile(b))) {
      process.stdout.write('the two tarballs are identical\n');
      return 0;
    }
    await explain(a, b, explainOptions);
    return 1;
  }
  const unknown = (values.fixture ?? []).filter((f) => !(f in FIXTURES));
  if (unknown.length > 0) throw new Error(`unknown fixture ${unknown.join(', ')} (known: ${Object.keys(FIXTURES).join(', ')})`);
  if (!values['no-build']) {
    // tsc still writes dist/ when it reports type errors (say, in a test file); the builds use dist/src.
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
    if (tsc.status !== 0) process.stdout.write('repro: tsc reported errors (above); building with what it emitted\n');
  }
  const work = await mkdtemp(join(tmpdir(), 'baseimg-repro-'));
  try {
    const specs = positionals.map((p) => ({ spec: resolve(p), label: relative(ROOT, resolve(p)) || p }));
    for (const name of values.fixture ?? []) {
      specs.push({ spec: await FIXTURES[name](await mkdtemp(join(work, `fixture-${name}-`))), label: `fixture:${name}` });
    }
    if (specs.length === 0) {
      for (const spec of await findSpecs(join(ROOT, 'specs'))) specs.push({ spec, label: relative(ROOT, spec) });
    }
    const results = [];
    for (const spec of specs) {
      const result = await reproduce(spec, work, explainOptions);
      process.stdout.write(`${result.line}\n`);
      results.push(result);
    }
    const bad = results.filter((r) => !r.ok).length;
    const skipped = results.filter((r) => r.skipped).length;
    const checked = results.length - skipped;
    process.stdout.write(
      `${checked - bad} of ${checked} specs reproduce${skipped > 0 ? `, ${skipped} skipped (unreachable sources)` : ''}${values.keep ? ` (work directory: ${work})` : ''}\n`,
    );
    return bad === 0 ? 0 : 1;
  } finally {
    if (!values.keep) await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`repro: ${err?.stack ?? err}\n`);
      process.exit(2);
    },
  );
}
