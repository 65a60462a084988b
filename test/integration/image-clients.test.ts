/**
 * Real clients read the tarball we write: podman load + run, skopeo (as an
 * OCI archive and as a Docker archive), umoci unpack, oci-image-tool
 * validate. The image is a hand-made RootTree holding a static probe binary
 * that prints its uid, its passwd name and its working directory.
 *
 * A missing tool skips its test with a message; under CI=true it fails.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { buildImageConfig } from '../../src/image/config.js';
import { writeLayer } from '../../src/image/layer.js';
import { parseImageRef, writeImageTarball } from '../../src/image/tarball.js';
import type { Layer, WrittenImage } from '../../src/image/types.js';
import { BodyStore } from '../../src/rootfs/body-store.js';
import { RootTree } from '../../src/rootfs/tree.js';
import { haveTool as have, IS_CI as CI, needTools as need, runOk as run } from '../helpers/tools.js';

const SDE = 1700000000;
const TAG = `baseimg-it-probe:t${process.pid}`;
const REF = parseImageRef(TAG);

const PROBE_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  unsigned uid = getuid();
  printf("uid=%u gid=%u\n", uid, (unsigned)getgid());
  FILE *f = fopen("/etc/passwd", "r");
  if (!f) { perror("/etc/passwd"); return 1; }
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char *name = strtok(line, ":");
    strtok(NULL, ":");
    char *id = strtok(NULL, ":");
    if (name && id && (unsigned)strtoul(id, NULL, 10) == uid) printf("user=%s\n", name);
  }
  char cwd[256];
  if (getcwd(cwd, sizeof cwd)) printf("cwd=%s\n", cwd);
  printf("path=%s\n", getenv("PATH") ? getenv("PATH") : "");
  return 0;
}
`;

let scratch: string;
let store: BodyStore;
/** How the probe is invoked and what it prints for the image's user; undefined if no probe could be made. */
let probe: { entrypoint: string[]; expect: RegExp[] } | undefined;
let probeSkip = '';
let layer: Layer;
let image: WrittenImage;
let tarPath: string;
/** Images pulled by ID, removed after the tests. */
const pulledIds: string[] = [];

/** A static binary that can run in an otherwise empty image. */
function makeProbe(dir: string): { path: string; entrypoint: string[]; expect: RegExp[] } | undefined {
  if (have('gcc')) {
    const src = join(dir, 'probe.c');
    spawnSync('sh', ['-c', `cat > ${src}`], { input: PROBE_C });
    const out = join(dir, 'probe');
    const r = spawnSync('gcc', ['-static', '-O2', '-o', out, src], { encoding: 'utf8' });
    if (r.status === 0) {
      return { path: out, entrypoint: ['/probe'], expect: [/^uid=65532 gid=65532$/m, /^user=nonroot$/m, /^cwd=\/home\/nonroot$/m, /^path=\/usr\/bin:\/bin$/m] };
    }
    probeSkip = `gcc -static failed (libc6-dev missing?): ${r.stderr.trim().split('\n').slice(-1)[0]}`;
  }
  for (const bb of ['/bin/busybox', '/usr/bin/busybox']) {
    const file = spawnSync('file', ['-L', bb], { encoding: 'utf8' });
    if (file.status === 0 && /statically linked/.test(file.stdout)) {
      return { path: bb, entrypoint: ['/probe', 'id'], expect: [/uid=65532\(nonroot\) gid=65532/] };
    }
  }
  probeSkip ||= 'neither gcc (with a static libc) nor a static busybox is available to make a probe binary';
  return undefined;
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-clients-'));
  store = new BodyStore({ dir: scratch });
  const made = makeProbe(scratch);
  if (!made) return;
  probe = { entrypoint: made.entrypoint, expect: made.expect };

  const tree = new RootTree(store);
  const m = (mode: number, uid = 0): { mode: number; uid: number; gid: number; mtime: number } => ({ mode, uid, gid: uid, mtime: 1600000000 });
  const bin = await readFile(made.path);
  tree.addFile('/probe', m(0o755), await store.put(bin), bin.length);
  tree.addDirectory('/usr/bin', m(0o755));
  tree.addSymlink('/bin', 'usr/bin', m(0o777));
  tree.addHardlink('/usr/bin/probe', '/probe');
  const passwd = Buffer.from('root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n');
  tree.addFile('/etc/passwd', m(0o644), await store.put(passwd), passwd.length);
  const group = Buffer.from('root:x:0:\nnonroot:x:65532:\n');
  tree.addFile('/etc/group', m(0o644), await store.put(group), group.length);
  tree.addDirectory('/tmp', m(0o1777));
  tree.addDirectory('/home/nonroot', m(0o700, 65532));

  layer = await writeLayer(tree, { sourceDateEpoch: SDE, dir: scratch });
  const configJson = buildImageConfig(
    {
      arch: process.arch === 'arm64' ? 'arm64' : 'amd64',
      user: '65532',
      env: [['PATH', '/usr/bin:/bin']],
      entrypoint: probe.entrypoint,
      workdir: '/home/nonroot',
      labels: { 'org.example.test': 'image-clients' },
      exposedPorts: [],
      createdBy: 'baseimg test build probe',
      sourceDateEpoch: SDE,
    },
    [layer.diffId],
  );
  tarPath = join(scratch, 'probe.tar');
  image = await writeImageTarball(tarPath, { layers: [layer], configJson, tag: TAG, sourceDateEpoch: SDE });
});

