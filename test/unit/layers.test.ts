/**
 * The pieces of custom bases and layer sharing, on hand-made trees:
 * strip globs (src/util/glob.ts), strip itself (src/finalize/strip.ts),
 * the upper layer between two trees (src/rootfs/diff.ts) and local files
 * (src/finalize/local-files.ts).
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BodyStore } from '../../src/rootfs/body-store.js';
import { RootTree } from '../../src/rootfs/tree.js';
import type { Meta, TreeNode } from '../../src/rootfs/types.js';
import { checkGlob, compileGlob } from '../../src/util/glob.js';
import { stripTree } from '../../src/finalize/strip.js';
import { diffTrees } from '../../src/rootfs/diff.js';
import { addLocalFiles } from '../../src/finalize/local-files.js';
import type { FileEntry } from '../../src/spec/types.js';
import { BaseimgError } from '../../src/util/errors.js';
import { javaKeystore, pemCertificates, writeJavaCacerts } from '../../src/finalize/java-cacerts.js';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';

const FILE: Meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_600_000_000 };
const DIR: Meta = { ...FILE, mode: 0o755 };

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-layers-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const newTree = (): RootTree => new RootTree(new BodyStore({ dir: scratch }));

async function add(tree: RootTree, path: string, text: string, meta: Meta = FILE): Promise<void> {
  const data = Buffer.from(text);
  tree.addFile(path, meta, await tree.bodies.put(data), data.length, { owner: 'pkg' });
}

/** Every path of a tree with a short description, for deepEqual. */
async function listing(tree: RootTree): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [path, node] of tree.walk()) out[path] = await describeNode(tree, node);
  return out;
}

async function describeNode(tree: RootTree, node: TreeNode): Promise<string> {
  const meta = `${node.meta.mode.toString(8)} ${node.meta.uid}:${node.meta.gid}`;
  if (node.type === 'file') return `file ${meta} ${(await tree.bodies.read(node.body)).toString()}`;
  if (node.type === 'symlink') return `link ${node.target}`;
  return `${node.type} ${meta}`;
}

describe('strip globs', () => {
  const m = (pattern: string, path: string): boolean => compileGlob(pattern)(path);

  it('matches * and ? within one component, ** across any number', () => {
    assert.ok(m('/usr/share/doc/*', '/usr/share/doc/libc6'));
    assert.ok(!m('/usr/share/doc/*', '/usr/share/doc/libc6/copyright'));
    assert.ok(m('/usr/share/doc/*', '/usr/share/doc/.hidden'));
    assert.ok(m('/usr/lib/*.a', '/usr/lib/libc.a'));
    assert.ok(m('/usr/bin/python3.1?', '/usr/bin/python3.11'));
    assert.ok(m('/usr/share/**', '/usr/share'));
    assert.ok(m('/usr/share/**/*.mo', '/usr/share/locale/de/LC_MESSAGES/x.mo'));
    assert.ok(m('/**/*.pyc', '/x.pyc'));
    assert.ok(!m('/usr/share/doc', '/usr/share/docs'));
  });

  it('treats other characters literally', () => {
    assert.ok(m('/a/[x]', '/a/[x]'));
    assert.ok(!m('/a/[x]', '/a/x'));
    assert.ok(m('/a/b.c', '/a/b.c'));
    assert.ok(!m('/a/b.c', '/a/bxc'));
  });

  it('rejects patterns that cannot mean a path', () => {
    assert.match(checkGlob('usr') ?? '', /absolute/);
    assert.match(checkGlob('/a/**b') ?? '', /whole path component/);
    assert.match(checkGlob('/**/**/**/**') ?? '', /at most three/);
    assert.equal(checkGlob('/usr/share/man/**'), undefined);
  });
});

describe('stripTree', () => {
  it('removes matches but keeps licences and the directories leading to them', async () => {
    const tree = newTree();
    await add(tree, '/usr/share/doc/libc6/copyright', 'c');
    await add(tree, '/usr/share/doc/libc6/changelog.gz', 'x'.repeat(100));
    tree.addSymlink('/usr/share/doc/libgcc-s1', 'gcc-12-base', FILE);
    await add(tree, '/usr/share/doc/empty/README', 'r');
    await add(tree, '/usr/share/common-licenses/GPL-3', 'g');
    await add(tree, '/usr/share/man/man1/ls.1.gz', 'man');
    await add(tree, '/usr/share/locale/de/x.mo', 'mo');
    await add(tree, '/usr/bin/ls', 'ls');
    const result = stripTree(tree, ['/usr/share/doc/*', '/usr/share/man', '/usr/share/locale/**', '/usr/share/common-licenses/*']);
    assert.deepEqual(Object.keys(await listing(tree)), [
      '/usr',
      '/usr/bin',
      '/usr/bin/ls',
      '/usr/share',
      '/usr/share/common-licenses',
      '/usr/share/common-licenses/GPL-3',
      '/usr/share/doc',
      '/usr/share/doc/libc6',
      '/usr/share/doc/libc6/copyright',
      '/usr/share/doc/libgcc-s1',
    ]);
    assert.deepEqual(result, { files: 4, directories: 5, bytes: 100 + 1 + 3 + 2 });
  });

  it('counts a hard-linked body once, and not at all while another name keeps it', async () => {
    const tree = newTree();
    await add(tree, '/a/x', '12345');
    tree.addHardlink('/a/y', '/a/x');
    tree.addHardlink('/b/z', '/a/x');
    assert.deepEqual(stripTree(tree, ['/a']), { files: 2, directories: 1, bytes: 0 });
    assert.deepEqual(stripTree(tree, ['/b']), { files: 1, directories: 1, bytes: 5 });
  });
});

