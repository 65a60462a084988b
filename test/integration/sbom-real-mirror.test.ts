/**
 * SBOMs of real Debian 12 images built from the real archive:
 * specs/debian12/base.toml and a python3 closure (include python3, exclude
 * awk and debconf). For each: the four documents validate; packages in the
 * SBOM == the image's status.d == the resolved set (+ the CA source, listed
 * as partially installed); every purl round-trips; the embedded and beside
 * copies agree; and at least 90% of the packages get a real SPDX license
 * expression (not NOASSERTION). The measured coverage is printed.
 *
 * The mirror comes from BASEIMG_DEBIAN_MIRROR or the host's apt sources;
 * without one the tests skip with a message (under CI=true they fail).
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describeRun, makeTempDir, PROJECT_ROOT, runCli } from '../helpers/cli.js';
import { cdxPackages, purlOf, schemaErrors, spdxPackages, withoutUrl } from '../helpers/sbom.js';
import { debianMirrorProblem, runOk, skipOrFail } from '../helpers/tools.js';
import { formatPurl, parsePurl } from '../../src/sbom/purl.js';
import { parseExpression, usesOnlyKnownIds } from '../../src/sbom/license/expression.js';

const BOOKWORM = ['bookworm', 'bookworm-updates', 'bookworm-security'];
const PYTHON_SPEC = `name = "python3-debian12"

[source]
distro = "debian"
suites = ${JSON.stringify(BOOKWORM)}
components = ["main"]

[packages]
include = ["python3"]
exclude = ["awk", "debconf", "debconf-2.0"]
`;

const mirrorProblem = debianMirrorProblem(BOOKWORM);
let work: string;

interface Built {
  result: { packages: Array<{ name: string }>; digest: string };
  statusD: string[];
  spdx: any;
  cdx: any;
  embeddedSpdx: any;
  embeddedCdx: any;
}
const built = new Map<string, Built>();

/** The package database and embedded SBOMs of an image, extracted with tar (images are larger than the in-memory reader takes). */
async function extractLayers(tarball: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  runOk('tar', ['-xf', tarball, '-C', dir]);
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(await readFile(join(dir, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  const rootfs = join(dir, 'rootfs');
  await mkdir(rootfs);
  // One layer per spec of the include chain, bottom first; a later layer's files replace earlier ones.
  for (const layer of manifest.layers as Array<{ digest: string }>) {
    runOk('tar', ['-xzf', join(dir, 'blobs', 'sha256', layer.digest.slice(7)), '-C', rootfs]);
  }
  return rootfs;
}

async function build(name: string, spec: string, dir = work): Promise<Built> {
  const out = join(dir, `${name}.tar`);
  const run = await runCli(['build', spec, '-o', out, '--cache-dir', join(work, 'cache'), '--json'], { timeoutMs: 600_000 });
  assert.equal(run.code, 0, describeRun(run));
  const rootfs = await extractLayers(out, join(dir, `${name}-extracted`));
  const json = async (path: string): Promise<any> => JSON.parse(await readFile(path, 'utf8'));
  return {
    result: JSON.parse(run.stdout),
    statusD: (await readdir(join(rootfs, 'var/lib/dpkg/status.d'))).filter((f) => !f.endsWith('.md5sums')).sort(),
    spdx: await json(join(dir, `${name}.spdx.json`)),
    cdx: await json(join(dir, `${name}.cdx.json`)),
    embeddedSpdx: await json(join(rootfs, 'var/lib/db/sbom/baseimg.spdx.json')),
    embeddedCdx: await json(join(rootfs, 'var/lib/db/sbom/baseimg.cdx.json')),
  };
}

before(async () => {
  if (mirrorProblem) return;
  work = await makeTempDir('sbom-real');
  await writeFile(join(work, 'python3.toml'), PYTHON_SPEC);
  built.set('base', await build('base', join(PROJECT_ROOT, 'specs/debian12/base.toml')));
  built.set('python3', await build('python3', join(work, 'python3.toml')));
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function need(t: TestContext): boolean {
  if (!mirrorProblem) return true;
  skipOrFail(t, mirrorProblem);
  return false;
}

for (const name of ['base', 'python3']) {
  describe(`SBOM of debian12 ${name} (real mirror)`, () => {
    it('all four documents validate against the schemas', (t) => {
      if (!need(t)) return;
      const b = built.get(name)!;
      assert.deepEqual(schemaErrors('spdx', b.spdx), []);
      assert.deepEqual(schemaErrors('spdx', b.embeddedSpdx), []);
      assert.deepEqual(schemaErrors('cyclonedx', b.cdx), []);
      assert.deepEqual(schemaErrors('cyclonedx', b.embeddedCdx), []);
    });

    it('packages in the SBOM == status.d == the resolved set (+ the partially installed CA source)', (t) => {
      if (!need(t)) return;
      const b = built.get(name)!;
      const resolved = b.result.packages.map((p) => p.name).sort();
      const partial = spdxPackages(b.spdx).filter((p) => /partially installed/.test(p.comment)).map((p) => p.name);
      assert.deepEqual(partial, resolved.includes('ca-certificates') ? [] : ['ca-certificates']);
      assert.deepEqual(b.statusD, [...resolved, ...partial].sort());
      assert.deepEqual(spdxPackages(b.spdx).map((p) => p.name), b.statusD);
      assert.deepEqual(cdxPackages(b.cdx).map((p) => p.name), b.statusD);
    });

    it('every purl parses and round-trips', (t) => {
      if (!need(t)) return;
      const b = built.get(name)!;
      // The distro qualifier comes from the image's os-release (base-files); the python3 closure has none.
      const os = b.spdx.packages.find((p: any) => p.primaryPackagePurpose === 'OPERATING_SYSTEM');
      assert.equal(os === undefined, name === 'python3');
      const distro = os ? `debian-${os.versionInfo}` : undefined;
      for (const p of spdxPackages(b.spdx)) {
        const purl = purlOf(p);
        const parsed = parsePurl(purl);
        assert.equal(formatPurl(parsed), purl);
        assert.deepEqual([parsed.type, parsed.namespace, parsed.name, parsed.version, parsed.qualifiers.distro], ['deb', 'debian', p.name, p.versionInfo, distro]);
      }
      for (const c of cdxPackages(b.cdx)) assert.equal(formatPurl(parsePurl(c.purl)), c.purl);
      assert.equal(formatPurl(parsePurl(purlOf(b.spdx.packages[0]))), purlOf(b.spdx.packages[0]));
    });

    it('the embedded and beside copies list the same packages with the same fields', (t) => {
      if (!need(t)) return;
      const b = built.get(name)!;
      assert.deepEqual(spdxPackages(b.embeddedSpdx), spdxPackages(b.spdx).map(withoutUrl));
      assert.deepEqual(b.embeddedCdx.components, b.cdx.components.map(withoutUrl));
    });

    it('at least 90% of the packages get a real SPDX license expression', (t) => {
      if (!need(t)) return;
      const pkgs = spdxPackages(built.get(name)!.spdx);
      const real = pkgs.filter((p) => p.licenseDeclared !== 'NOASSERTION' && parseExpression(p.licenseDeclared) !== undefined);
      const listedOnly = real.filter((p) => usesOnlyKnownIds(parseExpression(p.licenseDeclared)!, false));
      const fromDep5 = pkgs.filter((p) => !p.licenseComments || !/not in the machine-readable format/.test(p.licenseComments));
      const pct = (n: number): string => `${((100 * n) / pkgs.length).toFixed(1)}%`;
      const line =
        `debian12 ${name}: ${pkgs.length} packages; real SPDX expression ${real.length} (${pct(real.length)}); ` +
        `SPDX-list identifiers only ${listedOnly.length} (${pct(listedOnly.length)}); ` +
        `whole free-form copyright file as LicenseRef ${pkgs.length - fromDep5.length}; ` +
        `NOASSERTION: ${pkgs.filter((p) => p.licenseDeclared === 'NOASSERTION').map((p) => p.name).join(', ') || 'none'}`;
      t.diagnostic(line);
      process.stderr.write(`  license coverage: ${line}\n`);
      assert.ok(real.length / pkgs.length >= 0.9, line);
    });
  });
}

describe('SBOM reproducibility (real mirror)', () => {
  it('a second build of debian12 base gives byte-identical SBOM files', async (t) => {
    if (!need(t)) return;
    const again = join(work, 'again');
    await mkdir(again);
    await build('base', join(PROJECT_ROOT, 'specs/debian12/base.toml'), again);
    for (const f of ['base.spdx.json', 'base.cdx.json']) {
      const [a, b] = await Promise.all([readFile(join(work, f)), readFile(join(again, f))]);
      assert.ok(a.equals(b), `${f} differs between two builds`);
    }
  });
});
