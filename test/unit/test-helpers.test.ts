/**
 * Checks the fabricated debs, keys, archive and fault-injecting server against real tools
 * (dpkg-deb, tar, gpgv) so later tests can trust them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { writeAr } from '../helpers/ar.js';
import { compress, debControlParagraph, decompress, makeDeb, rawTar, type DebSpec } from '../helpers/make-deb.js';
import { clearsign, detachSign, generateTestKey } from '../helpers/pgp.js';
import { FIXTURE_VERSIONS, standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';

const hasTool = (name: string): boolean => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
const run = (command: string, args: string[], input?: Buffer) => {
  const result = spawnSync(command, args, { input, maxBuffer: 64 << 20 });
  return { status: result.status, stdout: result.stdout.toString('latin1'), stderr: result.stderr.toString() };
};
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

let work: string;
let gnupgHome: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'baseimg-helpers-'));
  gnupgHome = await mkdtemp(join(tmpdir(), 'baseimg-gnupg-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
  await rm(gnupgHome, { recursive: true, force: true });
});

const gpgv = (keyring: string, ...files: string[]) =>
  spawnSync('gpgv', ['--homedir', gnupgHome, '--keyring', keyring, ...files], { encoding: 'utf8' });

describe('ar', () => {
  test('writes the global header, 60-byte member headers and odd-size padding', () => {
    const ar = writeAr([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'odd', data: Buffer.from('abc'), mode: 0o100755 }]);
    assert.equal(ar.subarray(0, 8).toString(), '!<arch>\n');
    assert.equal(ar.subarray(8, 68).toString(), `${'debian-binary'.padEnd(16)}${'0'.padEnd(12)}0     0     100644  4         \`\n`);
    assert.equal(ar.subarray(72 + 40, 72 + 48).toString(), '100755  ');
    assert.equal(ar.length, 8 + 60 + 4 + 60 + 3 + 1);
    assert.equal(ar.at(-1), 0x0a);
  });
});

describe('makeDeb', { skip: !hasTool('dpkg-deb') && 'dpkg-deb not installed' }, () => {
  const spec: DebSpec = {
    name: 'hello', version: '1:2.10-3', architecture: 'amd64',
    control: { Depends: 'libc6 (>= 2.34)', Section: 'devel', Description: 'say hello\nA longer description.\n\nSecond paragraph.' },
    conffiles: ['/etc/hello.conf'],
    maintainerScripts: { postinst: '#!/bin/sh\nexit 0\n' },
    entries: [
      { path: './usr/bin/hello', type: 'file', content: 'x'.repeat(3000), mode: 0o4755 },
      { path: './usr/bin/hi', type: 'hardlink', linkname: './usr/bin/hello' },
      { path: 'etc/hello.conf', type: 'file', content: 'greeting=hi\n' },
      { path: `./usr/share/doc/hello/${'n'.repeat(120)}`, type: 'file', content: 'long name\n' },
      { path: './lib64/ld.so', type: 'symlink', linkname: '/lib/x86_64-linux-gnu/ld.so' },
      { path: './var/mail', type: 'dir', mode: 0o2775, gid: 8, gname: 'mail' },
    ],
  };

  for (const [control, data] of [['xz', 'xz'], ['gz', 'zst'], ['zst', 'gz'], ['none', 'none']] as const) {
    test(`dpkg-deb reads it (control.tar ${control}, data.tar ${data})`, async () => {
      const path = join(work, `hello-${control}-${data}.deb`);
      await writeFile(path, await makeDeb({ ...spec, controlCompression: control, dataCompression: data }));
      const info = run('dpkg-deb', ['--info', path]);
      assert.equal(info.status, 0, info.stderr);
      assert.match(info.stdout, /Package: hello\n Version: 1:2\.10-3\n Architecture: amd64\n/);
      assert.equal(run('dpkg-deb', ['--field', path]).stdout, debControlParagraph(spec));
      const listing = run('dpkg-deb', ['-c', path]);
      assert.equal(listing.status, 0, listing.stderr);
      const names = listing.stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/).slice(5).join(' '));
      assert.deepEqual(names.slice(0, 4), ['./', './etc/', './etc/hello.conf', './lib64/']);
      assert.ok(names.includes('./usr/bin/hi link to ./usr/bin/hello'));
      assert.ok(names.includes(`./usr/share/doc/hello/${'n'.repeat(120)}`));
      assert.match(listing.stdout, /-rwsr-xr-x root\/root\s+3000 .* \.\/usr\/bin\/hello\n/);
      assert.match(listing.stdout, /drwxrwsr-x root\/mail .* \.\/var\/mail\/\n/);
      const controlTar = spawnSync('dpkg-deb', ['--ctrl-tarfile', path]).stdout;
      assert.deepEqual(run('tar', ['-t'], controlTar).stdout.split('\n').filter(Boolean), ['./', './conffiles', './control', './md5sums', './postinst']);
      const md5sums = run('dpkg-deb', ['--info', path, 'md5sums']).stdout;
      const md5 = createHash('md5').update('x'.repeat(3000)).digest('hex');
      assert.equal(md5sums.split('\n')[0], `${md5}  usr/bin/hello`);
      assert.ok(md5sums.includes(`${md5}  usr/bin/hi\n`));
      assert.ok(!md5sums.includes('etc/hello.conf'), 'conffiles are not in md5sums');
    });
  }

  test('Installed-Size is computed, and an explicit one wins', () => {
    assert.match(debControlParagraph(spec), /^Installed-Size: 16$/m);
    assert.match(debControlParagraph({ ...spec, control: { 'Installed-Size': '999' } }), /^Installed-Size: 999$/m);
  });

  test('rawDataTar and rewriteMembers bypass the normal construction', async () => {
    const hostile = rawTar([{ name: '../escape', content: 'boom' }]);
    const deb = await makeDeb({ ...spec, dataCompression: 'none', rawDataTar: hostile, rewriteMembers: (m) => [m[1]!, m[0]!, m[2]!] });
    const path = join(work, 'hostile.deb');
    await writeFile(path, deb);
    const listing = run('ar', ['t', path]);
    assert.deepEqual(listing.stdout.split('\n').filter(Boolean), ['control.tar.xz', 'debian-binary', 'data.tar']);
  });
});

describe('rawTar', { skip: !hasTool('tar') && 'tar not installed' }, () => {
  test('emits hostile names that GNU tar decodes as written', () => {
    const longName = `deep/${'d'.repeat(150)}/file`;
    const tar = rawTar([
      { name: '../../etc/passwd', content: 'root::0:0::/:/bin/sh\n' },
      { name: '/abs/path', content: 'abs' },
      { name: longName, content: 'gnu' },
      { name: `pax/${'p'.repeat(150)}`, content: 'pax', longNames: 'pax' },
      { name: 'innocent', pax: { path: '../pax-escape' }, content: 'pax path override' },
      { name: Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]), content: 'invalid utf-8' },
      { name: 'dup', content: 'first' },
      { name: 'dup', content: 'second' },
      { name: 'link', type: 'symlink', linkname: `/${'l'.repeat(150)}` },
      { name: 'dev/sda', type: 'block', devmajor: 8, devminor: 0 },
    ]);
    assert.equal(tar.length % 512, 0);
    const listed = run('tar', ['-tvf', '-', '--quoting-style=escape'], tar);
    assert.equal(listed.status, 0, listed.stderr);
    const lines = listed.stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/).slice(5).join(' '));
    assert.deepEqual(lines, [
      '../../etc/passwd', '/abs/path', longName, `pax/${'p'.repeat(150)}`, '../pax-escape', 'bad\\377\\376', 'dup', 'dup',
      `link -> /${'l'.repeat(150)}`, 'dev/sda',
    ]);
    assert.notEqual(run('tar', ['-tf', '-'], rawTar([{ name: 'x', content: 'y', badChecksum: true }])).status, 0);
  });
});

describe('pgp', () => {
  test('clearsigned and detached signatures verify with openpgp', async () => {
    const key = await generateTestKey({ name: 'Unit Key', email: 'unit@example.invalid' });
    assert.equal(key, await generateTestKey({ name: 'Unit Key', email: 'unit@example.invalid' }), 'cached');
    assert.match(key.fingerprint, /^[0-9A-F]{40}$/);
    const signed = await clearsign('Origin: Test\n', key);
    assert.match(signed, /^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA(256|512)\n\nOrigin: Test\n-----BEGIN PGP SIGNATURE-----\n/);
    const message = await openpgp.readCleartextMessage({ cleartextMessage: signed });
    const verified = await openpgp.verify({ message, verificationKeys: key.publicKey, expectSigned: true });
    assert.equal(verified.data, 'Origin: Test');
    const detached = await detachSign('data\n', key);
    const signature = await openpgp.readSignature({ armoredSignature: detached });
    const ok = await openpgp.verify({ message: await openpgp.createMessage({ binary: Buffer.from('data\n') }), signature, verificationKeys: key.publicKey });
    await ok.signatures[0]!.verified;
  });

  test('an expired key still signs (inside its validity window)', async () => {
    const key = await generateTestKey({ name: 'Old Key', email: 'old@example.invalid', expired: true, signingSubkey: true });
    assert.ok(key.expires && key.expires < new Date());
    assert.notEqual(key.signingFingerprint, key.fingerprint);
    const signed = await clearsign('x\n', key);
    const message = await openpgp.readCleartextMessage({ cleartextMessage: signed });
    const [sig] = (await openpgp.verify({ message, verificationKeys: key.publicKey, date: new Date(key.created.getTime() + 120_000) })).signatures;
    assert.equal(sig!.keyID.toHex().toUpperCase(), key.signingFingerprint.slice(-16));
    assert.ok(((await key.publicKey.getExpirationTime()) as Date) < new Date());
    if (!hasTool('gpgv')) return;
    const path = join(work, 'expired-InRelease');
    const keyring = join(work, 'expired.gpg');
    await writeFile(path, signed);
    await writeFile(keyring, key.binaryPublic);
    const status = spawnSync('gpgv', ['--homedir', gnupgHome, '--status-fd', '1', '--keyring', keyring, path], { encoding: 'utf8' });
    assert.match(status.stdout, /^\[GNUPG:\] EXPKEYSIG /m, 'gpgv sees an expired key, as apt would');
  });
});

describe('standard fixture repo', () => {
  let repo: DebianRepo;
  before(async () => {
    repo = await standardFixtureRepo(join(work, 'repo'));
  });

  const releaseSha256 = (release: string): Map<string, { hash: string; size: number }> => {
    const section = release.split('SHA256:\n')[1]!;
    return new Map(section.split('\n').filter((l) => l.startsWith(' ')).map((l) => {
      const [hash, size, path] = l.trim().split(/\s+/);
      return [path!, { hash: hash!, size: Number(size) }];
    }));
  };

  test('InRelease and Release.gpg verify with gpgv against keyring.gpg', { skip: !hasTool('gpgv') && 'gpgv not installed' }, () => {
    for (const suite of ['fixture', 'fixture-security', 'fixture-usrmerge']) {
      const dists = join(repo.root, 'dists', suite);
      const clear = gpgv(repo.keyringPath, join(dists, 'InRelease'));
      assert.equal(clear.status, 0, clear.stderr);
      assert.match(clear.stderr, /Good signature/);
      const detached = gpgv(repo.keyringPath, join(dists, 'Release.gpg'), join(dists, 'Release'));
      assert.equal(detached.status, 0, detached.stderr);
    }
  });

  test('Release lists every index with matching hashes; by-hash copies exist', async () => {
    const release = await readFile(join(repo.root, 'dists/fixture/Release'), 'utf8');
    assert.match(release, /^Origin: Debian\nLabel: Debian\nSuite: fixture\nVersion: 12\.8\nCodename: fixture\nDate: Sat, 09 Nov 2024 10:05:41 UTC\nAcquire-By-Hash: yes\n/);
    assert.match(release, /^Architectures: amd64 arm64$/m);
    const listed = releaseSha256(release);
    for (const arch of ['amd64', 'arm64']) {
      const xz = await readFile(join(repo.root, `dists/fixture/main/binary-${arch}/Packages.xz`));
      assert.deepEqual(listed.get(`main/binary-${arch}/Packages.xz`), { hash: sha256(xz), size: xz.length });
      const plain = await decompress(xz, 'xz');
      assert.equal(listed.get(`main/binary-${arch}/Packages`)?.hash, sha256(plain));
      assert.ok(!existsSync(join(repo.root, `dists/fixture/main/binary-${arch}/Packages`)), 'like Debian, no plain Packages');
      assert.ok(existsSync(join(repo.root, `dists/fixture/main/binary-${arch}/by-hash/SHA256/${sha256(xz)}`)));
      const text = plain.toString();
      assert.match(text, /^Package: tzdata\n/m, 'arch all listed in every binary-<arch>');
      assert.match(release, new RegExp(` [0-9a-f]{64} +${plain.length} main/binary-${arch}/Packages\n`));
    }
    assert.match(release, /\n [0-9a-f]{64} {2,}\d+ main\/binary-amd64\/Packages\.gz\n/);
  });

  test('Packages entries agree with the pool files and their control files', async () => {
    const plain = (await decompress(await readFile(join(repo.root, 'dists/fixture/main/binary-amd64/Packages.xz')), 'xz')).toString();
    const libc = repo.pkg('libc6', { architecture: 'amd64' });
    assert.equal(libc.poolPath, `pool/main/g/glibc/libc6_${FIXTURE_VERSIONS.libc6}_amd64.deb`);
    assert.equal(repo.pkg('passwd', { architecture: 'amd64' }).poolPath, 'pool/main/s/shadow/passwd_4.13+dfsg1-1+b1_amd64.deb');
    assert.equal(repo.pkg('libssl3', { architecture: 'arm64' }).poolPath, `pool/main/o/openssl/libssl3_${FIXTURE_VERSIONS.libssl3}_arm64.deb`);
    const paragraph = plain.split('\n\n').find((p) => p.startsWith('Package: libc6\n'))!;
    assert.match(paragraph, /^Package: libc6\nSource: glibc\nVersion: \S+\nInstalled-Size: \d+\nMaintainer: .*\nArchitecture: amd64\n/);
    assert.ok(paragraph.includes(`Filename: ${libc.poolPath}\nSize: ${libc.size}\nMD5sum: ${libc.md5}\nSHA256: ${libc.sha256}`));
    assert.equal(sha256(await readFile(libc.debPath)), libc.sha256);
    const control = run('dpkg-deb', ['--field', libc.debPath]).stdout;
    for (const line of ['Depends: libgcc-s1', 'Multi-Arch: same', 'Protected: yes']) assert.ok(control.includes(`${line}\n`));
    const security = repo.pkg('openssl', { suite: 'fixture-security', architecture: 'amd64' });
    assert.equal(security.version, FIXTURE_VERSIONS['openssl-security']);
  });

  test('fixture packages have the notable contents', { skip: !hasTool('dpkg-deb') && 'dpkg-deb not installed' }, () => {
    const listing = (name: string, suite = 'fixture') => run('dpkg-deb', ['-c', repo.pkg(name, { suite, architecture: 'amd64' }).debPath]).stdout;
    assert.match(listing('base-files'), /\.\/etc\/os-release -> \.\.\/usr\/lib\/os-release\n/);
    assert.match(listing('base-files', 'fixture-usrmerge'), /\.\/bin -> usr\/bin\n/);
    assert.match(listing('libc6'), /\.\/lib64\/ld-linux-x86-64\.so\.2 -> \/lib\/x86_64-linux-gnu\/ld-linux-x86-64\.so\.2\n/);
    assert.match(listing('passwd'), /-rwsr-xr-x root\/root .* \.\/usr\/bin\/passwd\n/);
    assert.match(listing('tzdata'), /\.\/usr\/share\/zoneinfo\/UTC link to \.\/usr\/share\/zoneinfo\/Etc\/UTC\n/);
    assert.match(listing('ca-certificates'), /mozilla\/ISRG_Root_X1\.crt\n/);
    const members = run('ar', ['t', repo.pkg('netbase').debPath]).stdout;
    assert.equal(members, 'debian-binary\ncontrol.tar.zst\ndata.tar.gz\n');
    assert.equal(run('dpkg-deb', ['--info', repo.pkg('media-types').debPath]).status, 0);
  });

  test('tampering breaks the signature; rewriteRelease and reindex re-sign', { skip: !hasTool('gpgv') && 'gpgv not installed' }, async () => {
    const inRelease = join(repo.root, 'dists/fixture/InRelease');
    await repo.tamperFile('dists/fixture/InRelease', (data) => data.toString().replace('Suite: fixture', 'Suite: fixturf'));
    assert.notEqual(gpgv(repo.keyringPath, inRelease).status, 0);
    await repo.rewriteRelease('fixture', { 'Valid-Until': 'Sat, 01 Jan 2000 00:00:00 UTC', Label: null });
    const release = await readFile(join(repo.root, 'dists/fixture/Release'), 'utf8');
    assert.match(release, /Valid-Until: Sat, 01 Jan 2000 00:00:00 UTC\nMD5Sum:\n/);
    assert.doesNotMatch(release, /^Label:/m);
    assert.equal(gpgv(repo.keyringPath, inRelease).status, 0);
    const indexPath = 'dists/fixture/main/binary-amd64/Packages.xz';
    const edited = (await decompress(await readFile(join(repo.root, indexPath)), 'xz')).toString().replace(/^Priority: required$/m, 'Priority: extra');
    const recompressed = await compress(Buffer.from(edited), 'xz');
    await repo.tamperFile(indexPath, () => recompressed);
    await repo.reindex('fixture');
    const xz = await readFile(join(repo.root, 'dists/fixture/main/binary-amd64/Packages.xz'));
    const listed = releaseSha256(await readFile(join(repo.root, 'dists/fixture/Release'), 'utf8'));
    assert.equal(listed.get('main/binary-amd64/Packages.xz')?.hash, sha256(xz));
    assert.equal(listed.get('main/binary-amd64/Packages')?.hash, sha256(Buffer.from(edited)));
    assert.equal(gpgv(repo.keyringPath, inRelease).status, 0);
    const other = await generateTestKey({ name: 'Intruder', email: 'intruder@example.invalid' });
    await repo.resign('fixture', { keys: [other] });
    assert.notEqual(gpgv(repo.keyringPath, inRelease).status, 0);
  });
});

interface Fetched { status?: number; body: Buffer; error?: string; declaredLength?: number }

/** GET without connection reuse, reporting how far the response got. */
function fetchRaw(url: string, timeoutMs = 2000): Promise<Fetched> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const result: Fetched = { body: Buffer.alloc(0) };
    const finish = (error?: string): void => {
      result.body = Buffer.concat(chunks);
      if (error) result.error = error;
      resolve(result);
    };
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      result.status = res.statusCode;
      result.declaredLength = Number(res.headers['content-length']);
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish(res.complete ? undefined : 'incomplete'));
      res.on('error', (e) => finish(e.message));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => finish(e.message));
  });
}

