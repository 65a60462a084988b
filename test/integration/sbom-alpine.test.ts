/**
 * SBOMs of an Alpine image: packages made and signed on the spot (the
 * license, maintainer and origin in the index, an os-release in a package),
 * served on 127.0.0.1 and built by bin/baseimg. Both documents validate;
 * packages in the SBOM == /lib/apk/db/installed == the resolved set; purls
 * are pkg:apk/alpine/…&distro=alpine-<VERSION_ID> and round-trip; L: becomes
 * the declared license (NOASSERTION when it is not SPDX); the embedded and
 * beside copies agree. Runs once the Alpine backend (src/distro/alpine) is in.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeRun, makeTempDir, PROJECT_ROOT, runCli } from '../helpers/cli.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { readImageTarball, textAt } from '../helpers/image-reader.js';
import { cdxPackages, purlOf, schemaErrors, spdxPackages, withoutUrl } from '../helpers/sbom.js';
import { generateApkKey, makeApk, makeApkIndex, writeRepo, type ApkSpec } from '../helpers/alpine-repo.js';
import { formatPurl, parsePurl } from '../../src/sbom/purl.js';

const HAVE_BACKEND = existsSync(join(PROJECT_ROOT, 'src', 'distro', 'alpine', 'backend.ts'));
const OS_RELEASE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine Linux v3.20"\n';

let work: string;
let server: TestServer;
let run: { code: number | null; stdout: string; stderr: string; durationMs: number; signal: NodeJS.Signals | null };
const docs: Record<string, any> = {};
let installedDb = '';

before(async () => {
  if (!HAVE_BACKEND) return;
  work = await makeTempDir('sbom-alpine');
  const key = generateApkKey('sbom-test.rsa.pub');
  const specs: Array<{ spec: ApkSpec; index: Record<string, string> }> = [
    {
      spec: { name: 'alpine-release', version: '3.20.3-r0', entries: [{ path: 'etc', type: 'dir' }, { path: 'etc/os-release', content: OS_RELEASE }] },
      index: { L: 'MIT', m: 'Natanael Copa <ncopa@alpine.example.invalid>' },
    },
    {
      spec: { name: 'musl', version: '1.2.5-r0', entries: [{ path: 'lib', type: 'dir' }, { path: 'lib/ld-musl-x86_64.so.1', content: 'fake musl\n', mode: 0o755 }] },
      index: { L: 'MIT', m: 'Natanael Copa <ncopa@alpine.example.invalid>' },
    },
    {
      spec: { name: 'app', version: '2.1-r3', origin: 'app-src', depends: ['musl', 'alpine-release'], entries: [{ path: 'usr', type: 'dir' }, { path: 'usr/bin', type: 'dir' }, { path: 'usr/bin/app', content: '#!/bin/sh\n', mode: 0o755 }] },
      index: { L: 'GPL-2.0-or-later AND mit', m: 'Jane Doe <jane@example.invalid>' },
    },
    {
      spec: { name: 'weird', version: '0.1-r0', depends: ['musl'], entries: [{ path: 'usr', type: 'dir' }, { path: 'usr/share', type: 'dir' }, { path: 'usr/share/weird', content: 'x\n' }] },
      index: { L: 'custom' },
    },
  ];
  const built = specs.map(({ spec, index }) => ({ apk: makeApk({ ...spec, keys: [key] }), index }));
  const repoPath = await writeRepo(join(work, 'repo'), {
    name: 'main',
    index: makeApkIndex(built.map((b) => ({ apk: b.apk.file, override: b.index })), { keys: [key] }),
    apks: Object.fromEntries(built.map((b) => [`${b.apk.spec.name}-${b.apk.spec.version}.apk`, b.apk.file])),
  });
  await writeFile(join(work, key.name), key.publicPem);
  server = await serveDirectory(join(work, 'repo'));
  const spec = [
    'name = "alpine-sbom"',
    '[source]',
    'distro = "alpine"',
    `repositories = [${JSON.stringify(`${server.url}${repoPath}`)}]`,
    `keys = [${JSON.stringify(join(work, key.name))}]`,
    '[packages]',
    'include = ["app", "weird"]',
    '',
  ].join('\n');
  await writeFile(join(work, 'alpine.toml'), spec);
  run = await runCli(['build', join(work, 'alpine.toml'), '-o', join(work, 'alpine.tar'), '--arch', 'amd64', '--cache-dir', join(work, 'cache'), '--json']);
  if (run.code !== 0) return;
  const layer = (await readImageTarball(join(work, 'alpine.tar'))).layers[0]!;
  docs.spdx = JSON.parse(await readFile(join(work, 'alpine.spdx.json'), 'utf8'));
  docs.cdx = JSON.parse(await readFile(join(work, 'alpine.cdx.json'), 'utf8'));
  docs.embeddedSpdx = JSON.parse(textAt(layer, 'var/lib/db/sbom/baseimg.spdx.json'));
  docs.embeddedCdx = JSON.parse(textAt(layer, 'var/lib/db/sbom/baseimg.cdx.json'));
  installedDb = [...layer.values()].find((e) => /(^|\/)lib\/apk\/db\/installed$/.test(e.path) && e.type === 'file')?.content?.toString('utf8') ?? '';
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

function ready(t: TestContext): boolean {
  if (!HAVE_BACKEND) {
    t.skip('the Alpine backend (src/distro/alpine) is not in this tree yet');
    return false;
  }
  assert.equal(run.code, 0, describeRun(run));
  return true;
}

describe('SBOMs of an Alpine image', () => {
  it('both documents validate, beside and embedded', (t) => {
    if (!ready(t)) return;
    for (const d of [docs.spdx, docs.embeddedSpdx]) assert.deepEqual(schemaErrors('spdx', d), []);
    for (const d of [docs.cdx, docs.embeddedCdx]) assert.deepEqual(schemaErrors('cyclonedx', d), []);
  });

  it('packages in the SBOM == /lib/apk/db/installed == the resolved set', (t) => {
    if (!ready(t)) return;
    const resolved = (JSON.parse(run.stdout).packages as Array<{ name: string }>).map((p) => p.name).sort();
    const db = [...installedDb.matchAll(/^P:(.+)$/gm)].map((m) => m[1]!).sort();
    assert.deepEqual(db, resolved);
    assert.deepEqual(spdxPackages(docs.spdx).map((p) => p.name), resolved);
    assert.deepEqual(cdxPackages(docs.cdx).map((p) => p.name), resolved);
  });

  it('purls, licenses from L:, supplier from m:, source from o:', (t) => {
    if (!ready(t)) return;
    const byName = new Map(spdxPackages(docs.spdx).map((p) => [p.name, p]));
    for (const p of byName.values()) {
      const purl = purlOf(p);
      assert.equal(formatPurl(parsePurl(purl)), purl);
      assert.equal(purl, `pkg:apk/alpine/${p.name}@${p.versionInfo}?arch=x86_64&distro=alpine-3.20.3`);
    }
    assert.equal(byName.get('app').licenseDeclared, 'GPL-2.0-or-later AND MIT');
    assert.equal(byName.get('musl').licenseDeclared, 'MIT');
    assert.equal(byName.get('weird').licenseDeclared, 'NOASSERTION');
    assert.match(byName.get('weird').licenseComments, /"custom" is not an SPDX expression/);
    assert.equal(byName.get('app').supplier, 'Person: Jane Doe (jane@example.invalid)');
    assert.equal(byName.get('app').sourceInfo, 'built from source package app-src 2.1-r3');
    const rels = new Set(docs.spdx.relationships.map((r: any) => `${r.spdxElementId} ${r.relationshipType} ${r.relatedSpdxElement}`));
    assert.ok(rels.has('SPDXRef-Package-apk-app DEPENDS_ON SPDXRef-Package-apk-musl'));
    const os = docs.spdx.packages.find((p: any) => p.primaryPackagePurpose === 'OPERATING_SYSTEM');
    assert.deepEqual([os.name, os.versionInfo], ['alpine', '3.20.3']);
  });

  it('the embedded and beside copies list the same packages with the same fields', (t) => {
    if (!ready(t)) return;
    assert.deepEqual(spdxPackages(docs.embeddedSpdx), spdxPackages(docs.spdx).map(withoutUrl));
    assert.deepEqual(docs.embeddedCdx.components, docs.cdx.components.map(withoutUrl));
  });
});
