/**
 * Trust failures through the CLI, and --insecure-skip-verify.
 *
 * Already covered elsewhere and not repeated here (see docs/SECURITY.md):
 * a tampered InRelease, an unknown signing key, a passed Valid-Until, a
 * Packages.xz or .deb that does not match its checksum (build-aborted.test.ts,
 * CLI); every InRelease/Release.gpg case at the unit level (release.test.ts);
 * APKINDEX signatures (alpine-index.test.ts); .apk signature, C: and datahash
 * (alpine-apk.test.ts); Alpine repositories through the CLI with the shared
 * fixtures (alpine-build.test.ts "Alpine bad input").
 *
 * Here: the remaining Debian cases through the CLI (a signing key expired at
 * the current time, a Date beyond the tolerance), Alpine cases through the
 * CLI on repositories made here (no shared fixtures needed), and the
 * --insecure-skip-verify contract: on build, resolve and lock; a warning per
 * skipped check; recorded in both SBOMs; checksums still enforced.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { releaseDate, standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { generateTestKey, keyringOf } from '../helpers/pgp.js';
import { describeRun, fixtureSpec, listDir, makeTempDir } from '../helpers/cli.js';
import { readImageTarball, textAt } from '../helpers/image-reader.js';
import { schemaErrors } from '../helpers/sbom.js';
import { assertNothingLeft, errorOf, prepareDirs, startBuild } from '../helpers/hostile.js';
import { generateApkKey, gzipMembers, makeApk, makeApkIndex, writeRepo, type ApkTestKey } from '../helpers/alpine-repo.js';

let work: string;
let served: string;
let server: TestServer;
let pristine: DebianRepo;
let apkSigner: ApkTestKey;
let apkKeyPath: string;
let n = 0;

const HOUR = 3600_000;
const INSECURE = '--insecure-skip-verify';

before(async () => {
  work = await makeTempDir('trust');
  served = join(work, 'served');
  pristine = await standardFixtureRepo(join(served, 'pristine'), { architectures: ['amd64'] });
  apkSigner = generateApkKey('hostile-trust.rsa.pub');
  apkKeyPath = join(work, apkSigner.name);
  await writeFile(apkKeyPath, apkSigner.publicPem);
  server = await serveDirectory(served);
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A copy of the standard fixture under <served>/<name>, damaged by `damage`. */
async function archive(name: string, damage: (a: DebianRepo) => Promise<void> = async () => {}): Promise<DebianRepo> {
  const a = await standardFixtureRepo(join(served, name), { signingKeys: pristine.signingKeys, architectures: ['amd64'] });
  await damage(a);
  return a;
}

function debianSpec(name: string, keyring: string): string {
  return fixtureSpec({ mirror: `${server.url}/${name}`, keyring, name });
}

/** Runs a command that must fail with exit 1, leaving nothing behind; returns the error text. */
async function fails(name: string, spec: string, args: string[] = [], command: 'build' | 'resolve' | 'lock' = 'build'): Promise<string> {
  const dirs = await prepareDirs(join(work, 'runs'), `${name}-${++n}`, spec);
  const run = await startBuild(dirs, { args, command }).done;
  assert.equal(run.code, 1, describeRun(run));
  await assertNothingLeft(dirs);
  return errorOf(run);
}

