/**
 * Bad input through the CLI: each mistake gives a short message on stderr
 * that names the problem (file and line, key, package, URL) and how to fix
 * it, exit status 2 for input the user must fix (spec, options) and 1 for
 * everything else, no stack trace, and no output or temp file left behind.
 * Also --help, --version and the shape of --json output.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { buildDebianRepo, FIXTURE_VERSIONS, standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, listDir, makeTempDir, PROJECT_ROOT, runCli, type CliResult } from '../helpers/cli.js';

let work: string;
let repo: DebianRepo;
let server: TestServer;
let caseNumber = 0;

/** A port on 127.0.0.1 that nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

interface Failure {
  run: CliResult;
  /** The "baseimg: error: …" line and what follows it. */
  message: string;
}

/**
 * Runs `build SPEC …` for spec text (or an existing spec path) in a fresh
 * directory, with a private TMPDIR, and checks what every failure must
 * satisfy: the exit status, one error line, no stack, and no files left
 * beside the output or in TMPDIR.
 */
async function buildFails(specSource: string | { path: string }, expectedCode: number, extraArgs: string[] = []): Promise<Failure> {
  const dir = join(work, `case-${++caseNumber}`);
  const tmp = join(dir, 'tmp');
  const out = join(dir, 'out');
  await mkdir(tmp, { recursive: true });
  await mkdir(out);
  let specPath: string;
  if (typeof specSource === 'string') {
    specPath = join(dir, 'spec.toml');
    await writeFile(specPath, specSource);
  } else {
    specPath = specSource.path;
  }
  const run = await runCli(['build', specPath, '-o', join(out, 'image.tar'), '--cache-dir', join(dir, 'cache'), ...extraArgs], { env: { TMPDIR: tmp } });
  assert.equal(run.code, expectedCode, describeRun(run));
  assert.equal(run.stdout, '', 'nothing on stdout for a failed build');
  assert.doesNotMatch(run.stderr, /^\s+at /m, `a stack trace was printed:\n${run.stderr}`);
  assert.doesNotMatch(run.stderr, /internal error/);
  assert.deepEqual(await listDir(out), [], 'the output directory must stay empty');
  assert.deepEqual(await listDir(tmp), [], 'scratch files left in TMPDIR');
  const at = run.stderr.search(/^(baseimg: )?error: /m);
  assert.ok(at >= 0, `no error line on stderr:\n${run.stderr}`);
  const message = run.stderr.slice(at);
  assert.ok(message.trimEnd().split('\n').length <= 3, `the error is not short:\n${message}`);
  return { run, message };
}

const spec = (overrides: Partial<Parameters<typeof fixtureSpec>[0]> = {}): string =>
  fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, ...overrides });

