/**
 * The index scanner must give the answers of the full deb822 parser: the
 * same paragraphs, the same key values (exact spelling first, then any
 * case), and the same errors, except that a repeated non-key field is only
 * reported when its paragraph is read.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { field, parseDeb822Text, type Paragraph } from '../../src/distro/debian/deb822.js';
import { KEY_FIELDS, scanPackagesIndex, type ScannedIndex } from '../../src/distro/debian/index-scan.js';
import { BaseimgError } from '../../src/util/errors.js';

const SOURCE = 'http://mirror.invalid/Packages';

const get = (p: Paragraph, name: string): string | undefined =>
  Object.prototype.hasOwnProperty.call(p, name) ? p[name] : field(p, name);

function attempt<T>(fn: () => T): T | BaseimgError {
  try {
    return fn();
  } catch (err) {
    assert.ok(err instanceof BaseimgError, `unexpected ${String(err)}`);
    return err;
  }
}

const lineOf = (message: string): number => Number(/: line (\d+): /.exec(message)?.[1] ?? Infinity);
const nonKeyDuplicate = (message: string): boolean => {
  const name = /duplicate field "(.*)"$/.exec(message)?.[1];
  return name !== undefined && !(KEY_FIELDS as readonly string[]).includes(name);
};

/** Asserts that scanning `bytes` agrees with parsing them. */
function agree(bytes: Buffer): void {
  const parsed = attempt(() => parseDeb822Text(bytes.toString('utf8'), { source: SOURCE }));
  const scanned = attempt(() => scanPackagesIndex(bytes, { source: SOURCE }));
  // Reading every paragraph (and its keys) is what a full parse does.
  const read = scanned instanceof BaseimgError ? scanned : attempt(() => readAll(scanned));
  if (parsed instanceof BaseimgError) {
    assert.ok(read instanceof BaseimgError, `parser: ${parsed.message}; scanner accepted`);
    if (read.message !== parsed.message) {
      // Only a repeated non-key field may be found later than the parser finds it.
      assert.ok(nonKeyDuplicate(parsed.message) && lineOf(parsed.message) < lineOf(read.message), `parser: ${parsed.message}; scanner: ${read.message}`);
    }
    return;
  }
  assert.ok(!(read instanceof BaseimgError), `scanner: ${read instanceof BaseimgError ? read.message : ''}`);
  assert.deepEqual(read.paragraphs, parsed);
  for (const [i, p] of parsed.entries()) {
    for (const k of KEY_FIELDS) assert.equal(read.keys[i]![k], get(p, k), `paragraph ${i} key ${k}`);
  }
}

function readAll(index: ScannedIndex): { paragraphs: Paragraph[]; keys: Array<Record<string, string | undefined>> } {
  const paragraphs: Paragraph[] = [];
  const keys: Array<Record<string, string | undefined>> = [];
  for (let i = 0; i < index.count; i++) {
    keys.push(Object.fromEntries(KEY_FIELDS.map((k) => [k, index.key(i, k)])));
    paragraphs.push(index.paragraph(i));
  }
  return { paragraphs, keys };
}

describe('scanPackagesIndex', () => {
  it('finds paragraphs and key fields of a Packages file', () => {
    const text = [
      'Package: libc6',
      'Version: 2.36-9+deb12u4',
      'Architecture: amd64',
      'Provides: libc6-x86-64 ',
      'Description: GNU C Library: Shared libraries',
      ' Contains the standard libraries.',
      ' .',
      'Filename: pool/main/g/glibc/libc6_2.36-9+deb12u4_amd64.deb',
      'Size: 2757936',
      `SHA256: ${'ab'.repeat(32)}`,
      '',
      'Package: tzdata',
      'Version: 2024a-0+deb12u1',
      'Architecture: all',
      '',
    ].join('\n');
    const index = scanPackagesIndex(Buffer.from(text), { source: SOURCE });
    assert.equal(index.count, 2);
    assert.equal(index.key(0, 'Provides'), 'libc6-x86-64');
    assert.equal(index.key(0, 'Size'), '2757936');
    assert.equal(index.key(1, 'Provides'), undefined);
    assert.equal(index.paragraph(0).Description, 'GNU C Library: Shared libraries\n Contains the standard libraries.\n .');
    agree(Buffer.from(text));
  });

  it('takes other spellings, folded key fields, CRLF and a BOM as the parser does', () => {
    for (const text of [
      'package: a\nPackage: b\nVERSION: 1\n',
      'Package: a\nProvides: x,\n y\nVersion:\n 2\n',
      '\ufeffPackage: a\r\nVersion: 1 \r\n\r\n \t\r\nPackage: b\r\n',
      'Package: a\nPacKage: b\n',
      'Package: a\n\u212aey: b\n',
      'Package: a\nSize: 1\nSize: 2\n',
      'Package: a\npackage: b\npackage: c\n',
      'Package: a\nTag: 1\nTag: 2\n\nPackage: b\nVersion\n',
      'Package: a\n\n continued\n',
      'Pack age: a\n',
      ': a\n',
      'Package: last-line-without-newline',
    ]) {
      agree(Buffer.from(text));
    }
  });

  it('agrees with the parser on generated input', () => {
    const names = fc.constantFrom(...KEY_FIELDS, 'package', 'PROVIDES', 'Sha256', 'Depends', 'Description', 'Tag', 'X');
    const line = fc.oneof(
      fc.tuple(names, fc.constantFrom('', ' ', ':', '  v  ', ' 1.0-2', ' a, b (>= 1)', ' é', '\t\tx\t')).map(([n, v]) => `${n}:${v}`),
      fc.constantFrom('', ' ', '\t', ' .', ' more text', '\tcontinued', '#c', 'bad line', ': empty', 'a b: c'),
      fc.string({ maxLength: 6 }),
    );
    const document = fc.tuple(fc.boolean(), fc.array(line, { maxLength: 30 }), fc.constantFrom('\n', '\r\n'), fc.boolean()).map(
      ([bom, lines, eol, trailing]) => (bom ? '\ufeff' : '') + lines.join(eol) + (trailing ? eol : ''),
    );
    fc.assert(fc.property(document, (text) => agree(Buffer.from(text))), { numRuns: 2000 });
  });

  it('agrees with the parser on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => agree(Buffer.from(bytes))), { numRuns: 1000 });
  });
});
