/**
 * The same spec and packages give the same bytes, whatever the machine
 * around the build: cache directory (cold or warm, online or --offline),
 * time zone, umask, locale, working directory, and a spec named by an
 * absolute or a relative path. Builds run bin/baseimg as child processes
 * against the fixture archive on 127.0.0.1 and compare sha256 of the files.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, makeTempDir, runCli, sha256File, type CliResult } from '../helpers/cli.js';

let work: string;
let repo: DebianRepo;
let server: TestServer;
let specDir: string;

const SPEC_TABLES = `
[image]
user = "nonroot"
entrypoint = ["/app/server"]
env = { TZ = "Europe/Berlin" }

[[paths]]
path = "/app/server.conf"
type = "file"
source = "files/server.conf"
`;

interface Build {
  run: CliResult;
  output: string;
  sha256: string;
  /** Manifest digest from --json. */
  digest: string;
}

interface BuildRequest {
  /** The spec and output as given on the command line (relative to `cwd` or absolute). */
  spec: string;
  output: string;
  cacheDir: string;
  cwd: string;
  umask?: string;
  env?: Record<string, string>;
  args?: string[];
}

/** `baseimg build … --json` in the given environment. */
async function build(request: BuildRequest): Promise<Build> {
  const { spec, output, cacheDir, args = [], ...options } = request;
  const run = await runCli(['build', spec, '-o', output, '--cache-dir', cacheDir, '--json', ...args], options);
  assert.equal(run.code, 0, describeRun(run));
  const outputPath = resolve(options.cwd, output);
  const result = JSON.parse(run.stdout) as { output: string; digest: string };
  assert.equal(result.output, outputPath, 'the reported output is not the file written');
  return { run, output: outputPath, sha256: await sha256File(outputPath), digest: result.digest };
}

const poolRequests = (): number => server.requests.filter((r) => r.path.startsWith('/pool/')).length;

let coldUtc: Build;
let coldAuckland: Build;

before(async () => {
  work = await makeTempDir('repro');
  repo = await standardFixtureRepo(join(work, 'repo'));
  server = await serveDirectory(repo.root);
  // The spec refers to its keyring and a [[paths]] source by paths relative to itself.
  specDir = join(work, 'project', 'image');
  await mkdir(join(specDir, 'keys'), { recursive: true });
  await mkdir(join(specDir, 'files'));
  await copyFile(repo.keyringPath, join(specDir, 'keys', 'fixture.gpg'));
  await writeFile(join(specDir, 'files', 'server.conf'), 'workers = 4\n');
  const include = ['base-files', 'netbase', 'tzdata', 'media-types', 'libc6', 'libssl3', 'passwd'];
  await writeFile(join(specDir, 'base.toml'), fixtureSpec({ mirror: server.url, keyring: 'keys/fixture.gpg', name: 'repro', include, tables: SPEC_TABLES }));
  for (const dir of ['out-utc', 'out-auckland', 'out-warm', 'out-offline', 'out-epoch', 'elsewhere']) await mkdir(join(work, dir));

  // Two cold builds at once, as different as a build environment gets.
  [coldUtc, coldAuckland] = await Promise.all([
    build({
      spec: join(specDir, 'base.toml'),
      output: join(work, 'out-utc', 'base.tar'),
      cacheDir: join(work, 'cache-utc'),
      cwd: join(work, 'elsewhere'),
      umask: '022',
      env: { TZ: 'UTC', LANG: 'C', LC_ALL: 'C' },
    }),
    build({
      spec: 'base.toml',
      output: '../../out-auckland/base.tar',
      cacheDir: join(work, 'cache-auckland'),
      cwd: specDir,
      umask: '077',
      env: { TZ: 'Pacific/Auckland', LANG: 'tr_TR.UTF-8', LC_ALL: 'tr_TR.UTF-8' },
    }),
  ]);
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('reproducible builds', () => {
  it('gives identical bytes across cache dirs, TZ, umask, locale, cwd and absolute vs relative paths', async () => {
    assert.equal(coldAuckland.sha256, coldUtc.sha256, 'the two cold builds differ');
    assert.equal(coldAuckland.digest, coldUtc.digest);
    // The environments really differed: umask 077 makes the output private.
    assert.equal((await stat(coldUtc.output)).mode & 0o777, 0o644);
    assert.equal((await stat(coldAuckland.output)).mode & 0o777, 0o600);
  });

  it('gives the same bytes from a warm cache, and from the cache alone with --offline', async () => {
    const downloaded = poolRequests();
    assert.ok(downloaded >= 2 * 9, `the cold builds downloaded only ${downloaded} packages`);
    const served = server.requests.length;
    const spec = join(specDir, 'base.toml');
    const [warm, offline] = await Promise.all([
      build({ spec, output: join(work, 'out-warm', 'base.tar'), cacheDir: join(work, 'cache-utc'), cwd: work }),
      build({ spec, output: join(work, 'out-offline', 'base.tar'), cacheDir: join(work, 'cache-auckland'), cwd: work, args: ['--offline'] }),
    ]);
    assert.equal(poolRequests(), downloaded, 'a warm build downloaded packages again');
    assert.ok(server.requests.length > served, 'the online warm build should re-check InRelease');
    assert.equal(warm.sha256, coldUtc.sha256, 'warm cache build differs from the cold one');
    assert.equal(offline.sha256, coldUtc.sha256, '--offline build differs from the online one');
  });

  it('changes the bytes when an input changes (the comparison above can fail)', async () => {
    const other = await build({
      spec: join(specDir, 'base.toml'),
      output: join(work, 'out-epoch', 'base.tar'),
      cacheDir: join(work, 'cache-utc'),
      cwd: work,
      args: ['--source-date-epoch', '1600000000'],
    });
    assert.notEqual(other.sha256, coldUtc.sha256);
    assert.notEqual(other.digest, coldUtc.digest);
  });
});
