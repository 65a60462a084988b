/**
 * Schema checks: turns the parsed TOML table into a Spec (src/spec/types.ts),
 * filling defaults and resolving relative paths. Every problem is thrown as a
 * one-line BaseimgError naming the file, line and key. The sections with more
 * rules live next door: validate-image.ts, validate-accounts.ts and
 * validate-paths.ts.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyPath } from './locate.js';
import type { TomlTable } from './toml.js';
import { ARCHES, type AlpineSource, type Arch, type CaCertificates, type DebianSource, type Source, type Spec } from './types.js';
import { validateAccounts } from './validate-accounts.js';
import { describe, nearest, Section, type SpecContext, TOP_LEVEL_KEYS } from './validate-fields.js';
import { validateImage } from './validate-image.js';
import { validatePaths } from './validate-paths.js';
import { validateFiles, validateLayers, validateStrip } from './validate-files.js';
import { checkImageRef } from '../util/reference.js';

const DEBIAN_KEYS = ['distro', 'mirror', 'security-mirror', 'snapshot', 'snapshot-base', 'suites', 'components', 'keyring', 'merged-usr'];
const ALPINE_KEYS = ['distro', 'repositories', 'keys', 'allow-untrusted'];

/** 9999-12-31T23:59:59Z: later timestamps do not fit the date formats images carry. */
const MAX_EPOCH = 253402300799;

/** One component of an image reference path (the OCI distribution grammar). */
const NAME_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** Loose package-name check shared by both distros; the resolver knows the real names. */
const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9+._:-]*$/;
const SUITE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*(?:\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

/** `includes`: absolute paths of the files the spec includes directly (compose.ts merged them into `root`). */
export function validateSpec(root: TomlTable, ctx: SpecContext, includes: string[] = []): Spec {
  const top = new Section(ctx, root, []);
  top.allowOnly(TOP_LEVEL_KEYS);

  const name = imageName(top);
  const tag = top.string('tag') ?? `${name}:latest`;
  if (top.has('tag')) checkTag(top, tag);
  const arch = archList(top);
  const sourceDateEpoch = top.integer('source-date-epoch', 0, MAX_EPOCH);

  const sourceTable = top.section('source') ?? ctx.failPlain([], 'missing required table [source]', 'add [source] with distro = "debian" or distro = "alpine"');
  const source = validateSource(sourceTable);
  const packagesTable = top.section('packages') ?? ctx.failPlain([], 'missing required table [packages]', 'add [packages] with include = [...]');
  const packages = validatePackages(packagesTable, source.distro);
  const accounts = validateAccounts(top.sectionOrEmpty('accounts'));
  const image = validateImage(top.sectionOrEmpty('image'), accounts);
  const paths = validatePaths(top, 'paths');
  const files = validateFiles(top);
  const strip = validateStrip(top);
  const layers = validateLayers(top);
  const caCertificates = validateCaCertificates(top.sectionOrEmpty('ca-certificates'), source.distro);
  const osRelease = top.sectionOrEmpty('os-release');
  osRelease.allowOnly(['pretty-name']);
  const prettyName = osRelease.string('pretty-name');
  if (prettyName !== undefined && /[\0-\x1f\x7f]/.test(prettyName)) osRelease.fail('pretty-name', 'expected one line of text without control characters');

  return {
    file: path.resolve(ctx.file),
    name,
    tag,
    arch,
    source,
    packages,
    image,
    accounts,
    paths,
    files,
    strip,
    include: includes,
    layers,
    layerParent: layers === 'per-spec' ? includes[0] : undefined,
    caCertificates,
    osRelease: { prettyName },
    sourceDateEpoch,
  };
}

function imageName(top: Section): string {
  const given = top.string('name');
  if (given === undefined) return nameFromFile(top.ctx.file);
  if (!NAME_COMPONENT.test(given)) {
    top.fail('name', `"${given}" is not a valid image name, expected lowercase letters, digits and single separators (. _ -)`, `for example name = "${sanitizeName(given)}"`);
  }
  return given;
}

/** The default name: the spec's base name, made a valid image name ("My App.toml" → "my-app"). */
function nameFromFile(file: string): string {
  return sanitizeName(path.basename(file).replace(/\.toml$/i, ''));
}

function sanitizeName(raw: string): string {
  const cleaned = raw
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, (run) => (run === '.' || run === '_' ? run : '-'))
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return NAME_COMPONENT.test(cleaned) ? cleaned : 'image';
}

