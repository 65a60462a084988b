/**
 * Alpine test material: where the shared fixtures are, RSA keys made on
 * the spot, v2 .apk files and APKINDEX.tar.gz files built and signed the
 * way abuild does (signature member, then the signed member; tars cut
 * before their end blocks where abuild cuts them), and repository layouts
 * (<dir>/<repo>/<arch>/APKINDEX.tar.gz + .apk files) to serve on 127.0.0.1.
 * Written independently of src/ so the tests check src/ against it.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gzipSync, inflateRawSync } from 'node:zlib';
import { PROJECT_ROOT } from './cli.js';
import { rawTar, type RawTarEntry } from './make-deb.js';

/** ../shared/fixtures/alpine beside the clone (see its PROVENANCE.md). */
export const ALPINE_FIXTURES = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures', 'alpine');
export const haveAlpineFixtures = (): boolean => existsSync(join(ALPINE_FIXTURES, 'PROVENANCE.md'));

/**
 * For describe(..., { skip }): false when the fixtures are there, else why
 * the tests skip. Under CI=true their absence is a failure instead.
 */
export function alpineFixturesMissing(): string | false {
  if (haveAlpineFixtures()) return false;
  const why = `Alpine fixtures not found at ${ALPINE_FIXTURES} (../shared/fixtures/alpine beside the clone)`;
  if (process.env.CI === 'true') throw new Error(`${why}; CI=true requires them`);
  return why;
}
export const fixture = (rel: string): string => join(ALPINE_FIXTURES, rel);
export const fixtureKey = (name: string): string => join(ALPINE_FIXTURES, 'keys', name);

export interface ApkTestKey {
  /** Key file name, as signatures name it ("test-1.rsa.pub"). */
  name: string;
  privateKey: KeyObject;
  publicPem: string;
}

