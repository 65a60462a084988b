import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PathEntry } from '../../src/spec/types.js';
import type { RootTree } from '../../src/rootfs/tree.js';
import { BaseimgError } from '../../src/util/errors.js';
import { renderGroup, renderPasswd, resolveImageUser, writeAccounts } from '../../src/finalize/accounts.js';
import { applyPaths } from '../../src/finalize/paths.js';
import { buildCaBundle, sortLikeCLocale, withFinalNewline } from '../../src/finalize/ca-bundle.js';
import { addText, assertSpecError, DIR_META, DISTROLESS_ACCOUNTS, EPOCH, metaAt, newTree as treeIn, PKG_META, textAt } from '../helpers/finalize-fixtures.js';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-finalize-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const newTree = (): RootTree => treeIn(scratch);

// ------------------------------------------------------------------ accounts

describe('accounts', () => {
  it('renders distroless /etc/passwd and /etc/group exactly', () => {
    assert.equal(
      renderPasswd(DISTROLESS_ACCOUNTS.users),
      'root:x:0:0:root:/root:/sbin/nologin\n' +
        'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' +
        'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
    );
    assert.equal(renderGroup(DISTROLESS_ACCOUNTS.groups), 'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n');
    assert.equal(renderGroup([{ name: 'app', gid: 1000, members: ['a', 'b'] }]), 'app:x:1000:a,b\n');
  });

  it('refuses fields that would corrupt the files', () => {
    assertSpecError(() => renderPasswd([{ ...DISTROLESS_ACCOUNTS.users[0]!, gecos: 'a:b' }]), /gecos/);
    assertSpecError(() => renderPasswd([{ ...DISTROLESS_ACCOUNTS.users[0]!, shell: '/bin/sh\n' }]), /shell/);
    assertSpecError(() => renderGroup([{ name: 'g', gid: 1, members: ['a,b'] }]), /comma/);
  });

  it('writes the files, home directories, /home and /tmp with distroless modes and owners', async () => {
    const tree = newTree();
    await addText(tree, '/etc/passwd', 'daemon:x:1:1::/:/bin/false\n', 'base-passwd');
    await writeAccounts(tree, DISTROLESS_ACCOUNTS, { mtime: EPOCH });

    assert.match(await textAt(tree, '/etc/passwd'), /^root:x:0:0:root:\/root:\/sbin\/nologin\n/);
    assert.doesNotMatch(await textAt(tree, '/etc/passwd'), /daemon/);
    assert.equal(tree.get('/etc/passwd')!.owner, undefined);
    for (const path of ['/etc/passwd', '/etc/group']) assert.deepEqual(metaAt(tree, path), { mode: 0o644, uid: 0, gid: 0, mtime: EPOCH });
    assert.deepEqual(metaAt(tree, '/root'), { mode: 0o700, uid: 0, gid: 0, mtime: EPOCH });
    assert.deepEqual(metaAt(tree, '/home'), { mode: 0o755, uid: 0, gid: 0, mtime: EPOCH });
    assert.deepEqual(metaAt(tree, '/home/nonroot'), { mode: 0o700, uid: 65532, gid: 65532, mtime: EPOCH });
    assert.deepEqual(metaAt(tree, '/tmp'), { mode: 0o1777, uid: 0, gid: 0, mtime: EPOCH });
    assert.equal(tree.get('/nonexistent'), undefined, 'createHome = false creates nothing');
  });

  it('leaves existing home directories alone and makes a shipped /tmp sticky and world-writable', async () => {
    const tree = newTree();
    tree.addDirectory('/root', { ...DIR_META, mode: 0o750 }, { owner: 'base-files' });
    tree.addDirectory('/tmp', DIR_META, { owner: 'base-files' });
    await writeAccounts(tree, DISTROLESS_ACCOUNTS, { mtime: EPOCH });
    assert.equal(metaAt(tree, '/root').mode, 0o750);
    assert.deepEqual(metaAt(tree, '/tmp'), { ...DIR_META, mode: 0o1777 });
  });

  it('resolves the image user to numeric ids', () => {
    assert.equal(resolveImageUser('root', DISTROLESS_ACCOUNTS), '0');
    assert.equal(resolveImageUser('nonroot', DISTROLESS_ACCOUNTS), '65532');
    assert.equal(resolveImageUser('65532', DISTROLESS_ACCOUNTS), '65532');
    assert.equal(resolveImageUser('nonroot:nonroot', DISTROLESS_ACCOUNTS), '65532:65532');
    assert.equal(resolveImageUser('65532:65532', DISTROLESS_ACCOUNTS), '65532:65532');
    assert.equal(resolveImageUser('nobody:tty', DISTROLESS_ACCOUNTS), '65534:5');
    assert.equal(resolveImageUser('0:4242', DISTROLESS_ACCOUNTS), '0:4242', 'a numeric gid needs no group entry');
    assert.equal(resolveImageUser('1000', DISTROLESS_ACCOUNTS), '1000', 'a numeric uid needs no passwd entry');
    assert.equal(resolveImageUser('1000:1000', DISTROLESS_ACCOUNTS), '1000:1000');
  });

  it('rejects users without an account and malformed users', () => {
    assertSpecError(() => resolveImageUser('nonrot', DISTROLESS_ACCOUNTS), /no account named nonrot \(did you mean "nonroot"\?\)/);
    assertSpecError(() => resolveImageUser('nonroot:wheel', DISTROLESS_ACCOUNTS), /no group named wheel/);
    assertSpecError(() => resolveImageUser('', DISTROLESS_ACCOUNTS), /is not/);
    assertSpecError(() => resolveImageUser('a:b:c', DISTROLESS_ACCOUNTS), /is not/);
    assertSpecError(() => resolveImageUser('nonroot:', DISTROLESS_ACCOUNTS), /is not/);
    assertSpecError(() => resolveImageUser('99999999999', DISTROLESS_ACCOUNTS), /out of range/);
  });
});

