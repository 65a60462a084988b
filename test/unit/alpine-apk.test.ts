/**
 * .apk verification: every package PROVENANCE.md marks as verifying is
 * accepted with its key (signature, C: of the control member, datahash) and
 * unpacks; negative/neon-4604-r0.apk, an untrusted key, and changed control
 * and data members are refused with a message that says which check failed;
 * unsigned packages pass only with allow-untrusted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { openApk, verifyApk, type ApkExpectation } from '../../src/distro/alpine/apk-file.js';
import { unpackApkData } from '../../src/distro/alpine/apk-install.js';
import { parseKey, type TrustedKey } from '../../src/distro/alpine/keys.js';
import { infoValue } from '../../src/distro/alpine/pkginfo.js';
import { isBaseimgError } from '../../src/util/errors.js';
import { alpineFixturesMissing, fixture, fixtureKey, generateApkKey, gzipMembers, makeApk, readPkgInfo } from '../helpers/alpine-repo.js';
import { fakeContext, newTree, resolved } from '../helpers/finalize-fixtures.js';

interface ApkCase {
  file: string;
  key: string | undefined;
  q1: string;
  /** Non-directory entries in the data tar. */
  scripts?: string[];
}

/** From PROVENANCE.md: file, signing key, Q1 of the control member. */
const APKS: ApkCase[] = [
  { file: 'real-apks/alpine/alpine-baselayout-3.2.0-r23.apk', key: 'alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub', q1: 'Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc=', scripts: ['.pre-install', '.pre-upgrade', '.post-upgrade', '.post-install'] },
  { file: 'real-apks/alpine/apache2-ctl-2.4.43-r0.apk', key: 'alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub', q1: 'Q1MMRN4Hsck311jEm7UhXLcpcMVyg=' },
  { file: 'real-apks/third-party/busybox-1.37.0-r20.apk', key: 'arisudesu@users.noreply.github.com-66758c7b.rsa.pub', q1: 'Q1LcWphVN91iXyDUQNdTm+wT9h03Y=', scripts: ['.post-install', '.post-upgrade', '.trigger'] },
  { file: 'real-apks/third-party/busybox-binsh-1.37.0-r20.apk', key: 'arisudesu@users.noreply.github.com-66758c7b.rsa.pub', q1: 'Q1PpWg8jmaeeYgyuNLZ8OIVSghULo=' },
  { file: 'real-apks/third-party/ssl_client-1.37.0-r20.apk', key: 'arisudesu@users.noreply.github.com-66758c7b.rsa.pub', q1: 'Q1u2uux5l5eXI/EIhdkeyaF2FtvPQ=' },
  { file: 'real-apks/wolfi/hello-wolfi-2.12-r1.apk', key: 'wolfi-signing.rsa.pub', q1: 'Q1tfjaxtgIGRBjOYGl6Pq3/hm8V2o=' },
  { file: 'real-apks/wolfi/kubeflow-pipelines-2.1.3-r7.apk', key: 'wolfi-signing.rsa.pub', q1: 'Q1YaPopCnj/TLEn+Ot5rdXpKA8/iw=' },
  { file: 'real-apks/wolfi/libcap-2.69-r0.apk', key: 'wolfi-signing.rsa.pub', q1: 'Q1GTjdDWSAN/e8mRmTQLLkcs0qRkA=' },
  { file: 'real-apks/wolfi/ruby3.2-base64-0.2.0-r2.apk', key: 'wolfi-signing.rsa.pub', q1: 'Q1kQfQXs+MLbCqi4Tb9KF229uRI10=' },
  { file: 'real-apks/wolfi/wolfi-base-1-r1.apk', key: 'wolfi-signing.rsa.pub', q1: 'Q1L7sf44xazgWI/LVaudVgNmofCys=' },
  { file: 'test-apks/custom-ca-certs-1-1.0.0-r0.apk', key: 'melange.rsa.pub', q1: 'Q1L7EnY9Q9b23ejRHAmb0g09QaLEo=' },
  { file: 'test-apks/custom-ca-certs-2-1.0.0-r0.apk', key: 'melange.rsa.pub', q1: 'Q1yXDHMYWZPTTipwenGmJ4rs1ZoQk=' },
  { file: 'test-apks/package-x-1.0.0-r0.apk', key: 'private_pkg_key.rsa.pub', q1: 'Q1Vl3vU8cV22CofaOpqDJHyDPEzH8=' },
  { file: 'test-apks/package-y-1.0.0-r0.apk', key: 'private_pkg_key.rsa.pub', q1: 'Q1GsmJ2snap2o2kZ+vvMmuEc+bSnM=' },
  { file: 'test-apks/pretend-baselayout-1.0.0-r0.apk', key: 'melange.rsa.pub', q1: 'Q1m6wB0UFePGN8Drz82pC8y2uAiu8=' },
  { file: 'test-apks/replayout-1.0.0-r0.apk', key: 'melange.rsa.pub', q1: 'Q11/HhSewwwOXgl0r0ffb0O0BRtYc=' },
  { file: 'test-apks/tzdata-2023c-r0.apk', key: 'local-melange.rsa.pub', q1: 'Q1cqHqtzyUwOe6vmn181m/+Pj7pZM=' },
  { file: 'test-apks/unsigned/hello-0.1.0-r0.apk', key: undefined, q1: 'Q1DNWZeWkviN7MJedLpYM8yBvmnGM=' },
  { file: 'test-apks/unsigned/replaces-0.0.1-r0.apk', key: undefined, q1: 'Q1fHE4AsjeXVD+2kHg7AHvGDN+FPg=' },
];