/** name:tag with an optional registry host ("registry.example.org:5000/team/app:1.0"). */
function checkTag(top: Section, ref: string): void {
  const parsed = checkImageRef(ref);
  if (typeof parsed === 'string') {
    top.fail('tag', `"${ref}" is not a valid image reference: ${parsed}`, 'write tag = "name:tag", e.g. tag = "debian12-static:latest"');
  }
}

function archList(top: Section): Arch[] {
  const value = top.get('arch');
  if (value === undefined) return ['amd64'];
  if (typeof value !== 'string' && !Array.isArray(value)) top.fail('arch', `expected "amd64", "arm64" or an array of them, got ${describe(value)}`);
  const list = typeof value === 'string' ? [value] : top.strings('arch') ?? [];
  if (list.length === 0) top.fail('arch', 'expected at least one architecture', 'arch = "amd64" or arch = ["amd64", "arm64"]');
  const at = (i: number): KeyPath => (typeof value === 'string' ? top.at('arch') : [...top.at('arch'), i]);
  list.forEach((a, i) => {
    if (!(ARCHES as readonly string[]).includes(a)) {
      top.ctx.fail(at(i), `unknown architecture "${a}", expected ${ARCHES.map((x) => `"${x}"`).join(' or ')}${nearest(a, ARCHES)}`);
    }
    if (list.indexOf(a) !== i) top.ctx.fail(at(i), `"${a}" is listed twice`);
  });
  return list as Arch[];
}

// ---- [source] ----

function validateSource(s: Section): Source {
  const distro = s.requiredString('distro', 'distro = "debian" or distro = "alpine"');
  if (distro === 'debian') {
    s.allowOnly(DEBIAN_KEYS, onlyFor(ALPINE_KEYS, 'distro = "alpine"'));
    return debianSource(s);
  }
  if (distro === 'alpine') {
    s.allowOnly(ALPINE_KEYS, onlyFor(DEBIAN_KEYS, 'distro = "debian"'));
    return alpineSource(s);
  }
  return s.fail('distro', `expected "debian" or "alpine", got "${distro}"${nearest(distro, ['debian', 'alpine'])}`);
}

function onlyFor(keys: readonly string[], setting: string): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => k !== 'distro').map((k) => [k, setting]));
}

function debianSource(s: Section): DebianSource {
  const mirror = s.string('mirror');
  const securityMirror = s.string('security-mirror');
  const suites = s.strings('suites') ?? s.missing('suites', 'suites = ["bookworm", "bookworm-updates", "bookworm-security"]');
  const components = s.strings('components') ?? ['main'];
  checkNames(s, 'suites', suites, 'suite');
  checkNames(s, 'components', components, 'component');
  const keyring = (s.stringOrStrings('keyring') ?? []).map((file, i) => s.ctx.readLocal(listItem(s, 'keyring', i), file).absPath);
  checkUnique(s, 'keyring', keyring);
  return {
    distro: 'debian',
    mirror: mirror === undefined ? undefined : repositoryUrl(s, s.at('mirror'), mirror),
    securityMirror: securityMirror === undefined ? undefined : repositoryUrl(s, s.at('security-mirror'), securityMirror),
    suites,
    components,
    keyring,
    mergedUsr: s.boolean('merged-usr') ?? true,
    ...snapshotSettings(s),
  };
}

