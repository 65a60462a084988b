/**
 * Our CA bundle against Debian's own: mmdebstrap installs ca-certificates
 * with its real maintainer scripts (update-ca-certificates included) and we
 * compute the bundle from the very same .deb, both as the installed package
 * and as a bundle-only source. They must be byte-identical, and so must
 * /etc/ca-certificates.conf.
 *
 * Needs root, mmdebstrap, tar and a Debian mirror (BASEIMG_DEBIAN_MIRROR, or
 * the host's /etc/apt/sources.list.d/debian.sources read at run time). Skips
 * with a message when something is missing; fails instead under CI=true.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BodyStore } from '../../src/rootfs/body-store.js';
import { RootTree } from '../../src/rootfs/tree.js';
import type { Spec } from '../../src/spec/types.js';
import type { InstalledPackage, ResolvedPackage } from '../../src/distro/types.js';
import { installDeb } from '../../src/distro/debian/deb-install.js';
import { finalizeDebian } from '../../src/distro/debian/finalize.js';
import { CA_BUNDLE, CA_CONF } from '../../src/distro/debian/ca-certificates.js';
import { fakeContext, makeSpec } from '../helpers/finalize-fixtures.js';
import { debianMirrorProblem, haveTool, runOk as run, skipOrFail } from '../helpers/tools.js';
import { resolveDebianMirrors } from '../../src/distro/debian/mirror.js';
import type { DebianSource } from '../../src/spec/types.js';

const SUITES = ['bookworm', 'trixie'];
const EPOCH = 1_700_000_000;

interface Mirrors {
  main: string;
  security: string;
}

/** The mirrors baseimg itself would use for `suite` (BASEIMG_DEBIAN_MIRROR, else the host's apt sources). */
function hostMirrors(suite: string): Mirrors | undefined {
  const source: DebianSource = {
    distro: 'debian', mirror: undefined, securityMirror: undefined,
    suites: [suite, `${suite}-security`], components: ['main'], keyring: [], mergedUsr: true,
  };
  if (debianMirrorProblem(source.suites) !== undefined) return undefined;
  const urls = resolveDebianMirrors(source, { env: process.env });
  return { main: urls.get(suite)!, security: urls.get(`${suite}-security`)! };
}

/** Why the test cannot run here for `suite`, or undefined. */
async function missingPrerequisite(suite: string): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'mmdebstrap --mode=root needs root';
  for (const cmd of ['mmdebstrap', 'tar']) if (!haveTool(cmd)) return `${cmd} is not installed`;
  const mirrors = hostMirrors(suite);
  if (!mirrors) return 'no Debian mirror: set BASEIMG_DEBIAN_MIRROR or configure apt sources';
  try {
    const r = await fetch(`${mirrors.main}/dists/${suite}/InRelease`, { method: 'HEAD', signal: AbortSignal.timeout(15_000) });
    if (!r.ok) return `the mirror has no ${suite} (HTTP ${r.status})`;
  } catch (e) {
    return `the mirror is unreachable: ${(e as Error).message}`;
  }
  return undefined;
}


/** One field of the paragraph of `pkg` in a Packages/status text, optionally at `version`. */
function paragraphOf(text: string, pkg: string, version?: string): Record<string, string> | undefined {
  for (const para of text.split(/\n\n+/)) {
    const fields: Record<string, string> = {};
    for (const line of para.split('\n')) {
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) fields[m[1]!] = m[2]!;
    }
    if (fields.Package === pkg && (version === undefined || fields.Version === version)) return fields;
  }
  return undefined;
}

function caSpec(suite: string): Spec {
  const spec = makeSpec({ caCertificates: { bundle: true, local: [] } });
  return { ...spec, source: { ...spec.source, suites: [suite] } as Spec['source'] };
}

interface Reference {
  bundle: Buffer;
  conf: Buffer;
  pkg: ResolvedPackage;
  /** The .deb fetched from the mirror, checked against apt's verified index. */
  deb: string;
}

