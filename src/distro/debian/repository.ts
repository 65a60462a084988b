/**
 * Opens the Debian archive a spec describes: resolves each suite's mirror,
 * fetches and verifies every suite's Release concurrently, then loads the
 * Packages index of every component. Packages come back in suite order, then
 * component order, as the spec lists them (the resolver breaks ties by that
 * order).
 */
import type { Arch, DebianSource } from '../../spec/types.js';
import type { BuildContext } from '../../pipeline/context.js';
import { BaseimgError, didYouMean } from '../../util/errors.js';
import { isNotFoundError } from '../../net/http.js';
import { settleAll } from '../../net/missing.js';
import { isSecuritySuite, resolveDebianMirrorsDetailed, type MirrorOptions, type ResolvedMirror } from './mirror.js';
import { fetchRelease } from './release.js';
import { loadPackagesIndex } from './packages-index.js';
import { timed } from '../../util/timings.js';
import type { DebPackage, ReleaseInfo } from './types.js';

export interface DebianRepository {
  /** In the order of source.suites. */
  releases: ReleaseInfo[];
  packages: DebPackage[];
}

/** Names offered when a suite is missing: codenames and aliases, with the usual suffixes. */
const CODENAMES = ['buster', 'bullseye', 'bookworm', 'trixie', 'forky', 'duke', 'sid'];
const ALIASES = ['oldoldstable', 'oldstable', 'stable', 'testing', 'unstable', 'experimental'];
const SUFFIXES = ['', '-updates', '-security', '-backports', '-proposed-updates'];
const KNOWN_SUITES = [...CODENAMES, ...ALIASES].flatMap((name) => SUFFIXES.map((suffix) => name + suffix));

export async function openDebianRepository(
  source: DebianSource,
  arch: Arch,
  ctx: BuildContext,
  mirrorOptions: MirrorOptions = { env: process.env },
): Promise<DebianRepository> {
  const releases = await fetchDebianReleases(source, ctx, mirrorOptions);
  return { releases, packages: await loadDebianPackages(source, arch, releases, ctx) };
}

/**
 * Releases already fetched in this build (one fetcher), by mirrors, suites
 * and keyrings: each level of a layered image resolves again, and all of
 * them must see the same Releases anyway.
 */
const fetchedReleases = new WeakMap<object, Map<string, Promise<ReleaseInfo[]>>>();

/** Every suite's Release, fetched and verified concurrently, in suite order; components checked. */
export async function fetchDebianReleases(
  source: DebianSource,
  ctx: BuildContext,
  mirrorOptions: MirrorOptions = { env: process.env },
): Promise<ReleaseInfo[]> {
  const mirrors = resolveDebianMirrorsDetailed(source, mirrorOptions);
  let memo = fetchedReleases.get(ctx.fetcher);
  if (memo === undefined) fetchedReleases.set(ctx.fetcher, (memo = new Map()));
  const key = JSON.stringify([[...mirrors].map(([suite, m]) => [suite, m.url]), source.keyring, source.snapshot ?? null]);
  let pending = memo.get(key);
  if (pending === undefined) {
    pending = fetchReleases(source, mirrors, ctx);
    memo.set(key, pending);
    pending.catch(() => memo.delete(key));
  }
  const releases = await pending;
  for (const release of releases) checkComponents(release, source.components);
  return releases;
}

async function fetchReleases(source: DebianSource, mirrors: Map<string, ResolvedMirror>, ctx: BuildContext): Promise<ReleaseInfo[]> {
  for (const [suite, mirror] of mirrors) ctx.reporter.debug(`suite ${suite}: ${mirror.url} (${mirror.from})`);

  const sink = (stage: string, ms: number): void => ctx.reporter.timing(stage, ms);
  // A snapshot is checked as of its own time: its Release was current then, not now.
  const trustCtx = source.snapshot === undefined ? ctx : { ...ctx, now: snapshotTrustTime(source.snapshot, ctx.now) };
  // settleAll, not Promise.all: --offline then names every missing file at once.
  const releases = await settleAll(
    source.suites.map(async (suite) => {
      const baseUrl = mirrors.get(suite)!.url;
      try {
        return await timed(sink, 'resolve/release', () => fetchRelease(trustCtx, baseUrl, suite, source.keyring));
      } catch (err) {
        if (isNotFoundError(err)) throw suiteNotFound(suite, baseUrl, source.suites);
        throw err;
      }
    }),
  );
  return releases;
}

/** The packages of every suite × component, in suite order, then component order. */
export async function loadDebianPackages(source: DebianSource, arch: Arch, releases: ReleaseInfo[], ctx: BuildContext): Promise<DebPackage[]> {
  const perIndex = await settleAll(
    releases.flatMap((release) =>
      source.components.map((component) => loadPackagesIndex(ctx, release, { component, arch })),
    ),
  );
  const packages: DebPackage[] = [];
  for (const list of perIndex) for (const p of list) packages.push(p);
  return packages;
}

/**
 * The time a snapshot's Release files are judged at (Valid-Until, signing
 * keys): the snapshot's own, or now for a timestamp in the future.
 */
export function snapshotTrustTime(timestamp: string, now: Date): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(timestamp)!;
  const at = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  return at < now ? at : now;
}

function suiteNotFound(suite: string, baseUrl: string, requested: string[]): BaseimgError {
  const others = requested.filter((s) => s !== suite);
  const security = isSecuritySuite(suite) && !/-security$/.test(baseUrl) ? ' (security suites live in the …/debian-security archive)' : '';
  return new BaseimgError(
    'MIRROR',
    `suite "${suite}" not found: ${baseUrl}/dists/${suite}/InRelease does not exist${didYouMean(suite, KNOWN_SUITES)}`,
    {
      hint:
        `check the suite name in source.suites${security}; suites look like "bookworm", "bookworm-updates", "bookworm-security"` +
        (others.length > 0 ? ` (the spec also lists ${others.join(', ')})` : ''),
    },
  );
}

/** Every requested component must be one the Release declares. */
function checkComponents(release: ReleaseInfo, components: string[]): void {
  const declared = declaredComponents(release);
  for (const component of components) {
    if (declared.has(component)) continue;
    const listed = [...declared].sort();
    throw new BaseimgError(
      'MIRROR',
      `component "${component}" is not in suite ${release.suite} at ${release.baseUrl}${didYouMean(component, listed)}`,
      { hint: `components of ${release.suite}: ${listed.length > 0 ? listed.join(', ') : '(none)'}` },
    );
  }
}

/** Components with a binary index in the Release (the Components field can be absent on small archives). */
function declaredComponents(release: ReleaseInfo): Set<string> {
  const found = new Set<string>();
  for (const path of release.files.keys()) {
    const m = /^(.+)\/binary-[^/]+\/Packages/.exec(path);
    if (m !== null) found.add(m[1]!);
  }
  return found;
}