/** source.snapshot and source.snapshot-base; present in the result only when set. */
function snapshotSettings(s: Section): Pick<DebianSource, 'snapshot' | 'snapshotBase'> {
  const snapshot = s.string('snapshot');
  const base = s.string('snapshot-base');
  if (snapshot === undefined) {
    if (base !== undefined) s.fail('snapshot-base', 'is only used together with source.snapshot', 'add snapshot = "YYYYMMDDTHHMMSSZ", or remove snapshot-base');
    return {};
  }
  if (!isSnapshotTimestamp(snapshot)) {
    s.fail('snapshot', `"${snapshot}" is not a snapshot timestamp, expected YYYYMMDDTHHMMSSZ in UTC`, 'for example snapshot = "20250520T000000Z"');
  }
  for (const key of ['mirror', 'security-mirror']) {
    if (s.has(key)) s.fail(key, 'cannot be combined with source.snapshot (a snapshot takes its URLs from the snapshot base)', `remove ${key}, or remove snapshot to use the mirror`);
  }
  return { snapshot, ...(base === undefined ? {} : { snapshotBase: repositoryUrl(s, s.at('snapshot-base'), base) }) };
}

/** "20250520T000000Z": a real UTC date and time, as the snapshot archive names its states. */
export function isSnapshotTimestamp(value: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) return false;
  const [year, month, day, hh, mm, ss] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hh, mm, ss));
  return year >= 1970 && date.getUTCMonth() === month - 1 && date.getUTCDate() === day && hh < 24 && mm < 60 && ss < 60;
}

function alpineSource(s: Section): AlpineSource {
  const repositories = s.strings('repositories') ?? s.missing('repositories', 'repositories = ["https://example.org/alpine/v3.20/main"]');
  if (repositories.length === 0) s.fail('repositories', 'expected at least one repository URL');
  const urls = repositories.map((r, i) => repositoryUrl(s, [...s.at('repositories'), i], r));
  checkUnique(s, 'repositories', urls);
  const keys = (s.stringOrStrings('keys') ?? []).map((key, i) => alpineKey(s, listItem(s, 'keys', i), key));
  checkUnique(s, 'keys', keys);
  return { distro: 'alpine', repositories: urls, keys, allowUntrusted: s.boolean('allow-untrusted') ?? false };
}

/** An http(s) URL is fetched at build time; anything else is a local file that must exist now. */
function alpineKey(s: Section, at: KeyPath, key: string): string {
  if (/^https?:/i.test(key)) return repositoryUrl(s, at, key);
  let file = key;
  if (/^file:/i.test(key)) {
    try {
      file = fileURLToPath(key);
    } catch {
      s.ctx.fail(at, `"${key}" is not a valid file:// URL`);
    }
  }
  return s.ctx.readLocal(at, file).absPath;
}

/** The key path of item i of a value that may be a lone string or an array. */
function listItem(s: Section, key: string, i: number): KeyPath {
  return typeof s.get(key) === 'string' ? s.at(key) : [...s.at(key), i];
}

function repositoryUrl(s: Section, at: KeyPath, value: string): string {
  const hint = 'e.g. "http://example.org/debian", or "file:///srv/mirror" for a local mirror';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return s.ctx.fail(at, `"${value}" is not a URL, expected http://, https:// or file://`, hint);
  }
  if (!['http:', 'https:', 'file:'].includes(url.protocol)) s.ctx.fail(at, `unsupported scheme "${url.protocol}", expected http://, https:// or file://`, hint);
  if (url.protocol !== 'file:' && url.hostname === '') s.ctx.fail(at, `"${value}" has no host name`, hint);
  if (/\s/.test(value) || url.search !== '' || url.hash !== '') s.ctx.fail(at, `"${value}": expected a plain base URL without spaces, ?query or #fragment`);
  const trimmed = value.replace(/\/+$/, '');
  return trimmed.endsWith(':') ? value : trimmed;
}

function checkNames(s: Section, key: string, names: string[], what: string): void {
  if (names.length === 0) s.fail(key, `expected at least one ${what}`);
  names.forEach((n, i) => {
    if (!SUITE_NAME.test(n)) s.ctx.fail([...s.at(key), i], `"${n}" is not a valid ${what} name, expected letters, digits, ".", "_", "-" or "/"`);
  });
  checkUnique(s, key, names);
}

function checkUnique(s: Section, key: string, items: string[]): void {
  items.forEach((item, i) => {
    const first = items.indexOf(item);
    if (first !== i) s.ctx.fail(listItem(s, key, i), `"${item}" is listed twice (also ${s.ctx.refer(listItem(s, key, first), listItem(s, key, i))})`);
  });
}

