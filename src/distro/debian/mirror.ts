/**
 * Which archive URL serves each requested suite.
 *
 * Main suites: source.mirror, else $BASEIMG_DEBIAN_MIRROR, else the host's
 * apt sources (an entry listing that suite, else the host's first Debian
 * entry), else a MIRROR error.
 *
 * Security suites ("*-security", legacy "<codename>/updates"):
 * source.security-mirror, else $BASEIMG_DEBIAN_SECURITY_MIRROR, else — when
 * the main mirror came from the spec or the environment — derived from it,
 * else the apt entry that lists a security suite, else derived.
 *
 * Derivation convention: Debian publishes security updates in a sibling
 * archive named after the main one plus "-security", so "-security" is
 * appended to the main mirror's last path segment
 * (http://host/debian → http://host/debian-security). For snapshot-style
 * URLs whose last segment is a timestamp (…/archive/debian/20250520T000000Z)
 * the segment before it is the archive name and gets the suffix instead.
 *
 * Snapshot sources (source.snapshot) take every suite from the snapshot
 * base instead; see snapshotMirrors.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DebianSource } from '../../spec/types.js';
import { BaseimgError } from '../../util/errors.js';
import { field, parseDeb822Text } from './deb822.js';

export interface MirrorOptions {
  env: NodeJS.ProcessEnv;
  aptSourcesDir?: string;
  aptSourcesList?: string;
}

export type MirrorOrigin = 'spec' | 'env' | 'apt' | 'derived' | 'snapshot';

export interface ResolvedMirror {
  url: string;
  origin: MirrorOrigin;
  /** Human-readable provenance for logs ("BASEIMG_DEBIAN_MIRROR", "/etc/apt/sources.list.d/debian.sources"). */
  from: string;
}

/** One "deb" line or deb822 paragraph of the host's apt configuration, one URI each. */
export interface AptSourceEntry {
  uri: string;
  suites: string[];
  components: string[];
  file: string;
}

const HINT =
  'set source.mirror in the spec, or BASEIMG_DEBIAN_MIRROR in the environment, or configure a Debian mirror in the apt sources (/etc/apt/sources.list.d/*.sources or /etc/apt/sources.list)';

export function isSecuritySuite(suite: string): boolean {
  return suite.endsWith('-security') || /^[a-z]+\/updates$/.test(suite);
}

/** Map from each suite of `source` to its archive base URL (no trailing slash). */
export function resolveDebianMirrors(source: DebianSource, opts: MirrorOptions): Map<string, string> {
  const detailed = resolveDebianMirrorsDetailed(source, opts);
  return new Map([...detailed].map(([suite, m]) => [suite, m.url]));
}

export function resolveDebianMirrorsDetailed(source: DebianSource, opts: MirrorOptions): Map<string, ResolvedMirror> {
  if (source.snapshot !== undefined) return snapshotMirrors(source, source.snapshot, opts);
  let aptCache: AptSourceEntry[] | undefined;
  const apt = (): AptSourceEntry[] => (aptCache ??= readAptSources(opts).filter((e) => looksDebian(e, source.suites)));

  const explicitMain = explicit(source.mirror, 'spec', 'source.mirror') ?? explicit(opts.env.BASEIMG_DEBIAN_MIRROR, 'env', 'BASEIMG_DEBIAN_MIRROR');
  const explicitSecurity =
    explicit(source.securityMirror, 'spec', 'source.security-mirror') ??
    explicit(opts.env.BASEIMG_DEBIAN_SECURITY_MIRROR, 'env', 'BASEIMG_DEBIAN_SECURITY_MIRROR');

  const mainFor = (suite: string): ResolvedMirror => {
    if (explicitMain !== undefined) return explicitMain;
    const entries = apt();
    const entry =
      entries.find((e) => e.suites.includes(suite)) ??
      entries.find((e) => /\/debian$/.test(new URL(e.uri).pathname)) ??
      entries.find((e) => e.suites.some((s) => !isSecuritySuite(s)));
    if (entry === undefined) {
      throw new BaseimgError('MIRROR', `no Debian mirror configured for suite "${suite}"`, { hint: HINT });
    }
    return { url: entry.uri, origin: 'apt', from: entry.file };
  };

  const securityFor = (suite: string): ResolvedMirror => {
    if (explicitSecurity !== undefined) return explicitSecurity;
    if (explicitMain !== undefined) return derive(explicitMain);
    const entries = apt();
    const entry = entries.find((e) => e.suites.includes(suite)) ?? entries.find((e) => e.suites.some(isSecuritySuite));
    if (entry !== undefined) return { url: entry.uri, origin: 'apt', from: entry.file };
    return derive(mainFor(suite));
  };

  const result = new Map<string, ResolvedMirror>();
  for (const suite of source.suites) {
    result.set(suite, isSecuritySuite(suite) ? securityFor(suite) : mainFor(suite));
  }
  return result;
}

