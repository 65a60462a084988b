/**
 * APKINDEX.tar.gz: every index PROVENANCE.md marks as verifying is accepted
 * with its key (RSA/SHA-1, RSA256, three signatures, a PAX header before
 * .SIGN, no DESCRIPTION), and parsed in full; an untrusted key, a changed
 * index and unsigned indexes without allow-untrusted are refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { openApkIndex } from '../../src/distro/alpine/index-file.js';
import { parseApkIndexText } from '../../src/distro/alpine/apkindex.js';
import { parseKey, type TrustedKey } from '../../src/distro/alpine/keys.js';
import { packageFromEntry } from '../../src/distro/alpine/package.js';
import type { TrustPolicy } from '../../src/distro/alpine/trust.js';
import { isBaseimgError } from '../../src/util/errors.js';
import { alpineFixturesMissing, fixture, fixtureKey, flipByte, generateApkKey, gzipMembers, makeApk, makeApkIndex } from '../helpers/alpine-repo.js';
import { fakeContext } from '../helpers/finalize-fixtures.js';

interface IndexCase {
  dir: string;
  keys: string[];
  entries: number;
  arch: string;
  description: string | undefined;
}

/** From PROVENANCE.md's summary table. */
const INDEXES: IndexCase[] = [
  { dir: 'alpine-v3.16-main-x86_64', keys: ['alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub'], entries: 4929, arch: 'x86_64', description: 'v3.16.3-13-g4d933a1fa3' },
  {
    dir: 'chainguard-multisig-aarch64',
    keys: [
      'chainguard-0106f58bac88057c2ff5c2829850df492717a876ed700443550353c7ab23f5a0.rsa.pub',
      'chainguard-60912bbc46bfc8ed6bda0b50db3a8a5f3c4344d6bc8549ec9b84d96140b475d1.rsa.pub',
      'chainguard-61cb6bccd1f584b007db7be51ebce2b0530a54cc5a94e7650b570d113d537cf3.rsa.pub',
    ],
    entries: 16,
    arch: 'aarch64',
    description: undefined,
  },
  { dir: 'melange-private-x86_64', keys: ['private_pkg_key.rsa.pub'], entries: 2, arch: 'x86_64', description: undefined },
  { dir: 'melange-test-x86_64', keys: ['melange.rsa.pub'], entries: 4, arch: 'x86_64', description: undefined },
  { dir: 'melange-tzdata-x86_64', keys: ['local-melange.rsa.pub'], entries: 1, arch: 'x86_64', description: undefined },
  { dir: 'rsa256-single-aarch64', keys: ['test-rsa256.rsa.pub'], entries: 1, arch: 'aarch64', description: undefined },
  { dir: 'third-party-arisu-3.21-testing-x86_64', keys: ['arisudesu@users.noreply.github.com-66758c7b.rsa.pub'], entries: 11, arch: 'x86_64', description: undefined },
  { dir: 'third-party-arisu-3.24-x86_64', keys: ['arisudesu@users.noreply.github.com-66758c7b.rsa.pub'], entries: 23, arch: 'x86_64', description: undefined },
  { dir: 'wolfi-x86_64', keys: ['wolfi-signing.rsa.pub'], entries: 47, arch: 'x86_64', description: undefined },
];

async function key(name: string): Promise<TrustedKey> {
  return parseKey(name, await readFile(fixtureKey(name)), fixtureKey(name));
}

const indexBytes = (dir: string): Promise<Buffer> => readFile(fixture(`apkindex/${dir}/APKINDEX.tar.gz`));

function policy(keys: TrustedKey[], allowUntrusted = false): TrustPolicy {
  return { keys, allowUntrusted };
}

function open(buf: Buffer, p: TrustPolicy) {
  const { ctx, messages } = fakeContext('/nonexistent');
  return { result: openApkIndex(buf, p, 'APKINDEX of test', ctx.reporter), messages };
}

const verifyError = (pattern: RegExp) => (e: unknown): boolean => isBaseimgError(e) && e.code === 'VERIFY' && pattern.test(e.message);

