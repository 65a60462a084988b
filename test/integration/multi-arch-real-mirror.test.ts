/**
 * specs/debian12/base.toml for amd64 and arm64 in one run from the real
 * Debian mirror (the mirror carries arm64): the index validates with
 * oci-image-tool, skopeo picks each platform, and every ELF file of each
 * platform's root filesystem is built for that machine (x86-64 / AArch64).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { describeRun, makeTempDir, runCli } from '../helpers/cli.js';
import { debianMirrorProblem, needTools, runOk, skipOrFail } from '../helpers/tools.js';

const SPEC = 'specs/debian12/base.toml';
/** ELF e_machine values. */
const MACHINE: Record<string, number> = { amd64: 62, arm64: 183 };
const TRIPLET: Record<string, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

const mirrorProblem = debianMirrorProblem(['bookworm', 'bookworm-updates', 'bookworm-security']);
let work: string;
let tar: string;
let built: { digest: string; images: Array<{ arch: string; digest: string; configDigest: string }> } | undefined;
let buildError: string | undefined;

before(async () => {
  if (mirrorProblem) return;
  work = await makeTempDir('multi-real');
  tar = join(work, 'base.tar');
  const r = await runCli(['build', SPEC, '--arch', 'amd64,arm64', '-o', tar, '--cache-dir', join(work, 'cache'), '--json'], { timeoutMs: 600_000 });
  if (r.code === 0) built = JSON.parse(r.stdout) as typeof built;
  else buildError = describeRun(r);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function needBuild(t: Parameters<typeof skipOrFail>[0]): boolean {
  if (mirrorProblem) {
    skipOrFail(t, mirrorProblem);
    return false;
  }
  assert.ok(built, `the two-arch build failed:\n${buildError}`);
  return true;
}

/** e_machine of every ELF file under `dir` (path → machine). */
async function elfMachines(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = join(rel, e.name);
      if (e.isDirectory()) await walk(path);
      else if (e.isFile()) {
        const fh = await open(join(dir, path), 'r');
        try {
          const head = Buffer.alloc(20);
          const { bytesRead } = await fh.read(head, 0, 20, 0);
          if (bytesRead === 20 && head.readUInt32BE(0) === 0x7f454c46) out.set(`/${path}`, head.readUInt16LE(18));
        } finally {
          await fh.close();
        }
      }
    }
  };
  await walk('');
  return out;
}

it('builds debian12 base for amd64 and arm64 into one index', (t) => {
  if (!needBuild(t)) return;
  assert.deepEqual(built!.images.map((i) => i.arch), ['amd64', 'arm64']);
  assert.notEqual(built!.images[0]!.configDigest, built!.images[1]!.configDigest);
});

it("each platform's ELF files are for its machine; libc.so.6 is AArch64 on arm64", async (t) => {
  if (!needBuild(t)) return;
  for (const arch of ['amd64', 'arm64']) {
    const root = join(work, `rootfs-${arch}`);
    const r = await runCli(['export', tar, root, '--platform', `linux/${arch}`]);
    assert.equal(r.code, 0, describeRun(r));
    const machines = await elfMachines(root);
    const libc = `/usr/lib/${TRIPLET[arch]}/libc.so.6`;
    assert.equal(machines.get(libc), MACHINE[arch], `${libc} in the ${arch} image`);
    const wrong = [...machines].filter(([, m]) => m !== MACHINE[arch]);
    assert.deepEqual(wrong, [], `${arch}: ELF files for another machine`);
    t.diagnostic(`${arch}: ${machines.size} ELF files, all e_machine ${MACHINE[arch]}`);
  }
});

it('oci-image-tool validates it; skopeo --override-arch arm64 reports arm64 and its own config', async (t) => {
  if (!needBuild(t) || !needTools(t, 'oci-image-tool', 'skopeo')) return;
  const layout = join(work, 'layout');
  runOk('mkdir', ['-p', layout]);
  runOk('tar', ['-xf', tar, '-C', layout]);
  runOk('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=latest', layout]);
  runOk('oci-image-tool', ['validate', '--type', 'imageIndex', join(layout, 'blobs', 'sha256', built!.digest.slice(7))]);
  for (const arch of ['amd64', 'arm64']) {
    const inspect = JSON.parse(runOk('skopeo', ['inspect', '--override-arch', arch, `oci-archive:${tar}`]).stdout) as { Architecture: string };
    assert.equal(inspect.Architecture, arch);
    const config = runOk('skopeo', ['inspect', '--override-arch', arch, '--config', '--raw', `oci-archive:${tar}`]).stdout;
    const digest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    assert.equal(digest, built!.images.find((i) => i.arch === arch)!.configDigest);
  }
});