// ---- [packages] ----

function validatePackages(s: Section, distro: Source['distro']): Spec['packages'] {
  s.allowOnly(['include', 'exclude']);
  const include = s.strings('include') ?? s.missing('include', 'include = ["base-files"] (an empty list is allowed)');
  const exclude = s.strings('exclude') ?? [];
  const includeNames = include.map((entry, i) => packageName(s, [...s.at('include'), i], entry, distro, true));
  const excludeNames = exclude.map((entry, i) => packageName(s, [...s.at('exclude'), i], entry, distro, false));
  for (const [key, names] of [['include', includeNames], ['exclude', excludeNames]] as const) {
    names.forEach((n, i) => {
      const first = names.indexOf(n);
      if (first !== i) s.ctx.fail([...s.at(key), i], `package "${n}" is listed twice (also ${s.ctx.refer([...s.at(key), first], [...s.at(key), i])})`);
    });
  }
  excludeNames.forEach((n, i) => {
    if (includeNames.includes(n)) s.ctx.fail([...s.at('exclude'), i], `package "${n}" is also in packages.include`);
  });
  return { include, exclude };
}

const ALPINE_ENTRY = /^([^=<>~]*)(?:(>=|<=|~=|=~|=|>|<|~)(.*))?$/;
const ALPINE_PREFIX = /^(?:so|cmd|pc):/;

/** Checks one include/exclude entry and returns its package name part. */
function packageName(s: Section, at: KeyPath, entry: string, distro: Source['distro'], versionAllowed: boolean): string {
  const forms = distro === 'debian' ? 'name or name=version' : 'name, name=1.2-r0, name>=1.2, name~1.2, so:lib.so.1 or cmd:sh';
  if (entry.trim() === '') s.ctx.fail(at, `expected a package name, got an empty string`);
  if (/\s/.test(entry)) {
    const words = entry.trim().split(/\s+/);
    const hint = /^\S+\s*(?:[<>]?=|[<>~])\s*\S+$/.test(entry.trim())
      ? `write "${entry.replace(/\s+/g, '')}"`
      : `list each package as its own string: ${words.map((w) => `"${w}"`).join(', ')}`;
    s.ctx.fail(at, `"${entry}" contains whitespace, expected ${forms}`, hint);
  }
  let name: string;
  let version: string | undefined;
  if (distro === 'debian') {
    const eq = entry.indexOf('=');
    name = eq < 0 ? entry : entry.slice(0, eq);
    version = eq < 0 ? undefined : entry.slice(eq + 1);
    if (/[<>]/.test(name)) s.ctx.fail(at, `"${entry}": Debian entries pin one exact version, expected ${forms}`);
  } else {
    const m = ALPINE_ENTRY.exec(entry);
    name = m?.[1] ?? entry;
    version = m?.[3];
  }
  const bareName = distro === 'alpine' ? name.replace(ALPINE_PREFIX, '') : name;
  if (!PACKAGE_NAME.test(bareName)) s.ctx.fail(at, `"${entry}" is not a valid package entry, expected ${forms}`);
  if (version !== undefined) {
    if (!versionAllowed) s.ctx.fail(at, `"${entry}": expected a package name without a version`, `write "${name}"`);
    if (!/^[0-9][A-Za-z0-9.+~:_-]*$/.test(version)) s.ctx.fail(at, `"${entry}" has a bad version "${version}", expected ${forms}`);
  }
  return name;
}

// ---- [ca-certificates] ----

function validateCaCertificates(s: Section, distro: Source['distro']): CaCertificates {
  s.allowOnly(['bundle', 'local']);
  const local = (s.strings('local') ?? []).map((file, i) => {
    const at = [...s.at('local'), i];
    const { absPath, data } = s.ctx.readLocal(at, file);
    if (!data.includes('-----BEGIN CERTIFICATE-----')) s.ctx.fail(at, `"${file}" is not a PEM certificate (no BEGIN CERTIFICATE line)`);
    return absPath;
  });
  checkUnique(s, 'local', local);
  return { bundle: s.boolean('bundle') ?? distro === 'debian', local };
}