export function generateApkKey(name: string, bits = 2048): ApkTestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { name, privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export type SignatureType = 'RSA' | 'RSA256';

/** A signature member over `signed` (raw gzip member bytes), cut before its end blocks as abuild does. */
export function signatureMember(signed: Buffer, keys: ApkTestKey[], type: SignatureType = 'RSA256'): Buffer {
  const digest = type === 'RSA' ? 'sha1' : 'sha256';
  const entries: RawTarEntry[] = keys.map((k) => ({ name: `.SIGN.${type}.${k.name}`, content: sign(digest, signed, k.privateKey), mode: 0o644 }));
  return gzipSync(rawTar(entries, { trailer: false }));
}

// ---------------------------------------------------------------- .apk

export interface ApkFileEntry {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char';
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  /** Override (or with null: omit) the APK-TOOLS.checksum.SHA1 record. */
  sha1?: string | null;
  pax?: Record<string, string>;
}

export interface ApkSpec {
  name: string;
  version: string;
  arch?: string;
  depends?: string[];
  provides?: string[];
  installIf?: string[];
  replaces?: string[];
  origin?: string;
  providerPriority?: number;
  entries?: ApkFileEntry[];
  scripts?: Record<string, string>;
  /** Leave datahash out of .PKGINFO (old-style package: the signature covers control + data). */
  noDatahash?: boolean;
  /** Sign with these keys (none: unsigned). */
  keys?: ApkTestKey[];
  signatureType?: SignatureType;
  builddate?: number;
  /** Bypass for hostile tests: the data member verbatim (gzip bytes), instead of one made from `entries`. */
  rawDataGz?: Buffer;
  /** .PKGINFO "size" to declare instead of the real one (a decompression bomb lies about it). */
  declaredSize?: number;
}

export interface BuiltApk {
  file: Buffer;
  spec: ApkSpec;
  /** "Q1…" of the control member: the index C:. */
  checksum: string;
  /** .PKGINFO "size" (bytes of file content). */
  installedSize: number;
}

const sha1Hex = (data: Buffer | string): string => createHash('sha1').update(data).digest('hex');

/** The data tar as abuild writes it: PAX checksums on files and symlinks; a hard link carries its target's checksum and mode. */
function dataTar(entries: ApkFileEntry[]): { tar: Buffer; size: number } {
  let size = 0;
  const files = new Map<string, { sha1: string; mode: number | undefined }>();
  const raw: RawTarEntry[] = entries.map((e) => {
    const type = e.type ?? 'file';
    const content = type === 'file' ? e.content ?? '' : undefined;
    if (content !== undefined) size += Buffer.byteLength(content);
    const target = type === 'hardlink' ? files.get(e.linkname!) : undefined;
    const pax: Record<string, string> = { ...e.pax };
    const sum = e.sha1 !== undefined ? e.sha1 : type === 'file' ? sha1Hex(content!) : type === 'symlink' ? sha1Hex(e.linkname!) : target?.sha1 ?? null;
    if (sum !== null) pax['APK-TOOLS.checksum.SHA1'] = sum;
    if (type === 'file') files.set(e.path, { sha1: sum ?? '', mode: e.mode });
    const mode = e.mode ?? target?.mode;
    return { name: e.path, type, content, mode, uid: e.uid, gid: e.gid, linkname: e.linkname, pax, longNames: 'pax' };
  });
  return { tar: rawTar(raw), size };
}

function pkginfo(spec: ApkSpec, size: number, datahash: string | undefined): string {
  const lines = [
    '# Generated by the baseimg test suite',
    `pkgname = ${spec.name}`,
    `pkgver = ${spec.version}`,
    `pkgdesc = test package ${spec.name}`,
    'url = ',
    `builddate = ${spec.builddate ?? 1700000000}`,
    `size = ${size}`,
    `arch = ${spec.arch ?? 'x86_64'}`,
    `origin = ${spec.origin ?? spec.name}`,
    'license = MIT',
    ...(spec.providerPriority !== undefined ? [`provider_priority = ${spec.providerPriority}`] : []),
    ...(spec.replaces ?? []).map((r) => `replaces = ${r}`),
    ...(spec.depends ?? []).map((d) => `depend = ${d}`),
    ...(spec.provides ?? []).map((p) => `provides = ${p}`),
    ...(spec.installIf?.length ? [`install_if = ${spec.installIf.join(' ')}`] : []),
    ...(datahash !== undefined ? [`datahash = ${datahash}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

export function makeApk(spec: ApkSpec): BuiltApk {
  const { tar, size } = spec.rawDataGz ? { tar: undefined, size: 0 } : dataTar(spec.entries ?? []);
  const data = spec.rawDataGz ?? gzipSync(tar!);
  const datahash = spec.noDatahash ? undefined : createHash('sha256').update(data).digest('hex');
  const controlEntries: RawTarEntry[] = [
    { name: '.PKGINFO', content: pkginfo(spec, spec.declaredSize ?? size, datahash), mode: 0o644 },
    ...Object.entries(spec.scripts ?? {}).map(([name, body]) => ({ name, content: body, mode: 0o755 })),
  ];
  const control = gzipSync(rawTar(controlEntries, { trailer: false }));
  const checksum = `Q1${createHash('sha1').update(control).digest('base64')}`;
  const signed = spec.noDatahash ? Buffer.concat([control, data]) : control;
  const signature = spec.keys?.length ? signatureMember(signed, spec.keys, spec.signatureType) : Buffer.alloc(0);
  return { file: Buffer.concat([signature, control, data]), spec, checksum, installedSize: size };
}

// ---------------------------------------------------------------- members

/** [start, end) of every gzip member (header flags are assumed clear, as gzip -n and abuild write them). */
export function gzipMembers(buf: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let at = 0;
  while (at < buf.length) {
    const r = inflateRawSync(buf.subarray(at + 10), { info: true }) as unknown as { engine: { bytesWritten: number } };
    const end = at + 10 + r.engine.bytesWritten + 8;
    out.push([at, end]);
    at = end;
  }
  return out;
}

/** A copy of `buf` with one byte flipped at `offset`. */
export function flipByte(buf: Buffer, offset: number): Buffer {
  const copy = Buffer.from(buf);
  copy[offset] = copy[offset]! ^ 0x01;
  return copy;
}

// ---------------------------------------------------------------- APKINDEX

export interface IndexEntryInput {
  /** The .apk file. Its .PKGINFO provides the fields; C: and S: come from its bytes. */
  apk: Buffer;
  /** Field lines to add or replace ({ C: 'Q1…' } to lie about the checksum). */
  override?: Record<string, string>;
}

/** The control member's .PKGINFO of an .apk: key → values. */
export function readPkgInfo(apk: Buffer): Map<string, string[]> {
  const members = gzipMembers(apk);
  for (const [start, end] of members.slice(0, 2)) {
    const tar = inflateRawSync(apk.subarray(start + 10, end - 8));
    const text = tarFile(tar, '.PKGINFO');
    if (text === undefined) continue;
    const info = new Map<string, string[]>();
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+) = ?(.*)$/.exec(line);
      if (m) info.set(m[1]!, [...(info.get(m[1]!) ?? []), m[2]!]);
    }
    return info;
  }
  throw new Error('no .PKGINFO in the first two members');
}

function controlChecksum(apk: Buffer): string {
  const members = gzipMembers(apk);
  const [first, second] = members;
  const firstTar = inflateRawSync(apk.subarray(first![0] + 10, first![1] - 8));
  const control = tarFile(firstTar, '.PKGINFO') !== undefined ? first! : second!;
  return `Q1${createHash('sha1').update(apk.subarray(control[0], control[1])).digest('base64')}`;
}

/** A file's text from an in-memory ustar (names without "./"). */
function tarFile(tar: Buffer, want: string): string | undefined {
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) return undefined;
    const name = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    if (name.replace(/^\.\//, '') === want) return tar.subarray(at + 512, at + 512 + size).toString('utf8');
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

export function indexEntry(input: IndexEntryInput): string {
  const info = readPkgInfo(input.apk);
  const one = (k: string): string | undefined => info.get(k)?.at(-1);
  const list = (k: string): string | undefined => (info.get(k)?.length ? info.get(k)!.join(' ') : undefined);
  const fields: Array<[string, string | undefined]> = [
    ['C', controlChecksum(input.apk)],
    ['P', one('pkgname')],
    ['V', one('pkgver')],
    ['A', one('arch')],
    ['S', String(input.apk.length)],
    ['I', one('size')],
    ['T', one('pkgdesc')],
    ['U', one('url')],
    ['L', one('license')],
    ['o', one('origin')],
    ['t', one('builddate')],
    ['k', one('provider_priority')],
    ['D', list('depend')],
    ['p', list('provides')],
    ['i', list('install_if')],
  ];
  const merged = new Map(fields.filter((f): f is [string, string] => f[1] !== undefined));
  for (const [k, v] of Object.entries(input.override ?? {})) merged.set(k, v);
  return [...merged].map(([k, v]) => `${k}:${v}\n`).join('');
}

export interface IndexOptions {
  keys?: ApkTestKey[];
  signatureType?: SignatureType;
  description?: string;
}

export function makeApkIndex(entries: IndexEntryInput[], options: IndexOptions = {}): Buffer {
  const text = entries.map((e) => `${indexEntry(e)}\n`).join('');
  const index = gzipSync(rawTar([
    { name: 'DESCRIPTION', content: options.description ?? '', mode: 0o644 },
    { name: 'APKINDEX', content: text, mode: 0o644 },
  ]));
  const signature = options.keys?.length ? signatureMember(index, options.keys, options.signatureType) : Buffer.alloc(0);
  return Buffer.concat([signature, index]);
}

// ---------------------------------------------------------------- layouts

export interface RepoFiles {
  /** Repository directory name under the served root ("main"). */
  name: string;
  arch?: string;
  index: Buffer;
  /** File name → bytes (or a path to copy). */
  apks: Record<string, Buffer | string>;
}

/** Writes <root>/<name>/<arch>/... and returns the repository path relative to the root ("/main"). */
export async function writeRepo(root: string, repo: RepoFiles): Promise<string> {
  const dir = join(root, repo.name, repo.arch ?? 'x86_64');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'APKINDEX.tar.gz'), repo.index);
  for (const [name, content] of Object.entries(repo.apks)) {
    if (typeof content === 'string') await copyFile(content, join(dir, name));
    else await writeFile(join(dir, name), content);
  }
  return `/${repo.name}`;
}

export async function readFixture(rel: string): Promise<Buffer> {
  return readFile(fixture(rel));
}
