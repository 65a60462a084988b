/**
 * Spec composition (src/spec/compose.ts): include merges parent specs (lists
 * append, tables merge, the child wins), errors name the file and line the
 * offending value was written in, relative paths start at the file that
 * names them, and cycles and missing files name the include chain. Also the
 * new keys of custom bases: layers, [[files]], strip.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseSpec } from '../../src/spec/load.js';
import type { Spec } from '../../src/spec/types.js';
import { BaseimgError } from '../../src/util/errors.js';
import { inputsDigest, specInputs } from '../../src/lock/inputs.js';
import { backendFor } from '../../src/distro/backends.js';

const ROOT = path.resolve('/work/specs-test');

/** A fake file system: paths relative to ROOT. */
function files(map: Record<string, string>): (abs: string) => Buffer {
  return (abs) => {
    const content = map[path.relative(ROOT, abs)];
    if (content === undefined) throw Object.assign(new Error(`ENOENT ${abs}`), { code: 'ENOENT' });
    return Buffer.from(content);
  };
}

const PARENT = [
  'name = "parent"',
  'tag = "parent:1"',
  'source-date-epoch = 1700000000',
  '',
  '[source]',
  'distro = "debian"',
  'suites = ["bookworm"]',
  'keyring = "keys/debian.gpg"',
  '',
  '[packages]',
  'include = ["base-files", "tzdata", "libc6"]',
  'exclude = ["awk"]',
  '',
  '[image]',
  'entrypoint = ["/parent"]',
  'env = { A = "1", B = "2" }',
  'exposed-ports = ["80"]',
  '',
  '[[paths]]',
  'path = "/etc/motd"',
  'type = "file"',
  'source = "motd"',
  '',
].join('\n');

const FS = {
  'base/parent.toml': PARENT,
  'base/motd': 'parent motd\n',
  'base/keys/debian.gpg': 'gpg',
  'app/motd': 'app motd\n',
};

function load(child: string, extra: Record<string, string> = {}): Spec {
  const all = { ...FS, ...extra, 'app/child.toml': child };
  return parseSpec(child, path.join(ROOT, 'app/child.toml'), files(all));
}

function specError(child: string, extra: Record<string, string> = {}): BaseimgError {
  try {
    load(child, extra);
  } catch (e) {
    assert.ok(e instanceof BaseimgError, String(e));
    assert.equal(e.code, 'SPEC');
    return e;
  }
  return assert.fail('expected an error');
}