/**
 * A snapshot source: every suite from the snapshot service's state at one
 * time, `<base>/archive/<archive>/<YYYYMMDDTHHMMSSZ>`, where the archive is
 * "debian", or "debian-security" for security suites. The base comes from
 * the spec or the environment; no service is assumed.
 */
function snapshotMirrors(source: DebianSource, timestamp: string, opts: MirrorOptions): Map<string, ResolvedMirror> {
  const base =
    explicit(source.snapshotBase, 'spec', 'source.snapshot-base') ??
    explicit(opts.env.BASEIMG_DEBIAN_SNAPSHOT_BASE, 'env', 'BASEIMG_DEBIAN_SNAPSHOT_BASE');
  if (base === undefined) {
    throw new BaseimgError('MIRROR', `source.snapshot = "${timestamp}" needs the base URL of a snapshot service`, {
      hint: 'set source.snapshot-base in the spec or BASEIMG_DEBIAN_SNAPSHOT_BASE in the environment; URLs are built as <base>/archive/<debian|debian-security>/<timestamp>/',
    });
  }
  const result = new Map<string, ResolvedMirror>();
  for (const suite of source.suites) {
    const url = snapshotUrl(base.url, isSecuritySuite(suite) ? 'debian-security' : 'debian', timestamp);
    result.set(suite, { url, origin: 'snapshot', from: `snapshot ${timestamp} under ${base.url} (${base.from})` });
  }
  return result;
}

/** `<base>/archive/<archive>/<timestamp>`, the snapshot service's URL scheme (no trailing slash, like every base URL here). */
export function snapshotUrl(base: string, archive: string, timestamp: string): string {
  return `${base.replace(/\/+$/, '')}/archive/${archive}/${timestamp}`;
}

function explicit(value: string | undefined, origin: MirrorOrigin, from: string): ResolvedMirror | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return { url: normalizeMirrorUrl(value.trim(), from), origin, from };
}

/** Validates an archive URL and strips trailing slashes. */
export function normalizeMirrorUrl(value: string, from: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BaseimgError('MIRROR', `${from}: "${value}" is not a valid URL`, { hint: 'use e.g. http://example.org/debian' });
  }
  if (!['http:', 'https:', 'file:'].includes(url.protocol)) {
    throw new BaseimgError('MIRROR', `${from}: unsupported URL scheme in "${value}" (use http, https or file)`);
  }
  return value.replace(/\/+$/, '');
}

/** Applies the "-security" naming convention described at the top of this file. */
export function deriveSecurityMirror(mainUrl: string): string {
  const url = new URL(mainUrl);
  const segments = url.pathname.replace(/\/+$/, '').split('/');
  let index = segments.length - 1;
  if (index > 1 && /^\d{8}T\d{6}Z$/.test(segments[index]!)) index--;
  if (index < 1 || segments[index] === '') {
    throw new BaseimgError('MIRROR', `cannot derive a security mirror from ${mainUrl}: its path has no archive name`, {
      hint: 'set source.security-mirror in the spec or BASEIMG_DEBIAN_SECURITY_MIRROR',
    });
  }
  segments[index] += '-security';
  url.pathname = segments.join('/');
  return url.href.replace(/\/+$/, '');
}

