/**
 * Builds a small Debian archive on disk with the real layout (pool/, dists/<suite>/...,
 * Packages indices, Release/InRelease/Release.gpg, by-hash), plus hooks to tamper with it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { compress, compressionSuffix, debControlFields, decompress, makeDeb, type DebSpec } from './make-deb.js';
import { clearsign, detachSign, generateTestKey, keyringOf, type TestKey } from './pgp.js';

export interface SuiteSpec {
  /** Directory under dists/, as clients request it ("fixture-security"). */
  name: string;
  /** Suite: field (default: name). */
  suite?: string;
  /** Codename: field (default: name). */
  codename?: string;
  version?: string;
  origin?: string;
  label?: string;
  description?: string;
  components: Record<string, DebSpec[]>;
  /** Default ['amd64']. Architecture "all" packages are listed in every binary-<arch> index. */
  architectures?: string[];
  date?: Date;
  validUntil?: Date;
  /** Default true, as on the Debian archive. */
  acquireByHash?: boolean;
  /** Extra Release fields, written just before Description. */
  extraFields?: Record<string, string>;
}

export type PackagesCompression = 'xz' | 'gz' | 'none';

export interface DebianRepoOptions {
  suites: SuiteSpec[];
  /** Keys that sign InRelease/Release.gpg (default: one generated test key). */
  signingKeys?: TestKey[];
  /** Shorthand for signingKeys: [signingKey]. */
  signingKey?: TestKey;
  /** Keys put in keyring.gpg (default: the signing keys). */
  trustedKeys?: TestKey[];
  /** Write neither InRelease nor Release.gpg. */
  unsigned?: boolean;
  /** Which Packages files to write (default ['xz', 'gz']; 'none' is the uncompressed one). */
  packagesCompression?: PackagesCompression[];
  /** Packages carry the full long Description instead of Debian's short one plus Description-md5. */
  fullDescriptions?: boolean;
}

export interface BuiltPackage {
  suite: string;
  component: string;
  name: string;
  version: string;
  architecture: string;
  /** Relative to the archive root, as in Filename: ("pool/main/g/glibc/libc6_2.36-9_amd64.deb"). */
  poolPath: string;
  /** Absolute path on disk. */
  debPath: string;
  sha256: string;
  md5: string;
  size: number;
  spec: DebSpec;
  /** The paragraph as written in the Packages index (ends with "\n"). */
  indexParagraph: string;
}