describe('Debian trust failures through the CLI', () => {
  it('an InRelease signed by a key that has expired by now (the signature was made while it was valid)', async () => {
    const expired = await generateTestKey({ name: 'Expired Archive Key', email: 'expired@example.invalid', expired: true });
    const a = await archive('expired-key', async (r) => {
      await r.resign('fixture', { keys: [expired] });
      await r.resign('fixture-security', { keys: [expired] });
    });
    const keyring = join(a.root, 'expired-keyring.gpg');
    await writeFile(keyring, keyringOf([expired]));
    const message = await fails('expired-key', debianSpec('expired-key', keyring));
    assert.match(message, /expired-key\/dists\/fixture(-security)?\/InRelease: no valid signature from a trusted key \([0-9a-f]{16}: key not valid on \d{4}-/);
  });

  it('an InRelease whose Date lies beyond the 10-minute tolerance', async () => {
    await archive('future', (r) => r.rewriteRelease('fixture', { Date: releaseDate(new Date(Date.now() + 2 * HOUR)) }));
    const message = await fails('future', debianSpec('future', pristine.keyringPath));
    assert.match(message, /future\/dists\/fixture\/InRelease: Date \S+ is in the future \(now: /);
    assert.match(message, /hint: check the system clock/);
  });
});

describe('--insecure-skip-verify (Debian)', () => {
  let untrusted: DebianRepo;

  before(async () => {
    const stranger = await generateTestKey({ name: 'Stranger', email: 'stranger@example.invalid' });
    untrusted = await archive('untrusted', async (r) => {
      await r.rewriteRelease('fixture', { 'Valid-Until': 'Sat, 01 Jan 2022 00:00:00 UTC' });
      await r.resign('fixture', { keys: [stranger] });
      await r.resign('fixture-security', { keys: [stranger] });
    });
  });

  it('without the flag the archive is refused', async () => {
    assert.match(await fails('untrusted-refused', debianSpec('untrusted', untrusted.keyringPath)), /InRelease: no valid signature from a trusted key/);
  });

  it('with it: builds, warns once per skipped check naming the file, and both SBOMs record it', async () => {
    const dirs = await prepareDirs(join(work, 'runs'), 'untrusted-insecure', debianSpec('untrusted', untrusted.keyringPath));
    const run = await startBuild(dirs, { args: [INSECURE] }).done;
    assert.equal(run.code, 0, describeRun(run));
    const warnings = run.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    const base = `${server.url}/untrusted/dists`;
    assert.match(warnings[0]!, /^warning: --insecure-skip-verify: signature and Release date failures are only warned about/);
    for (const suite of ['fixture', 'fixture-security']) {
      const line = warnings.find((w) => w.startsWith(`warning: NOT verifying the signature of ${base}/${suite}/InRelease (--insecure-skip-verify): `));
      assert.ok(line, `no warning for ${suite}:\n${run.stderr}`);
      assert.match(line, /unknown key/);
    }
    assert.ok(warnings.some((w) => w.startsWith(`warning: NOT enforcing (--insecure-skip-verify): ${base}/fixture/InRelease: expired: Valid-Until 2022-01-01`)), run.stderr);
    assert.equal(warnings.length, 4, `one warning per skipped check, plus the opening one:\n${warnings.join('\n')}`);

    const beside = {
      spdx: JSON.parse(await readFile(join(dirs.out, 'image.spdx.json'), 'utf8')),
      cdx: JSON.parse(await readFile(join(dirs.out, 'image.cdx.json'), 'utf8')),
    };
    const layer = (await readImageTarball(join(dirs.out, 'image.tar'))).layers[0]!;
    const embedded = { spdx: JSON.parse(textAt(layer, 'var/lib/db/sbom/baseimg.spdx.json')), cdx: JSON.parse(textAt(layer, 'var/lib/db/sbom/baseimg.cdx.json')) };
    for (const docs of [beside, embedded]) {
      assert.match(docs.spdx.creationInfo.comment, /^built with --insecure-skip-verify: /);
      const prop = docs.cdx.metadata.properties.find((p: { name: string }) => p.name === 'baseimg:insecure-skip-verify');
      assert.match(prop.value, /^built with --insecure-skip-verify: /);
      assert.deepEqual(schemaErrors('spdx', docs.spdx), []);
      assert.deepEqual(schemaErrors('cyclonedx', docs.cdx), []);
    }
  });

  it('a verified build carries no such record', async () => {
    const dirs = await prepareDirs(join(work, 'runs'), 'pristine-sbom', debianSpec('pristine', pristine.keyringPath));
    const run = await startBuild(dirs).done;
    assert.equal(run.code, 0, describeRun(run));
    assert.doesNotMatch(run.stderr, /insecure/);
    const spdx = JSON.parse(await readFile(join(dirs.out, 'image.spdx.json'), 'utf8'));
    const cdx = JSON.parse(await readFile(join(dirs.out, 'image.cdx.json'), 'utf8'));
    assert.equal(spdx.creationInfo.comment, undefined);
    assert.equal(cdx.metadata.properties, undefined);
  });

  it('resolve and lock take the flag too, with the same warnings', async () => {
    for (const command of ['resolve', 'lock'] as const) {
      const spec = debianSpec('untrusted', untrusted.keyringPath);
      assert.match(await fails(`untrusted-${command}`, spec, [], command), /no valid signature from a trusted key/);
      const dirs = await prepareDirs(join(work, 'runs'), `untrusted-${command}-insecure`, spec);
      const run = await startBuild(dirs, { command, args: [INSECURE] }).done;
      assert.equal(run.code, 0, describeRun(run));
      assert.match(run.stderr, /warning: NOT verifying the signature of \S+\/untrusted\/dists\/fixture\/InRelease/);
      if (command === 'lock') assert.deepEqual(await listDir(dirs.out), ['spec.lock.json']);
    }
  });

  it('checksums are still enforced: a .deb that does not match its index fails even with the flag', async () => {
    const a = await archive('insecure-bad-deb', (r) => r.tamperFile(r.pkg('libc6').poolPath, (d) => Buffer.concat([d.subarray(0, -1), Buffer.from([d[d.length - 1]! ^ 1])])));
    const message = await fails('insecure-bad-deb', debianSpec('insecure-bad-deb', a.keyringPath), [INSECURE]);
    assert.match(message, /libc6 \S+ \(http:\S+\/insecure-bad-deb\/pool\/\S+\.deb\): checksum mismatch/);
  });
});

/** An Alpine repository made here: one package, index and package signed by `signer` unless told otherwise. */
async function alpineRepo(name: string, options: { signer?: ApkTestKey; packageSigner?: ApkTestKey; checksum?: string; afterIndex?: (apk: Buffer) => Buffer } = {}): Promise<string> {
  const signer = options.signer ?? apkSigner;
  const built = makeApk({ name: 'hello', version: '1.0-r0', keys: [options.packageSigner ?? signer], entries: [{ path: 'usr/', type: 'dir' }, { path: 'usr/bin/', type: 'dir' }, { path: 'usr/bin/hello', content: '#!/bin/sh\necho hi\n', mode: 0o755 }] });
  const index = makeApkIndex([{ apk: built.file, ...(options.checksum ? { override: { C: options.checksum } } : {}) }], { keys: [signer] });
  const apk = options.afterIndex ? options.afterIndex(built.file) : built.file;
  return writeRepo(served, { name, index, apks: { 'hello-1.0-r0.apk': apk } });
}

function alpineSpec(repoPath: string): string {
  return [
    'name = "hostile-alpine"',
    '[source]',
    'distro = "alpine"',
    `repositories = [${JSON.stringify(`${server.url}${repoPath}`)}]`,
    `keys = [${JSON.stringify(apkKeyPath)}]`,
    '[packages]',
    'include = ["hello"]',
    '',
  ].join('\n');
}

describe('Alpine trust failures through the CLI (repositories made here)', () => {
  it('an APKINDEX changed after signing (still well-formed gzip, so only the signature can tell)', async () => {
    const repo = await alpineRepo('apk-bad-index');
    const indexPath = join(served, 'apk-bad-index', 'x86_64', 'APKINDEX.tar.gz');
    const index = await readFile(indexPath);
    const [, [start, end]] = gzipMembers(index) as [unknown, [number, number]];
    const edited = gunzipSync(index.subarray(start, end)).toString('latin1').replace('T:test package hello', 'T:test package HELLO');
    await writeFile(indexPath, Buffer.concat([index.subarray(0, start), gzipSync(Buffer.from(edited, 'latin1'))]));
    const message = await fails('apk-bad-index', alpineSpec(repo));
    assert.match(message, /APKINDEX of http:\S+\/apk-bad-index \(x86_64\): signature by trusted key hostile-trust\.rsa\.pub does not match the content/);
  });

  it('a package whose control member is not the one the index names (C:)', async () => {
    const repo = await alpineRepo('apk-wrong-c', { checksum: `Q1${'A'.repeat(27)}=` });
    const message = await fails('apk-wrong-c', alpineSpec(repo));
    assert.match(message, /package hello 1\.0-r0 \(http:\S+\/apk-wrong-c\/x86_64\/hello-1\.0-r0\.apk\): the control member does not match the index \(index C:Q1A{27}=, file Q1/);
  });

  it('--insecure-skip-verify: an index and package by an unknown key build with a warning for each; a wrong C: still fails', async () => {
    const stranger = generateApkKey('stranger.rsa.pub');
    const repo = await alpineRepo('apk-untrusted', { signer: stranger });
    assert.match(await fails('apk-untrusted', alpineSpec(repo)), /is signed by stranger\.rsa\.pub \(RSA256\), which is not among the trusted keys/);

    const dirs = await prepareDirs(join(work, 'runs'), 'apk-untrusted-insecure', alpineSpec(repo));
    const run = await startBuild(dirs, { args: [INSECURE] }).done;
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stderr, /warning: NOT verifying the signature of APKINDEX of \S+\/apk-untrusted \(x86_64\) \(--insecure-skip-verify\)/);
    assert.match(run.stderr, /warning: NOT verifying the signature of package hello 1\.0-r0 \(\S+\) \(--insecure-skip-verify\)/);
    const cdx = JSON.parse(await readFile(join(dirs.out, 'image.cdx.json'), 'utf8'));
    assert.ok(cdx.metadata.properties.some((p: { name: string }) => p.name === 'baseimg:insecure-skip-verify'));

    const wrong = await alpineRepo('apk-untrusted-wrong-c', { signer: stranger, checksum: `Q1${'B'.repeat(27)}=` });
    assert.match(await fails('apk-untrusted-wrong-c', alpineSpec(wrong), [INSECURE]), /the control member does not match the index/);
  });
});
