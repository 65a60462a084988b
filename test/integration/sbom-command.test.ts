/**
 * `baseimg sbom IMG`: prints the SBOM embedded in a baseimg image byte for
 * byte; with --derive, or for images built by other tools, makes one from
 * the package database (dpkg status.d, dpkg status + info/*.list, apk
 * installed), copyright files and os-release. Foreign images here are plain
 * root filesystem tars (what `docker export` writes), made with tar(1).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { standardFixtureRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, makeTempDir, runCli } from '../helpers/cli.js';
import { readImageTarball, textAt } from '../helpers/image-reader.js';
import { cdxPackages, purlOf, schemaErrors, spdxPackages } from '../helpers/sbom.js';
import { runOk } from '../helpers/tools.js';
import { formatPurl, parsePurl } from '../../src/sbom/purl.js';

let work: string;
let server: TestServer;
let image: string;

async function rootfsTar(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, `${name}-root`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  const tar = join(work, `${name}.tar`);
  runOk('tar', ['-cf', tar, '-C', dir, '.']);
  return tar;
}

const sbom = (args: string[]): ReturnType<typeof runCli> => runCli(['sbom', ...args]);

before(async () => {
  work = await makeTempDir('sbom-cmd');
  const repo = await standardFixtureRepo(join(work, 'repo'));
  server = await serveDirectory(repo.root);
  await writeFile(join(work, 'app.toml'), fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'fixture-app' }));
  image = join(work, 'app.tar');
  const run = await runCli(['build', join(work, 'app.toml'), '-o', image, '--cache-dir', join(work, 'cache'), '-q']);
  assert.equal(run.code, 0, describeRun(run));
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('baseimg sbom', () => {
  it('prints the embedded SBOM of a baseimg image, byte for byte, in either format', async () => {
    const layer = (await readImageTarball(image)).layers[0]!;
    const spdx = await sbom([image]);
    assert.equal(spdx.code, 0, describeRun(spdx));
    assert.equal(spdx.stdout, textAt(layer, 'var/lib/db/sbom/baseimg.spdx.json'));
    assert.match(spdx.stderr, /embedded in the image/);
    const cdx = await sbom([image, '--format', 'cyclonedx']);
    assert.equal(cdx.stdout, textAt(layer, 'var/lib/db/sbom/baseimg.cdx.json'));
  });

  it('--derive makes one from the package database that agrees with the embedded one', async () => {
    const embedded = JSON.parse((await sbom([image])).stdout);
    for (const format of ['spdx', 'cyclonedx'] as const) {
      const r = await sbom([image, '--derive', '--format', format]);
      assert.equal(r.code, 0, describeRun(r));
      assert.match(r.stderr, /derived from the image's package database/);
      assert.deepEqual(schemaErrors(format, JSON.parse(r.stdout)), []);
    }
    const derived = JSON.parse((await sbom([image, '--derive'])).stdout);
    const facts = (p: any): unknown => [p.name, p.versionInfo, purlOf(p), p.licenseDeclared, p.supplier, p.sourceInfo];
    assert.deepEqual(spdxPackages(derived).map(facts), spdxPackages(embedded).map(facts));
    assert.ok(spdxPackages(derived).every((p) => p.downloadLocation === 'NOASSERTION' && p.checksums === undefined));
    const image0 = derived.packages[0];
    assert.match(purlOf(image0), /^pkg:oci\/fixture-app@sha256:[0-9a-f]{64}\?arch=amd64&repository_url=docker\.io%2Flibrary%2Ffixture-app&tag=latest$/);
    const rels = (d: any): string[] => d.relationships.filter((r: any) => r.relationshipType === 'DEPENDS_ON').map((r: any) => `${r.spdxElementId}>${r.relatedSpdxElement}`).sort();
    assert.deepEqual(rels(derived), rels(embedded), 'Depends in status.d give the resolution\'s edges');
  });

  it('derives an SBOM for a dpkg image built elsewhere (status + info/*.list)', async () => {
    const tar = await rootfsTar('ubuntu', {
      'etc/os-release': 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\nPRETTY_NAME="Ubuntu 22.04 LTS"\n',
      'var/lib/dpkg/status': [
        'Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:2.0-1ubuntu1\nMaintainer: Ubuntu Developers <ubuntu-devel@lists.example.invalid>\nSource: foo (2.0-1)\nProvides: libfoo\n',
        'Package: bar\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0\nMaintainer: Joe <joe@example.invalid>\nDepends: missing | libfoo (>= 2), libc6\n',
        'Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n',
      ].join('\n'),
      'var/lib/dpkg/info/libfoo1:amd64.list': '/.\n/usr\n/usr/lib/libfoo.so.1\n',
      'usr/lib/libfoo.so.1': 'elf',
      'usr/share/doc/libfoo1/copyright': 'Format: https://copyright-format.example.invalid/copyright-format/1.0/\n\nFiles: *\nCopyright: x\nLicense: BSD-3-clause\n',
    });
    const r = await sbom([tar]);
    assert.equal(r.code, 0, describeRun(r));
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(schemaErrors('spdx', doc), []);
    const pkgs = new Map(spdxPackages(doc).map((p) => [p.name, p]));
    assert.deepEqual([...pkgs.keys()], ['bar', 'libfoo1']);
    assert.equal(purlOf(pkgs.get('libfoo1')), 'pkg:deb/ubuntu/libfoo1@1:2.0-1ubuntu1?arch=amd64&distro=ubuntu-22.04');
    assert.equal(pkgs.get('libfoo1').licenseDeclared, 'BSD-3-Clause');
    assert.equal(pkgs.get('bar').licenseDeclared, 'NOASSERTION');
    assert.equal(pkgs.get('libfoo1').sourceInfo, 'built from source package foo 2.0-1');
    assert.ok(doc.relationships.some((x: any) => x.spdxElementId === pkgs.get('bar').SPDXID && x.relationshipType === 'DEPENDS_ON' && x.relatedSpdxElement === pkgs.get('libfoo1').SPDXID));
    for (const p of pkgs.values()) assert.equal(formatPurl(parsePurl(purlOf(p))), purlOf(p));
  });

  it('derives an SBOM for an Alpine image built elsewhere (/lib/apk/db/installed)', async () => {
    const tar = await rootfsTar('alpine', {
      'etc/os-release': 'ID=alpine\nVERSION_ID=3.19.1\n',
      'lib/apk/db/installed': [
        'C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nL:MIT\nm:Natanael Copa <ncopa@alpine.example.invalid>\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n',
        'C:Q1def=\nP:busybox\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\no:busybox\nD:so:libc.musl-x86_64.so.1\nF:bin\nR:busybox\n',
        '',
      ].join('\n').replace('P:musl\n', 'P:musl\np:so:libc.musl-x86_64.so.1=1\n'),
    });
    for (const format of ['spdx', 'cyclonedx'] as const) {
      const r = await sbom([tar, '--format', format]);
      assert.equal(r.code, 0, describeRun(r));
      const doc = JSON.parse(r.stdout);
      assert.deepEqual(schemaErrors(format, doc), []);
      if (format === 'cyclonedx') {
        const purls = cdxPackages(doc).map((c) => c.purl);
        assert.deepEqual(purls, ['pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1', 'pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1']);
        const deps = doc.dependencies.find((d: any) => d.ref === purls[0]);
        assert.deepEqual(deps.dependsOn, [purls[1]], 'so: dependency resolved through p:');
        assert.deepEqual(cdxPackages(doc)[0].licenses, [{ license: { id: 'GPL-2.0-only' } }]);
      }
    }
  });

  it('an image without a package database gives an SBOM with no packages, and says so', async () => {
    const tar = await rootfsTar('empty', { 'hello.txt': 'hi' });
    const r = await sbom([tar]);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stderr, /no dpkg or apk package database/);
    assert.deepEqual(spdxPackages(JSON.parse(r.stdout)), []);
  });

  it('refuses an unknown --format', async () => {
    const r = await sbom([image, '--format', 'xml']);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /expected spdx or cyclonedx/);
  });
});