const NEON = { file: 'negative/neon-4604-r0.apk', key: 'wolfi-signing.rsa.pub', q1: 'Q1EUaxtwSPOhjdHi8aK1FqGhvtMuE=' };

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'baseimg-apk-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function key(name: string): Promise<TrustedKey> {
  return parseKey(name, await readFile(fixtureKey(name)), fixtureKey(name));
}

async function expectationOf(path: string, q1: string): Promise<ApkExpectation> {
  const info = readPkgInfo(await readFile(path));
  return { name: info.get('pkgname')![0]!, version: info.get('pkgver')![0]!, arch: info.get('arch')![0], checksum: q1 };
}

async function verify(path: string, expect: ApkExpectation, keys: TrustedKey[], allowUntrusted = false) {
  const { ctx, messages } = fakeContext(work);
  const apk = await openApk(path, `package ${expect.name}`);
  const verified = await verifyApk(apk, expect, { keys, allowUntrusted }, ctx.reporter, `package ${expect.name}`);
  return { apk, verified, messages, ctx };
}

const verifyError = (pattern: RegExp) => (e: unknown): boolean => isBaseimgError(e) && e.code === 'VERIFY' && pattern.test(e.message);

/** A copy of the fixture with one gzip member replaced by `edit` of its decompressed tar (recompressed, so only the checks can tell). */
async function withMember(rel: string, member: number, edit: (tar: Buffer) => Buffer): Promise<string> {
  const buf = await readFile(fixture(rel));
  const members = gzipMembers(buf);
  const [start, end] = members[member]!;
  const changed = gzipSync(edit(gunzipSync(buf.subarray(start, end))));
  const out = join(work, `tampered-${member}-${rel.replace(/\//g, '_')}`);
  await writeFile(out, Buffer.concat([buf.subarray(0, start), changed, buf.subarray(end)]));
  return out;
}