describe('APKINDEX fixtures', { skip: alpineFixturesMissing() }, () => {
  for (const c of INDEXES) {
    for (const keyName of c.keys) {
      it(`${c.dir} verifies with ${keyName.slice(0, 40)} and parses every entry`, async () => {
        const { result } = open(await indexBytes(c.dir), policy([await key(keyName)]));
        const index = await result;
        assert.equal(index.keyName, keyName);
        assert.equal(index.entries.length, c.entries);
        assert.equal(index.description, c.description);
        const repo = { url: 'http://127.0.0.1/repo', index: 0, arch: c.arch };
        for (const entry of index.entries) {
          const pkg = packageFromEntry(entry, repo, 'test');
          assert.equal(pkg.arch === c.arch || pkg.arch === 'noarch', true, `${pkg.name} has arch ${pkg.arch}`);
        }
      });
    }
  }

  it('the official index carries every field letter, repeated ones included', async () => {
    const index = await open(await indexBytes('alpine-v3.16-main-x86_64'), policy([await key(INDEXES[0]!.keys[0]!)])).result;
    const letters = new Set(index.entries.flatMap((e) => [...e.fields.keys()]));
    assert.deepEqual([...letters].sort().join(''), 'ACDILPSTUVcikmopt');
    const busybox = index.entries.find((e) => e.fields.get('P')?.[0] === 'busybox')!;
    assert.deepEqual(busybox.fields.get('p'), ['/bin/sh cmd:busybox=1.35.0-r17 cmd:sh=1.35.0-r17']);
    assert.deepEqual(busybox.fields.get('C'), ['Q1iZ+C2JJdBlm2KKtAOkSkM7zZegY=']);
  });

  it('an untrusted key is refused, naming the signing key and the trusted ones', async () => {
    const { result } = open(await indexBytes('wolfi-x86_64'), policy([await key('melange.rsa.pub')]));
    await assert.rejects(result, verifyError(/is signed by wolfi-signing\.rsa\.pub \(RSA\), which is not among the trusted keys \(melange\.rsa\.pub\)/));
  });

  it('an index changed after signing is refused, even with allow-untrusted', async () => {
    const original = await indexBytes('melange-test-x86_64');
    const [sig, idx] = gzipMembers(original);
    // Recompress a changed index, so only the signature can tell.
    const tar = gunzipSync(original.subarray(idx![0], idx![1]));
    const changed = Buffer.from(tar.toString('latin1').replace('V:1.0.0-r0', 'V:9.9.9-r0'), 'latin1');
    const tampered = Buffer.concat([original.subarray(sig![0], sig![1]), gzipSync(changed)]);
    for (const allow of [false, true]) {
      const { result } = open(tampered, policy([await key('melange.rsa.pub')], allow));
      await assert.rejects(result, verifyError(/signature by trusted key melange\.rsa\.pub does not match the content/));
    }
  });

  it('a flipped byte anywhere in the index member is refused', async () => {
    const original = await indexBytes('third-party-arisu-3.24-x86_64');
    const [, idx] = gzipMembers(original);
    for (const offset of [idx![0] + 20, Math.floor((idx![0] + idx![1]) / 2), idx![1] - 3]) {
      const { result } = open(flipByte(original, offset), policy([await key(INDEXES[7]!.keys[0]!)]));
      await assert.rejects(result, (e: unknown) => isBaseimgError(e) && e.code === 'VERIFY');
    }
  });

  it('an unsigned index is refused without allow-untrusted and accepted, with a warning, with it', async () => {
    const buf = await indexBytes('unsigned-x86_64');
    await assert.rejects(open(buf, policy([await key('wolfi-signing.rsa.pub')])).result, verifyError(/APKINDEX of test is not signed/));
    const { result, messages } = open(buf, policy([], true));
    const index = await result;
    assert.equal(index.entries.length, 3);
    assert.equal(index.keyName, undefined);
    assert.match(messages.warn.join('\n'), /not signed; accepted because allow-untrusted = true/);
  });

  it('a signed index by an unknown key passes only with allow-untrusted', async () => {
    const { result, messages } = open(await indexBytes('wolfi-x86_64'), policy([await key('melange.rsa.pub')], true));
    assert.equal((await result).entries.length, 47);
    assert.match(messages.warn.join('\n'), /signed by wolfi-signing\.rsa\.pub \(RSA\), which is not a trusted key/);
  });
});

describe('APKINDEX built here', () => {
  const signer = generateApkKey('baseimg-test.rsa.pub');
  const trusted = parseKey(signer.name, Buffer.from(signer.publicPem), 'test');
  const apk = makeApk({ name: 'hello', version: '1.0-r0', keys: [signer] }).file;

  for (const type of ['RSA', 'RSA256'] as const) {
    it(`a ${type} signature from a generated key verifies`, async () => {
      const buf = makeApkIndex([{ apk }], { keys: [signer], signatureType: type, description: 'test-repo' });
      const index = await open(buf, policy([trusted])).result;
      assert.equal(index.keyName, signer.name);
      assert.equal(index.description, 'test-repo');
    });
  }

  it('a renamed key file still verifies (named keys are tried first, then all)', async () => {
    const renamed = parseKey('renamed.rsa.pub', Buffer.from(signer.publicPem), 'test');
    const index = await open(makeApkIndex([{ apk }], { keys: [signer] }), policy([renamed])).result;
    assert.equal(index.keyName, 'renamed.rsa.pub');
  });

  it('one trusted signature among several is enough', async () => {
    const other = generateApkKey('other.rsa.pub');
    const index = await open(makeApkIndex([{ apk }], { keys: [other, signer] }), policy([trusted])).result;
    assert.equal(index.keyName, signer.name);
  });

  it('data after the signed member is refused', async () => {
    const buf = Buffer.concat([makeApkIndex([{ apk }], { keys: [signer] }), gzipSync(Buffer.alloc(1024))]);
    await assert.rejects(open(buf, policy([trusted])).result, verifyError(/unexpected bytes after the signed index member/));
  });

  it('a truncated file is refused', async () => {
    const buf = makeApkIndex([{ apk }], { keys: [signer] });
    await assert.rejects(open(buf.subarray(0, buf.length - 20), policy([trusted])).result, verifyError(/truncated/));
  });

  it('a file that is not gzip is refused', async () => {
    await assert.rejects(open(Buffer.from('<html>not found</html>'.repeat(4)), policy([trusted])).result, verifyError(/no gzip member at byte 0/));
  });
});

describe('parseApkIndexText', () => {
  it('keeps repeated letters, tolerates a missing final blank line and CRLF', () => {
    const entries = parseApkIndexText('C:Q1\r\nP:a\nD:x\nD:y\n\n\nP:b\nV:1', 'idx');
    assert.equal(entries.length, 2);
    assert.deepEqual(entries[0]!.fields.get('D'), ['x', 'y']);
    assert.equal(entries[0]!.fields.get('C')?.[0], 'Q1');
    assert.equal(entries[1]!.line, 7);
  });

  it('names the line of a malformed one', () => {
    assert.throws(() => parseApkIndexText('P:a\nthis is not a field\n', 'APKINDEX of x'), /APKINDEX of x:2: not an index line/);
  });
});
