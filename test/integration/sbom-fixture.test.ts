/**
 * SBOMs of an image built by bin/baseimg from the standard fixture archive
 * (served on 127.0.0.1): the copies beside the tarball and inside it
 * validate against the SPDX 2.3 and CycloneDX 1.6 schemas; their packages
 * are exactly the image's package database, which is the resolved set plus
 * ca-certificates (partially installed: the CA bundle's source); every fact
 * matches the fixture's packages; two builds give the same bytes; the
 * embedded and beside copies list the same packages with the same fields;
 * --sbom-dir, --sbom-files, and cleanup when the SBOMs cannot be written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { standardFixtureRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, fixtureSpec, listDir, makeTempDir, runCli } from '../helpers/cli.js';
import { readImageTarball, textAt, type TarEntry } from '../helpers/image-reader.js';
import { cdxPackages, purlOf, schemaErrors, spdxPackages, withoutUrl } from '../helpers/sbom.js';
import { formatPurl, parsePurl } from '../../src/sbom/purl.js';

let work: string;
let repo: DebianRepo;
let server: TestServer;
let specPath: string;
let result: { digest: string; packages: Array<{ name: string }>; sbom: { spdx: string; cyclonedx: string } };
let layer: Map<string, TarEntry>;
const docs: Record<'besideSpdx' | 'besideCdx' | 'embeddedSpdx' | 'embeddedCdx', any> = {} as never;

async function build(out: string, extra: string[] = []): Promise<ReturnType<typeof runCli>> {
  return runCli(['build', specPath, '-o', out, '--cache-dir', join(work, 'cache'), '--json', ...extra]);
}

before(async () => {
  work = await makeTempDir('sbom');
  repo = await standardFixtureRepo(join(work, 'repo'));
  server = await serveDirectory(repo.root);
  specPath = join(work, 'app.toml');
  await writeFile(specPath, fixtureSpec({ mirror: server.url, keyring: repo.keyringPath, name: 'fixture-app', include: ['base-files', 'netbase', 'tzdata', 'media-types', 'libc6', 'libssl3'] }));
  const run = await build(join(work, 'app.tar'));
  assert.equal(run.code, 0, describeRun(run));
  result = JSON.parse(run.stdout);
  layer = (await readImageTarball(join(work, 'app.tar'))).layers[0]!;
  docs.besideSpdx = JSON.parse(await readFile(join(work, 'app.spdx.json'), 'utf8'));
  docs.besideCdx = JSON.parse(await readFile(join(work, 'app.cdx.json'), 'utf8'));
  docs.embeddedSpdx = JSON.parse(textAt(layer, 'var/lib/db/sbom/baseimg.spdx.json'));
  docs.embeddedCdx = JSON.parse(textAt(layer, 'var/lib/db/sbom/baseimg.cdx.json'));
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Package names in the image's status.d. */
function statusDNames(l: Map<string, TarEntry>): string[] {
  return [...l.keys()].filter((p) => /^var\/lib\/dpkg\/status\.d\/[^/]+$/.test(p) && !p.endsWith('.md5sums')).map((p) => p.split('/').pop()!).sort();
}

