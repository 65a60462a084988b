/**
 * scripts/repro.mjs (`npm run repro`): a local fixture spec reproduces under
 * the script's two build conditions, and two different tarballs are
 * explained by a listing comparison when diffoscope is not used.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { standardFixtureRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { childEnv, describeRun, fixtureSpec, makeTempDir, PROJECT_ROOT, runCli, type CliResult } from '../helpers/cli.js';

const SCRIPT = join(PROJECT_ROOT, 'scripts', 'repro.mjs');

function repro(args: string[]): Promise<CliResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { cwd: PROJECT_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), durationMs: performance.now() - started }),
    );
  });
}

let work: string;
let server: TestServer;
let tarA: string;
let tarB: string;

before(async () => {
  work = await makeTempDir('repro-script');
  const repo = await standardFixtureRepo(join(work, 'repo'), { architectures: ['amd64'] });
  server = await serveDirectory(repo.root);
  const spec = join(work, 'app.toml');
  await writeFile(spec, fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'app' }));
  tarA = join(work, 'a.tar');
  tarB = join(work, 'b.tar');
  for (const [out, epoch] of [[tarA, '1700000000'], [tarB, '1700000001']] as const) {
    const run = await runCli(['build', spec, '-o', out, '--cache-dir', join(work, 'cache'), '--source-date-epoch', epoch]);
    assert.equal(run.code, 0, describeRun(run));
  }
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('npm run repro', () => {
  it('builds a local fixture spec three times under different conditions (C: pako only) and finds the same digest', async () => {
    const run = await repro(['--no-build', '--fixture', 'debian']);
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stdout, /^ok {4}fixture:debian {2}sha256:[0-9a-f]{64} {2}\(A [\d.]+ s, B [\d.]+ s, C [\d.]+ s\)$/m);
    assert.match(run.stdout, /^1 of 1 specs reproduce$/m);
  });

  it('explains two different tarballs with a listing when diffoscope is not used', async () => {
    const run = await repro(['--compare', tarA, tarB, '--no-diffoscope']);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stdout, /install diffoscope to see the difference/);
    assert.match(run.stdout, /^- config +"created": "2023-11-14T22:13:20Z",?$/m);
    assert.match(run.stdout, /^\+ config +"created": "2023-11-14T22:13:21Z",?$/m);
    // Files baseimg writes carry SOURCE_DATE_EPOCH: the layer listing shows which.
    assert.match(run.stdout, /^- layer\[0\] etc\/passwd 0 0644 0:0 mtime 1700000000 /m);
    assert.match(run.stdout, /^\+ layer\[0\] etc\/passwd 0 0644 0:0 mtime 1700000001 /m);
  });

  it('says when two tarballs are identical, and refuses unknown fixtures', async () => {
    const same = await repro(['--compare', tarA, tarA]);
    assert.equal(same.code, 0, describeRun(same));
    assert.match(same.stdout, /identical/);
    const unknown = await repro(['--no-build', '--fixture', 'nope']);
    assert.equal(unknown.code, 2, describeRun(unknown));
    assert.match(unknown.stderr, /unknown fixture nope \(known: debian/);
  });
});