before(async () => {
  work = await makeTempDir('errors');
  repo = await standardFixtureRepo(join(work, 'repo'));
  // A suite whose package needs a libc6 newer than any in the archive, two levels down.
  await buildDebianRepo(repo.root, {
    signingKeys: repo.signingKeys,
    suites: [{
      name: 'fixture-broken',
      components: {
        main: [
          {
            name: 'app', version: '1.0', architecture: 'amd64', control: { Depends: 'libapp1 (>= 1.0)' },
            entries: [{ path: './usr/bin/app', type: 'file', content: 'app\n', mode: 0o755 }],
          },
          {
            name: 'libapp1', version: '1.0', architecture: 'amd64', control: { Depends: 'libc6 (>= 9.0)' },
            entries: [{ path: './usr/lib/libapp.so.1', type: 'file', content: 'lib\n' }],
          },
        ],
      },
    }],
  });
  server = await serveDirectory(repo.root);
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('spec mistakes (exit 2)', () => {
  it('malformed TOML: file, line and what a value must look like', async () => {
    const { message } = await buildFails('name = "x"\n[source]\ndistro = debian\nsuites = ["fixture"]\n', 2);
    assert.match(message, /spec\.toml:3: invalid TOML: bad value debian/);
    assert.match(message, /hint: strings need quotes: "debian"/);
  });

  it('unknown key: names the table and suggests the right key', async () => {
    const { message } = await buildFails(spec().replace('components = ', 'componets = '), 2);
    assert.match(message, /spec\.toml:\d+: unknown key "componets" in \[source\] \(did you mean "components"\?\)/);
  });

  it('missing keyring file: names the key and the path, and where relative paths start', async () => {
    const { message } = await buildFails(spec({ keyring: 'keys/missing.gpg' }), 2);
    assert.match(message, /spec\.toml:\d+: source\.keyring: cannot read "keys\/missing\.gpg": no such file/);
    assert.match(message, /hint: relative paths start at the spec's directory/);
  });

  it('a spec file that does not exist', async () => {
    const { message } = await buildFails({ path: join(work, 'no-such-spec.toml') }, 2);
    assert.match(message, /cannot read spec \S*no-such-spec\.toml: no such file/);
  });
});

describe('command-line mistakes (exit 2)', () => {
  it('--arch with an unknown architecture lists the valid ones', async () => {
    const { message } = await buildFails(spec(), 2, ['--arch', 'riscv64']);
    assert.match(message, /--arch.*'riscv64' is invalid.*expected one of amd64, arm64/);
  });

  it('-o into a directory that does not exist, or naming a directory, fails before any work', async () => {
    const missing = join(work, 'no-such-dir', 'deeper');
    const gone = await buildFails(spec(), 2, ['-o', join(missing, 'x.tar')]);
    assert.match(gone.message, /-o\/--output: directory \S*no-such-dir\/deeper does not exist/);
    assert.match(gone.run.stderr, /hint: create it first \(mkdir -p /);
    const isDir = await buildFails(spec(), 2, ['-o', work]);
    assert.match(isDir.message, /-o\/--output \S+ is a directory; expected the path of the image tarball/);
  });

  it('--tag that is not an image reference shows the expected form', async () => {
    const { message } = await buildFails(spec(), 2, ['--tag', 'Bad:Tag']);
    assert.match(message, /--tag.*'Bad:Tag' is invalid.*lowercase.*expected e\.g\. "myimage:1\.0"/);
  });

  it('--source-date-epoch that is not a number of seconds', async () => {
    const { message } = await buildFails(spec(), 2, ['--source-date-epoch', 'yesterday']);
    assert.match(message, /--source-date-epoch.*'yesterday' is invalid.*non-negative integer/);
  });
});

describe('resolution and network failures (exit 1)', () => {
  it('unknown package: suggests close names', async () => {
    const { message } = await buildFails(spec({ include: ['base-files', 'libssl'] }), 1);
    assert.match(message, /unknown package "libssl" in packages\.include \(did you mean "libssl3"/);
    assert.match(message, /hint: /);
  });

  it('unsatisfiable dependency: prints the chain from the requested package', async () => {
    const { message } = await buildFails(spec({ suites: ['fixture', 'fixture-broken'], include: ['app'] }), 1);
    assert.ok(
      message.includes(`app → libapp1 → libc6 (>= 9.0): only ${FIXTURE_VERSIONS.libc6} available`),
      `no dependency chain with the available version:\n${message}`,
    );
    assert.match(message, /hint: exclude the package that needs it/);
  });

  it('unreachable mirror: names the URL, gives up within seconds', async (t) => {
    const port = await closedPort();
    const { run, message } = await buildFails(fixtureSpec({ mirror: `http://127.0.0.1:${port}`, keyring: repo.keyringPath }), 1);
    assert.match(message, new RegExp(`cannot download http://127\\.0\\.0\\.1:${port}/dists/fixture(-security)?/InRelease: ECONNREFUSED \\(\\d+ attempts\\)`));
    assert.match(message, /hint: check the network connection and the mirror URL/);
    assert.ok(run.durationMs < 30_000, `took ${run.durationMs.toFixed(0)} ms`);
    t.diagnostic(`unreachable mirror: failed after ${(run.durationMs / 1000).toFixed(1)} s of retries`);
  });
});

describe('help, version and --json', () => {
  it('--help describes the commands; build --help its options', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0, describeRun(top));
    assert.match(top.stdout, /^Usage: baseimg/m);
    assert.match(top.stdout, /^\s+build \[options\] <spec>/m);
    assert.match(top.stdout, /^\s+resolve \[options\] <spec>/m);
    const build = await runCli(['build', '--help']);
    assert.equal(build.code, 0, describeRun(build));
    for (const option of ['--output', '--tag', '--arch', '--cache-dir', '--source-date-epoch', '--offline', '--json']) {
      assert.ok(build.stdout.includes(option), `build --help does not mention ${option}`);
    }
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout, `${version}\n`);
  });

  it('an unknown command is a usage error', async () => {
    const r = await runCli(['bulid', 'x.toml']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /unknown command 'bulid'/);
  });

  it('build --json: stdout is one JSON document with the digest, stderr only JSON lines', async () => {
    const dir = join(work, 'json');
    await mkdir(dir);
    await writeFile(join(dir, 'spec.toml'), spec({ name: 'json' }));
    const r = await runCli(['build', join(dir, 'spec.toml'), '-o', join(dir, 'json.tar'), '--cache-dir', join(dir, 'cache'), '--json']);
    assert.equal(r.code, 0, describeRun(r));
    const result = JSON.parse(r.stdout) as { digest: string; output: string; tag: string };
    assert.match(result.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(result.tag, 'json:latest');
    for (const line of r.stderr.trimEnd().split('\n')) assert.doesNotThrow(() => JSON.parse(line), `not JSON on stderr: ${line}`);
    assert.deepEqual(await listDir(dir), ['cache', 'json.cdx.json', 'json.spdx.json', 'json.tar', 'spec.toml']);
  });
});