/** Build the reference root with mmdebstrap and pull out what the comparison needs. */
async function buildReference(t: TestContext, suite: string, mirrors: Mirrors, work: string): Promise<Reference> {
  const tarball = join(work, 'ref.tar');
  const sources = [`deb ${mirrors.main} ${suite} main`, `deb ${mirrors.main} ${suite}-updates main`];
  sources.push(`deb ${mirrors.security} ${suite}-security main`);

  const started = performance.now();
  run('mmdebstrap', ['--mode=root', '--variant=essential', '--include=ca-certificates', '--skip=cleanup/apt', '--format=tar', suite, tarball, ...sources]);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  t.diagnostic(`mmdebstrap ${suite}: ${seconds} s`);
  console.error(`mmdebstrap ${suite} took ${seconds} s`);

  const root = join(work, 'ref');
  run('mkdir', ['-p', root]);
  run('tar', ['-xf', tarball, '-C', root, '--wildcards', `.${CA_BUNDLE}`, `.${CA_CONF}`, './var/lib/dpkg/status', './var/lib/apt/lists/*_Packages']);
  await rm(tarball, { force: true });

  const status = await readFile(join(root, 'var/lib/dpkg/status'), 'utf8');
  const version = paragraphOf(status, 'ca-certificates')?.Version;
  assert.ok(version, 'mmdebstrap installed ca-certificates');
  t.diagnostic(`${suite}: ca-certificates ${version}`);

  // apt verified these indexes against the signed InRelease; the .deb must match them.
  const listsDir = join(root, 'var/lib/apt/lists');
  let entry: { fields: Record<string, string>; suite: string } | undefined;
  for (const name of (await readdir(listsDir)).sort()) {
    const fields = paragraphOf(await readFile(join(listsDir, name), 'utf8'), 'ca-certificates', version);
    const listSuite = /_dists_([^_]+)_/.exec(name)?.[1];
    if (fields && listSuite) entry = { fields, suite: listSuite };
  }
  assert.ok(entry, `ca-certificates ${version} is in apt's lists`);
  const { Filename: filename, SHA256: sha256 } = entry.fields;
  assert.ok(filename && sha256);
  const base = entry.suite.endsWith('-security') ? mirrors.security : mirrors.main;
  const response = await fetch(`${base}/${filename}`);
  assert.equal(response.status, 200, `download of ${filename}`);
  const body = Buffer.from(await response.arrayBuffer());
  assert.equal(createHash('sha256').update(body).digest('hex'), sha256, `${filename} matches apt's verified index`);
  const deb = join(work, 'ca-certificates.deb');
  await writeFile(deb, body);

  const pkg: ResolvedPackage = {
    name: 'ca-certificates',
    version,
    architecture: entry.fields.Architecture ?? 'all',
    url: `${base}/${filename}`,
    filename,
    size: body.length,
    sha256,
    source: undefined,
    maintainer: entry.fields.Maintainer,
    installedSize: Number(entry.fields['Installed-Size']) * 1024,
    repository: entry.suite,
    dependsOn: [],
    reason: 'requested',
    fields: entry.fields,
  };
  return {
    bundle: await readFile(join(root, CA_BUNDLE.slice(1))),
    conf: await readFile(join(root, CA_CONF.slice(1))),
    pkg,
    deb,
  };
}

async function fileIn(tree: RootTree, path: string): Promise<Buffer> {
  const node = tree.get(path, true);
  assert.equal(node?.type, 'file', `${path} is in our tree`);
  return tree.bodies.read(node.type === 'file' ? node.body : assert.fail());
}

describe('CA bundle matches update-ca-certificates (mmdebstrap reference)', () => {
  for (const suite of SUITES) {
    it(suite, async (t) => {
      const missing = await missingPrerequisite(suite);
      if (missing) return skipOrFail(t, missing);
      const mirrors = hostMirrors(suite)!;
      const work = await mkdtemp(join(tmpdir(), `baseimg-ca-${suite}-`));
      try {
        const ref = await buildReference(t, suite, mirrors, work);
        const { ctx } = fakeContext(work);

        // Bundle-only: the package is not installed, its .deb is the source.
        const bundleOnly = new RootTree(new BodyStore({ dir: work }));
        await finalizeDebian(bundleOnly, [], caSpec(suite), 'amd64', ctx, { sourceDateEpoch: EPOCH, caCertificates: { pkg: ref.pkg, file: ref.deb } });
        assert.ok((await fileIn(bundleOnly, CA_BUNDLE)).equals(ref.bundle), `${suite}: bundle-only CA bundle is byte-identical`);

        // Installed: unpacked like any package, then finalized.
        const installedTree = new RootTree(new BodyStore({ dir: await mkdtemp(join(work, 'inst-')) }));
        const installed: InstalledPackage = await installDeb(ref.pkg, ref.deb, installedTree);
        await finalizeDebian(installedTree, [installed], caSpec(suite), 'amd64', ctx, { sourceDateEpoch: EPOCH });
        assert.ok((await fileIn(installedTree, CA_BUNDLE)).equals(ref.bundle), `${suite}: installed-package CA bundle is byte-identical`);
        assert.equal((await fileIn(installedTree, CA_CONF)).toString('utf8'), ref.conf.toString('utf8'), `${suite}: ${CA_CONF} is identical`);
        t.diagnostic(`${suite}: ${ref.bundle.length} bytes, identical`);
        await bundleOnly.bodies.close();
        await installedTree.bodies.close();
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });
  }
});
