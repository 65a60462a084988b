import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DebianSource } from '../../src/spec/types.js';
import {
  deriveSecurityMirror,
  parseDeb822Sources,
  parseOneLineSources,
  readAptSources,
  resolveDebianMirrors,
  resolveDebianMirrorsDetailed,
} from '../../src/distro/debian/mirror.js';
import { BaseimgError } from '../../src/util/errors.js';

function source(suites: string[], extra: Partial<DebianSource> = {}): DebianSource {
  return { distro: 'debian', mirror: undefined, securityMirror: undefined, suites, components: ['main'], keyring: [], mergedUsr: true, ...extra };
}

let root: string;
let counter = 0;

/** A fresh fake /etc/apt with the given files (relative paths under it). */
async function aptDir(files: Record<string, string>): Promise<{ aptSourcesDir: string; aptSourcesList: string }> {
  const dir = join(root, `apt${counter++}`);
  await mkdir(join(dir, 'sources.list.d'), { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return { aptSourcesDir: join(dir, 'sources.list.d'), aptSourcesList: join(dir, 'sources.list') };
}

const HOST_SOURCES = `Types: deb
# a comment inside the paragraph
URIs: http://mirror.example.org/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example.org/debian-security
Suites: bookworm-security
Components: main
`;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'baseimg-mirror-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('apt sources parsing', () => {
  it('reads deb822 paragraphs, skipping deb-src, disabled entries and flat repositories', () => {
    const text = `${HOST_SOURCES}
Types: deb-src
URIs: http://src.example.org/debian
Suites: bookworm
Components: main

Types: deb deb-src
URIs: http://a.example.org/debian http://b.example.org/debian
Suites: trixie
Components: main contrib

Enabled: no
Types: deb
URIs: http://off.example.org/debian
Suites: sid
Components: main

Types: deb
URIs: http://flat.example.org/repo
Suites: ./
`;
    assert.deepEqual(parseDeb822Sources(text, 'x.sources'), [
      { uri: 'http://mirror.example.org/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main'], file: 'x.sources' },
      { uri: 'http://security.example.org/debian-security', suites: ['bookworm-security'], components: ['main'], file: 'x.sources' },
      { uri: 'http://a.example.org/debian', suites: ['trixie'], components: ['main', 'contrib'], file: 'x.sources' },
      { uri: 'http://b.example.org/debian', suites: ['trixie'], components: ['main', 'contrib'], file: 'x.sources' },
    ]);
  });

  it('reads one-line entries with options and comments', () => {
    const text = [
      '# comment line',
      'deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://mirror.example.org/debian bookworm main contrib # trailing',
      'deb [ arch=amd64 ] http://mirror.example.org/debian/ bookworm-updates main',
      'deb-src http://mirror.example.org/debian bookworm main',
      '#deb http://old.example.org/debian buster main',
      'deb http://flat.example.org/repo ./',
      '',
    ].join('\n');
    assert.deepEqual(parseOneLineSources(text, 'sources.list'), [
      { uri: 'http://mirror.example.org/debian', suites: ['bookworm'], components: ['main', 'contrib'], file: 'sources.list' },
      { uri: 'http://mirror.example.org/debian', suites: ['bookworm-updates'], components: ['main'], file: 'sources.list' },
    ]);
  });

  it('reads sources.list first, then *.list and *.sources in name order, ignoring other files', async () => {
    const apt = await aptDir({
      'sources.list': 'deb http://first.example.org/debian bookworm main\n',
      'sources.list.d/b.sources': 'Types: deb\nURIs: http://b.example.org/debian\nSuites: trixie\nComponents: main\n',
      'sources.list.d/a.list': 'deb http://a.example.org/debian sid main\n',
      'sources.list.d/c.list.disabled': 'deb http://disabled.example.org/debian bookworm main\n',
      'sources.list.d/d.sources.save': 'Types: deb\nURIs: http://saved.example.org/debian\nSuites: bookworm\n',
      'sources.list.d/e.list': 'deb cdrom:[Debian 12]/ bookworm main\n',
    });
    assert.deepEqual(
      readAptSources(apt).map((e) => e.uri),
      ['http://first.example.org/debian', 'http://a.example.org/debian', 'http://b.example.org/debian'],
    );
  });

  it('returns nothing when there is no apt configuration', () => {
    assert.deepEqual(readAptSources({ aptSourcesDir: join(root, 'missing'), aptSourcesList: join(root, 'missing.list') }), []);
  });
});

