/**
 * Remembers a Debian resolution, keyed by everything it was computed from:
 * the SHA-256 and base URL of every suite's verified InRelease (which pins
 * every index it lists), the components, architecture, suite order,
 * include and exclude lists, whether a CA bundle is wanted, and the tool
 * version. A warm build with unchanged inputs then skips loading ~60,000
 * index entries and the resolver (about 1 s and 200 MB on bookworm).
 *
 * The Release files are still fetched and verified on every build (a new
 * InRelease means a new key); the entry is only read after that succeeded.
 * Entries live in the derived cache, whose own checksum catches damage; one
 * that does not look like a resolution is ignored and recomputed.
 */
import { createHash } from 'node:crypto';
import type { Arch, DebianSource, Spec } from '../../spec/types.js';
import type { BuildContext } from '../../pipeline/context.js';
import type { ResolvedPackage } from '../types.js';
import { TOOL } from '../../version.js';
import type { DroppedDependency } from './resolve.js';
import type { ReleaseInfo } from './types.js';

/** Bump when the resolver's answers or the stored form change without a version change. */
const FORMAT = 'debian-resolution/v1';

export interface CachedResolution {
  packages: ResolvedPackage[];
  /** The ca-certificates package read for the CA bundle only (DebianBackend). */
  caPackage: ResolvedPackage | undefined;
  dropped: DroppedDependency[];
}

export function resolutionKey(source: DebianSource, spec: Spec, arch: Arch, releases: ReleaseInfo[]): string {
  const inputs = {
    tool: `${TOOL.name} ${TOOL.version}`,
    releases: releases.map((r) => [r.suite, r.baseUrl, r.sha256]),
    suites: source.suites,
    components: source.components,
    arch,
    include: spec.packages.include,
    exclude: spec.packages.exclude,
    caBundle: spec.caCertificates.bundle,
  };
  return `${FORMAT}/${createHash('sha256').update(JSON.stringify(inputs)).digest('hex')}`;
}

export async function readCachedResolution(ctx: BuildContext, key: string): Promise<CachedResolution | undefined> {
  const data = await ctx.derived.get(key);
  if (data === undefined) return undefined;
  try {
    const raw = JSON.parse(data.toString('utf8')) as { packages?: unknown; caPackage?: unknown; dropped?: unknown };
    if (!Array.isArray(raw.packages) || !Array.isArray(raw.dropped)) return undefined;
    return {
      packages: raw.packages.map(revive),
      caPackage: raw.caPackage === undefined || raw.caPackage === null ? undefined : revive(raw.caPackage),
      dropped: raw.dropped.map((d: DroppedDependency) => ({ from: str(d.from), relation: str(d.relation), why: str(d.why) })),
    };
  } catch {
    return undefined;
  }
}

export async function writeCachedResolution(ctx: BuildContext, key: string, value: CachedResolution): Promise<void> {
  await ctx.derived.put(key, Buffer.from(JSON.stringify({ ...value, caPackage: value.caPackage ?? null })));
}

class NotAResolution extends Error {}

function str(v: unknown): string {
  if (typeof v !== 'string') throw new NotAResolution();
  return v;
}

function num(v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new NotAResolution();
  return v;
}

/**
 * A ResolvedPackage with the keys, order and `undefined`s the resolver gives
 * it (JSON drops undefined values), so nothing downstream can tell a cached
 * resolution from a fresh one.
 */
function revive(v: unknown): ResolvedPackage {
  if (typeof v !== 'object' || v === null) throw new NotAResolution();
  const p = v as Record<string, unknown>;
  const source = p.source as { name?: unknown; version?: unknown } | undefined;
  const fields = p.fields as Record<string, unknown>;
  if (typeof fields !== 'object' || fields === null || !Array.isArray(p.dependsOn)) throw new NotAResolution();
  return {
    name: str(p.name),
    version: str(p.version),
    architecture: str(p.architecture),
    url: str(p.url),
    filename: str(p.filename),
    size: num(p.size),
    sha256: str(p.sha256),
    source: source === undefined ? undefined : { name: str(source.name), version: str(source.version) },
    maintainer: p.maintainer === undefined ? undefined : str(p.maintainer),
    installedSize: p.installedSize === undefined ? undefined : num(p.installedSize),
    repository: str(p.repository),
    dependsOn: p.dependsOn.map(str),
    reason: str(p.reason),
    fields: Object.fromEntries(Object.entries(fields).map(([k, value]) => [k, str(value)])),
  };
}
