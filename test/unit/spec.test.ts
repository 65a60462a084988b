import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadSpec, parseSpec } from '../../src/spec/load.js';
import { locate, SourceIndex } from '../../src/spec/locate.js';
import type { Spec } from '../../src/spec/types.js';
import { BaseimgError } from '../../src/util/errors.js';

const FILE = 'static.toml';
const SPEC_DIR = path.dirname(path.resolve(FILE));

/** A fake file system for readLocal: names relative to the spec's directory. */
function fakeFiles(files: Record<string, string>): (absPath: string) => Buffer {
  return (absPath) => {
    const rel = path.relative(SPEC_DIR, absPath);
    const content = files[rel];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: ${absPath}`), { code: 'ENOENT' });
    return Buffer.from(content);
  };
}

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const FILES = fakeFiles({ 'keys/debian.gpg': 'gpg', 'keys/alpine.rsa.pub': 'rsa', 'files/app.conf': 'port=1\n', 'certs/corp.crt': PEM, 'certs/bad.crt': 'nope' });

function doc(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

function parse(text: string): Spec {
  return parseSpec(text, FILE, FILES);
}

function specError(text: string): BaseimgError {
  try {
    parse(text);
  } catch (e) {
    assert.ok(e instanceof BaseimgError, `expected a BaseimgError, got ${String(e)}`);
    assert.equal(e.code, 'SPEC');
    return e;
  }
  return assert.fail('expected the spec to be rejected');
}

/** Lines 1-5: the smallest valid Debian spec. */
const HEAD = ['[source]', 'distro = "debian"', 'suites = ["bookworm"]', '[packages]', 'include = ["base-files"]'];
const ALPINE_HEAD = ['[source]', 'distro = "alpine"', 'repositories = ["https://example.org/alpine/v3.20/main"]', '[packages]', 'include = []'];
const USERS = ['[[accounts.users]]', 'name = "app"', 'uid = 1000'];

interface InvalidCase {
  name: string;
  text: string;
  message: string;
  hint?: string | RegExp;
}

const INVALID: InvalidCase[] = [
  { name: 'unknown top-level key', text: doc('nmae = "static"', ...HEAD), message: 'static.toml:1: unknown key "nmae" at the top level (did you mean "name"?)' },
  {
    name: 'unknown key in [image]',
    text: doc(...HEAD, '[image]', 'entrypont = ["/busybox/sh"]'),
    message: 'static.toml:7: unknown key "entrypont" in [image] (did you mean "entrypoint"?)',
  },
  {
    name: 'suites given as a string',
    text: doc('[source]', 'distro = "debian"', 'suites = "bookworm"', '[packages]', 'include = []'),
    message: 'static.toml:3: source.suites: expected an array of strings, got a string',
    hint: 'write suites = ["bookworm"]',
  },
  {
    name: 'missing required key names the table header line',
    text: doc('name = "x"', '', '[source]', 'distro = "debian"', '', '[packages]', 'include = []'),
    message: 'static.toml:3: missing required key "suites" in [source]',
  },
  { name: 'missing [source] table', text: doc('[packages]', 'include = []'), message: 'static.toml: missing required table [source]' },
  {
    name: 'missing packages.include',
    text: doc(...HEAD.slice(0, 4), 'exclude = []'),
    message: 'static.toml:4: missing required key "include" in [packages]',
  },
  {
    name: 'misspelt distro',
    text: doc('[source]', 'distro = "debain"', 'suites = ["bookworm"]'),
    message: 'static.toml:2: source.distro: expected "debian" or "alpine", got "debain" (did you mean "debian"?)',
  },
  {
    name: 'alpine key with distro = debian',
    text: doc(...HEAD.slice(0, 3), 'repositories = ["http://example.org/alpine"]', ...HEAD.slice(3)),
    message: 'static.toml:4: source.repositories is only for distro = "alpine"',
  },
  {
    name: 'debian key with distro = alpine',
    text: doc(...ALPINE_HEAD.slice(0, 3), 'suites = ["v3.20"]', ...ALPINE_HEAD.slice(3)),
    message: 'static.toml:4: source.suites is only for distro = "debian"',
  },
  {
    name: 'unknown source key gets a suggestion from the distro keys',
    text: doc(...HEAD.slice(0, 3), 'mirorr = "http://example.org/debian"', ...HEAD.slice(3)),
    message: 'static.toml:4: unknown key "mirorr" in [source] (did you mean "mirror"?)',
  },
  {
    name: 'image.user names no account',
    text: doc(...HEAD, '', '[image]', 'user = "nonrot"'),
    message: 'static.toml:8: image.user: no account named "nonrot" (did you mean "nonroot"?)',
  },
  {
    name: 'image.user group part names no group',
    text: doc(...HEAD, '[image]', 'user = "nonroot:stafff"'),
    message: 'static.toml:7: image.user: no group named "stafff" (did you mean "staff"?)',
  },
  {
    name: 'entrypoint as a shell string',
    text: doc(...HEAD, '[image]', 'entrypoint = "/bin/sh -c"'),
    message: 'static.toml:7: image.entrypoint: expected an array of strings, got a string',
    hint: 'use the exec form: entrypoint = ["/bin/sh", "-c"]',
  },
  {
    name: 'unclosed array (TOML)',
    text: doc('[source]', 'distro = "debian"', 'suites = ["bookworm"]', '[packages]', 'include = [', '  "a",', '  "b"'),
    message: 'static.toml:5: invalid TOML: array starting here is never closed, expected "]"',
  },
  {
    name: 'duplicate key (TOML)',
    text: doc('[source]', 'distro = "debian"', 'distro = "alpine"'),
    message: 'static.toml:3: invalid TOML: key "distro" defined twice, expected each key once per table',
  },
  {
    name: 'unquoted string (TOML)',
    text: doc('', '[source]', 'distro = debian'),
    message: 'static.toml:3: invalid TOML: bad value debian, expected a "string", number, true/false, [array] or { inline table }',
    hint: 'strings need quotes: "debian"',
  },
  {
    name: 'float where an integer is expected',
    text: doc(...HEAD, ...USERS, '', '[[accounts.users]]', 'name = "web"', 'uid = 1001.0'),
    message: 'static.toml:12: accounts.users[1].uid: expected an integer, got a float (1001.0)',
  },
  {
    name: 'uid out of range',
    text: doc(...HEAD, '[[accounts.users]]', 'name = "app"', 'uid = 4294967295'),
    message: 'static.toml:8: accounts.users[0].uid: 4294967295 is out of range, expected 0..4294967294',
  },
  {
    name: 'unknown key in the second [[accounts.users]]',
    text: doc(...HEAD, ...USERS, '[[accounts.users]]', 'name = "web"', 'uidd = 1001'),
    message: 'static.toml:11: unknown key "uidd" in accounts.users[1] (did you mean "uid"?)',
  },
  {
    name: 'missing uid points at the entry header',
    text: doc(...HEAD, ...USERS, '', '[[accounts.users]]', 'name = "web"', 'home = "/srv/web"'),
    message: 'static.toml:10: missing required key "uid" in accounts.users[1]',
  },
  {
    name: 'uid shared by two users',
    text: doc(...HEAD, ...USERS, '[[accounts.users]]', 'name = "web"', 'uid = 1000'),
    message: 'static.toml:11: accounts.users[1].uid: uid 1000 is already used by user "app"',
  },
  {
    name: 'uid of a default account',
    text: doc(...HEAD, '[[accounts.users]]', 'name = "app"', 'uid = 65532'),
    message: 'static.toml:8: accounts.users[0].uid: uid 65532 is already used by user "nonroot"',
    hint: /set accounts\.defaults = false/,
  },
  {
    name: 'same user name twice',
    text: doc(...HEAD, ...USERS, '[[accounts.users]]', 'name = "app"', 'uid = 1001'),
    message: 'static.toml:10: accounts.users[1].name: user "app" is declared twice (also accounts.users[0])',
  },
  {
    name: 'group member that is not a user',
    text: doc(...HEAD, ...USERS, '[[accounts.groups]]', 'name = "web"', 'gid = 2000', 'members = ["ap"]'),
    message: 'static.toml:12: accounts.groups[0].members[0]: no user named "ap" (did you mean "app"?)',
  },
  {
    name: 'invalid account name',
    text: doc(...HEAD, '[[accounts.users]]', 'name = "App"', 'uid = 1000'),
    message:
      'static.toml:7: accounts.users[0].name: "App" is not a valid account name, expected lowercase letters, digits, "_" or "-" (at most 32, not starting with a digit or "-")',
  },
  {
    name: '[accounts.users] written as a table',
    text: doc(...HEAD, '[accounts.users]', 'name = "app"'),
    message: 'static.toml:6: accounts.users: expected an array of tables, got a table',
    hint: 'write [[accounts.users]] before each entry',
  },
  {
    name: 'relative [[paths]] path',
    text: doc(...HEAD, '[[paths]]', 'path = "data"', 'type = "directory"'),
    message: 'static.toml:7: paths[0].path: expected an absolute path, got "data"',
    hint: 'path = "/data"',
  },
  {
    name: 'path with ".."',
    text: doc(...HEAD, '[[paths]]', 'path = "/data/../etc"', 'type = "directory"'),
    message: 'static.toml:7: paths[0].path: "/data/../etc" contains "..", expected a path without parent references',
  },
  {
    name: 'decimal integer mode',
    text: doc(...HEAD, '[[paths]]', 'path = "/data"', 'type = "directory"', 'mode = 755'),
    message: 'static.toml:9: paths[0].mode: 755 is not an octal mode (TOML reads it as decimal 755 = 0o1363)',
    hint: /mode = "0755"/,
  },
  {
    name: 'mode string with a non-octal digit',
    text: doc(...HEAD, '[[paths]]', 'path = "/data"', 'type = "directory"', 'mode = "0958"'),
    message: 'static.toml:9: paths[0].mode: "0958" is not a file mode, expected octal digits up to "7777"',
  },
  {
    name: 'mode on a symlink',
    text: doc(...HEAD, '[[paths]]', 'path = "/bin/sh"', 'type = "symlink"', 'target = "busybox"', 'mode = "0777"'),
    message: 'static.toml:10: paths[0].mode is only for type = "directory" or "file"',
  },
  {
    name: 'file without content or source',
    text: doc(...HEAD, '', '[[paths]]', 'path = "/etc/motd"', 'type = "file"'),
    message: 'static.toml:7: missing "content" or "source" in paths[0]',
  },
  {
    name: 'file with both content and source',
    text: doc(...HEAD, '[[paths]]', 'path = "/etc/app.conf"', 'type = "file"', 'content = "x"', 'source = "files/app.conf"'),
    message: 'static.toml:10: paths[0]: expected either content or source, not both',
  },
  {
    name: 'duplicate path however spelled',
    text: doc(...HEAD, '[[paths]]', 'path = "/data"', 'type = "directory"', '[[paths]]', 'path = "/data/"', 'type = "directory"'),
    message: 'static.toml:10: paths[1].path: "/data" is already declared by paths[0]',
  },
  {
    name: 'misspelt path type',
    text: doc(...HEAD, '[[paths]]', 'path = "/data"', 'type = "dir"'),
    message: 'static.toml:8: paths[0].type: expected "directory", "file" or "symlink", got "dir" (did you mean "directory"?)',
  },
  {
    name: 'missing [[paths]] source file',
    text: doc(...HEAD, '[[paths]]', 'path = "/etc/app.conf"', 'type = "file"', 'source = "files/missing.conf"'),
    message: 'static.toml:9: paths[0].source: cannot read "files/missing.conf": no such file',
    hint: /relative paths start at the spec's directory/,
  },
  {
    name: 'bad port protocol',
    text: doc(...HEAD, '[image]', 'exposed-ports = ["8080/tcp", "53/udpx"]'),
    message: 'static.toml:7: image.exposed-ports[1]: expected "PORT", "PORT/tcp" or "PORT/udp", got "53/udpx"',
  },
  {
    name: 'port out of range',
    text: doc(...HEAD, '[image]', 'exposed-ports = [70000]'),
    message: 'static.toml:7: image.exposed-ports[0]: port 70000 is out of range, expected 1..65535',
  },
  {
    name: 'invalid environment variable name',
    text: doc(...HEAD, '[image.env]', 'LANG = "C.UTF-8"', '"1ABC" = "x"'),
    message: 'static.toml:8: image.env.1ABC: "1ABC" is not a valid variable name, expected letters, digits and "_", not starting with a digit',
  },
  {
    name: 'environment value that is not a string',
    text: doc(...HEAD, '[image]', 'env = { PORT = 8080 }'),
    message: 'static.toml:7: image.env.PORT: expected a string, got an integer',
    hint: 'quote it: PORT = "8080"',
  },
  {
    name: 'unknown architecture',
    text: doc('arch = ["amd64", "amd46"]', ...HEAD),
    message: 'static.toml:1: arch[1]: unknown architecture "amd46", expected "amd64" or "arm64" (did you mean "amd64"?)',
  },
  { name: 'duplicate architecture', text: doc('arch = ["arm64", "arm64"]', ...HEAD), message: 'static.toml:1: arch[1]: "arm64" is listed twice' },
  {
    name: 'tag with an empty tag part',
    text: doc('tag = "static:"', ...HEAD),
    message: 'static.toml:1: tag: "static:" is not a valid image reference: tag "" must be letters, digits, "_", "." or "-" (at most 128, not starting with "." or "-")',
  },
  {
    name: 'tag with upper case name',
    text: doc('tag = "Static:latest"', ...HEAD),
    message: 'static.toml:1: tag: "Static:latest" is not a valid image reference: the name must be lowercase letters, digits and separators (".", "_", "__", "-", "/")',
  },
  {
    name: 'negative source-date-epoch',
    text: doc('source-date-epoch = -1', ...HEAD),
    message: 'static.toml:1: source-date-epoch: -1 is out of range, expected 0..253402300799',
  },
  {
    name: 'duplicate package in a multi-line array points at the item',
    text: doc(...HEAD.slice(0, 4), 'include = [', '  "libc6",', '  "base-files",', '  "libc6=2.36-9+deb12u4",', ']'),
    message: 'static.toml:8: packages.include[2]: package "libc6" is listed twice (also packages.include[0])',
  },
  {
    name: 'package entry with spaces',
    text: doc(...HEAD.slice(0, 4), 'include = ["libc6 = 2.36"]'),
    message: 'static.toml:5: packages.include[0]: "libc6 = 2.36" contains whitespace, expected name or name=version',
    hint: 'write "libc6=2.36"',
  },
  {
    name: 'two packages in one string',
    text: doc(...HEAD.slice(0, 4), 'include = ["curl wget"]'),
    message: 'static.toml:5: packages.include[0]: "curl wget" contains whitespace, expected name or name=version',
    hint: 'list each package as its own string: "curl", "wget"',
  },
  {
    name: 'top-level key written below a table header',
    text: doc(...HEAD, 'source-date-epoch = 1700000000'),
    message: 'static.toml:6: unknown key "source-date-epoch" in [packages]',
    hint: '"source-date-epoch" is a top-level key: move it above the first [table] header',
  },
  {
    name: 'single-letter key gets no far-fetched suggestion',
    text: doc('g = 1', ...HEAD),
    message: 'static.toml:1: unknown key "g" at the top level',
  },
  {
    name: 'version range in a Debian entry',
    text: doc(...HEAD.slice(0, 4), 'include = ["libc6>=2.36"]'),
    message: 'static.toml:5: packages.include[0]: "libc6>=2.36": Debian entries pin one exact version, expected name or name=version',
  },
  {
    name: 'exclude with a version',
    text: doc(...HEAD, 'exclude = ["tzdata=2024a"]'),
    message: 'static.toml:6: packages.exclude[0]: "tzdata=2024a": expected a package name without a version',
  },
  {
    name: 'package both included and excluded',
    text: doc(...HEAD, 'exclude = ["base-files"]'),
    message: 'static.toml:6: packages.exclude[0]: package "base-files" is also in packages.include',
  },
  {
    name: 'mirror with an unsupported scheme',
    text: doc(...HEAD.slice(0, 3), 'mirror = "ftp://example.org/debian"', ...HEAD.slice(3)),
    message: 'static.toml:4: source.mirror: unsupported scheme "ftp:", expected http://, https:// or file://',
  },
  {
    name: 'keyring file that does not exist',
    text: doc(...HEAD.slice(0, 3), 'keyring = "keys/missing.gpg"', ...HEAD.slice(3)),
    message: 'static.toml:4: source.keyring: cannot read "keys/missing.gpg": no such file',
  },
  {
    name: 'local CA file that is not PEM',
    text: doc(...HEAD, '[ca-certificates]', 'local = [', '  "certs/corp.crt",', '  "certs/bad.crt",', ']'),
    message: 'static.toml:9: ca-certificates.local[1]: "certs/bad.crt" is not a PEM certificate (no BEGIN CERTIFICATE line)',
  },
  {
    name: 'misspelt stop signal',
    text: doc(...HEAD, '[image]', 'stop-signal = "SIGTREM"'),
    message: 'static.toml:7: image.stop-signal: unknown signal "SIGTREM" (did you mean "SIGTERM"?)',
  },
  {
    name: 'relative workdir',
    text: doc(...HEAD, '[image]', 'workdir = "app"'),
    message: 'static.toml:7: image.workdir: expected an absolute path, got "app"',
    hint: 'workdir = "/app"',
  },
  {
    name: 'unknown key in [os-release]',
    text: doc(...HEAD, '[os-release]', 'pretty_name = "Distroless"'),
    message: 'static.toml:7: unknown key "pretty_name" in [os-release] (did you mean "pretty-name"?)',
  },
  {
    name: 'unknown key inside an inline table',
    text: doc('image = { entrypoint = ["/app"], usr = "root" }', ...HEAD),
    message: 'static.toml:1: unknown key "usr" in [image] (did you mean "user"?)',
  },
  {
    name: 'error after a multi-line string that contains a fake header',
    text: doc(...HEAD, '[[paths]]', 'path = "/etc/motd"', 'type = "file"', 'content = """', '[image]', 'user = "x"', '"""', '[image]', 'usr = "root"'),
    message: 'static.toml:14: unknown key "usr" in [image] (did you mean "user"?)',
  },
  {
    name: 'third [[paths]] entry',
    text: doc(...HEAD, '[[paths]]', 'path = "/a"', 'type = "directory"', '[[paths]]', 'path = "/b"', 'type = "directory"', '[[paths]]', 'path = "/c"', 'type = "directory"', 'uid = -5'),
    message: 'static.toml:15: paths[2].uid: -5 is out of range, expected 0..4294967294',
  },
  {
    name: 'dotted key at the top level',
    text: doc('name = "x"', 'image.cmd = "serve"', ...HEAD),
    message: 'static.toml:2: image.cmd: expected an array of strings, got a string',
    hint: 'use the exec form: cmd = ["serve"]',
  },
  {
    name: 'CRLF line endings',
    text: ['[source]', 'distro = "debian"', 'suites = ["bookworm"]', 'merged-usr = "yes"', ''].join('\r\n'),
    message: 'static.toml:4: source.merged-usr: expected true or false, got a string',
  },
  {
    name: 'string where a table is expected',
    text: doc('source = "debian"'),
    message: 'static.toml:1: source: expected a table, got a string',
  },
  {
    name: 'control characters stay escaped on one line',
    text: doc(...HEAD.slice(0, 4), 'include = ["a\\nb"]'),
    message: 'static.toml:5: packages.include[0]: "a\\nb" contains whitespace, expected name or name=version',
  },
];

describe('parseSpec rejects invalid specs with a located, one-line message', () => {
  it('has at least 30 cases', () => assert.ok(INVALID.length >= 30));
  for (const c of INVALID) {
    it(c.name, () => {
      const e = specError(c.text);
      assert.equal(e.message, c.message);
      assert.ok(!e.message.includes('\n'));
      if (typeof c.hint === 'string') assert.equal(e.hint, c.hint);
      else if (c.hint !== undefined) assert.match(e.hint ?? '', c.hint);
    });
  }
});

describe('parseSpec accepts valid specs', () => {
  it('reads every field of a Debian spec', () => {
    const spec = parse(
      doc(
        'name = "static"',
        'tag = "registry.example.org:5000/base/debian12-static:v1"',
        'arch = ["arm64", "amd64"]',
        'source-date-epoch = 1700000000',
        '[source]',
        'distro = "debian"',
        'mirror = "http://example.org/debian/"',
        'security-mirror = "https://example.org/debian-security"',
        'suites = ["bookworm", "bookworm-updates", "bookworm-security"]',
        'components = ["main", "contrib"]',
        'keyring = ["keys/debian.gpg"]',
        'merged-usr = false',
        '[packages]',
        'include = ["base-files", "libc6=2.36-9+deb12u4"]',
        'exclude = ["tzdata"]',
        '[image]',
        'entrypoint = ["/app"]',
        'cmd = ["--serve"]',
        'env = { LANG = "C.UTF-8" }',
        'workdir = "/srv/app/"',
        'user = "app"',
        'labels = { "org.opencontainers.image.title" = "static" }',
        'annotations = { note = "x" }',
        'exposed-ports = ["8080", "53/UDP", 9090]',
        'stop-signal = "term"',
        '[accounts]',
        'defaults = true',
        '[[accounts.users]]',
        'name = "app"',
        'uid = 1000',
        'gid = 1001',
        'home = "/srv/app"',
        'shell = "/bin/sh"',
        'gecos = "App user"',
        'create-home = false',
        '[[accounts.groups]]',
        'name = "appgrp"',
        'gid = 1001',
        'members = ["app", "nonroot"]',
        '[[paths]]',
        'path = "/srv/app/data"',
        'type = "directory"',
        'mode = "0700"',
        'uid = 1000',
        'gid = 1001',
        '[[paths]]',
        'path = "/etc/app.conf"',
        'type = "file"',
        'source = "files/app.conf"',
        '[[paths]]',
        'path = "/etc/motd"',
        'type = "file"',
        'content = "hello\\n"',
        'mode = 0o600',
        '[[paths]]',
        'path = "/usr/bin/app"',
        'type = "symlink"',
        'target = "/srv/app/bin/app"',
        '[ca-certificates]',
        'bundle = false',
        'local = ["certs/corp.crt"]',
        '[os-release]',
        'pretty-name = "Distroless"',
      ),
    );
    assert.deepEqual(spec, {
      file: path.resolve(FILE),
      name: 'static',
      tag: 'registry.example.org:5000/base/debian12-static:v1',
      arch: ['arm64', 'amd64'],
      source: {
        distro: 'debian',
        mirror: 'http://example.org/debian',
        securityMirror: 'https://example.org/debian-security',
        suites: ['bookworm', 'bookworm-updates', 'bookworm-security'],
        components: ['main', 'contrib'],
        keyring: [path.join(SPEC_DIR, 'keys/debian.gpg')],
        mergedUsr: false,
      },
      packages: { include: ['base-files', 'libc6=2.36-9+deb12u4'], exclude: ['tzdata'] },
      image: {
        entrypoint: ['/app'],
        cmd: ['--serve'],
        env: [
          ['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
          ['SSL_CERT_FILE', '/etc/ssl/certs/ca-certificates.crt'],
          ['LANG', 'C.UTF-8'],
        ],
        workdir: '/srv/app',
        user: 'app',
        labels: { 'org.opencontainers.image.title': 'static' },
        annotations: { note: 'x' },
        exposedPorts: ['8080/tcp', '53/udp', '9090/tcp'],
        stopSignal: 'SIGTERM',
      },
      accounts: {
        users: [
          { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/sbin/nologin', gecos: 'root', createHome: true },
          { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent', shell: '/sbin/nologin', gecos: 'nobody', createHome: false },
          { name: 'nonroot', uid: 65532, gid: 65532, home: '/home/nonroot', shell: '/sbin/nologin', gecos: 'nonroot', createHome: true },
          { name: 'app', uid: 1000, gid: 1001, home: '/srv/app', shell: '/bin/sh', gecos: 'App user', createHome: false },
        ],
        groups: [
          { name: 'root', gid: 0, members: [] },
          { name: 'nobody', gid: 65534, members: [] },
          { name: 'tty', gid: 5, members: [] },
          { name: 'staff', gid: 50, members: [] },
          { name: 'nonroot', gid: 65532, members: [] },
          { name: 'appgrp', gid: 1001, members: ['app', 'nonroot'] },
        ],
      },
      paths: [
        { type: 'directory', path: '/srv/app/data', mode: 0o700, uid: 1000, gid: 1001 },
        { type: 'file', path: '/etc/app.conf', mode: 0o644, uid: 0, gid: 0, content: Buffer.from('port=1\n') },
        { type: 'file', path: '/etc/motd', mode: 0o600, uid: 0, gid: 0, content: Buffer.from('hello\n') },
        { type: 'symlink', path: '/usr/bin/app', target: '/srv/app/bin/app', uid: 0, gid: 0 },
      ],
      files: [],
      strip: [],
      include: [],
      layers: 'per-spec',
      layerParent: undefined,
      caCertificates: { bundle: false, local: [path.join(SPEC_DIR, 'certs/corp.crt')] },
      osRelease: { prettyName: 'Distroless' },
      sourceDateEpoch: 1700000000,
    });
  });

  it('reads an Alpine source with every field', () => {
    const spec = parse(
      doc(
        '[source]',
        'distro = "alpine"',
        'repositories = ["https://example.org/alpine/v3.20/main/", "file:///srv/alpine/community"]',
        'keys = ["keys/alpine.rsa.pub", "https://example.org/keys/a.rsa.pub"]',
        'allow-untrusted = true',
        '[packages]',
        'include = ["busybox", "musl=1.2.5-r0", "ssl_client>=1.36", "zlib<2", "tzdata~2024", "so:libc.musl-x86_64.so.1", "cmd:sh"]',
      ),
    );
    assert.deepEqual(spec.source, {
      distro: 'alpine',
      repositories: ['https://example.org/alpine/v3.20/main', 'file:///srv/alpine/community'],
      keys: [path.join(SPEC_DIR, 'keys/alpine.rsa.pub'), 'https://example.org/keys/a.rsa.pub'],
      allowUntrusted: true,
    });
    assert.equal(spec.packages.include.length, 7);
    assert.equal(spec.caCertificates.bundle, false, 'alpine does not build a bundle by default');
  });

  it('fills defaults for everything optional', () => {
    const spec = parseSpec(doc(...HEAD), 'specs/debian12/Web App.toml', FILES);
    assert.equal(spec.name, 'web-app', 'the file name, made a valid image name');
    assert.equal(spec.tag, 'web-app:latest');
    assert.equal(spec.file, path.resolve('specs/debian12/Web App.toml'));
    assert.deepEqual(spec.arch, ['amd64']);
    assert.equal(spec.sourceDateEpoch, undefined);
    assert.deepEqual(spec.source, { distro: 'debian', mirror: undefined, securityMirror: undefined, suites: ['bookworm'], components: ['main'], keyring: [], mergedUsr: true });
    assert.deepEqual(spec.packages.exclude, []);
    assert.deepEqual(spec.image, {
      entrypoint: undefined,
      cmd: undefined,
      env: [
        ['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ['SSL_CERT_FILE', '/etc/ssl/certs/ca-certificates.crt'],
      ],
      workdir: '/',
      user: 'root',
      labels: {},
      annotations: {},
      exposedPorts: [],
      stopSignal: undefined,
    });
    assert.deepEqual(spec.accounts.users.map((u) => `${u.name}:${u.uid}:${u.gid}:${u.home}:${u.createHome}`), [
      'root:0:0:/root:true',
      'nobody:65534:65534:/nonexistent:false',
      'nonroot:65532:65532:/home/nonroot:true',
    ]);
    assert.deepEqual(spec.accounts.groups.map((g) => `${g.name}:${g.gid}`), ['root:0', 'nobody:65534', 'tty:5', 'staff:50', 'nonroot:65532']);
    assert.deepEqual(spec.paths, []);
    assert.deepEqual(spec.caCertificates, { bundle: true, local: [] });
    assert.deepEqual(spec.osRelease, { prettyName: undefined });
    assert.equal(parse(doc('arch = "arm64"', ...HEAD)).arch[0], 'arm64');
  });

  it('replaces default accounts by name, in place', () => {
    const spec = parse(
      doc(...HEAD, '[[accounts.users]]', 'name = "root"', 'uid = 0', 'shell = "/bin/sh"', '[[accounts.groups]]', 'name = "staff"', 'gid = 50', 'members = ["root"]', ...USERS),
    );
    assert.deepEqual(spec.accounts.users[0], { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh', gecos: 'root', createHome: true });
    assert.deepEqual(spec.accounts.users.map((u) => u.name), ['root', 'nobody', 'nonroot', 'app']);
    assert.deepEqual(spec.accounts.groups.map((g) => `${g.name}:${g.gid}:${g.members.join(',')}`), [
      'root:0:',
      'nobody:65534:',
      'tty:5:',
      'staff:50:root',
      'nonroot:65532:',
      'app:1000:',
    ]);
  });

  it('can drop the defaults; the user then defaults to uid 0', () => {
    const spec = parse(doc(...HEAD, '[accounts]', 'defaults = false', ...USERS));
    assert.deepEqual(spec.accounts, {
      users: [{ name: 'app', uid: 1000, gid: 1000, home: '/home/app', shell: '/sbin/nologin', gecos: 'app', createHome: true }],
      groups: [{ name: 'app', gid: 1000, members: [] }],
    });
    assert.equal(spec.image.user, '0');
  });

  it('accepts the forms of image.user', () => {
    const user = (v: string) => parse(doc(...HEAD, ...USERS, '[image]', `user = ${v}`)).image.user;
    assert.equal(user('"app"'), 'app');
    assert.equal(user('"1000"'), '1000');
    assert.equal(user('"1000:1000"'), '1000:1000');
    assert.equal(user('"app:staff"'), 'app:staff');
    assert.equal(user('65532'), '65532');
  });

  it('orders env: defaults first (overridden in place), then the rest by name', () => {
    const spec = parse(doc(...HEAD, '[image.env]', 'ZED = "z"', 'SSL_CERT_FILE = "/certs.pem"', 'ALPHA = "a"', 'PATH = "/bin"', '_X = "x"', 'LANG = "C"'));
    assert.deepEqual(spec.image.env, [
      ['PATH', '/bin'],
      ['SSL_CERT_FILE', '/certs.pem'],
      ['ALPHA', 'a'],
      ['LANG', 'C'],
      ['ZED', 'z'],
      ['_X', 'x'],
    ]);
  });

  it('parses modes written as octal strings or TOML octal integers', () => {
    const mode = (v: string, type = 'file') =>
      parse(doc(...HEAD, '[[paths]]', 'path = "/x"', `type = "${type}"`, 'content = ""'.repeat(type === 'file' ? 1 : 0), `mode = ${v}`)).paths[0];
    const cases: Array<[string, number]> = [
      ['"0755"', 0o755],
      ['"755"', 0o755],
      ['"01777"', 0o1777],
      ['"0o640"', 0o640],
      ['"0"', 0],
      ['0o755', 0o755],
      ['0o7_55', 0o755],
      ['0', 0],
    ];
    for (const [written, expected] of cases) {
      const entry = mode(written);
      assert.ok(entry !== undefined && entry.type === 'file');
      assert.equal(entry.mode, expected, `mode = ${written}`);
    }
    const dir = mode('"1777"', 'directory');
    assert.ok(dir !== undefined && dir.type === 'directory' && dir.mode === 0o1777);
    assert.throws(() => mode('"17777"'), /paths\[0\]\.mode: "17777" is not a file mode/);
    assert.throws(() => mode('0o17777'), /paths\[0\]\.mode: 0o17777 is out of range, expected at most 0o7777/);
    assert.throws(() => mode('0x1ED'), /0x1ED is not an octal mode/);
    assert.throws(() => mode('7.55'), /expected an octal string such as "0755", got a float/);
  });
});

describe('docs/spec.md', () => {
  it('has examples that are valid specs', () => {
    const markdown = readFileSync(new URL('../../docs/spec.md', import.meta.url), 'utf8');
    const examples = [...markdown.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    assert.equal(examples.length, 4);
    const anyFile = () => Buffer.from(PEM);
    assert.equal(parseSpec(examples[0]!, 'app.toml', anyFile).source.distro, 'debian');
    assert.equal(parseSpec(examples[1]!, 'alpine.toml', anyFile).source.distro, 'alpine');
    // The include example builds on the shipped specs, read from the repository.
    const custom = parseSpec(examples[2]!, path.join(fileURLToPath(new URL('../..', import.meta.url)), 'app-base.toml'));
    assert.equal(custom.layerParent, fileURLToPath(new URL('../../specs/debian12/cc.toml', import.meta.url)));
    assert.deepEqual(parseSpec(`${examples[3]!}${doc(...HEAD)}`, FILE, FILES).strip.length, 4);
  });
});

describe('loadSpec', () => {
  it('resolves relative paths from the spec directory, not the working directory', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'baseimg-spec-'));
    try {
      mkdirSync(path.join(dir, 'keys'));
      mkdirSync(path.join(dir, 'files'));
      writeFileSync(path.join(dir, 'keys', 'debian.gpg'), 'key');
      writeFileSync(path.join(dir, 'files', 'app.conf'), 'listen=8080\n');
      const specFile = path.join(dir, 'app.toml');
      writeFileSync(
        specFile,
        doc('[source]', 'distro = "debian"', 'suites = ["bookworm"]', 'keyring = "keys/debian.gpg"', '[packages]', 'include = []', '[[paths]]', 'path = "/etc/app.conf"', 'type = "file"', 'source = "./files/app.conf"'),
      );
      const spec = await loadSpec(path.relative(process.cwd(), specFile));
      assert.equal(spec.file, specFile);
      assert.equal(spec.name, 'app');
      assert.ok(spec.source.distro === 'debian');
      assert.deepEqual(spec.source.keyring, [path.join(dir, 'keys', 'debian.gpg')]);
      const file = spec.paths[0];
      assert.ok(file !== undefined && file.type === 'file');
      assert.equal(file.content.toString(), 'listen=8080\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the spec as given in errors, and reports a missing spec', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'baseimg-spec-'));
    try {
      const rel = path.relative(process.cwd(), path.join(dir, 'bad.toml'));
      writeFileSync(path.join(dir, 'bad.toml'), doc(...HEAD, '[image]', 'workdri = "/"'));
      await assert.rejects(loadSpec(rel), { name: 'BaseimgError', message: `${rel}:7: unknown key "workdri" in [image] (did you mean "workdir"?)` });
      await assert.rejects(loadSpec('nope/missing.toml'), { name: 'BaseimgError', code: 'SPEC', message: 'cannot read spec nope/missing.toml: no such file' });
      writeFileSync(path.join(dir, 'latin1.toml'), Buffer.from([0x61, 0x20, 0x3d, 0x20, 0x22, 0xe9, 0x22, 0x0a]));
      await assert.rejects(loadSpec(path.join(dir, 'latin1.toml')), /invalid TOML: the file is not valid UTF-8 text/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('locate', () => {
  const text = doc(
    'name = "x"', // 1
    'arch = [', // 2
    '  "amd64", # first', // 3
    '  "arm64",', // 4
    ']', // 5
    '[source]', // 6
    "notes = '''", // 7
    '[image]', // 8
    "'''", // 9
    'distro = "debian"', // 10
    '[[accounts.users]]', // 11
    'name = "a"', // 12
    '[[accounts.users]]', // 13
    '"name" = "b"', // 14
    'home.dir = "/b"', // 15
    '[image]', // 16
    'env = { LANG = "C", "X.Y" = "1" }', // 17
    '[[paths]]', // 18
    'path = "/a"', // 19
    '[[paths]]', // 20
    'mode = 0o755 # comment', // 21
    'users = [ { name = "c" },', // 22
    '  { name = "d" } ]', // 23
  );
  const index = SourceIndex.build(text);
  const cases: Array<[Array<string | number>, number | undefined]> = [
    [['name'], 1],
    [['arch'], 2],
    [['arch', 0], 3],
    [['arch', 1], 4],
    [['source'], 6],
    [['source', 'distro'], 10],
    [['source', 'suites'], 6],
    [['accounts', 'users'], 11],
    [['accounts', 'users', 0], 11],
    [['accounts', 'users', 0, 'name'], 12],
    [['accounts', 'users', 1, 'name'], 14],
    [['accounts', 'users', 1, 'home', 'dir'], 15],
    [['accounts', 'users', 1, 'uid'], 13],
    [['image'], 16],
    [['image', 'env', 'LANG'], 17],
    [['image', 'env', 'X.Y'], 17],
    [['paths', 1, 'mode'], 21],
    [['paths', 1, 'users', 1, 'name'], 23],
    [['nothing'], undefined],
  ];
  for (const [keyPath, line] of cases) {
    it(`finds ${JSON.stringify(keyPath)} on line ${line}`, () => assert.equal(index.lineOf(keyPath), line));
  }
  it('keeps the source text of scalars', () => {
    assert.equal(index.rawValueOf(['paths', 1, 'mode']), '0o755');
    assert.equal(locate('a = 1\r\nb = 2\r\n', ['b']), 2);
  });
  it('is not fooled by quotes, brackets and comment signs inside strings', () => {
    const tricky = doc(
      'a = "x # [not] \\" y"', // 1
      "b = 'c:\\path[#'", // 2
      'c = """one \\""" still', // 3
      '[[fake]]', // 4
      'two"""', // 5
      'd = [ "]", { e = "}" }, [ "[" ] ]', // 6
      'f = 1', // 7
    );
    assert.equal(locate(tricky, ['f']), 7);
    assert.equal(locate(tricky, ['fake']), undefined);
    assert.equal(locate(tricky, ['d', 1, 'e']), 6);
    assert.equal(locate(tricky, ['d', 2, 0]), 6);
  });

  it('counts nested array-of-tables indexes per parent', () => {
    const nested = doc('[[a]]', '[[a.b]]', '[[a.b]]', 'x = 1', '[[a]]', '[[a.b]]', 'x = 2');
    assert.equal(locate(nested, ['a', 0, 'b', 1, 'x']), 4);
    assert.equal(locate(nested, ['a', 1, 'b', 0, 'x']), 7);
  });
});

describe('parseSpec on arbitrary input', () => {
  /** Either a Spec or a one-line BaseimgError naming the file; never anything else. */
  function checkOutcome(text: string): void {
    try {
      const spec = parseSpec(text, FILE, FILES);
      assert.equal(typeof spec.name, 'string');
    } catch (e) {
      if (!(e instanceof BaseimgError)) throw e;
      assert.ok(e.message.startsWith(FILE), e.message);
      assert.ok(!/[\r\n]/.test(e.message), e.message);
    }
  }

  it('never throws anything but a BaseimgError for random text', { timeout: 120_000 }, () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), checkOutcome), { numRuns: 2000 });
  });

  const VALID = doc(
    'name = "static"',
    '[source]',
    'distro = "debian"',
    'suites = ["bookworm"]',
    '[packages]',
    'include = ["base-files", "libc6"]',
    '[image]',
    'entrypoint = ["/app"]',
    'user = "nonroot"',
    'env = { LANG = "C.UTF-8" }',
    '[[accounts.users]]',
    'name = "app"',
    'uid = 1000',
    '[[paths]]',
    'path = "/data"',
    'type = "directory"',
    'mode = "0755"',
  );
  const TOKENS = ['[', ']', '[[', ']]', '{', '}', '"', "'", '"""', '=', ',', '.', '\n', '#', ' ', '0o17', '1.5', '-1', 'true', 'x', 'uid', '"file"', '[[paths]]', '[image]', '\r\n', '\\', '99999999999999999999'];

  it('never throws anything but a BaseimgError for mutated specs', { timeout: 120_000 }, () => {
    const edit = fc.record({ at: fc.nat(VALID.length), remove: fc.nat(6), insert: fc.constantFrom(...TOKENS) });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let text = VALID;
        for (const { at, remove, insert } of edits) {
          const i = Math.min(at, text.length);
          text = text.slice(0, i) + insert + text.slice(i + remove);
        }
        checkOutcome(text);
      }),
      { numRuns: 3000 },
    );
  });
});