describe('diffTrees', () => {
  async function pair(): Promise<[RootTree, RootTree]> {
    const lower = newTree();
    const upper = newTree();
    for (const t of [lower, upper]) {
      t.addDirectory('/usr/bin', DIR);
      t.addSymlink('/bin', 'usr/bin', FILE);
      await add(t, '/usr/bin/same', 'same');
      await add(t, '/etc/passwd', 'root');
    }
    return [lower, upper];
  }

  it('is empty for equal trees, whatever the mtimes', async () => {
    const [lower, upper] = await pair();
    (upper.get('/etc/passwd') as { meta: Meta }).meta.mtime = 1_700_000_000;
    const diff = await diffTrees(lower, upper, { mtime: 1 });
    assert.equal(diff.changed, false);
    assert.deepEqual(await listing(diff.tree), {});
  });

  it('holds changed and new entries with their parents, and whiteouts for removals', async () => {
    const [lower, upper] = await pair();
    await add(lower, '/usr/share/doc/gone/copyright', 'c');
    await add(lower, '/etc/dir-becomes-file/x', 'x');
    await add(upper, '/etc/dir-becomes-file', 'now a file');
    upper.remove('/etc/passwd');
    await add(upper, '/etc/passwd', 'root\napp');
    await add(upper, '/usr/lib/new.so', 'new');
    upper.addHardlink('/usr/lib/new2.so', '/usr/lib/new.so');
    await add(upper, '/usr/bin/mode', 'm', { ...FILE, mode: 0o755 });
    await add(lower, '/usr/bin/mode', 'm');
    const diff = await diffTrees(lower, upper, { mtime: 7 });
    assert.equal(diff.changed, true);
    assert.deepEqual(await listing(diff.tree), {
      '/etc': 'dir 755 0:0',
      '/etc/dir-becomes-file': 'file 644 0:0 now a file',
      '/etc/passwd': 'file 644 0:0 root\napp',
      '/usr': 'dir 755 0:0',
      '/usr/.wh.share': 'file 0 0:0 ',
      '/usr/bin': 'dir 755 0:0',
      '/usr/bin/mode': 'file 755 0:0 m',
      '/usr/lib': 'dir 755 0:0',
      '/usr/lib/new.so': 'file 644 0:0 new',
      '/usr/lib/new2.so': 'file 644 0:0 new',
    });
    const wh = diff.tree.get('/usr/.wh.share')!;
    assert.equal(wh.meta.mtime, 7);
    assert.equal(diff.tree.get('/usr/lib/new2.so'), diff.tree.get('/usr/lib/new.so'), 'a hard link stays one node');
  });

  it('does not count ignored paths as a change, but carries them when something else changed', async () => {
    const [lower, upper] = await pair();
    await add(lower, '/var/sbom.json', 'a');
    await add(upper, '/var/sbom.json', 'b');
    const ignore = (p: string): boolean => p === '/var/sbom.json';
    assert.equal((await diffTrees(lower, upper, { mtime: 1, ignore })).changed, false);
    await add(upper, '/etc/new', 'n');
    const diff = await diffTrees(lower, upper, { mtime: 1, ignore });
    assert.equal(diff.changed, true);
    assert.ok(diff.tree.get('/var/sbom.json'));
  });
});

