/**
 * What an image's package database says, as the SBOM reads it: dpkg
 * status.d (distroless), dpkg status + info lists, apk installed; the
 * dependency edges derived from it; os-release.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageFiles } from '../../src/sbom/image-files.js';
import { readPackageDb } from '../../src/sbom/package-db.js';
import { dependencyEdges } from '../../src/sbom/dependencies.js';
import { distroQualifier, parseOsRelease, readOperatingSystem } from '../../src/sbom/os-release.js';

function memoryFiles(files: Record<string, string>): ImageFiles {
  return {
    async readFile(path) {
      return files[path] === undefined ? undefined : Buffer.from(files[path]!);
    },
    realpath: (path) => path,
    list: (dir) => Object.keys(files).filter((p) => p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/')).map((p) => p.slice(dir.length + 1)).sort(),
  };
}

describe('package database', () => {
  it('reads status.d control files and md5sums (distroless)', async () => {
    const db = await readPackageDb(memoryFiles({
      '/var/lib/dpkg/status.d/libc6': 'Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\nMaintainer: GNU Libc Maintainers <x@lists.example.invalid>\nSource: glibc\nDepends: libgcc-s1\n',
      '/var/lib/dpkg/status.d/libc6.md5sums': `${'0'.repeat(32)}  usr/lib/x86_64-linux-gnu/libc.so.6\n`,
      '/var/lib/dpkg/status.d/passwd': 'Package: passwd\nVersion: 1:4.13+dfsg1-1\nArchitecture: amd64\nSource: shadow (1:4.13+dfsg1-1)\nPre-Depends: libc6\nDepends: libpam0g,\n libaudit1\n',
    }));
    assert.deepEqual(db.map((p) => [p.name, p.version, p.architecture, p.source, p.depends, p.files]), [
      ['libc6', '2.36-9', 'amd64', { name: 'glibc', version: '2.36-9' }, 'libgcc-s1', ['/usr/lib/x86_64-linux-gnu/libc.so.6']],
      ['passwd', '1:4.13+dfsg1-1', 'amd64', { name: 'shadow', version: '1:4.13+dfsg1-1' }, 'libc6, libpam0g, libaudit1', undefined],
    ]);
  });

  it('reads dpkg status (installed entries only) with info/<name>[:arch].list', async () => {
    const db = await readPackageDb(memoryFiles({
      '/var/lib/dpkg/status': 'Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 2\n',
      '/var/lib/dpkg/info/a.list': '/.\n/usr\n/usr/bin/a\n',
    }));
    assert.deepEqual(db.map((p) => [p.name, p.files]), [['a', ['/usr', '/usr/bin/a']]]);
  });

  it('reads apk installed (P V A L m o D p, F/R file lists)', async () => {
    const db = await readPackageDb(memoryFiles({
      '/lib/apk/db/installed': 'C:Q1x=\nP:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\nm:N C <n@example.invalid>\no:musl\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:libc.musl-x86_64.so.1\nR:ld-musl-x86_64.so.1\n\nP:busybox\nV:1.36.1-r0\nA:x86_64\nD:so:libc.musl-x86_64.so.1 !busybox-extras\n',
    }));
    assert.deepEqual(db.map((p) => [p.family, p.name, p.license, p.maintainer, p.files]), [
      ['apk', 'busybox', undefined, undefined, undefined],
      ['apk', 'musl', 'MIT', 'N C <n@example.invalid>', ['/lib/libc.musl-x86_64.so.1', '/lib/ld-musl-x86_64.so.1']],
    ]);
    assert.deepEqual(dependencyEdges(db[0]!, db), ['musl'], 'so: through p:, conflicts ignored');
  });

  it('dependency edges take the first alternative present, by name or Provides', () => {
    const deb = (name: string, depends?: string, provides?: string) => ({
      family: 'deb' as const, name, version: '1', architecture: 'amd64', maintainer: undefined, source: undefined, license: undefined, depends, provides, files: undefined,
    });
    const all = [deb('app', 'missing | mawk (>= 1), libc6:any, app, debconf | debconf-2.0'), deb('mawk', undefined, 'awk'), deb('libc6'), deb('cdebconf', undefined, 'debconf-2.0')];
    assert.deepEqual(dependencyEdges(all[0]!, all), ['cdebconf', 'libc6', 'mawk']);
  });
});

describe('os-release', () => {
  it('parses quoted and unquoted values and gives the purl distro', async () => {
    assert.deepEqual(parseOsRelease('ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n# c\nNAME=\'x y\'\n'), {
      ID: 'debian', VERSION_ID: '12', PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)', NAME: 'x y',
    });
    const os = await readOperatingSystem(memoryFiles({ '/usr/lib/os-release': 'ID=debian\nVERSION_CODENAME=trixie\n' }));
    assert.equal(distroQualifier(os), 'debian-trixie');
    assert.equal(await readOperatingSystem(memoryFiles({})), undefined);
  });
});
