/**
 * The spec loader (TOML → validated Spec) on generated documents: tables
 * and keys the schema knows, near-misses of them, and values of every TOML
 * type (huge and negative integers, octal, floats, dates, nested arrays and
 * inline tables, odd strings), so that inputs get past the TOML parser and
 * deep into validation. Outcome: a Spec, or a BaseimgError with code SPEC
 * whose single-line message starts with the file name ("FILE:LINE: …" when
 * a line is known; an included file's own name for an error inside it).
 * Never a crash, never a hang.
 *
 * test/unit/spec.test.ts ("parseSpec on arbitrary input") also runs random
 * and mutated text; its 64-case table checks the messages themselves.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSpec } from '../../src/spec/load.js';
import { fuzzParameters, testTimeout, typedOutcome } from '../helpers/fuzz.js';

const FILE = 'fuzz.toml';

/** readLocal: two files exist (a keyring and a PEM), everything else is missing. */
function readLocal(absPath: string): Buffer {
  if (absPath.endsWith('/keys/k.gpg')) return Buffer.from('gpg');
  if (absPath.endsWith('/c.crt')) return Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  throw Object.assign(new Error(`ENOENT: ${absPath}`), { code: 'ENOENT' });
}

const VALUES = [
  '"x"', '""', '"debian"', '"alpine"', '"bookworm"', '"/abs/path"', '"rel/path"', '"keys/k.gpg"', '"c.crt"', '"http://127.0.0.1/debian"',
  '"0755"', '"0o755"', '"nonroot"', '"root:root"', '"1000:1000"', '"8080/tcp"', '"SIGTERM"', '"20260701T000000Z"', '"a\\u0000b"', '"\\ud7ff"',
  '0', '1', '-1', '0o755', '0x10', '0b101', '755', '1000', '65534', '4294967294', '4294967295', '253402300799', '9223372036854775807', '1.5', 'inf', 'nan',
  'true', 'false', '1979-05-27T07:32:00Z', '1979-05-27', '07:32:00',
  '[]', '["a"]', '["a", "a"]', '["amd64", "arm64"]', '[1, "a"]', '[[1], [2]]', '["base-files", "libc6=2.36"]',
  '{}', '{ LANG = "C.UTF-8" }', '{ a = 1 }', '{ "org.opencontainers.image.title" = "t" }', '{ x = { y = "z" } }',
];
const TOP = ['name', 'tag', 'arch', 'source-date-epoch', 'include', 'nmae'];
const TABLES: Record<string, string[]> = {
  source: ['distro', 'mirror', 'security-mirror', 'snapshot', 'snapshot-base', 'suites', 'components', 'keyring', 'merged-usr', 'repositories', 'keys', 'allow-untrusted', 'mirorr'],
  packages: ['include', 'exclude', 'incldue'],
  image: ['entrypoint', 'cmd', 'env', 'workdir', 'user', 'labels', 'annotations', 'exposed-ports', 'stop-signal', 'entrypont'],
  accounts: ['defaults'],
  'ca-certificates': ['bundle', 'local'],
  'os-release': ['pretty-name'],
};
const ARRAY_TABLES: Record<string, string[]> = {
  'accounts.users': ['name', 'uid', 'gid', 'home', 'shell', 'gecos', 'create-home'],
  'accounts.groups': ['name', 'gid', 'members'],
  paths: ['path', 'type', 'mode', 'uid', 'gid', 'content', 'source', 'target'],
};

const value = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...VALUES) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)) });
const assignments = (keys: string[]): fc.Arbitrary<string[]> =>
  fc.uniqueArray(fc.constantFrom(...keys), { maxLength: keys.length }).chain((ks) => fc.tuple(...ks.map((k) => value.map((v) => `${k} = ${v}`))));

/** A document: top-level keys, some tables (usually [source] and [packages]), some array-of-tables entries. */
const specDocument = fc
  .tuple(
    assignments(TOP),
    fc.subarray(Object.keys(TABLES)).chain((names) => fc.tuple(...names.map((t) => assignments(TABLES[t]!).map((lines) => [`[${t}]`, ...lines])))),
    fc.array(fc.constantFrom(...Object.keys(ARRAY_TABLES)).chain((t) => assignments(ARRAY_TABLES[t]!).map((lines) => [`[[${t}]]`, ...lines])), { maxLength: 3 }),
    fc.constantFrom('\n', '\r\n'),
  )
  .map(([top, tables, arrays, eol]) => [...top, ...tables.flat(), ...arrays.flat()].join(eol) + eol);

/** A valid Debian base the generated keys are added to, so validation goes past the required keys. */
const onValidBase = specDocument.map((doc) => `[source]\ndistro = "debian"\nsuites = ["bookworm"]\n[packages]\ninclude = []\n${doc.replace(/^\[(source|packages)\]$/gm, '[$1-x]')}`);

function check(text: string): void {
  const { value: spec, error } = typedOutcome('parseSpec', () => parseSpec(text, FILE, readLocal));
  if (spec !== undefined) {
    assert.equal(typeof spec.name, 'string');
    return;
  }
  assert.equal(error.code, 'SPEC', error.message);
  // An error inside a file the spec includes names that file instead.
  assert.match(error.message, /^(fuzz\.toml|\S*c\.crt|\S*keys\/k\.gpg)(:\d+)?: /, 'the message names the file');
  assert.ok(!/[\r\n]/.test(error.message), `not one line: ${error.message}`);
}

describe('spec loader on generated documents', () => {
  it('schema-shaped documents: a Spec or a located SPEC error', { timeout: testTimeout() }, () => {
    fc.assert(fc.property(specDocument, check), fuzzParameters());
  });

  it('the same keys on top of a valid spec (validation past the required keys)', { timeout: testTimeout() }, () => {
    fc.assert(fc.property(onValidBase, check), fuzzParameters());
  });
});