describe('SBOMs of a fixture image', () => {
  it('writes NAME.spdx.json and NAME.cdx.json beside the tarball and reports them', () => {
    assert.deepEqual(result.sbom, { spdx: join(work, 'app.spdx.json'), cyclonedx: join(work, 'app.cdx.json') });
    for (const name of ['baseimg.spdx.json', 'baseimg.cdx.json']) {
      const e = layer.get(`var/lib/db/sbom/${name}`)!;
      assert.deepEqual([e.mode, e.uid, e.gid], [0o644, 0, 0], name);
    }
  });

  it('all four documents validate against the SPDX 2.3 and CycloneDX 1.6 schemas', () => {
    assert.deepEqual(schemaErrors('spdx', docs.besideSpdx), []);
    assert.deepEqual(schemaErrors('spdx', docs.embeddedSpdx), []);
    assert.deepEqual(schemaErrors('cyclonedx', docs.besideCdx), []);
    assert.deepEqual(schemaErrors('cyclonedx', docs.embeddedCdx), []);
  });

  it('packages in the SBOM == packages in status.d == the resolved set + the partially installed CA source', () => {
    const resolved = result.packages.map((p) => p.name).sort();
    const db = statusDNames(layer);
    assert.deepEqual(db, [...resolved, 'ca-certificates'].sort());
    for (const doc of [docs.besideSpdx, docs.embeddedSpdx]) assert.deepEqual(spdxPackages(doc).map((p) => p.name), db);
    for (const doc of [docs.besideCdx, docs.embeddedCdx]) assert.deepEqual(cdxPackages(doc).map((p) => p.name), db);
    const ca = spdxPackages(docs.besideSpdx).find((p) => p.name === 'ca-certificates');
    assert.match(ca.comment, /partially installed: CA bundle source \(certificates only, not installed\); of its files the image holds \/usr\/share\/doc\/ca-certificates\/copyright/);
    const caCdx = cdxPackages(docs.besideCdx).find((p) => p.name === 'ca-certificates');
    assert.ok(caCdx.properties.some((p: any) => p.name === 'baseimg:installed' && p.value === 'partial'));
    for (const p of cdxPackages(docs.besideCdx).filter((c) => c.name !== 'ca-certificates')) {
      assert.ok(p.properties.some((q: any) => q.name === 'baseimg:installed' && q.value === 'complete'), p.name);
    }
  });

  it('every package carries the fixture\'s facts: version, arch, supplier, checksum, URL, source, purl', () => {
    for (const p of spdxPackages(docs.besideSpdx)) {
      const suite = p.name === 'libssl3' ? 'fixture-security' : 'fixture';
      const built = repo.pkg(p.name, { suite, architecture: 'amd64' });
      assert.equal(p.versionInfo, built.version, p.name);
      assert.deepEqual(p.checksums, [{ algorithm: 'SHA256', checksumValue: built.sha256 }], p.name);
      assert.equal(p.downloadLocation, `${server.url}/${built.poolPath}`, p.name);
      assert.match(p.supplier, /^(Person|Organization): .+ \(.+@.+\)$/, p.name);
      assert.match(p.comment, new RegExp(`^architecture ${built.architecture}`), p.name);
      const purl = purlOf(p);
      assert.equal(formatPurl(parsePurl(purl)), purl, 'purl round-trips');
      assert.deepEqual(parsePurl(purl), {
        type: 'deb', namespace: 'debian', name: p.name, version: built.version, qualifiers: { arch: built.architecture, distro: 'debian-12' }, subpath: undefined,
      });
    }
    const byName = new Map(spdxPackages(docs.besideSpdx).map((p) => [p.name, p]));
    assert.equal(byName.get('libc6').sourceInfo, 'built from source package glibc 2.36-9+deb12u9');
    assert.equal(byName.get('libgcc-s1').supplier, 'Organization: Debian GCC Maintainers (debian-gcc@lists.example.invalid)');
  });

  it('licenses: DEP-5 names mapped, free-form and unmapped ones as LicenseRefs with their text, missing ones NOASSERTION', () => {
    const byName = new Map(spdxPackages(docs.besideSpdx).map((p) => [p.name, p.licenseDeclared]));
    assert.deepEqual(Object.fromEntries(byName), {
      'base-files': 'GPL-2.0-or-later',
      'ca-certificates': 'GPL-2.0-or-later',
      'gcc-12-base': 'LicenseRef-gcc-12-base-copyright',
      libc6: 'LGPL-2.1-only',
      'libgcc-s1': 'LicenseRef-gcc-12-base-copyright',
      libssl3: 'Apache-2.0',
      'media-types': 'LicenseRef-media-types-ad-hoc',
      netbase: 'NOASSERTION',
      tzdata: 'LicenseRef-tzdata-public-domain',
    });
    const refs = new Map(docs.besideSpdx.hasExtractedLicensingInfos.map((l: any) => [l.licenseId, l]));
    assert.deepEqual([...refs.keys()], ['LicenseRef-gcc-12-base-copyright', 'LicenseRef-media-types-ad-hoc', 'LicenseRef-tzdata-public-domain']);
    assert.match((refs.get('LicenseRef-gcc-12-base-copyright') as any).extractedText, /prepackaged version of the GNU compiler collection/);
    assert.match((refs.get('LicenseRef-tzdata-public-domain') as any).extractedText, /common-licenses\/public-domain/);
    const netbase = spdxPackages(docs.besideSpdx).find((p) => p.name === 'netbase');
    assert.equal(netbase.licenseComments, 'no /usr/share/doc/netbase/copyright in the image');
  });

  it('relationships: the image DESCRIBES/CONTAINS everything, DEPENDS_ON follows the resolution', () => {
    const rels = new Set(docs.besideSpdx.relationships.map((r: any) => `${r.spdxElementId} ${r.relationshipType} ${r.relatedSpdxElement}`));
    assert.ok(rels.has('SPDXRef-DOCUMENT DESCRIBES SPDXRef-Image'));
    assert.ok(rels.has('SPDXRef-Image CONTAINS SPDXRef-OperatingSystem'));
    for (const p of spdxPackages(docs.besideSpdx)) assert.ok(rels.has(`SPDXRef-Image CONTAINS ${p.SPDXID}`));
    assert.ok(rels.has('SPDXRef-Package-deb-libgcc-s1 DEPENDS_ON SPDXRef-Package-deb-gcc-12-base'));
    assert.ok(rels.has('SPDXRef-Package-deb-libgcc-s1 DEPENDS_ON SPDXRef-Package-deb-libc6'));
    assert.ok(rels.has('SPDXRef-Package-deb-libc6 DEPENDS_ON SPDXRef-Package-deb-libgcc-s1'));
    const os = docs.besideSpdx.packages.find((p: any) => p.primaryPackagePurpose === 'OPERATING_SYSTEM');
    assert.deepEqual([os.name, os.versionInfo, os.description], ['debian', '12', 'Debian GNU/Linux 12 (bookworm)']);
  });

  it('the beside copy names the image by digest and OCI purl; the embedded copy by spec name and platform', () => {
    const beside = docs.besideSpdx.packages[0];
    assert.equal(beside.versionInfo, result.digest);
    assert.equal(purlOf(beside), `pkg:oci/fixture-app@${result.digest}?arch=amd64&repository_url=docker.io%2Flibrary%2Ffixture-app&tag=latest`);
    assert.equal(docs.besideCdx.metadata.component.purl, purlOf(beside));
    const embedded = docs.embeddedSpdx.packages[0];
    assert.equal(embedded.name, 'fixture-app');
    assert.equal(embedded.versionInfo, undefined);
    assert.equal(embedded.externalRefs, undefined);
    assert.match(embedded.comment, /for linux\/amd64; this copy is inside the image/);
    assert.equal(docs.embeddedCdx.metadata.component.purl, undefined);
  });

  it('the embedded and beside copies list the same packages with the same fields (the embedded one without URLs)', () => {
    assert.deepEqual(spdxPackages(docs.embeddedSpdx), spdxPackages(docs.besideSpdx).map(withoutUrl));
    assert.ok(spdxPackages(docs.embeddedSpdx).every((p) => p.downloadLocation === 'NOASSERTION' && p.packageFileName.startsWith('pool/main/')));
    assert.deepEqual(docs.embeddedSpdx.hasExtractedLicensingInfos, docs.besideSpdx.hasExtractedLicensingInfos);
    assert.deepEqual(docs.embeddedSpdx.relationships, docs.besideSpdx.relationships);
    assert.deepEqual(docs.embeddedCdx.components, docs.besideCdx.components.map(withoutUrl));
    assert.ok(!JSON.stringify([docs.embeddedSpdx, docs.embeddedCdx]).includes(server.url), 'a mirror URL reached the image');
    assert.deepEqual(docs.embeddedCdx.dependencies, docs.besideCdx.dependencies);
    assert.equal(docs.embeddedSpdx.creationInfo.created, docs.besideSpdx.creationInfo.created);
    assert.notEqual(docs.embeddedSpdx.documentNamespace, docs.besideSpdx.documentNamespace);
  });

  it('a second build gives byte-identical SBOMs (and image)', async () => {
    await mkdir(join(work, 'again'));
    const run = await build(join(work, 'again', 'app.tar'));
    assert.equal(run.code, 0, describeRun(run));
    for (const name of ['app.tar', 'app.spdx.json', 'app.cdx.json']) {
      const [a, b] = await Promise.all([readFile(join(work, name)), readFile(join(work, 'again', name))]);
      assert.ok(a.equals(b), `${name} differs between two builds`);
    }
  });

  it('--sbom-dir puts the copies elsewhere; --sbom-files adds every file with its hashes', async () => {
    const out = join(work, 'files', 'img.tar');
    const dir = join(work, 'sboms', 'nested');
    await mkdir(join(work, 'files'));
    const run = await build(out, ['--sbom-dir', dir, '--sbom-files']);
    assert.equal(run.code, 0, describeRun(run));
    assert.deepEqual(await listDir(dir), ['img.cdx.json', 'img.spdx.json']);
    assert.deepEqual(await listDir(join(work, 'files')), ['img.tar']);
    const spdx = JSON.parse(await readFile(join(dir, 'img.spdx.json'), 'utf8'));
    const cdx = JSON.parse(await readFile(join(dir, 'img.cdx.json'), 'utf8'));
    assert.deepEqual(schemaErrors('spdx', spdx), []);
    assert.deepEqual(schemaErrors('cyclonedx', cdx), []);
    const l = (await readImageTarball(out)).layers[0]!;
    const regular = [...l.values()].filter((e) => e.type === 'file' || e.type === 'link').map((e) => `./${e.path}`);
    const listed = spdx.files.map((f: any) => f.fileName);
    assert.deepEqual(listed, regular.filter((p) => !p.startsWith('./var/lib/db/sbom/')).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    const libc = spdx.files.find((f: any) => f.fileName === './usr/lib/x86_64-linux-gnu/libc.so.6');
    const body = l.get('usr/lib/x86_64-linux-gnu/libc.so.6')!.content!;
    assert.deepEqual(libc.checksums, [
      { algorithm: 'SHA1', checksumValue: createHash('sha1').update(body).digest('hex') },
      { algorithm: 'SHA256', checksumValue: createHash('sha256').update(body).digest('hex') },
    ]);
    const owner = (id: string): string => spdx.relationships.find((r: any) => r.relationshipType === 'CONTAINS' && r.relatedSpdxElement === id).spdxElementId;
    assert.equal(owner(libc.SPDXID), 'SPDXRef-Package-deb-libc6');
    assert.equal(owner(spdx.files.find((f: any) => f.fileName === './etc/passwd').SPDXID), 'SPDXRef-Image');
    assert.equal(owner(spdx.files.find((f: any) => f.fileName === './usr/share/doc/ca-certificates/copyright').SPDXID), 'SPDXRef-Package-deb-ca-certificates');
    const libcCdx = cdxPackages(cdx).find((c) => c.name === 'libc6');
    assert.ok(libcCdx.components.some((f: any) => f.name === '/usr/lib/x86_64-linux-gnu/libc.so.6'));
  });

  it('when the SBOMs cannot be written the build fails and leaves neither tarball nor SBOM nor temp file', async () => {
    const blocker = join(work, 'blocker');
    await writeFile(blocker, 'a file where the SBOM directory should be');
    const outDir = join(work, 'fails');
    await mkdir(outDir);
    const run = await build(join(outDir, 'x.tar'), ['--sbom-dir', join(blocker, 'sub')]);
    assert.notEqual(run.code, 0, describeRun(run));
    assert.match(run.stderr, /ENOTDIR|not a directory/i);
    assert.deepEqual(await listDir(outDir), []);
    assert.ok(!existsSync(join(blocker, 'sub')));
  });
});