function derive(main: ResolvedMirror): ResolvedMirror {
  return { url: deriveSecurityMirror(main.url), origin: 'derived', from: `derived from ${main.url} (${main.from})` };
}

/** An entry is used when its URI names a Debian archive or it lists a suite we need. */
function looksDebian(entry: AptSourceEntry, wanted: readonly string[]): boolean {
  let path: string;
  try {
    path = new URL(entry.uri).pathname.replace(/\/+$/, '');
  } catch {
    return false;
  }
  return /\/debian(-security)?$/.test(path) || entry.suites.some((s) => wanted.includes(s));
}

/**
 * Binary ("deb") entries of the host's apt configuration: sources.list first,
 * then sources.list.d/*.list and *.sources in name order, as apt reads them.
 * Disabled entries, deb-src, flat repositories and unusable URIs are skipped.
 */
export function readAptSources(opts: Omit<MirrorOptions, 'env'>): AptSourceEntry[] {
  const listFile = opts.aptSourcesList ?? '/etc/apt/sources.list';
  const dir = opts.aptSourcesDir ?? '/etc/apt/sources.list.d';
  const entries: AptSourceEntry[] = [];
  const text = readOptional(listFile);
  if (text !== undefined) entries.push(...parseOneLineSources(text, listFile));
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    // No sources.list.d: nothing more to read.
  }
  for (const name of names) {
    const path = join(dir, name);
    if (name.endsWith('.list')) {
      const content = readOptional(path);
      if (content !== undefined) entries.push(...parseOneLineSources(content, path));
    } else if (name.endsWith('.sources')) {
      const content = readOptional(path);
      if (content !== undefined) entries.push(...parseDeb822Sources(content, path));
    }
  }
  return entries.filter((e) => usableUri(e.uri));
}

/** `deb [opts] uri suite component...` lines. */
export function parseOneLineSources(text: string, file: string): AptSourceEntry[] {
  const entries: AptSourceEntry[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    const match = /^(\S+)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)(.*)$/.exec(line);
    if (match === null || match[1] !== 'deb') continue;
    const suite = match[3]!;
    if (suite.endsWith('/')) continue; // flat repository, no dists/ tree
    entries.push({ uri: match[2]!.replace(/\/+$/, ''), suites: [suite], components: match[4]!.trim().split(/\s+/).filter(Boolean), file });
  }
  return entries;
}

/** deb822 `*.sources` paragraphs (Types, URIs, Suites, Components, Enabled). */
export function parseDeb822Sources(text: string, file: string): AptSourceEntry[] {
  let paragraphs;
  try {
    paragraphs = parseDeb822Text(text, { comments: true, source: file, errorCode: 'MIRROR' });
  } catch {
    return []; // apt would refuse this file too; it cannot name our mirror.
  }
  const entries: AptSourceEntry[] = [];
  for (const p of paragraphs) {
    const words = (name: string): string[] => (field(p, name) ?? '').split(/\s+/).filter(Boolean);
    if (!words('Types').includes('deb')) continue;
    if (/^(no|false|0)$/i.test(field(p, 'Enabled')?.trim() ?? 'yes')) continue;
    const suites = words('Suites').filter((s) => !s.endsWith('/'));
    if (suites.length === 0) continue;
    for (const uri of words('URIs')) {
      entries.push({ uri: uri.replace(/\/+$/, ''), suites, components: words('Components'), file });
    }
  }
  return entries;
}

function usableUri(uri: string): boolean {
  try {
    return ['http:', 'https:', 'file:'].includes(new URL(uri).protocol);
  } catch {
    return false;
  }
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
