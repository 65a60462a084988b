/**
 * Malicious packages through the whole pipeline (bin/baseimg build against
 * repositories served on 127.0.0.1): the package is properly indexed and
 * signed, so it reaches the unpack stage, where it must be refused with an
 * error naming the package and the path, with nothing beside the output,
 * nothing in TMPDIR, and nothing written to the host path it aimed at. The
 * decompression bombs run against the real limits, which the pipeline
 * derives from the index (Debian Installed-Size) or .PKGINFO (Alpine size).
 * The unpack rules themselves, case by case, are in hostile-archives.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { buildDebianRepo, type DebianRepo } from '../helpers/debian-repo.js';
import { serveDirectory, type TestServer } from '../helpers/http-server.js';
import { describeRun, makeTempDir } from '../helpers/cli.js';
import { rawTar, type DebSpec, type RawTarEntry } from '../helpers/make-deb.js';
import { generateApkKey, makeApk, makeApkIndex, writeRepo, type ApkTestKey } from '../helpers/alpine-repo.js';
import { assertNothingLeft, errorOf, prepareDirs, startBuild } from '../helpers/hostile.js';

const MiB = 1024 * 1024;
const escape = `baseimg-cli-escape-${randomBytes(6).toString('hex')}`;

let work: string;
let served: string;
let server: TestServer;
let debian: DebianRepo;
let signer: ApkTestKey;
let keyPath: string;
let n = 0;

/** gzip of `header` then `zeros` zero bytes, compressed as it streams: a bomb without the expanded bytes in memory. */
async function gzipZeros(header: Buffer, zeros: number): Promise<Buffer> {
  const gzip = createGzip({ level: 1 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  gzip.write(header);
  const block = Buffer.alloc(MiB);
  for (let left = zeros; left > 0; left -= block.length) {
    if (!gzip.write(block.subarray(0, Math.min(block.length, left)))) await new Promise((r) => gzip.once('drain', r));
  }
  gzip.end();
  await done;
  return Buffer.concat(out);
}

const gz = (entries: RawTarEntry[]): Promise<Buffer> => gzipZeros(rawTar(entries), 0);

/** The hostile data parts, shared by both formats. */
async function hostileData(): Promise<Record<string, { data: Buffer; declared: number }>> {
  return {
    traversal: { data: await gz([{ name: './usr/', type: 'dir' }, { name: './usr/../../../etc/cron.d/evil', content: '* * * * * root sh\n' }]), declared: 4 },
    escape: { data: await gz([{ name: './etc/', type: 'dir' }, { name: './etc/up', type: 'symlink', linkname: `../../../../tmp/${escape}` }, { name: './etc/up/payload', content: 'x' }, { name: './dev/kmem', type: 'char', devmajor: 1, devminor: 2 }]), declared: 4 },
    bomb: { data: await gzipZeros(Buffer.alloc(0), 200 * MiB), declared: 4 },
  };
}

before(async () => {
  work = await makeTempDir('archives-cli');
  served = join(work, 'served');
  const data = await hostileData();

  const debs: DebSpec[] = Object.entries(data).map(([name, d]) => ({
    name: `evil-${name}`, version: '1.0-1', architecture: 'amd64', entries: [], rawDataTar: d.data, dataCompression: 'gz',
    control: { 'Installed-Size': String(d.declared), Description: `hostile test package (${name})` },
  }));
  debian = await buildDebianRepo(join(served, 'debian'), { suites: [{ name: 'hostile', components: { main: debs } }] });

  signer = generateApkKey('hostile-cli.rsa.pub');
  keyPath = join(work, signer.name);
  await writeFile(keyPath, signer.publicPem);
  const apks = Object.entries(data).map(([name, d]) => makeApk({ name: `evil-${name}`, version: '1.0-r0', keys: [signer], rawDataGz: d.data, declaredSize: d.declared * 1024 }));
  await writeRepo(served, {
    name: 'alpine',
    index: makeApkIndex(apks.map((a) => ({ apk: a.file })), { keys: [signer] }),
    apks: Object.fromEntries(apks.map((a) => [`${a.spec.name}-1.0-r0.apk`, a.file])),
  });
  server = await serveDirectory(served);
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

function debianSpec(pkg: string): string {
  return [
    'name = "hostile"', '[source]', 'distro = "debian"', `mirror = ${JSON.stringify(`${server.url}/debian`)}`,
    'suites = ["hostile"]', 'components = ["main"]', `keyring = ${JSON.stringify(debian.keyringPath)}`,
    '[packages]', `include = [${JSON.stringify(pkg)}]`, '[ca-certificates]', 'bundle = false', '',
  ].join('\n');
}

function alpineSpec(pkg: string): string {
  return [
    'name = "hostile"', '[source]', 'distro = "alpine"', `repositories = [${JSON.stringify(`${server.url}/alpine`)}]`,
    `keys = [${JSON.stringify(keyPath)}]`, '[packages]', `include = [${JSON.stringify(pkg)}]`, '',
  ].join('\n');
}

async function refused(spec: string): Promise<string> {
  const dirs = await prepareDirs(join(work, 'runs'), `r${++n}`, spec);
  const run = await startBuild(dirs, { timeoutMs: 120_000 }).done;
  assert.equal(run.code, 1, describeRun(run));
  await assertNothingLeft(dirs);
  assert.equal(existsSync(join('/tmp', escape)), false, 'nothing written to the host');
  return errorOf(run);
}

for (const [family, spec] of [['debian', debianSpec], ['alpine', alpineSpec]] as const) {
  describe(`hostile ${family} packages through the CLI`, () => {
    it('a ".." path: refused, naming package and path', async (t) => {
      const message = await refused(spec('evil-traversal'));
      t.diagnostic(message.split('\n')[0]!);
      assert.match(message, /package evil-traversal: entry "\.\/usr\/\.\.\/\.\.\/\.\.\/etc\/cron\.d\/evil" contains a "\.\." component/);
    });

    it('a device node after a write through an outward symlink: the write stays inside, the device is refused', async (t) => {
      const message = await refused(spec('evil-escape'));
      t.diagnostic(message.split('\n')[0]!);
      assert.match(message, /package evil-escape: ships character device \.\/dev\/kmem; images must not contain device nodes/);
    });

    it('a decompression bomb (200 MiB of zeros declared as 4 KiB) is stopped at the derived limit, quickly', async (t) => {
      const started = performance.now();
      const message = await refused(spec('evil-bomb'));
      t.diagnostic(`${message.split('\n')[0]!} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      assert.match(message, /evil-bomb 1\.0-(1|r0) expands to more than 67125248 bytes/);
      assert.match(message, /hint: the package looks like a decompression bomb/);
    });
  });
}