describe('resolveDebianMirrors', () => {
  const suites = ['bookworm', 'bookworm-updates', 'bookworm-security'];

  it('prefers the spec, stripping trailing slashes and deriving the security archive', async () => {
    const apt = await aptDir({ 'sources.list.d/debian.sources': HOST_SOURCES });
    const env = { BASEIMG_DEBIAN_MIRROR: 'http://env.example.org/debian' };
    const mirrors = resolveDebianMirrors(source(suites, { mirror: 'https://spec.example.org/debian/' }), { env, ...apt });
    assert.deepEqual([...mirrors], [
      ['bookworm', 'https://spec.example.org/debian'],
      ['bookworm-updates', 'https://spec.example.org/debian'],
      ['bookworm-security', 'https://spec.example.org/debian-security'],
    ]);
  });

  it('uses BASEIMG_DEBIAN_MIRROR and BASEIMG_DEBIAN_SECURITY_MIRROR over apt sources', async () => {
    const apt = await aptDir({ 'sources.list.d/debian.sources': HOST_SOURCES });
    const env = { BASEIMG_DEBIAN_MIRROR: 'http://env.example.org/debian//', BASEIMG_DEBIAN_SECURITY_MIRROR: 'http://sec.example.org/ds/' };
    const mirrors = resolveDebianMirrorsDetailed(source(suites), { env, ...apt });
    assert.equal(mirrors.get('bookworm')!.url, 'http://env.example.org/debian');
    assert.equal(mirrors.get('bookworm')!.origin, 'env');
    assert.equal(mirrors.get('bookworm-security')!.url, 'http://sec.example.org/ds');
  });

  it('derives the security mirror from an env main mirror rather than using apt', async () => {
    const apt = await aptDir({ 'sources.list.d/debian.sources': HOST_SOURCES });
    const mirrors = resolveDebianMirrors(source(suites), { env: { BASEIMG_DEBIAN_MIRROR: 'http://env.example.org/debian' }, ...apt });
    assert.equal(mirrors.get('bookworm-security'), 'http://env.example.org/debian-security');
  });

  it('spec securityMirror wins over everything for security suites', async () => {
    const apt = await aptDir({ 'sources.list.d/debian.sources': HOST_SOURCES });
    const env = { BASEIMG_DEBIAN_SECURITY_MIRROR: 'http://sec-env.example.org/debian-security' };
    const mirrors = resolveDebianMirrors(source(suites, { securityMirror: 'http://sec-spec.example.org/debian-security/' }), { env, ...apt });
    assert.equal(mirrors.get('bookworm-security'), 'http://sec-spec.example.org/debian-security');
    assert.equal(mirrors.get('bookworm'), 'http://mirror.example.org/debian');
  });

  it('falls back to the host apt sources, including its security entry', async () => {
    const apt = await aptDir({ 'sources.list.d/debian.sources': HOST_SOURCES });
    const mirrors = resolveDebianMirrorsDetailed(source([...suites, 'trixie', 'trixie-security', 'buster/updates']), { env: {}, ...apt });
    assert.deepEqual(
      Object.fromEntries([...mirrors].map(([s, m]) => [s, m.url])),
      {
        bookworm: 'http://mirror.example.org/debian',
        'bookworm-updates': 'http://mirror.example.org/debian',
        'bookworm-security': 'http://security.example.org/debian-security',
        // Not listed on the host: same archives as the host's Debian entries.
        trixie: 'http://mirror.example.org/debian',
        'trixie-security': 'http://security.example.org/debian-security',
        'buster/updates': 'http://security.example.org/debian-security',
      },
    );
    assert.equal(mirrors.get('bookworm')!.origin, 'apt');
    assert.match(mirrors.get('bookworm')!.from, /debian\.sources$/);
  });

  it('ignores non-Debian repositories, but accepts any URI that lists a requested suite', async () => {
    const apt = await aptDir({
      'sources.list': 'deb http://repo.example.org/node nodistro main\ndeb http://local.example.org/mirror bookworm main\n',
    });
    assert.equal(resolveDebianMirrors(source(['bookworm']), { env: {}, ...apt }).get('bookworm'), 'http://local.example.org/mirror');
    assert.throws(() => resolveDebianMirrors(source(['trixie']), { env: {}, ...apt }), /no Debian mirror configured/);
  });

  it('derives the security archive when apt has no security entry', async () => {
    const apt = await aptDir({ 'sources.list': 'deb http://mirror.example.org/debian bookworm main\n' });
    assert.equal(
      resolveDebianMirrors(source(['bookworm-security']), { env: {}, ...apt }).get('bookworm-security'),
      'http://mirror.example.org/debian-security',
    );
  });

  it('fails with a hint naming the three ways to configure a mirror', async () => {
    const apt = await aptDir({ 'sources.list.d/other.sources': 'Types: deb\nURIs: http://x.example.org/ubuntu\nSuites: noble\n' });
    assert.throws(
      () => resolveDebianMirrors(source(['bookworm']), { env: {}, ...apt }),
      (err: unknown) => {
        assert.ok(err instanceof BaseimgError);
        assert.equal(err.code, 'MIRROR');
        assert.match(err.message, /no Debian mirror configured/);
        assert.match(err.hint!, /source\.mirror/);
        assert.match(err.hint!, /BASEIMG_DEBIAN_MIRROR/);
        assert.match(err.hint!, /apt sources/);
        return true;
      },
    );
  });

  it('rejects invalid mirror URLs, naming where they came from', () => {
    const opts = { env: {}, aptSourcesDir: join(root, 'none'), aptSourcesList: join(root, 'none.list') };
    assert.throws(() => resolveDebianMirrors(source(['bookworm'], { mirror: 'not a url' }), opts), /source\.mirror: "not a url" is not a valid URL/);
    assert.throws(
      () => resolveDebianMirrors(source(['bookworm']), { ...opts, env: { BASEIMG_DEBIAN_MIRROR: 'ftp://example.org/debian' } }),
      /BASEIMG_DEBIAN_MIRROR: unsupported URL scheme/,
    );
  });
});

describe('deriveSecurityMirror', () => {
  it('appends -security to the archive name', () => {
    assert.equal(deriveSecurityMirror('http://example.org/debian'), 'http://example.org/debian-security');
    assert.equal(deriveSecurityMirror('https://example.org/pub/debian/'), 'https://example.org/pub/debian-security');
    assert.equal(deriveSecurityMirror('file:///srv/mirror/debian'), 'file:///srv/mirror/debian-security');
  });

  it('handles snapshot-style URLs that end in a timestamp', () => {
    assert.equal(
      deriveSecurityMirror('http://example.org/archive/debian/20250520T000000Z'),
      'http://example.org/archive/debian-security/20250520T000000Z',
    );
  });

  it('refuses a URL without an archive name', () => {
    assert.throws(() => deriveSecurityMirror('http://example.org/'), /cannot derive a security mirror/);
  });
});