export interface DebianRepo {
  root: string;
  keyringPath: string;
  signingKeys: TestKey[];
  packages: BuiltPackage[];
  /** The package named `name`, from the first suite (or the one given) and the first matching architecture. */
  pkg(name: string, where?: { suite?: string; architecture?: string }): BuiltPackage;
  /** Rewrites a file below root (no re-indexing, no re-signing). */
  tamperFile(relPath: string, mutate: (data: Buffer) => Buffer | string): Promise<void>;
  /** Re-signs dists/<suite>/Release as it is now on disk; optionally with other keys or at another time. */
  resign(suite: string, options?: { keys?: TestKey[]; date?: Date }): Promise<void>;
  /** Sets (string) or removes (null) Release header fields, then re-signs. */
  rewriteRelease(suite: string, fields: Record<string, string | null>): Promise<void>;
  /** Recomputes the Release checksum sections from the index files on disk, then re-signs. */
  reindex(suite: string): Promise<void>;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

/** "Sat, 21 Nov 2026 09:15:44 UTC", the form dak writes. */
export function releaseDate(date: Date): string {
  return date.toUTCString().replace(/GMT$/, 'UTC');
}

function sourceName(spec: DebSpec): string {
  return (spec.control?.Source ?? spec.name).replace(/\s*\(.*\)\s*$/, '').trim();
}

/** pool/<component>/<prefix>/<source>/<name>_<version without epoch>_<arch>.deb */
export function poolPathOf(spec: DebSpec, component: string): string {
  const source = sourceName(spec);
  const prefix = source.startsWith('lib') && source.length > 3 ? source.slice(0, 4) : source.slice(0, 1);
  const version = spec.version.replace(/^\d+:/, '');
  return `pool/${component}/${prefix}/${source}/${spec.name}_${version}_${spec.architecture}.deb`;
}

/** Packages field order as on the Debian archive: identity fields, relations, Description, overrides, file data. */
function indexParagraph(spec: DebSpec, file: { poolPath: string; size: number; md5: string; sha256: string }, full: boolean): string {
  const fields = new Map(debControlFields(spec));
  const head = ['Package', 'Source', 'Version', 'Installed-Size', 'Maintainer', 'Architecture'];
  const tail = ['Description', 'Multi-Arch', 'Homepage', 'Section', 'Priority'];
  const lines: Array<[string, string]> = [];
  for (const name of head) if (fields.has(name)) lines.push([name, fields.get(name)!]);
  for (const [name, value] of fields) if (!head.includes(name) && !tail.includes(name)) lines.push([name, value]);
  for (const name of tail) {
    const value = fields.get(name);
    if (value === undefined) continue;
    if (name === 'Description' && !full) {
      lines.push(['Description', value.split('\n')[0]!], ['Description-md5', md5(Buffer.from(`${value}\n`))]);
    } else {
      lines.push([name, value]);
    }
  }
  lines.push(['Filename', file.poolPath], ['Size', String(file.size)], ['MD5sum', file.md5], ['SHA256', file.sha256]);
  return lines.map(([name, value]) => `${name}: ${value}\n`).join('');
}

/** " <hash> <size right-aligned in 16> <path>" lines, as dak writes them. */
function checksumLines(files: Array<{ path: string; data: Buffer }>, hash: (d: Buffer) => string): string {
  return files.map((f) => ` ${hash(f.data)} ${String(f.data.length).padStart(16)} ${f.path}\n`).join('');
}

function releaseText(suite: SuiteSpec, indexFiles: Array<{ path: string; data: Buffer }>): string {
  const architectures = suite.architectures ?? ['amd64'];
  const header: Array<[string, string | undefined]> = [
    ['Origin', suite.origin ?? 'Baseimg Fixture'],
    ['Label', suite.label ?? 'Baseimg Fixture'],
    ['Suite', suite.suite ?? suite.name],
    ['Version', suite.version],
    ['Codename', suite.codename ?? suite.name],
    ['Date', releaseDate(suite.date ?? new Date(Math.floor(Date.now() / 1000) * 1000))],
    ['Valid-Until', suite.validUntil ? releaseDate(suite.validUntil) : undefined],
    ['Acquire-By-Hash', (suite.acquireByHash ?? true) ? 'yes' : undefined],
    ['No-Support-for-Architecture-all', 'Packages'],
    ['Architectures', architectures.join(' ')],
    ['Components', Object.keys(suite.components).join(' ')],
    ...Object.entries(suite.extraFields ?? {}),
    ['Description', suite.description ?? `Fabricated archive for baseimg tests (${suite.name})`],
  ];
  const sorted = [...indexFiles].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return (
    header.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}\n`).join('') +
    `MD5Sum:\n${checksumLines(sorted, md5)}SHA256:\n${checksumLines(sorted, sha256)}`
  );
}

/** Release as ordered [field, raw value] pairs (values keep their continuation lines). */
function parseReleaseFields(text: string): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (/^\s/.test(line) && fields.length > 0) fields[fields.length - 1]![1] += `\n${line}`;
    else {
      const colon = line.indexOf(':');
      fields.push([line.slice(0, colon), line.slice(colon + 1).replace(/^ /, '')]);
    }
  }
  return fields;
}

function formatReleaseFields(fields: Array<[string, string]>): string {
  return fields.map(([k, v]) => (v.startsWith('\n') || v === '' ? `${k}:${v}\n` : `${k}: ${v}\n`)).join('');
}

/**
 * An index file's current bytes; one Debian lists but does not publish (plain Packages) is
 * recovered from a compressed sibling. undefined when neither can be read.
 */
async function currentIndex(path: string): Promise<Buffer | undefined> {
  if (existsSync(path)) return readFile(path);
  for (const kind of ['xz', 'gz'] as const) {
    const sibling = `${path}.${kind}`;
    if (!existsSync(sibling)) continue;
    try {
      return await decompress(await readFile(sibling), kind);
    } catch {
      // A deliberately corrupted sibling: try the next one.
    }
  }
  return undefined;
}

async function writeFileDeep(path: string, data: Buffer | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
}

export async function buildDebianRepo(dir: string, options: DebianRepoOptions): Promise<DebianRepo> {
  const signingKeys = options.unsigned
    ? (options.signingKeys ?? [])
    : (options.signingKeys ?? (options.signingKey ? [options.signingKey] : undefined) ?? [await generateTestKey({ name: 'Baseimg Test Archive', email: 'archive@example.invalid' })]);
  const compressions = options.packagesCompression ?? ['xz', 'gz'];
  const keyringPath = join(dir, 'keyring.gpg');
  await mkdir(dir, { recursive: true });
  await writeFile(keyringPath, keyringOf(options.trustedKeys ?? signingKeys));

  // Build each pool file once even when several suites carry it; a clash of contents is a fixture bug.
  const pool = new Map<string, { spec: DebSpec; deb: Promise<Buffer> }>();
  const clashChecks: Array<Promise<void>> = [];
  for (const suite of options.suites) {
    for (const [component, specs] of Object.entries(suite.components)) {
      for (const spec of specs) {
        const poolPath = poolPathOf(spec, component);
        const existing = pool.get(poolPath);
        if (!existing) pool.set(poolPath, { spec, deb: makeDeb(spec) });
        else if (existing.spec !== spec) {
          clashChecks.push(Promise.all([existing.deb, makeDeb(spec)]).then(([a, b]) => {
            if (!a.equals(b)) throw new Error(`two different packages claim ${poolPath}`);
          }));
        }
      }
    }
  }
  await Promise.all(clashChecks);
  const built = new Map<string, { data: Buffer; sha256: string; md5: string }>();
  for (const [poolPath, pending] of pool) {
    const data = await pending.deb;
    await writeFileDeep(join(dir, poolPath), data);
    built.set(poolPath, { data, sha256: sha256(data), md5: md5(data) });
  }

  const packages: BuiltPackage[] = [];
  const suiteByName = new Map(options.suites.map((s) => [s.name, s]));

  for (const suite of options.suites) {
    const suiteDir = join(dir, 'dists', suite.name);
    const indexFiles: Array<{ path: string; data: Buffer }> = [];
    for (const [component, specs] of Object.entries(suite.components)) {
      for (const arch of suite.architectures ?? ['amd64']) {
        const chosen = specs
          .filter((s) => s.architecture === arch || s.architecture === 'all')
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        const paragraphs = chosen.map((spec) => {
          const poolPath = poolPathOf(spec, component);
          const file = built.get(poolPath)!;
          const paragraph = indexParagraph(spec, { poolPath, size: file.data.length, ...file }, !!options.fullDescriptions);
          if (!packages.some((p) => p.suite === suite.name && p.poolPath === poolPath)) {
            packages.push({
              suite: suite.name, component, name: spec.name, version: spec.version, architecture: spec.architecture,
              poolPath, debPath: join(dir, poolPath), sha256: file.sha256, md5: file.md5, size: file.data.length,
              spec, indexParagraph: paragraph,
            });
          }
          return paragraph;
        });
        const packagesText = Buffer.from(paragraphs.join('\n'));
        const indexDir = `${component}/binary-${arch}`;
        const perArchRelease = Buffer.from(
          `Archive: ${suite.suite ?? suite.name}\nOrigin: ${suite.origin ?? 'Baseimg Fixture'}\n` +
            `Label: ${suite.label ?? 'Baseimg Fixture'}\nComponent: ${component}\nArchitecture: ${arch}\n`,
        );
        await writeFileDeep(join(suiteDir, indexDir, 'Release'), perArchRelease);
        indexFiles.push({ path: `${indexDir}/Release`, data: perArchRelease });
        // Debian lists the uncompressed index in Release even though it does not publish it.
        indexFiles.push({ path: `${indexDir}/Packages`, data: packagesText });
        for (const kind of compressions) {
          const data = await compress(packagesText, kind);
          const name = `Packages${compressionSuffix(kind)}`;
          if (kind !== 'none') indexFiles.push({ path: `${indexDir}/${name}`, data });
          await writeFileDeep(join(suiteDir, indexDir, name), data);
          if (suite.acquireByHash ?? true) await writeFileDeep(join(suiteDir, indexDir, 'by-hash', 'SHA256', sha256(data)), data);
        }
      }
    }
    await writeFile(join(suiteDir, 'Release'), releaseText(suite, indexFiles));
  }

  const resign = async (suiteName: string, signOptions: { keys?: TestKey[]; date?: Date } = {}): Promise<void> => {
    const suiteDir = join(dir, 'dists', suiteName);
    const text = await readFile(join(suiteDir, 'Release'), 'utf8');
    const keys = signOptions.keys ?? signingKeys;
    if (keys.length === 0) return;
    const date = signOptions.date ? { date: signOptions.date } : {};
    await writeFile(join(suiteDir, 'InRelease'), await clearsign(text, keys, date));
    await writeFile(join(suiteDir, 'Release.gpg'), await detachSign(text, keys, date));
  };
  if (!options.unsigned) for (const suite of options.suites) await resign(suite.name);

  const releasePath = (suiteName: string): string => join(dir, 'dists', suiteName, 'Release');
  const rewriteRelease = async (suiteName: string, changes: Record<string, string | null>): Promise<void> => {
    const fields = parseReleaseFields(await readFile(releasePath(suiteName), 'utf8'));
    for (const [name, value] of Object.entries(changes)) {
      const at = fields.findIndex(([k]) => k === name);
      if (value === null) {
        if (at >= 0) fields.splice(at, 1);
      } else if (at >= 0) {
        fields[at]![1] = value;
      } else {
        const before = fields.findIndex(([k]) => k === 'MD5Sum' || k === 'SHA256');
        fields.splice(before >= 0 ? before : fields.length, 0, [name, value]);
      }
    }
    await writeFile(releasePath(suiteName), formatReleaseFields(fields));
    if (!options.unsigned) await resign(suiteName);
  };

  return {
    root: dir,
    keyringPath,
    signingKeys,
    packages,
    pkg(name, where = {}) {
      const suite = where.suite ?? options.suites[0]?.name;
      const found = packages.find(
        (p) => p.name === name && p.suite === suite && (!where.architecture || p.architecture === where.architecture || p.architecture === 'all'),
      );
      if (!found) throw new Error(`no package ${name} in ${suite}`);
      return found;
    },
    async tamperFile(relPath, mutate) {
      const path = join(dir, relPath);
      await writeFile(path, mutate(await readFile(path)));
    },
    resign,
    rewriteRelease,
    async reindex(suiteName) {
      if (!suiteByName.has(suiteName)) throw new Error(`unknown suite ${suiteName}`);
      const fields = parseReleaseFields(await readFile(releasePath(suiteName), 'utf8'));
      for (const field of fields) {
        const hash = field[0] === 'MD5Sum' ? md5 : field[0] === 'SHA256' ? sha256 : undefined;
        if (!hash) continue;
        const lines = await Promise.all(field[1].split('\n').filter(Boolean).map(async (line) => {
          const path = line.trim().split(/\s+/)[2]!;
          const data = await currentIndex(join(dir, 'dists', suiteName, path));
          return data ? checksumLines([{ path, data }], hash) : `${line}\n`;
        }));
        field[1] = `\n${lines.join('').replace(/\n$/, '')}`;
      }
      await writeFile(releasePath(suiteName), formatReleaseFields(fields));
      if (!options.unsigned) await resign(suiteName);
    },
  };
}

// ================================================================ standard fixture

/** Versions in the standard fixture, for assertions. openssl's source was updated in fixture-security. */
export const FIXTURE_VERSIONS = {
  'base-files': '12.4+deb12u8', 'base-files-usrmerge': '13.8', libc6: '2.36-9+deb12u9', 'gcc-12-base': '12.2.0-14',
  'libgcc-s1': '12.2.0-14', tzdata: '2024b-0+deb12u1', debconf: '1.5.82', netbase: '6.4', 'media-types': '10.0.0',
  'mime-support': '3.64', 'ca-certificates': '20230311', openssl: '3.0.15-1~deb12u1', libssl3: '3.0.15-1~deb12u1',
  'openssl-security': '3.0.16-1~deb12u1', mawk: '1.3.4.20200120-3.1', passwd: '1:4.13+dfsg1-1+b1',
} as const;

type Entry = DebSpec['entries'][number];
const file = (path: string, content: string | Buffer, mode = 0o644, extra: Partial<Entry> = {}): Entry => ({ path, type: 'file', content, mode, ...extra });
const dir = (path: string, mode = 0o755, extra: Partial<Entry> = {}): Entry => ({ path, type: 'dir', mode, ...extra });
const symlink = (path: string, linkname: string): Entry => ({ path, type: 'symlink', linkname });

const TRIPLET: Record<string, { triplet: string; machine: number }> = {
  amd64: { triplet: 'x86_64-linux-gnu', machine: 0x3e },
  arm64: { triplet: 'aarch64-linux-gnu', machine: 0xb7 },
};

/** A 64-byte little-endian ELF64 header with the right e_machine, then a label: enough for file(1)-style sniffing. */
function fakeElf(arch: string, label: string): Buffer {
  const header = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(header);
  header.writeUInt16LE(3, 16); // ET_DYN
  header.writeUInt16LE(TRIPLET[arch]?.machine ?? 0, 18);
  header.writeUInt32LE(1, 20);
  return Buffer.concat([header, Buffer.from(`fake ${label} for ${arch}\n`)]);
}

/** A parseable TZif v2 file with a single local time type (no transitions). */
function tzif(abbreviation: string, utcOffset: number, footer: string): Buffer {
  const block = (): Buffer => {
    const counts = Buffer.alloc(44);
    counts.write('TZif2', 0, 'ascii');
    [1, 1, 0, 0, 1, abbreviation.length + 1].forEach((n, i) => counts.writeUInt32BE(n, 20 + i * 4));
    const ttinfo = Buffer.alloc(6);
    ttinfo.writeInt32BE(utcOffset, 0);
    return Buffer.concat([counts, ttinfo, Buffer.from(`${abbreviation}\0`), Buffer.from([0, 0])]);
  };
  return Buffer.concat([block(), block(), Buffer.from(`\n${footer}\n`)]);
}

/** A PEM-shaped block with deterministic filler (not a parseable certificate). */
function fakeCert(name: string, trailingNewline: boolean): string {
  const der = Buffer.concat([0, 1, 2].map((i) => createHash('sha256').update(`${name}/${i}`).digest()));
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----${trailingNewline ? '\n' : ''}`;
}

function dep5(pkg: string, license: string, holder: string): string {
  return `Format: https://dep-team.example.invalid/copyright-format/1.0/\nUpstream-Name: ${pkg}\n` +
    `Source: https://upstream.example.invalid/${pkg}\n\nFiles: *\nCopyright: ${holder}\nLicense: ${license}\n\n` +
    `License: ${license}\n On Debian systems, the full text of the license can be found in\n /usr/share/common-licenses/${license}.\n`;
}

function osRelease(version: string, codename: string): string {
  return `PRETTY_NAME="Debian GNU/Linux ${version} (${codename})"\nNAME="Debian GNU/Linux"\nVERSION_ID="${version}"\n` +
    `VERSION="${version} (${codename})"\nVERSION_CODENAME=${codename}\nID=debian\nHOME_URL="https://distro.example.invalid/"\n` +
    `SUPPORT_URL="https://distro.example.invalid/support"\nBUG_REPORT_URL="https://bugs.example.invalid/"\n`;
}

const GCC_MAINTAINER = 'Debian GCC Maintainers <debian-gcc@lists.example.invalid>';

function baseFiles(arch: string, merged: boolean): DebSpec {
  const [version, codename] = merged ? ['13', 'trixie'] : ['12', 'bookworm'];
  const topLevel = merged
    ? [symlink('./bin', 'usr/bin'), symlink('./lib', 'usr/lib'), symlink('./sbin', 'usr/sbin'),
       ...(arch === 'amd64' ? [symlink('./lib64', 'usr/lib64'), dir('./usr/lib64')] : [])]
    : [dir('./bin'), dir('./lib'), dir('./sbin')];
  return {
    name: 'base-files', version: merged ? FIXTURE_VERSIONS['base-files-usrmerge'] : FIXTURE_VERSIONS['base-files'], architecture: arch,
    control: {
      Essential: 'yes', Maintainer: 'Santiago Vila <sanvila@example.invalid>', Provides: 'base', 'Pre-Depends': 'awk',
      Section: 'admin', Priority: 'required', 'Multi-Arch': 'foreign',
      Description: 'Debian base system miscellaneous files\nThis package contains the basic filesystem hierarchy of a Debian system, and\nseveral important miscellaneous files.',
    },
    conffiles: ['/etc/debian_version', '/etc/dpkg/origins/debian', '/etc/host.conf', '/etc/issue', '/etc/issue.net'],
    maintainerScripts: { postinst: '#!/bin/sh\nset -e\n# copies /usr/share/base-files/motd etc. on first install\nexit 0\n' },
    entries: [
      ...topLevel, dir('./boot'), dir('./dev'), dir('./etc/skel'), dir('./home'), dir('./proc'), dir('./root', 0o700),
      dir('./run'), dir('./srv'), dir('./sys'), dir('./tmp', 0o1777), dir('./usr/bin'), dir('./usr/lib'), dir('./usr/sbin'),
      dir('./usr/share/common-licenses'), dir('./var/cache'), dir('./var/lib'), dir('./var/log'), dir('./var/opt'),
      dir('./var/local', 0o2775, { gid: 50, gname: 'staff' }), dir('./var/mail', 0o2775, { gid: 8, gname: 'mail' }),
      dir('./var/spool'), dir('./var/tmp', 0o1777), symlink('./var/run', '/run'), symlink('./var/lock', '/run/lock'),
      file('./etc/debian_version', merged ? 'trixie/sid\n' : '12.8\n'),
      file('./etc/dpkg/origins/debian', 'Vendor: Debian\nVendor-URL: https://distro.example.invalid/\nBugs: debbugs://bugs.example.invalid\n'),
      file('./etc/host.conf', 'multi on\n'),
      file('./etc/issue', `Debian GNU/Linux ${version} \\n \\l\n\n`), file('./etc/issue.net', `Debian GNU/Linux ${version}\n`),
      symlink('./etc/os-release', '../usr/lib/os-release'), file('./usr/lib/os-release', osRelease(version, codename)),
      file('./usr/share/base-files/motd', '\nThe programs included with the Debian GNU/Linux system are free software;\n'),
      file('./usr/share/common-licenses/Apache-2.0', '                                 Apache License\n                           Version 2.0, January 2004\n'),
      file('./usr/share/doc/base-files/copyright', dep5('base-files', 'GPL-2+', '1995-2024 Santiago Vila')),
    ],
  };
}

function archPackages(arch: string): DebSpec[] {
  const t = TRIPLET[arch]!.triplet;
  const ld = arch === 'amd64'
    ? [file(`./lib/${t}/ld-linux-x86-64.so.2`, fakeElf(arch, 'ld.so'), 0o755), symlink('./lib64/ld-linux-x86-64.so.2', `/lib/${t}/ld-linux-x86-64.so.2`)]
    : [file(`./lib/${t}/ld-linux-aarch64.so.1`, fakeElf(arch, 'ld.so'), 0o755), symlink('./lib/ld-linux-aarch64.so.1', `${t}/ld-linux-aarch64.so.1`)];
  const gcc = { Source: 'gcc-12', Maintainer: GCC_MAINTAINER, 'Multi-Arch': 'same', Section: 'libs' };
  return [
    baseFiles(arch, false),
    {
      name: 'libc6', version: FIXTURE_VERSIONS.libc6, architecture: arch,
      control: {
        Source: 'glibc', Protected: 'yes', Maintainer: 'GNU Libc Maintainers <debian-glibc@lists.example.invalid>',
        Depends: 'libgcc-s1', Recommends: 'libidn2-0 (>= 2.0.5~)', Suggests: 'glibc-doc, debconf | debconf-2.0, locales',
        Breaks: 'hurd (<< 1:0.9.git20220301-2), nscd (<< 2.36)', Section: 'libs', Priority: 'optional', 'Multi-Arch': 'same',
        Description: 'GNU C Library: Shared libraries\nContains the standard libraries that are used by nearly all programs on\nthe system.',
      },
      conffiles: [`/etc/ld.so.conf.d/${t}.conf`],
      entries: [
        ...ld, file(`./lib/${t}/libc.so.6`, fakeElf(arch, 'libc.so.6'), 0o755), file(`./lib/${t}/libm.so.6`, fakeElf(arch, 'libm.so.6')),
        file(`./etc/ld.so.conf.d/${t}.conf`, `# Multiarch support\n/usr/local/lib/${t}\n/lib/${t}\n/usr/lib/${t}\n`),
        file(`./usr/lib/${t}/gconv/gconv-modules`, '# GNU libc iconv configuration.\nalias\tISO-IR-100//\tISO-8859-1//\n'),
        file('./usr/share/doc/libc6/copyright', dep5('glibc', 'LGPL-2.1', '1991-2023 Free Software Foundation, Inc.')),
        file('./usr/share/lintian/overrides/libc6', 'libc6: package-name-doesnt-match-sonames\n'),
      ],
    },
    {
      name: 'gcc-12-base', version: FIXTURE_VERSIONS['gcc-12-base'], architecture: arch, control: { ...gcc, Priority: 'required' },
      entries: [file(`./usr/share/doc/gcc-12-base/README.Debian.${arch}.gz`, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
        file('./usr/share/doc/gcc-12-base/copyright', 'This is the Debian GNU/Linux prepackaged version of the GNU compiler collection.\n')],
    },
    {
      name: 'libgcc-s1', version: FIXTURE_VERSIONS['libgcc-s1'], architecture: arch,
      control: { ...gcc, Depends: 'gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)', Priority: 'optional' },
      entries: [file(`./lib/${t}/libgcc_s.so.1`, fakeElf(arch, 'libgcc_s.so.1')), symlink('./usr/share/doc/libgcc-s1', 'gcc-12-base')],
    },
    ...opensslPackages(arch, FIXTURE_VERSIONS.openssl),
    {
      name: 'mawk', version: FIXTURE_VERSIONS.mawk, architecture: arch,
      control: { Maintainer: 'Boyuan Yang <byang@example.invalid>', Provides: 'awk', Depends: 'libc6 (>= 2.34)', Section: 'interpreters', Priority: 'required', 'Multi-Arch': 'foreign' },
      maintainerScripts: {
        postinst: '#!/bin/sh\nset -e\nupdate-alternatives --install /usr/bin/awk awk /usr/bin/mawk 5\n',
        prerm: '#!/bin/sh\nset -e\nupdate-alternatives --remove awk /usr/bin/mawk\n',
      },
      entries: [file('./usr/bin/mawk', fakeElf(arch, 'mawk'), 0o755), file('./usr/share/doc/mawk/copyright', dep5('mawk', 'GPL-2', '2008-2020 Thomas E. Dickey'))],
    },
    {
      name: 'passwd', version: FIXTURE_VERSIONS.passwd, architecture: arch,
      control: { Source: 'shadow (1:4.13+dfsg1-1)', Maintainer: 'Shadow package maintainers <pkg-shadow-devel@lists.example.invalid>', Depends: 'libc6 (>= 2.34)', Section: 'admin', Priority: 'required', 'Multi-Arch': 'foreign' },
      conffiles: ['/etc/default/useradd'],
      entries: [
        file('./usr/bin/passwd', fakeElf(arch, 'passwd'), 0o4755), file('./usr/bin/chfn', fakeElf(arch, 'chfn'), 0o4755),
        file('./usr/bin/chage', fakeElf(arch, 'chage'), 0o2755, { gid: 42, gname: 'shadow' }),
        file('./usr/sbin/useradd', fakeElf(arch, 'useradd'), 0o755), file('./etc/default/useradd', 'SHELL=/bin/sh\n'),
      ],
    },
  ];
}

function opensslPackages(arch: string, version: string): DebSpec[] {
  const t = TRIPLET[arch]!.triplet;
  const common = { Source: 'openssl', Maintainer: 'Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.example.invalid>' };
  return [
    {
      name: 'libssl3', version, architecture: arch,
      control: { ...common, Depends: 'libc6 (>= 2.34)', Section: 'libs', Priority: 'optional', 'Multi-Arch': 'same' },
      entries: [
        file(`./usr/lib/${t}/libssl.so.3`, fakeElf(arch, `libssl.so.3 ${version}`)), file(`./usr/lib/${t}/libcrypto.so.3`, fakeElf(arch, `libcrypto.so.3 ${version}`)),
        file(`./usr/lib/${t}/ossl-modules/legacy.so`, fakeElf(arch, 'legacy.so')), file('./usr/share/doc/libssl3/copyright', dep5('openssl', 'Apache-2.0', '1998-2024 The OpenSSL Project Authors')),
      ],
    },
    {
      name: 'openssl', version, architecture: arch,
      control: { ...common, Depends: 'libc6 (>= 2.34), libssl3 (>= 3.0.9)', Suggests: 'ca-certificates', Section: 'utils', Priority: 'optional', 'Multi-Arch': 'foreign' },
      conffiles: ['/etc/ssl/openssl.cnf'],
      entries: [
        file('./usr/bin/openssl', fakeElf(arch, `openssl ${version}`), 0o755), file('./usr/bin/c_rehash', '#!/usr/bin/perl\n# fake c_rehash\n', 0o755),
        file('./etc/ssl/openssl.cnf', '# OpenSSL configuration file.\nopenssl_conf = openssl_init\n'), dir('./etc/ssl/certs'), dir('./etc/ssl/private', 0o700),
        symlink('./usr/lib/ssl/openssl.cnf', '/etc/ssl/openssl.cnf'), symlink('./usr/lib/ssl/certs', '/etc/ssl/certs'), symlink('./usr/lib/ssl/private', '/etc/ssl/private'),
      ],
    },
  ];
}

function allPackages(): DebSpec[] {
  const all = 'all';
  const debconfDep = 'debconf (>= 0.5) | debconf-2.0';
  return [
    {
      name: 'tzdata', version: FIXTURE_VERSIONS.tzdata, architecture: all, controlCompression: 'gz',
      control: { Maintainer: 'GNU Libc Maintainers <debian-glibc@lists.example.invalid>', Provides: 'tzdata-bookworm', Depends: debconfDep, Section: 'localization', Priority: 'required', 'Multi-Arch': 'foreign', Description: 'time zone and daylight-saving time data\nThis package contains data required for the implementation of\nstandard local time for many representative locations around the globe.' },
      maintainerScripts: { postinst: '#!/bin/sh\nset -e\n. /usr/share/debconf/confmodule\ndb_get tzdata/Areas\n' },
      entries: [
        file('./usr/share/zoneinfo/Etc/UTC', tzif('UTC', 0, 'UTC0')), { path: './usr/share/zoneinfo/UTC', type: 'hardlink', linkname: './usr/share/zoneinfo/Etc/UTC' },
        symlink('./usr/share/zoneinfo/Etc/Zulu', 'UTC'), file('./usr/share/zoneinfo/Europe/Berlin', tzif('CET', 3600, 'CET-1CEST,M3.5.0,M10.5.0/3')),
        file('./usr/share/zoneinfo/America/New_York', tzif('EST', -18000, 'EST5EDT,M3.2.0,M11.1.0')),
        file('./usr/share/zoneinfo/tzdata.zi', '# version 2024b\nZ Etc/UTC 0 - UTC\n'),
        file('./usr/share/doc/tzdata/copyright', dep5('tzdata', 'public-domain', 'none; placed in the public domain')),
      ],
    },
    {
      // The real debconf Pre-Depends on perl-base; left out so the fixture stays closed under Depends.
      name: 'debconf', version: FIXTURE_VERSIONS.debconf, architecture: all,
      control: { Maintainer: 'Debconf Developers <debconf-devel@lists.example.invalid>', Provides: 'debconf-2.0', Section: 'admin', Priority: 'required', 'Multi-Arch': 'foreign' },
      conffiles: ['/etc/debconf.conf'],
      entries: [file('./usr/share/debconf/confmodule', '#!/bin/sh\n# fake confmodule\n'), file('./usr/bin/debconf', '#!/usr/bin/perl -w\n', 0o755),
        file('./etc/debconf.conf', 'Config: configdb\nTemplates: templatedb\n'), dir('./var/cache/debconf', 0o755)],
    },
    {
      name: 'netbase', version: FIXTURE_VERSIONS.netbase, architecture: all, dataCompression: 'gz', controlCompression: 'zst',
      control: { Maintainer: 'Marco d\'Itri <md@example.invalid>', Section: 'admin', Priority: 'important', 'Multi-Arch': 'foreign' },
      conffiles: ['/etc/ethertypes', '/etc/protocols', '/etc/rpc', '/etc/services'],
      entries: [file('./etc/protocols', 'ip\t0\tIP\t\t# internet protocol\ntcp\t6\tTCP\nudp\t17\tUDP\n'), file('./etc/services', 'http\t\t80/tcp\t\twww\nhttps\t\t443/tcp\n'),
        file('./etc/rpc', 'portmapper\t100000\tportmap sunrpc rpcbind\n'), file('./etc/ethertypes', 'IPv4\t0800\tip ip4\n')],
    },
    {
      name: 'media-types', version: FIXTURE_VERSIONS['media-types'], architecture: all, controlCompression: 'none', dataCompression: 'zst',
      control: { Maintainer: 'Mime-Support Packagers <team+debian-mimesupport@tracker.example.invalid>', Replaces: 'mime-support (<< 3.65)', Section: 'net', Priority: 'standard', 'Multi-Arch': 'foreign' },
      conffiles: ['/etc/mime.types'],
      entries: [file('./etc/mime.types', '# media-types\napplication/json\t\t\t\tjson\ntext/html\t\t\t\t\thtml htm\n'), file('./usr/share/doc/media-types/copyright', dep5('media-types', 'ad-hoc', 'public domain'))],
    },
    {
      name: 'mime-support', version: FIXTURE_VERSIONS['mime-support'], architecture: all,
      control: { Maintainer: 'Mime-Support Packagers <team+debian-mimesupport@tracker.example.invalid>', Section: 'net', Priority: 'optional' },
      conffiles: ['/etc/mailcap.order', '/etc/mime.types'],
      entries: [file('./etc/mime.types', '# mime-support (old)\ntext/html\t\t\t\t\thtml\n'), file('./etc/mailcap.order', '# mailcap.order\n'), file('./usr/bin/run-mailcap', '#!/usr/bin/perl\n', 0o755)],
    },
    {
      name: 'ca-certificates', version: FIXTURE_VERSIONS['ca-certificates'], architecture: all,
      control: { Maintainer: 'Julien Cristau <jcristau@example.invalid>', Depends: `openssl (>= 1.1.1), ${debconfDep}`, Breaks: 'ca-certificates-java (<< 20121112+nmu1)', Section: 'misc', Priority: 'optional', 'Multi-Arch': 'foreign' },
      maintainerScripts: { postinst: '#!/bin/sh\nset -e\nupdate-ca-certificates --fresh\n' },
      entries: [
        ...(['DigiCert_Global_Root_G2', 'GTS_Root_R1', 'ISRG_Root_X1', 'ISRG_Root_X2'] as const).map((n, i) =>
          file(`./usr/share/ca-certificates/mozilla/${n}.crt`, fakeCert(n, i % 2 === 0))),
        file('./usr/sbin/update-ca-certificates', '#!/bin/sh\n# fake update-ca-certificates\n', 0o755),
        dir('./etc/ssl/certs'), dir('./etc/ca-certificates/update.d'),
        file('./usr/share/doc/ca-certificates/copyright', dep5('ca-certificates', 'GPL-2+', '2003 Fumitoshi UKAI, 2009 Philipp Kern')),
      ],
    },
  ];
}

/** One-line descriptions as in the real archive, for packages that do not spell out a long one. */
const SUMMARIES: Record<string, string> = {
  'gcc-12-base': 'GCC, the GNU Compiler Collection (base package)', 'libgcc-s1': 'GCC support library',
  libssl3: 'Secure Sockets Layer toolkit - shared libraries', openssl: 'Secure Sockets Layer toolkit - cryptographic utility',
  mawk: 'Pattern scanning and text processing language', passwd: 'change and administer password and group data',
  debconf: 'Debian configuration management system', netbase: 'Basic TCP/IP networking system',
  'media-types': 'List of standard media types and their usual file extension', 'mime-support': 'MIME files \'mime.types\' & \'mailcap\', and support programs',
  'ca-certificates': 'Common CA certificates',
};

function withSummary(spec: DebSpec): DebSpec {
  const summary = SUMMARIES[spec.name];
  if (!summary || spec.control?.Description) return spec;
  return { ...spec, control: { ...spec.control, Description: summary } };
}

/**
 * A mini distribution in three suites: "fixture" (bookworm-like, complete), "fixture-security"
 * (newer openssl + libssl3 only) and "fixture-usrmerge" (as fixture, but base-files ships the
 * trixie-style /bin -> usr/bin symlinks).
 */
export async function standardFixtureRepo(
  dir: string,
  options: { signingKeys?: TestKey[]; architectures?: string[] } = {},
): Promise<DebianRepo> {
  const architectures = options.architectures ?? ['amd64', 'arm64'];
  const main = [...architectures.flatMap(archPackages), ...allPackages()].map(withSummary);
  const common = { architectures, origin: 'Debian', version: '12.8' };
  return buildDebianRepo(dir, {
    signingKeys: options.signingKeys,
    suites: [
      { ...common, name: 'fixture', codename: 'fixture', label: 'Debian', date: new Date('2024-11-09T10:05:41Z'), components: { main } },
      {
        ...common, name: 'fixture-security', label: 'Debian-Security', version: '12', date: new Date('2025-01-10T08:00:00Z'),
        description: 'Fixture 12 - Security Updates',
        components: { main: architectures.flatMap((a) => opensslPackages(a, FIXTURE_VERSIONS['openssl-security'])).map(withSummary) },
      },
      {
        ...common, name: 'fixture-usrmerge', version: '13', label: 'Debian', date: new Date('2025-08-09T10:00:00Z'),
        components: { main: [...architectures.map((a) => baseFiles(a, true)), ...main.filter((s) => s.name !== 'base-files')] },
      },
    ],
  });
}