// ------------------------------------------------------------------ paths

describe('applyPaths', () => {
  function mergedUsr(tree: RootTree): void {
    tree.addDirectory('/usr/bin', DIR_META);
    tree.addSymlink('/bin', 'usr/bin', DIR_META);
  }

  it('creates directories, files and symlinks with the given metadata and root-owned parents', async () => {
    const tree = newTree();
    const entries: PathEntry[] = [
      { type: 'directory', path: '/srv/data', mode: 0o750, uid: 1000, gid: 1001 },
      { type: 'file', path: '/opt/app/bin/run', mode: 0o755, uid: 0, gid: 0, content: Buffer.from('#!/bin/sh\n') },
      { type: 'symlink', path: '/usr/local/bin/run', target: '/opt/app/bin/run', uid: 0, gid: 0 },
    ];
    await applyPaths(tree, entries, { mtime: EPOCH });
    assert.deepEqual(metaAt(tree, '/srv/data'), { mode: 0o750, uid: 1000, gid: 1001, mtime: EPOCH });
    assert.deepEqual(metaAt(tree, '/srv'), { mode: 0o755, uid: 0, gid: 0, mtime: EPOCH });
    assert.deepEqual(metaAt(tree, '/opt/app/bin/run'), { mode: 0o755, uid: 0, gid: 0, mtime: EPOCH });
    assert.equal(await textAt(tree, '/opt/app/bin/run'), '#!/bin/sh\n');
    const link = tree.get('/usr/local/bin/run');
    assert.equal(link?.type, 'symlink');
    assert.equal(link.type === 'symlink' && link.target, '/opt/app/bin/run');
    assert.equal(link.meta.mode, 0o777);
  });

  it('replaces non-directories without following a final symlink, and updates existing directories', async () => {
    const tree = newTree();
    await addText(tree, '/etc/app.conf', 'old', 'app');
    await addText(tree, '/etc/real.conf', 'real', 'app');
    tree.addSymlink('/etc/link.conf', 'real.conf', PKG_META, { owner: 'app' });
    tree.addDirectory('/var/app', DIR_META, { owner: 'app' });
    await applyPaths(
      tree,
      [
        { type: 'file', path: '/etc/app.conf', mode: 0o600, uid: 0, gid: 0, content: Buffer.from('new') },
        { type: 'file', path: '/etc/link.conf', mode: 0o644, uid: 0, gid: 0, content: Buffer.from('mine') },
        { type: 'directory', path: '/var/app', mode: 0o700, uid: 5, gid: 5 },
        { type: 'symlink', path: '/etc/app.conf', target: 'real.conf', uid: 0, gid: 0 },
      ],
      { mtime: EPOCH },
    );
    assert.equal(tree.get('/etc/app.conf')?.type, 'symlink', 'a later entry wins');
    assert.equal(await textAt(tree, '/etc/link.conf'), 'mine');
    assert.equal(await textAt(tree, '/etc/real.conf'), 'real', 'the old symlink target is untouched');
    assert.deepEqual(metaAt(tree, '/var/app'), { mode: 0o700, uid: 5, gid: 5, mtime: EPOCH });
  });

  it('follows a symlink to a directory for directory entries (merged /usr stays intact)', async () => {
    const tree = newTree();
    mergedUsr(tree);
    await applyPaths(tree, [{ type: 'directory', path: '/bin', mode: 0o755, uid: 0, gid: 0 }], { mtime: EPOCH });
    assert.equal(tree.get('/bin')?.type, 'symlink');
    await applyPaths(tree, [{ type: 'file', path: '/bin/tool', mode: 0o755, uid: 0, gid: 0, content: Buffer.from('x') }], { mtime: EPOCH });
    assert.equal(await textAt(tree, '/usr/bin/tool'), 'x');
  });

  it('replaces a dangling symlink by a directory, and refuses a file over a directory', async () => {
    const tree = newTree();
    tree.addSymlink('/data', '/nowhere', PKG_META);
    await applyPaths(tree, [{ type: 'directory', path: '/data', mode: 0o755, uid: 0, gid: 0 }], { mtime: EPOCH });
    assert.equal(tree.get('/data')?.type, 'dir');
    await assert.rejects(
      applyPaths(tree, [{ type: 'file', path: '/data', mode: 0o644, uid: 0, gid: 0, content: Buffer.from('') }], { mtime: EPOCH }),
      (e: unknown) => e instanceof BaseimgError && e.code === 'SPEC' && /paths entry \/data \(file\): a directory is already there/.test(e.message),
    );
    await addText(tree, '/etc/file', 'x');
    await assert.rejects(
      applyPaths(tree, [{ type: 'file', path: '/etc/file/sub', mode: 0o644, uid: 0, gid: 0, content: Buffer.from('') }], { mtime: EPOCH }),
      (e: unknown) => e instanceof BaseimgError && e.code === 'SPEC' && /not a directory/.test(e.message),
    );
  });
});