after(async () => {
  if (have('podman')) spawnSync('podman', ['rmi', '--force', REF.fullName, ...pulledIds], { stdio: 'ignore' });
  await store?.close();
  await rm(scratch, { recursive: true, force: true });
});

function needProbe(t: TestContext): boolean {
  if (probe) return true;
  if (CI) assert.fail(probeSkip);
  t.skip(probeSkip);
  return false;
}

/** The tarball unpacked into an OCI layout directory (umoci and oci-image-tool want one). */
async function layoutDir(): Promise<string> {
  const dir = join(scratch, 'layout');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  run('tar', ['-xf', tarPath, '-C', dir]);
  return dir;
}

describe('image clients', () => {
  it('podman loads the tarball and runs the probe as the configured user', (t) => {
    if (!needProbe(t) || !need(t, 'podman')) return;
    const load = run('podman', ['load', '-i', tarPath]);
    t.diagnostic(`podman load: ${(load.stdout + load.stderr).split('\n').find((l) => l.startsWith('Loaded image')) ?? '(no "Loaded image" line)'}`);
    assert.match(load.stdout + load.stderr, new RegExp(REF.fullName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    const digest = run('podman', ['image', 'inspect', '--format', '{{.Digest}}', REF.fullName]).stdout.trim();
    assert.equal(digest, image.digest, 'podman keeps our manifest digest');
    const out = run('podman', ['run', '--rm', '--network', 'none', REF.fullName]).stdout;
    t.diagnostic(`podman run: ${out.trim().replace(/\n/g, ' | ')}`);
    for (const re of probe!.expect) assert.match(out, re);
  });

  it('podman also runs it through the Docker manifest.json path (docker-archive)', (t) => {
    if (!needProbe(t) || !need(t, 'podman')) return;
    // Podman 4.3 names it from RepoTags with its own default ("localhost/"), so run it by ID.
    const id = run('podman', ['pull', '-q', `docker-archive:${tarPath}`]).stdout.trim();
    pulledIds.push(id);
    const out = run('podman', ['run', '--rm', '--network', 'none', id]).stdout;
    for (const re of probe!.expect) assert.match(out, re);
  });

  // Docker is not among the required tools: run only where a daemon answers.
  it('docker loads and runs it when a Docker daemon is available', (t) => {
    if (!needProbe(t)) return;
    if (!have('docker') || spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 }).status !== 0) {
      t.skip('no Docker daemon reachable');
      return;
    }
    const load = run('docker', ['load', '-i', tarPath]);
    assert.match(load.stdout, new RegExp(`Loaded image: ${REF.repoTag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    try {
      const out = run('docker', ['run', '--rm', '--network', 'none', REF.repoTag]).stdout;
      for (const re of probe!.expect) assert.match(out, re);
    } finally {
      spawnSync('docker', ['rmi', '--force', REF.repoTag], { stdio: 'ignore' });
    }
  });

  it('skopeo reads it as an OCI archive and as a Docker archive', (t) => {
    if (!needProbe(t) || !need(t, 'skopeo')) return;
    const oci = JSON.parse(run('skopeo', ['inspect', `oci-archive:${tarPath}`]).stdout) as Record<string, unknown>;
    assert.equal(oci.Digest, image.digest);
    assert.deepEqual(oci.Layers, [layer.digest]);
    assert.equal(oci.Os, 'linux');
    assert.equal(oci.Created, '2023-11-14T22:13:20Z');
    assert.deepEqual(oci.Labels, { 'org.example.test': 'image-clients' });
    const byTag = JSON.parse(run('skopeo', ['inspect', `oci-archive:${tarPath}:${REF.tag}`]).stdout) as Record<string, unknown>;
    assert.equal(byTag.Digest, image.digest, 'ref.name annotation selects the image');

    // The docker-archive transport reads manifest.json and names layers by diffID.
    const docker = JSON.parse(run('skopeo', ['inspect', `docker-archive:${tarPath}`]).stdout) as Record<string, unknown>;
    assert.deepEqual(docker.Layers, [layer.diffId]);
    assert.equal(docker.Os, 'linux');
    const raw = JSON.parse(run('skopeo', ['inspect', '--config', `docker-archive:${tarPath}`]).stdout) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(raw.rootfs.diff_ids, [layer.diffId]);
    t.diagnostic(`skopeo docker-archive: ${String(docker.Digest)} (a manifest skopeo synthesises from manifest.json)`);
  });

  it('umoci unpacks the layout with owners, modes and links intact', async (t) => {
    if (!needProbe(t) || !need(t, 'umoci')) return;
    const dir = await layoutDir();
    const bundle = join(scratch, 'bundle');
    await rm(bundle, { recursive: true, force: true });
    run('umoci', ['unpack', '--image', `${dir}:${REF.tag}`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    const home = statSync(join(rootfs, 'home/nonroot'));
    assert.deepEqual([home.uid, home.gid, home.mode & 0o7777], [65532, 65532, 0o700]);
    assert.equal(statSync(join(rootfs, 'tmp')).mode & 0o7777, 0o1777);
    assert.equal(statSync(join(rootfs, 'probe')).ino, statSync(join(rootfs, 'usr/bin/probe')).ino, 'hard link kept');
    assert.equal(readFileSync(join(rootfs, 'etc/group'), 'utf8'), 'root:x:0:\nnonroot:x:65532:\n');
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { user: { uid: number }; cwd: string; args: string[] } };
    assert.equal(config.process.user.uid, 65532);
    assert.equal(config.process.cwd, '/home/nonroot');
    assert.deepEqual(config.process.args, probe!.entrypoint);
  });

  // oci-image-tool 1.0.0-rc1 (Debian's) calls the layout check --type image
  // ("imageLayout" is "unimplemented") and cannot walk tar files at all
  // ("find failed: unable to walk: end of walk", also for GNU-tar-made ones),
  // so it validates the unpacked directory.
  it('oci-image-tool validates the layout', async (t) => {
    if (!needProbe(t) || !need(t, 'oci-image-tool')) return;
    const dir = await layoutDir();
    const r = run('oci-image-tool', ['validate', '--type', 'image', '--ref', `name=${REF.tag}`, dir]);
    t.diagnostic(`oci-image-tool: ${(r.stdout + r.stderr).trim().replace(/\n/g, ' | ')}`);
    assert.match(r.stdout + r.stderr, /validation succeeded/i);
  });
});