describe('include: merging', () => {
  it('merges tables, appends lists and lets the child win on scalars', () => {
    const spec = load(
      [
        'include = ["../base/parent.toml"]',
        '',
        '[packages]',
        'include = ["libssl3", "libc6=2.36-9"]',
        '',
        '[image]',
        'entrypoint = ["/child"]',
        'env = { B = "two", C = "3" }',
        'exposed-ports = ["80", "443"]',
      ].join('\n'),
    );
    assert.equal(spec.name, 'child', 'name is not inherited: it defaults to the child file name');
    assert.equal(spec.tag, 'child:latest', 'tag is not inherited');
    assert.equal(spec.sourceDateEpoch, 1700000000, 'other scalars are inherited');
    assert.deepEqual(spec.packages.include, ['base-files', 'tzdata', 'libc6=2.36-9', 'libssl3'], 'a pin replaces the parent entry in place');
    assert.deepEqual(spec.packages.exclude, ['awk']);
    assert.deepEqual(spec.image.entrypoint, ['/child'], 'arrays that are values (entrypoint) are replaced');
    assert.deepEqual(Object.fromEntries(spec.image.env), {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
      A: '1',
      B: 'two',
      C: '3',
    });
    assert.deepEqual(spec.image.exposedPorts, ['80/tcp', '443/tcp'], 'lists of things append without duplicates');
    assert.deepEqual(spec.source.distro === 'debian' && spec.source.keyring, [path.join(ROOT, 'base/keys/debian.gpg')], 'relative paths start at the file that names them');
    assert.deepEqual(spec.include, [path.join(ROOT, 'base/parent.toml')]);
    assert.equal(spec.layerParent, path.join(ROOT, 'base/parent.toml'));
    assert.equal(spec.layers, 'per-spec');
  });

  it('reads [[paths]] sources relative to the file that names them, and a child entry for the same path replaces the parent\'s', () => {
    const inherited = load('include = ["../base/parent.toml"]\n');
    assert.deepEqual(inherited.paths.map((p) => p.type === 'file' && p.content.toString()), ['parent motd\n']);
    const replaced = load('include = ["../base/parent.toml"]\n\n[[paths]]\npath = "/etc/motd/"\ntype = "file"\nsource = "motd"\n');
    assert.deepEqual(replaced.paths.map((p) => p.type === 'file' && p.content.toString()), ['app motd\n']);
  });

  it('lets the child have the last word about a package: exclude removes a parent\'s include and include a parent\'s exclude', () => {
    const spec = load('include = ["../base/parent.toml"]\n\n[packages]\ninclude = ["awk"]\nexclude = ["tzdata"]\n');
    assert.deepEqual(spec.packages.include, ['base-files', 'libc6', 'awk']);
    assert.deepEqual(spec.packages.exclude, ['tzdata']);
  });

  it('merges several includes in order; only the first is the layer parent', () => {
    const spec = load('include = ["../base/parent.toml", "fragment.toml"]\n', {
      'app/fragment.toml': '[image]\nuser = "nonroot"\nworkdir = "/home/nonroot"\n',
    });
    assert.equal(spec.image.user, 'nonroot');
    assert.equal(spec.layerParent, path.join(ROOT, 'base/parent.toml'));
    assert.equal(load('include = ["../base/parent.toml"]\nlayers = "flat"\n').layerParent, undefined);
  });

  it('includes recursively (grandparents) and tolerates diamonds', () => {
    const spec = load('include = ["mid.toml", "../base/parent.toml"]\n', {
      'app/mid.toml': 'include = ["../base/parent.toml"]\n[packages]\ninclude = ["libssl3"]\n',
    });
    assert.deepEqual(spec.packages.include, ['base-files', 'tzdata', 'libc6', 'libssl3']);
  });

  it('is covered by the lock inputs: the merged packages are what --frozen compares', async () => {
    const child = load('include = ["../base/parent.toml"]\n\n[packages]\ninclude = ["libssl3"]\n');
    const inputs = specInputs(child, await backendFor(child));
    assert.deepEqual(inputs['packages.include'], ['base-files', 'libc6', 'libssl3', 'tzdata']);
    const changedParent = load('include = ["../base/parent.toml"]\n\n[packages]\ninclude = ["libssl3"]\n', {
      'base/parent.toml': PARENT.replace('"tzdata", ', ''),
    });
    assert.notEqual(inputsDigest(specInputs(changedParent, await backendFor(changedParent))), inputsDigest(inputs));
  });
});

describe('include: errors name the file and line', () => {
  it('reports a bad value at its line in the included file', () => {
    const e = specError('include = ["../base/parent.toml"]\n', { 'base/parent.toml': PARENT.replace('entrypoint = ["/parent"]', 'entrypoint = "/parent"') });
    assert.ok(e.message.startsWith(`${path.join(ROOT, 'base/parent.toml')}:15: image.entrypoint: `), e.message);
  });

  it('names included files the way the including file wrote them', () => {
    const e = specError('include = ["../base/parent.toml"]\n', { 'base/parent.toml': PARENT.replace('[image]', '[image]\nentrypont = ["/x"]') });
    assert.equal(e.message, `${path.join(ROOT, 'base/parent.toml')}:15: unknown key "entrypont" in [image] (did you mean "entrypoint"?)`);
  });

  it('reports a missing include with the chain', () => {
    const e = specError('include = ["mid.toml"]\n', { 'app/mid.toml': '\n\ninclude = ["nope.toml"]\n' });
    assert.equal(e.message, `${path.join(ROOT, 'app/mid.toml')}:3: include[0]: cannot read "nope.toml": no such file`);
    assert.match(e.hint ?? '', /include chain: .*child\.toml → .*mid\.toml/);
  });

  it('reports a cycle with the chain', () => {
    const e = specError('include = ["a.toml"]\n', { 'app/a.toml': 'include = ["b.toml"]\n', 'app/b.toml': 'include = ["child.toml"]\n' });
    assert.match(e.message, /b\.toml:1: include\[0\]: include cycle: .*child\.toml → .*a\.toml → .*b\.toml → .*child\.toml$/);
  });

  it('rejects include that is not a list of file names', () => {
    assert.match(specError('include = 3\n').message, /child\.toml:1: include: expected an array of spec files, got an integer/);
    assert.match(specError('include = [""]\n').message, /child\.toml:1: include\[0\]: expected a spec file name/);
  });

  it('says where a duplicate from another file was declared', () => {
    const e = specError('include = ["../base/parent.toml"]\n\n[packages]\ninclude = ["x", "x"]\n');
    assert.match(e.message, /child\.toml:4: packages\.include\[1\]: package "x" is listed twice \(also packages\.include\[0\]\)/);
  });
});