describe('serveDirectory', () => {
  let server: TestServer;
  const body = Buffer.from('0123456789'.repeat(1000));
  before(async () => {
    await writeFile(join(work, 'blob'), body);
    server = await serveDirectory(work);
  });
  after(() => server.close());

  test('serves files with Content-Length, 404s the rest, records requests', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const ok = await fetchRaw(`${server.url}/blob`);
    assert.equal(ok.status, 200);
    assert.equal(ok.declaredLength, body.length);
    assert.ok(ok.body.equals(body));
    assert.equal((await fetchRaw(`${server.url}/missing`)).status, 404);
    assert.equal((await fetchRaw(`${server.url}/`)).status, 404, 'no directory listing');
    assert.equal((await fetchRaw(`${server.url}/..%2f..%2fetc/passwd`)).status, 404);
    assert.deepEqual(server.requests.slice(0, 2).map((r) => [r.method, r.path]), [['GET', '/blob'], ['GET', '/missing']]);
  });

  test('status faults, optionally for the first N requests', async () => {
    server.setFault('/blob', { status: 503, times: 2 });
    assert.equal((await fetchRaw(`${server.url}/blob`)).status, 503);
    assert.equal((await fetchRaw(`${server.url}/blob`)).status, 503);
    assert.equal((await fetchRaw(`${server.url}/blob`)).status, 200);
    server.setFault(/blo/, { status: 500 });
    assert.equal((await fetchRaw(`${server.url}/blob`)).status, 500);
    server.clearFaults();
    assert.equal((await fetchRaw(`${server.url}/blob`)).status, 200);
  });

  test('body faults: reset, truncate, stall, delay', async () => {
    server.setFault('/blob', { resetAfterBytes: 100, times: 1 });
    const reset = await fetchRaw(`${server.url}/blob`);
    assert.ok(reset.error, 'reset is reported');
    assert.ok(reset.body.length <= 100);

    server.setFault('/blob', { truncateTo: 500, times: 1 });
    const truncated = await fetchRaw(`${server.url}/blob`);
    assert.equal(truncated.declaredLength, body.length);
    assert.equal(truncated.body.length, 500);
    assert.ok(truncated.error);

    server.setFault('/blob', { stallAfterBytes: 10, times: 1 });
    const stalled = await fetchRaw(`${server.url}/blob`, 300);
    assert.equal(stalled.error, 'timeout');
    assert.equal(stalled.body.length, 10);

    server.setFault('/blob', { delayMs: 200, times: 1 });
    const started = Date.now();
    const delayed = await fetchRaw(`${server.url}/blob`);
    assert.ok(Date.now() - started >= 190);
    assert.ok(delayed.body.equals(body));
  });
});