describe('addLocalFiles', () => {
  let src: string;
  before(async () => {
    src = join(scratch, 'src');
    await mkdir(join(src, 'dir', 'sub'), { recursive: true });
    await writeFile(join(src, 'dir', 'run'), 'run');
    await chmod(join(src, 'dir', 'run'), 0o4750);
    await writeFile(join(src, 'dir', 'sub', 'conf'), 'conf');
    await chmod(join(src, 'dir', 'sub', 'conf'), 0o600);
    await symlink('sub/conf', join(src, 'dir', 'link'));
    await chmod(join(src, 'dir', 'sub'), 0o700);
  });

  const entry = (over: Partial<FileEntry>): FileEntry => ({ source: join(src, 'dir'), path: '/app', mode: undefined, dirMode: 0o755, uid: 0, gid: 0, where: 'x.toml:3', ...over });

  it('copies a directory with normalised modes, the entry\'s owner and one mtime', async () => {
    const tree = newTree();
    const result = await addLocalFiles(tree, [entry({ uid: 10, gid: 20 })], { mtime: 42 });
    assert.deepEqual(result, { files: 3, bytes: 7 });
    assert.deepEqual(await listing(tree), {
      '/app': 'dir 755 10:20',
      '/app/link': 'link sub/conf',
      '/app/run': 'file 755 10:20 run',
      '/app/sub': 'dir 755 10:20',
      '/app/sub/conf': 'file 644 10:20 conf',
    });
    for (const [, node] of tree.walk()) assert.equal(node.meta.mtime, 42);
  });

  it('applies mode and dir-mode when given, and copies a single file', async () => {
    const tree = newTree();
    await addLocalFiles(tree, [entry({ mode: 0o600, dirMode: 0o700 }), entry({ source: join(src, 'dir', 'run'), path: '/usr/bin/run' })], { mtime: 1 });
    assert.equal(tree.get('/app/sub')!.meta.mode, 0o700);
    assert.equal(tree.get('/app/run')!.meta.mode, 0o600);
    assert.equal(tree.get('/usr/bin/run')!.meta.mode, 0o755);
  });

  it('reports a missing source with the spec line', async () => {
    await assert.rejects(addLocalFiles(newTree(), [entry({ source: join(src, 'nope') })], { mtime: 1 }), (e: unknown) => {
      assert.ok(e instanceof BaseimgError);
      assert.equal(e.code, 'SPEC');
      assert.match(e.message, /^x\.toml:3: files source .*nope: no such file$/);
      return true;
    });
  });
});

describe('Java cacerts (JKS)', () => {
  /** A self-signed certificate made by openssl, or undefined without it. */
  function certificate(cn: string): string | undefined {
    const key = join(scratch, `${cn}.key`);
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', `/O=Test/CN=${cn}`, '-days', '1'], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout : undefined;
  }

  it('writes the JKS format: header, trusted-certificate entries, SHA-1 keyed digest', (t) => {
    const pems = ['Root A', 'Root A', 'Root B'].map(certificate);
    if (pems.some((p) => p === undefined)) return t.skip('openssl not available');
    const ders = pemCertificates(pems.join('\n'));
    assert.equal(ders.length, 3);
    const jks = javaKeystore(ders, { mtime: 1_700_000_000 });
    assert.equal(jks.readUInt32BE(0), 0xfeedfeed);
    assert.equal(jks.readUInt32BE(4), 2);
    assert.equal(jks.readUInt32BE(8), 3);
    let at = 12;
    const aliases: string[] = [];
    for (let i = 0; i < 3; i++) {
      assert.equal(jks.readUInt32BE(at), 2, 'trusted certificate entry');
      const len = jks.readUInt16BE(at + 4);
      aliases.push(jks.subarray(at + 6, at + 6 + len).toString('utf8'));
      at += 6 + len;
      assert.equal(jks.readBigUInt64BE(at), 1_700_000_000_000n);
      at += 8;
      assert.equal(jks.subarray(at + 2, at + 2 + jks.readUInt16BE(at)).toString(), 'X.509');
      at += 2 + 5;
      const size = jks.readUInt32BE(at);
      assert.deepEqual(jks.subarray(at + 4, at + 4 + size), ders[i]);
      at += 4 + size;
    }
    assert.deepEqual(aliases, ['root a', 'root a 2', 'root b']);
    const password = Buffer.from([0, 99, 0, 104, 0, 97, 0, 110, 0, 103, 0, 101, 0, 105, 0, 116]); // "changeit" UTF-16BE
    const digest = createHash('sha1').update(password).update('Mighty Aphrodite').update(jks.subarray(0, at)).digest();
    assert.deepEqual(jks.subarray(at), digest);
  });

  it('is written where a JDK\'s cacerts link dangles, and only there', async () => {
    const tree = newTree();
    await add(tree, '/etc/ssl/certs/ca-certificates.crt', '');
    tree.addSymlink('/usr/lib/jvm/java-17/lib/security/cacerts', '/etc/ssl/certs/java/cacerts', FILE);
    tree.addSymlink('/usr/lib/jvm/java-21/lib/security/cacerts', '../../../../../../etc/ssl/certs/java/cacerts', FILE);
    assert.deepEqual(await writeJavaCacerts(tree, '/etc/ssl/certs/ca-certificates.crt', { mtime: 5 }), ['/etc/ssl/certs/java/cacerts']);
    assert.equal(tree.get('/etc/ssl/certs/java/cacerts')!.meta.mtime, 5);
    assert.deepEqual(await writeJavaCacerts(tree, '/etc/ssl/certs/ca-certificates.crt', { mtime: 5 }), [], 'an existing store is kept');
    assert.deepEqual(await writeJavaCacerts(newTree(), '/etc/ssl/certs/ca-certificates.crt', { mtime: 5 }), [], 'no JDK, nothing written');
  });
});
