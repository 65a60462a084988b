/**
 * Fixtures shared by the finalize tests: a tree with package-owned files, a
 * spec with distroless's accounts, a context that records what is reported
 * and refuses to download.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BodyStore } from '../../src/rootfs/body-store.js';
import { RootTree } from '../../src/rootfs/tree.js';
import type { Meta } from '../../src/rootfs/types.js';
import type { Accounts, Spec } from '../../src/spec/types.js';
import type { BuildContext } from '../../src/pipeline/context.js';
import type { InstalledPackage, ResolvedPackage } from '../../src/distro/types.js';
import { BaseimgError } from '../../src/util/errors.js';

export const EPOCH = 1_712_345_678;
export const PKG_META: Meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_600_000_000 };
export const DIR_META: Meta = { ...PKG_META, mode: 0o755 };

export const DISTROLESS_ACCOUNTS: Accounts = {
  users: [
    { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/sbin/nologin', gecos: 'root', createHome: true },
    { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent', shell: '/sbin/nologin', gecos: 'nobody', createHome: false },
    { name: 'nonroot', uid: 65532, gid: 65532, home: '/home/nonroot', shell: '/sbin/nologin', gecos: 'nonroot', createHome: true },
  ],
  groups: [
    { name: 'root', gid: 0, members: [] },
    { name: 'nobody', gid: 65534, members: [] },
    { name: 'tty', gid: 5, members: [] },
    { name: 'staff', gid: 50, members: [] },
    { name: 'nonroot', gid: 65532, members: [] },
  ],
};

export function newTree(dir: string): RootTree {
  return new RootTree(new BodyStore({ dir }));
}

export async function addText(tree: RootTree, path: string, content: string | Buffer, owner?: string, meta: Meta = PKG_META): Promise<void> {
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
  tree.addFile(path, meta, await tree.bodies.put(data), data.length, { owner });
}

export async function bytesAt(tree: RootTree, path: string): Promise<Buffer> {
  const node = tree.get(path, true);
  assert.ok(node, `${path} exists`);
  assert.equal(node.type, 'file', `${path} is a file`);
  return tree.bodies.read(node.body);
}

export async function textAt(tree: RootTree, path: string): Promise<string> {
  return (await bytesAt(tree, path)).toString('utf8');
}

export function metaAt(tree: RootTree, path: string): Meta {
  const node = tree.get(path, false);
  assert.ok(node, `${path} exists`);
  return node.meta;
}

export interface Messages {
  info: string[];
  warn: string[];
}

export function fakeContext(tmpDir: string): { ctx: BuildContext; messages: Messages } {
  const messages: Messages = { info: [], warn: [] };
  const unused = (): never => {
    throw new Error('finalize must not download');
  };
  const ctx: BuildContext = {
    fetcher: { fetchFile: unused, fetchBuffer: unused },
    derived: { get: async () => undefined, put: async () => undefined },
    reporter: {
      info: (m) => messages.info.push(m),
      warn: (m) => messages.warn.push(m),
      debug: () => undefined,
      task: () => ({ tick: () => undefined, setTotal: () => undefined, done: () => undefined }),
      timing: () => undefined,
    },
    tmpDir,
    now: new Date(EPOCH * 1000),
    signal: new AbortController().signal,
    insecureSkipVerify: false,
    offline: true,
  };
  return { ctx, messages };
}

export function makeSpec(overrides: Partial<Spec> = {}): Spec {
  return {
    file: '/specs/test.toml',
    name: 'test',
    tag: 'latest',
    arch: ['amd64'],
    source: { distro: 'debian', mirror: undefined, securityMirror: undefined, suites: ['bookworm'], components: ['main'], keyring: [], mergedUsr: true },
    packages: { include: [], exclude: [] },
    image: { entrypoint: undefined, cmd: undefined, env: [], workdir: '/', user: 'root', labels: {}, annotations: {}, exposedPorts: [], stopSignal: undefined },
    accounts: DISTROLESS_ACCOUNTS,
    paths: [],
    files: [],
    strip: [],
    include: [],
    layers: 'per-spec',
    layerParent: undefined,
    caCertificates: { bundle: false, local: [] },
    osRelease: { prettyName: undefined },
    sourceDateEpoch: undefined,
    ...overrides,
  };
}

export function resolved(name: string, version = '1.0'): ResolvedPackage {
  return {
    name,
    version,
    architecture: 'all',
    url: `http://example.invalid/${name}.deb`,
    filename: `pool/${name}.deb`,
    size: 0,
    sha256: '0'.repeat(64),
    source: undefined,
    maintainer: undefined,
    installedSize: undefined,
    repository: 'bookworm',
    dependsOn: [],
    reason: 'requested',
    fields: {},
  };
}

export function md5Line(path: string, body: string | Buffer): string {
  return `${createHash('md5').update(body).digest('hex')}  ${path}\n`;
}

/** A package whose files are put in the tree, with the control and md5sums it would carry. */
export async function installSynthetic(tree: RootTree, name: string, files: Record<string, string | Buffer>): Promise<InstalledPackage> {
  let md5 = '';
  for (const [path, body] of Object.entries(files)) {
    await addText(tree, path, body, name);
    md5 += md5Line(path.slice(1), body);
  }
  return {
    pkg: resolved(name),
    files: Object.keys(files),
    control: Buffer.from(`Package: ${name}\nVersion: 1.0\nArchitecture: all\nDescription: test\n`),
    md5sums: Buffer.from(md5),
    newestMtime: PKG_META.mtime,
  };
}

export function assertSpecError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof BaseimgError && e.code === 'SPEC' && pattern.test(e.message));
}

export const CERT = (label: string): string => `-----BEGIN CERTIFICATE-----\n${label}\n-----END CERTIFICATE-----\n`;