describe('custom-base keys', () => {
  const HEAD = '[source]\ndistro = "debian"\nsuites = ["bookworm"]\n[packages]\ninclude = []\n';
  const parse = (text: string): Spec => parseSpec(text, path.join(ROOT, 'app/x.toml'), files({}));
  const fail = (text: string): string => {
    try {
      parse(text);
    } catch (e) {
      return (e as Error).message;
    }
    return assert.fail('expected an error');
  };

  it('reads [[files]] with defaults and resolves sources relative to the spec', () => {
    const spec = parse(`${HEAD}[[files]]\nsource = "build/app"\npath = "/app/"\n\n[[files]]\nsource = "/etc/hosts"\npath = "/x"\nmode = "0600"\ndir-mode = 0o700\nuid = 1\ngid = 2\n`);
    assert.deepEqual(spec.files, [
      { source: path.join(ROOT, 'app/build/app'), path: '/app', mode: undefined, dirMode: 0o755, uid: 0, gid: 0, where: `${path.join(ROOT, 'app/x.toml')}:7` },
      { source: '/etc/hosts', path: '/x', mode: 0o600, dirMode: 0o700, uid: 1, gid: 2, where: `${path.join(ROOT, 'app/x.toml')}:11` },
    ]);
  });

  it('rejects bad [[files]] entries', () => {
    assert.match(fail(`${HEAD}[[files]]\npath = "/app"\n`), /x\.toml:6: missing required key "source" in files\[0\]/);
    assert.match(fail(`${HEAD}[[files]]\nsource = "a"\npath = "app"\n`), /files\[0\]\.path: expected an absolute path/);
    assert.match(fail(`${HEAD}[[files]]\nsource = "a"\npath = "/a"\nmode = 644\n`), /files\[0\]\.mode: 644 is not an octal mode/);
    assert.match(fail(`${HEAD}[[files]]\nsource = "a"\npath = "/a"\n[[files]]\nsource = "b"\npath = "/a/"\n`), /files\[1\]\.path: "\/a" is already the destination of files\[0\]/);
    assert.match(fail(`${HEAD}[[files]]\nsource = "a"\npath = "/a"\nowner = 1\n`), /unknown key "owner" in files\[0\]/);
  });

  it('checks strip patterns', () => {
    assert.deepEqual(parse(`strip = ["/usr/share/doc/*", "/usr/share/man/**"]\n${HEAD}`).strip, ['/usr/share/doc/*', '/usr/share/man/**']);
    assert.match(fail(`strip = ["usr/share/doc"]\n${HEAD}`), /x\.toml:1: strip\[0\]: "usr\/share\/doc": expected an absolute path pattern/);
    assert.match(fail(`strip = ["/usr/share/x**"]\n${HEAD}`), /"\*\*" must be a whole path component/);
    assert.match(fail(`strip = ["/"]\n${HEAD}`), /matches the root directory itself/);
    assert.match(fail(`strip = ["/a/../b"]\n${HEAD}`), /"\.\." is not allowed/);
  });

  it('checks layers', () => {
    assert.equal(parse(`layers = "flat"\n${HEAD}`).layers, 'flat');
    assert.match(fail(`layers = "flta"\n${HEAD}`), /layers: expected "per-spec" or "flat", got "flta" \(did you mean "flat"\?\)/);
  });
});