// ------------------------------------------------------------------ CA bundle algorithm

describe('CA bundle algorithm', () => {
  it("adds a final newline like sed -e '$a\\' and changes nothing else", () => {
    assert.deepEqual(withFinalNewline(Buffer.from('')), Buffer.from(''));
    assert.deepEqual(withFinalNewline(Buffer.from('x')), Buffer.from('x\n'));
    assert.deepEqual(withFinalNewline(Buffer.from('x\r')), Buffer.from('x\r\n'));
    assert.deepEqual(withFinalNewline(Buffer.from('a\n\n')), Buffer.from('a\n\n'));
    assert.deepEqual(withFinalNewline(Buffer.from('a\0b')), Buffer.from('a\0b\n'));
  });

  it('sorts names by bytes, as sort does under LC_ALL=C.UTF-8', () => {
    const names = ['b.crt', 'Ab.crt', 'a.crt', 'A_b.crt', '_x.crt', 'A.crt', 'É.crt', 'AC_RAIZ.crt', 'ACCVRAIZ1.crt', 'Z-1.crt'];
    // en_US.UTF-8 would give a.crt, A.crt, A_b.crt, Ab.crt, ...: case and punctuation folded.
    assert.deepEqual(sortLikeCLocale(names, (n) => n), ['A.crt', 'ACCVRAIZ1.crt', 'AC_RAIZ.crt', 'A_b.crt', 'Ab.crt', 'Z-1.crt', '_x.crt', 'a.crt', 'b.crt', 'É.crt']);
  });

  it('concatenates packaged certificates in the given order, then local ones sorted by path', () => {
    const bundle = buildCaBundle(
      [
        { name: 'z/first.crt', body: Buffer.from('Z1') },
        { name: 'a/second.crt', body: Buffer.from('A2\n') },
      ],
      [
        { name: '/usr/local/share/ca-certificates/b.crt', body: Buffer.from('LB') },
        { name: '/usr/local/share/ca-certificates/a/z.crt', body: Buffer.from('LAZ\n') },
        { name: '/usr/local/share/ca-certificates/a.crt', body: Buffer.from('LA') },
      ],
    );
    assert.equal(bundle.toString(), 'Z1\nA2\nLA\nLAZ\nLB\n');
  });
});