describe('fixture packages', { skip: alpineFixturesMissing() }, () => {
  for (const c of APKS) {
    it(`${c.file.split('/').pop()} ${c.key ? `verifies with ${c.key.slice(0, 30)}` : 'is unsigned: accepted with allow-untrusted'} and unpacks`, async () => {
      const path = fixture(c.file);
      const expect = await expectationOf(path, c.q1);
      const { apk, verified, messages, ctx } = await verify(path, expect, c.key ? [await key(c.key)] : [], c.key === undefined);
      assert.equal(verified.keyName, c.key);
      if (c.key === undefined) assert.match(messages.warn.join('\n'), /is not signed; accepted because allow-untrusted = true/);
      assert.deepEqual(apk.scripts, c.scripts ?? []);
      const datahash = infoValue(apk.pkginfo, 'datahash');
      assert.equal(verified.dataSha256, datahash);

      const tree = newTree(join(work, `tree-${expect.name}`));
      const self = { version: expect.version, checksum: c.q1, origin: undefined, replaces: [], replacesPriority: 0 };
      const unpacked = await unpackApkData({ ...resolved(expect.name, expect.version) }, path, tree, {
        dataSha256: verified.dataSha256, dataOffset: apk.dataOffset, maxUnpackedBytes: 1 << 30, maxEntries: 100_000,
        installed: new Map(), self, reporter: ctx.reporter,
      });
      const recorded = unpacked.dirs.flatMap((d) => d.files);
      assert.equal(recorded.length, unpacked.files.length, 'every non-directory entry is recorded for the database');
      for (const f of recorded) assert.equal(tree.get(f.path, false)?.owner, expect.name, `${f.path} is in the tree`);
      assert.ok(recorded.every((f) => f.sha1 !== undefined), 'every file carries its APK-TOOLS.checksum.SHA1');
      await tree.bodies.close();
    });
  }

  it('tzdata: 4 data members, hard links and xattrs (dropped, noted)', async () => {
    const path = fixture('test-apks/tzdata-2023c-r0.apk');
    const { apk, verified, ctx } = await verify(path, await expectationOf(path, 'Q1cqHqtzyUwOe6vmn181m/+Pj7pZM='), [await key('local-melange.rsa.pub')]);
    const debug: string[] = [];
    const tree = newTree(join(work, 'tree-tz'));
    const unpacked = await unpackApkData(resolved('tzdata', '2023c-r0'), path, tree, {
      dataSha256: verified.dataSha256, dataOffset: apk.dataOffset, maxUnpackedBytes: 1 << 30, maxEntries: 100_000,
      installed: new Map(), self: { version: '2023c-r0', checksum: 'x', origin: undefined, replaces: [], replacesPriority: 0 },
      reporter: { ...ctx.reporter, debug: (m) => debug.push(m) },
    });
    assert.equal(unpacked.entries, 1248);
    const a = tree.get('/usr/share/zoneinfo/right/Pacific/Kwajalein');
    const links = [...tree.walk()].filter(([, n]) => n === a);
    assert.ok(links.length >= 2, 'hard links share one node');
    assert.match(debug.join('\n'), /extended attributes are not carried into the image/);
    await tree.bodies.close();
  });

  it('negative/neon-4604-r0.apk is refused: its signature does not verify with wolfi-signing.rsa.pub', async () => {
    const path = fixture(NEON.file);
    const expect = await expectationOf(path, NEON.q1);
    await assert.rejects(verify(path, expect, [await key(NEON.key)]), verifyError(/signature by trusted key wolfi-signing\.rsa\.pub does not match the content/));
    await assert.rejects(verify(path, expect, [await key(NEON.key)], true), verifyError(/does not match the content/), 'allow-untrusted does not excuse a bad signature');
  });

  it('negative/neon-4604-r0.apk: without the key, its datahash still gives it away', async () => {
    const path = fixture(NEON.file);
    await assert.rejects(verify(path, await expectationOf(path, NEON.q1), [], true), verifyError(/the data part does not match its datahash/));
  });

  it('a package signed by an untrusted key is refused, naming both', async () => {
    const path = fixture('real-apks/third-party/busybox-1.37.0-r20.apk');
    await assert.rejects(
      verify(path, await expectationOf(path, 'Q1LcWphVN91iXyDUQNdTm+wT9h03Y='), [await key('wolfi-signing.rsa.pub')]),
      verifyError(/is signed by arisudesu@users\.noreply\.github\.com-66758c7b\.rsa\.pub \(RSA\), which is not among the trusted keys \(wolfi-signing\.rsa\.pub\)/),
    );
  });

  it('a changed control member is refused by the signature', async () => {
    const path = await withMember('test-apks/package-x-1.0.0-r0.apk', 1, (tar) => Buffer.from(tar.toString('latin1').replace('pkgdesc = package x', 'pkgdesc = package X'), 'latin1'));
    const expect = await expectationOf(fixture('test-apks/package-x-1.0.0-r0.apk'), 'Q1Vl3vU8cV22CofaOpqDJHyDPEzH8=');
    await assert.rejects(verify(path, expect, [await key('private_pkg_key.rsa.pub')]), verifyError(/signature by trusted key private_pkg_key\.rsa\.pub does not match/));
  });

  it('a changed control member is refused by the index checksum when the signature is not trusted', async () => {
    const path = await withMember('test-apks/package-x-1.0.0-r0.apk', 1, (tar) => Buffer.from(tar.toString('latin1').replace('pkgdesc = package x', 'pkgdesc = package X'), 'latin1'));
    const expect = await expectationOf(fixture('test-apks/package-x-1.0.0-r0.apk'), 'Q1Vl3vU8cV22CofaOpqDJHyDPEzH8=');
    await assert.rejects(verify(path, expect, [], true), verifyError(/the control member does not match the index \(index C:Q1Vl3vU8cV22CofaOpqDJHyDPEzH8=, file Q1/));
  });

  it('a changed data member is refused by the datahash', async () => {
    const path = await withMember('test-apks/package-x-1.0.0-r0.apk', 2, (tar) => Buffer.from(tar.toString('latin1').replace('hello', 'HELLO'), 'latin1'));
    const expect = await expectationOf(fixture('test-apks/package-x-1.0.0-r0.apk'), 'Q1Vl3vU8cV22CofaOpqDJHyDPEzH8=');
    await assert.rejects(verify(path, expect, [await key('private_pkg_key.rsa.pub')]), verifyError(/the data part does not match its datahash/));
  });

  it('an unsigned package is refused without allow-untrusted', async () => {
    const path = fixture('test-apks/unsigned/hello-0.1.0-r0.apk');
    await assert.rejects(verify(path, await expectationOf(path, 'Q1DNWZeWkviN7MJedLpYM8yBvmnGM='), [await key('melange.rsa.pub')]), verifyError(/package hello is not signed/));
  });

  it('a file that is not the package the index names is refused', async () => {
    const path = fixture('test-apks/package-y-1.0.0-r0.apk');
    const expect = { ...(await expectationOf(path, 'Q1GsmJ2snap2o2kZ+vvMmuEc+bSnM=')), name: 'package-x' };
    await assert.rejects(verify(path, expect, [await key('private_pkg_key.rsa.pub')]), verifyError(/\.PKGINFO describes package-y 1\.0\.0-r0 \(x86_64\), not package-x/));
  });
});

describe('packages built here', () => {
  const signer = generateApkKey('builder.rsa.pub');
  const trusted = parseKey(signer.name, Buffer.from(signer.publicPem), 'test');

  async function write(name: string, file: Buffer): Promise<string> {
    const path = join(work, name);
    await writeFile(path, file);
    return path;
  }

  it('without a datahash the signature covers control and data', async () => {
    const built = makeApk({ name: 'old', version: '1-r0', keys: [signer], signatureType: 'RSA', noDatahash: true, entries: [{ path: 'etc/old', content: 'x' }] });
    const expect = { name: 'old', version: '1-r0', arch: 'x86_64', checksum: built.checksum };
    const good = await verify(await write('old.apk', built.file), expect, [trusted]);
    assert.equal(good.verified.keyName, signer.name);
    const [, , data] = gzipMembers(built.file);
    const tampered = Buffer.concat([built.file.subarray(0, data![0]), gzipSync(Buffer.alloc(1024))]);
    await assert.rejects(verify(await write('old-tampered.apk', tampered), expect, [trusted]), verifyError(/does not match the content/));
  });

  it('signature and control members larger than the first read are found', async () => {
    const scripts = { '.post-install': `#!/bin/sh\n${'echo filler\n'.repeat(40_000)}` };
    const built = makeApk({ name: 'big', version: '1-r0', keys: [signer], scripts, entries: [{ path: 'x', content: 'y' }] });
    const { apk } = await verify(await write('big.apk', built.file), { name: 'big', version: '1-r0', arch: 'x86_64', checksum: built.checksum }, [trusted]);
    assert.deepEqual(apk.scripts, ['.post-install']);
  });
});
