/**
 * Shared by the inspect tests (no tests of its own): the reference
 * flattening and what the commands produce, put in one comparable shape —
 * `baseimg ls --json` entries, an exported tar, an exported directory (read
 * with lstat, never following links) — and bin/baseimg run as a child with
 * its stdout kept as bytes, with one assertion that ls, du, cat and export
 * all agree with the reference.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BASEIMG_BIN, childEnv, PROJECT_ROOT } from '../helpers/cli.js';
import { flattenLayerTars, type RefFs } from './inspect-testlib.test.js';

const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

// ---------------------------------------------------------------- comparable shapes

export interface Comparable {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkTarget?: string;
}

export function comparable(fs: RefFs, options: { owners?: boolean } = {}): Record<string, Comparable> {
  const out: Record<string, Comparable> = {};
  for (const [p, e] of [...fs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (p === '/') continue;
    out[p] = {
      type: e.type,
      mode: e.type === 'symlink' ? 0o777 : e.mode,
      uid: options.owners === false ? 0 : e.uid,
      gid: options.owners === false ? 0 : e.gid,
      size: e.size,
      ...(e.linkTarget !== undefined ? { linkTarget: e.linkTarget } : {}),
    };
  }
  return out;
}

/** `baseimg ls --json` entries in the comparable shape. */
export function comparableFromLs(entries: Array<{ path: string; type: string; mode: number; uid: number; gid: number; size: number; linkTarget?: string }>): Record<string, Comparable> {
  const out: Record<string, Comparable> = {};
  for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    out[e.path] = { type: e.type, mode: e.type === 'symlink' ? 0o777 : e.mode, uid: e.uid, gid: e.gid, size: e.size, ...(e.linkTarget !== undefined ? { linkTarget: e.linkTarget } : {}) };
  }
  return out;
}

/** An exported rootfs tar read back (hard links resolved to their file). */
export async function fsFromTar(tar: Buffer): Promise<RefFs> {
  return flattenLayerTars([tar]);
}

/** An exported directory read back with lstat (never following links). */
export async function fsFromDir(root: string): Promise<RefFs> {
  const fs: RefFs = new Map();
  const inodes = new Map<number, number>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = await lstat(p);
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: 0, inode: inodes.get(st.ino) ?? st.ino };
      inodes.set(st.ino, base.inode);
      if (st.isDirectory()) {
        fs.set(`/${r}`, { type: 'dir', ...base });
        await walk(r);
      } else if (st.isSymbolicLink()) fs.set(`/${r}`, { type: 'symlink', ...base, mode: 0o777, linkTarget: await readlink(p) });
      else if (st.isFile()) {
        const content = await readFile(p);
        fs.set(`/${r}`, { type: 'file', ...base, size: content.length, content });
      } else fs.set(`/${r}`, { type: st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : 'block', ...base });
    }
  };
  await walk('');
  return fs;
}

/** Total bytes of regular files, each inode once. */
export function totalBytes(fs: RefFs): number {
  const seen = new Set<number>();
  let n = 0;
  for (const e of fs.values()) {
    if (e.type !== 'file' || seen.has(e.inode)) continue;
    seen.add(e.inode);
    n += e.size;
  }
  return n;
}

/** Content of every regular file, by path. */
export function contents(fs: RefFs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, e] of fs) if (e.type === 'file') out[p] = sha256(e.content ?? Buffer.alloc(0));
  return out;
}

// ---------------------------------------------------------------- the CLI against the reference

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** bin/baseimg with a cleaned environment; stdout kept as bytes (export writes a tar there). */
export function runBaseimg(args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BASEIMG_BIN, ...args], { cwd: PROJECT_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

export function describeResult(args: string[], r: RunResult): string {
  return `baseimg ${args.join(' ')} exited ${r.code}\n--- stderr\n${r.stderr}--- stdout (start)\n${r.stdout.subarray(0, 2000).toString()}`;
}

/** Run and assert exit 0; returns stdout. */
export async function baseimgOk(args: string[], env: Record<string, string | undefined> = {}): Promise<Buffer> {
  const r = await runBaseimg(args, env);
  assert.equal(r.code, 0, describeResult(args, r));
  return r.stdout;
}

export async function baseimgJson(args: string[]): Promise<any> {
  return JSON.parse((await baseimgOk([...args, '--json'])).toString('utf8'));
}

/**
 * `baseimg ls`, `du`, `cat` and `export` (tar and directory) on `image` all
 * agree with the reference flattening `ref`. `select` are extra arguments
 * (--image/--platform); `scratch` is a directory the export may create.
 */
export async function assertCliMatchesReference(image: string, ref: RefFs, select: string[], scratch: string, options: { catLimit?: number } = {}): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  const expected = comparable(ref);
  const files = [...ref].filter(([, e]) => e.type === 'file');
  // Every file's content is compared through both exports; `cat` runs on a few (each run is a process).
  const sample = files.slice(0, options.catLimit ?? 3);
  const target = join(scratch, `export-${Math.random().toString(36).slice(2)}`);
  const [ls, du, tar, , ...cats] = await Promise.all([
    baseimgJson(['ls', image, '/', '--depth', '10000', '-l', ...select]),
    baseimgJson(['du', image, '-d', '0', ...select]),
    baseimgOk(['export', image, '-', ...select]),
    baseimgOk(['export', image, target, ...select]),
    ...sample.map(([path]) => baseimgOk(['cat', image, path, ...select])),
  ]);
  assert.deepEqual(comparableFromLs(ls.entries), expected, `ls of ${image}`);
  assert.equal(du.total.bytes, totalBytes(ref), `du total of ${image}`);
  sample.forEach(([path, e], i) => assert.deepEqual(cats[i], e.content ?? Buffer.alloc(0), `cat ${path} of ${image}`));

  const fromTar = await fsFromTar(tar);
  assert.deepEqual(comparable(fromTar), expected, `export - of ${image}`);
  assert.deepEqual(contents(fromTar), contents(ref), `export - contents of ${image}`);

  const fromDir = await fsFromDir(target);
  // devices and FIFOs are not created in a directory export (no mknod)
  const noSpecials = new Map([...ref].filter(([, e]) => e.type === 'file' || e.type === 'dir' || e.type === 'symlink'));
  assert.deepEqual(comparable(fromDir, { owners: asRoot }), comparable(noSpecials, { owners: asRoot }), `export DIR of ${image}`);
  assert.deepEqual(contents(fromDir), contents(noSpecials), `export DIR contents of ${image}`);
}
