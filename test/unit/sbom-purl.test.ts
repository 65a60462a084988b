/**
 * purl formatting and parsing: the purl-spec test suite's canonical forms for
 * deb and oci, the packages baseimg writes, error cases, and a property test
 * that format(parse(format(x))) is stable for arbitrary components.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodePurlComponent, formatPurl, parsePurl, type PackageURL } from '../../src/sbom/purl.js';
import { imagePurl, packagePurl } from '../../src/sbom/package-purl.js';
import { checkImageRef, type ImageRef } from '../../src/util/reference.js';

const purl = (p: Partial<PackageURL> & { type: string; name: string }): PackageURL => ({
  namespace: undefined,
  version: undefined,
  qualifiers: {},
  subpath: undefined,
  ...p,
});

describe('purl: the purl-spec test suite (tests/types/deb-test.json, oci-test.json)', () => {
  it('keeps an epoch colon and encodes "+" (canonical "pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64")', () => {
    const built = formatPurl(purl({ type: 'deb', namespace: 'debian', name: 'attr', version: '1:2.4.47-2+b1', qualifiers: { arch: 'amd64' } }));
    assert.equal(built, 'pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64');
    assert.deepEqual(parsePurl(built), purl({ type: 'deb', namespace: 'debian', name: 'attr', version: '1:2.4.47-2+b1', qualifiers: { arch: 'amd64' } }));
  });

  it('parses "%3A" in a version (older writers) and writes it back canonical', () => {
    const p = parsePurl('pkg:oci/debian@sha256%3A244fd47e07d10?repository_url=docker.io/library/debian&arch=amd64&tag=latest');
    assert.equal(p.version, 'sha256:244fd47e07d10');
    assert.deepEqual(p.qualifiers, { arch: 'amd64', repository_url: 'docker.io/library/debian', tag: 'latest' });
    assert.equal(formatPurl(p), 'pkg:oci/debian@sha256:244fd47e07d10?arch=amd64&repository_url=docker.io%2Flibrary%2Fdebian&tag=latest');
  });

  it('round-trips the suite\'s canonical deb purls unchanged', () => {
    for (const s of [
      'pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie',
      'pkg:deb/debian/dpkg@1.19.0.4?arch=amd64&distro=stretch',
      'pkg:deb/ubuntu/dpkg@1.19.0.4?arch=amd64',
      'pkg:deb/debian/attr@1:2.4.47-2?arch=source',
    ]) {
      assert.equal(formatPurl(parsePurl(s)), s);
    }
  });
});

describe('purl: what baseimg writes', () => {
  const os = { id: 'debian', versionId: '12', codename: 'bookworm', name: undefined, prettyName: undefined };

  it('Debian packages: pkg:deb/debian/<name>@<version>?arch=<arch>&distro=debian-<N>', () => {
    assert.equal(packagePurl('deb', 'passwd', '1:4.13+dfsg1-1+b1', 'amd64', os), 'pkg:deb/debian/passwd@1:4.13%2Bdfsg1-1%2Bb1?arch=amd64&distro=debian-12');
    assert.equal(packagePurl('deb', 'libstdc++6', '12.2.0-14', 'arm64', os), 'pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=arm64&distro=debian-12');
    assert.equal(packagePurl('deb', 'tzdata', '2024b-0+deb12u1', 'all', undefined), 'pkg:deb/debian/tzdata@2024b-0%2Bdeb12u1?arch=all');
    const sid = { ...os, versionId: undefined, codename: 'trixie' };
    assert.equal(packagePurl('deb', 'libc6', '2.41-12', 'amd64', sid), 'pkg:deb/debian/libc6@2.41-12?arch=amd64&distro=debian-trixie');
  });

  it('Alpine packages: pkg:apk/alpine/<name>@<version>?arch=<arch>&distro=alpine-<ver>', () => {
    const alpine = { id: 'alpine', versionId: '3.20.3', codename: undefined, name: undefined, prettyName: undefined };
    assert.equal(packagePurl('apk', 'musl', '1.2.5-r0', 'x86_64', alpine), 'pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3');
  });

  it('the image: pkg:oci/<name>@sha256:…?arch=…&repository_url=…&tag=…', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const ref = checkImageRef('registry.example:5000/team/Static:1.0'.toLowerCase()) as ImageRef;
    assert.equal(imagePurl(ref, digest, 'arm64'), `pkg:oci/static@${digest}?arch=arm64&repository_url=registry.example:5000%2Fteam%2Fstatic&tag=1.0`);
    const short = checkImageRef('base') as ImageRef;
    assert.equal(imagePurl(short, digest, 'amd64'), `pkg:oci/base@${digest}?arch=amd64&repository_url=docker.io%2Flibrary%2Fbase&tag=latest`);
  });
});

describe('purl: syntax', () => {
  it('sorts qualifiers, drops empty values, lowercases type and keys, lowercases oci names', () => {
    assert.equal(formatPurl(purl({ type: 'DEB', namespace: 'debian', name: 'x', qualifiers: { distro: 'd', arch: 'a', empty: '' } })), 'pkg:deb/debian/x?arch=a&distro=d');
    assert.equal(formatPurl(purl({ type: 'oci', name: 'MyImage' })), 'pkg:oci/myimage');
    assert.deepEqual(parsePurl('pkg:deb/debian/x?ARCH=amd64').qualifiers, { arch: 'amd64' });
  });

  it('encodes separators and non-ASCII inside components', () => {
    assert.equal(encodePurlComponent('a@b?c#d/e f%'), 'a%40b%3Fc%23d%2Fe%20f%25');
    assert.equal(encodePurlComponent('ü'), '%C3%BC');
    const p = purl({ type: 'generic', namespace: 'a b/c', name: 'n@me', version: 'v#1', qualifiers: { k: 'x&y=z' }, subpath: 'dir/file name' });
    assert.deepEqual(parsePurl(formatPurl(p)), p);
  });

  it('accepts "pkg://" and strips the slashes', () => {
    assert.equal(formatPurl(parsePurl('pkg://deb/debian/x@1')), 'pkg:deb/debian/x@1');
  });

  it('rejects what is not a purl', () => {
    for (const bad of ['deb/debian/x', 'pkg:', 'pkg:deb', 'pkg:1deb/x', 'pkg:deb/x?=v', 'pkg:deb/x?a=1&a=2', 'pkg:deb/x@%E0%A4%A']) {
      assert.throws(() => parsePurl(bad), /invalid package URL/, bad);
    }
  });

  it('round-trips arbitrary components (property)', () => {
    const segment = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/') && s !== '.' && s !== '..');
    fc.assert(
      fc.property(
        fc.record({
          namespace: fc.option(segment, { nil: undefined }),
          name: segment,
          version: fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
          qualifiers: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9._-]{0,6}$/), fc.string({ minLength: 1, maxLength: 10 })),
          subpath: fc.option(segment, { nil: undefined }),
        }),
        (r) => {
          const p = purl({ type: 'generic', ...r, qualifiers: { ...r.qualifiers } });
          const text = formatPurl(p);
          assert.match(text, /^[A-Za-z0-9.\-_~%:/@?=&#]+$/, 'only permitted characters');
          const back = parsePurl(text);
          assert.deepEqual(back, p);
          assert.equal(formatPurl(back), text);
        },
      ),
      { numRuns: 500 },
    );
  });
});
