/**
 * Rendering the SBOM model as SPDX 2.3 and CycloneDX 1.6: both validate
 * against the upstream schemas (with the schemas' own examples as positive
 * controls and a broken document as a negative one), the bytes depend only
 * on the model, identifiers are derived from content, and every fact of a
 * package lands in both formats.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SbomModel, SbomPackage } from '../../src/sbom/model.js';
import { renderSpdx } from '../../src/sbom/spdx.js';
import { renderCycloneDx } from '../../src/sbom/cyclonedx.js';
import { besideSbomPaths, renderSbom } from '../../src/sbom/render.js';
import { besideModel } from '../../src/sbom/build-sbom.js';
import { spdxSupplier } from '../../src/sbom/supplier.js';
import { contentUuid, spdxId } from '../../src/sbom/ids.js';
import { cdxPackages, exampleDocument, schemaErrors, spdxPackages } from '../helpers/sbom.js';

const os = { id: 'debian', versionId: '12', codename: 'bookworm', name: 'Debian GNU/Linux', prettyName: 'Debian GNU/Linux 12 (bookworm)' };

function pkg(name: string, extra: Partial<SbomPackage> = {}): SbomPackage {
  return {
    family: 'deb',
    name,
    version: '1.0-1',
    architecture: 'amd64',
    purl: `pkg:deb/debian/${encodeURIComponent(name)}@1.0-1?arch=amd64&distro=debian-12`,
    supplier: 'Debian Team <team@lists.example.invalid>',
    license: { expression: 'MIT', how: 'dep5' },
    sha256: 'a'.repeat(64),
    downloadLocation: `http://archive.example.invalid/pool/${name}.deb`,
    filename: `pool/${name}.deb`,
    source: { name: 'src', version: '1.0-1' },
    dependsOn: [],
    installed: 'complete',
    note: undefined,
    ...extra,
  };
}

function model(): SbomModel {
  return {
    tool: { name: 'baseimg', version: '0.1.0' },
    created: '2024-11-09T10:05:41Z',
    image: { name: 'fixture-app', os: 'linux', architecture: 'amd64' },
    operatingSystem: os,
    packages: [
      pkg('libc6', { dependsOn: ['libgcc-s1'], license: { expression: 'LicenseRef-libc6-copyright', how: 'copyright-text', comment: 'free-form' } }),
      pkg('libgcc-s1', { dependsOn: ['libc6'], license: { expression: 'GPL-3.0-or-later WITH GCC-exception-3.1 AND (MIT OR Zlib)', how: 'dep5' } }),
      pkg('libstdc++6', { license: { expression: 'NOASSERTION', how: 'none', comment: 'no copyright file' }, supplier: undefined }),
      pkg('ca-certificates', { installed: 'partial', note: 'partially installed: CA bundle source', architecture: 'all' }),
    ],
    licenses: [{ id: 'LicenseRef-libc6-copyright', name: 'libc6 copyright file', text: 'GNU C Library...', sources: ['/usr/share/doc/libc6/copyright'] }],
    files: [
      { path: '/etc/passwd', sha256: 'b'.repeat(64), sha1: 'c'.repeat(40), owner: undefined },
      { path: '/usr/lib/x86_64-linux-gnu/libc.so.6', sha256: 'd'.repeat(64), sha1: 'e'.repeat(40), owner: 'libc6' },
    ],
  };
}

describe('SBOM rendering', () => {
  it('the validator set-up accepts the schemas\' own examples and rejects a broken document', () => {
    assert.deepEqual(schemaErrors('spdx', exampleDocument('spdx')), []);
    assert.deepEqual(schemaErrors('cyclonedx', exampleDocument('cyclonedx')), []);
    const bad = renderCycloneDx(model()) as any;
    bad.components[1].licenses = [{ license: { id: 'NOT-A-LICENSE' } }];
    assert.notDeepEqual(schemaErrors('cyclonedx', bad), []);
    const badSpdx = renderSpdx(model()) as any;
    delete badSpdx.creationInfo;
    assert.notDeepEqual(schemaErrors('spdx', badSpdx), []);
  });

  for (const withFiles of [false, true]) {
    it(`both documents validate${withFiles ? ' with a files section' : ''}, embedded and beside`, () => {
      const m = { ...model(), files: withFiles ? model().files : undefined };
      const beside = besideModel(m, { digest: `sha256:${'f'.repeat(64)}`, tag: 'fixture-app:1.0' });
      for (const mm of [m, beside]) {
        assert.deepEqual(schemaErrors('spdx', renderSpdx(mm)), []);
        assert.deepEqual(schemaErrors('cyclonedx', renderCycloneDx(mm)), []);
      }
    });
  }

  it('SPDX: image DESCRIBES/CONTAINS, OS element, DEPENDS_ON, licenses, supplier, partial note', () => {
    const doc = renderSpdx(model()) as any;
    assert.equal(doc.spdxVersion, 'SPDX-2.3');
    assert.equal(doc.creationInfo.created, '2024-11-09T10:05:41Z');
    assert.deepEqual(doc.creationInfo.creators, ['Tool: baseimg-0.1.0']);
    assert.equal(doc.packages[0].primaryPackagePurpose, 'CONTAINER');
    assert.equal(doc.packages[0].versionInfo, undefined, 'the embedded copy has no digest');
    assert.equal(doc.packages[1].primaryPackagePurpose, 'OPERATING_SYSTEM');
    assert.equal(doc.packages[1].versionInfo, '12');
    const rels = doc.relationships.map((r: any) => `${r.spdxElementId} ${r.relationshipType} ${r.relatedSpdxElement}`);
    assert.ok(rels.includes('SPDXRef-DOCUMENT DESCRIBES SPDXRef-Image'));
    assert.ok(rels.includes('SPDXRef-Image CONTAINS SPDXRef-OperatingSystem'));
    for (const p of spdxPackages(doc)) assert.ok(rels.includes(`SPDXRef-Image CONTAINS ${p.SPDXID}`), p.name);
    assert.ok(rels.includes('SPDXRef-Package-deb-libc6 DEPENDS_ON SPDXRef-Package-deb-libgcc-s1'));
    assert.ok(rels.includes('SPDXRef-Package-deb-libc6 CONTAINS SPDXRef-File-' + doc.files[1].SPDXID.slice('SPDXRef-File-'.length)));
    assert.ok(rels.includes(`SPDXRef-Image CONTAINS ${doc.files[0].SPDXID}`), 'generated files belong to the image');
    const byName = new Map(spdxPackages(doc).map((p: any) => [p.name, p]));
    assert.equal(byName.get('libgcc-s1').licenseDeclared, 'GPL-3.0-or-later WITH GCC-exception-3.1 AND (MIT OR Zlib)');
    assert.equal(byName.get('libgcc-s1').licenseConcluded, 'NOASSERTION');
    assert.equal(byName.get('libstdc++6').SPDXID, spdxId('Package-deb', 'libstdc++6'));
    assert.match(byName.get('libstdc++6').SPDXID, /^SPDXRef-Package-deb-libstdc-6-[0-9a-f]{8}$/);
    assert.equal(byName.get('libstdc++6').supplier, 'NOASSERTION');
    assert.equal(byName.get('libc6').supplier, 'Organization: Debian Team (team@lists.example.invalid)');
    assert.match(byName.get('ca-certificates').comment, /architecture all; partially installed: CA bundle source/);
    assert.equal(byName.get('libc6').packageVerificationCode.packageVerificationCodeValue.length, 40);
    assert.deepEqual(doc.hasExtractedLicensingInfos.map((l: any) => l.licenseId), ['LicenseRef-libc6-copyright']);
  });

  it('CycloneDX: image as metadata.component, licenses as id / named text / expression, dependencies by purl', () => {
    const doc = renderCycloneDx(besideModel(model(), { digest: `sha256:${'f'.repeat(64)}`, tag: 'fixture-app' })) as any;
    assert.equal(doc.specVersion, '1.6');
    assert.match(doc.serialNumber, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(doc.metadata.component.type, 'container');
    assert.equal(doc.metadata.component.purl, `pkg:oci/fixture-app@sha256:${'f'.repeat(64)}?arch=amd64&repository_url=docker.io%2Flibrary%2Ffixture-app&tag=latest`);
    assert.equal(doc.components[0].type, 'operating-system');
    const byName = new Map(cdxPackages(doc).map((c: any) => [c.name, c]));
    assert.deepEqual(byName.get('ca-certificates').licenses, [{ license: { id: 'MIT' } }]);
    assert.deepEqual(byName.get('libc6').licenses, [{ license: { name: 'LicenseRef-libc6-copyright', text: { contentType: 'text/plain', content: 'GNU C Library...' } } }]);
    assert.deepEqual(byName.get('libgcc-s1').licenses, [{ expression: 'GPL-3.0-or-later WITH GCC-exception-3.1 AND (MIT OR Zlib)' }]);
    assert.equal(byName.get('libstdc++6').licenses, undefined);
    assert.deepEqual(byName.get('libc6').components.map((f: any) => f.name), ['/usr/lib/x86_64-linux-gnu/libc.so.6']);
    const props = Object.fromEntries(byName.get('ca-certificates').properties.map((p: any) => [p.name, p.value]));
    assert.deepEqual(props, { 'baseimg:architecture': 'all', 'baseimg:source-package': 'src', 'baseimg:source-version': '1.0-1', 'baseimg:filename': 'pool/ca-certificates.deb', 'baseimg:installed': 'partial', 'baseimg:note': 'partially installed: CA bundle source' });
    const deps = new Map(doc.dependencies.map((d: any) => [d.ref, d.dependsOn]));
    assert.deepEqual(deps.get(byName.get('libc6')['bom-ref']), [byName.get('libgcc-s1').purl]);
    assert.equal((deps.get('image') as string[]).length, 5);
  });

  it('is deterministic, and its ids follow the content', () => {
    for (const format of ['spdx', 'cyclonedx'] as const) {
      const a = renderSbom(model(), format);
      assert.ok(a.equals(renderSbom(model(), format)), format);
      const changed = model();
      changed.packages[0]!.version = '1.0-2';
      const b = renderSbom(changed, format);
      const id = (buf: Buffer): string => (format === 'spdx' ? JSON.parse(buf.toString()).documentNamespace : JSON.parse(buf.toString()).serialNumber);
      assert.notEqual(id(a), id(b), `${format} id must change with the content`);
      assert.ok(a.toString().endsWith('}\n'));
    }
    assert.equal(contentUuid('x'), contentUuid('x'));
    assert.notEqual(contentUuid('x'), contentUuid('y'));
  });

  it('places the beside copies as NAME.spdx.json / NAME.cdx.json', () => {
    assert.deepEqual(besideSbomPaths('/out/static.tar', undefined), { spdx: '/out/static.spdx.json', cyclonedx: '/out/static.cdx.json' });
    assert.deepEqual(besideSbomPaths('/out/image', '/sboms'), { spdx: '/sboms/image.spdx.json', cyclonedx: '/sboms/image.cdx.json' });
  });

  it('supplier: team-looking names are Organizations, people are Persons', () => {
    assert.equal(spdxSupplier('GNU Libc Maintainers <debian-glibc@lists.debian.example>'), 'Organization: GNU Libc Maintainers (debian-glibc@lists.debian.example)');
    assert.equal(spdxSupplier('Santiago Vila <sanvila@example.invalid>'), 'Person: Santiago Vila (sanvila@example.invalid)');
    assert.equal(spdxSupplier('Natanael Copa'), 'Person: Natanael Copa');
    assert.equal(spdxSupplier(undefined), 'NOASSERTION');
  });
});
