/**
 * A lock records every file's SHA-256, but not every index gives one: an
 * APKINDEX identifies a package by C: (a SHA-1 of its control part) only.
 * Such packages are downloaded once at lock time and hashed. The bytes are
 * verified the family's own way when a --locked build installs them (Alpine:
 * C: and the package signature), so a mirror that served a bad file at lock
 * time makes that build fail rather than pass.
 */
import type { ResolvedPackage, Resolution } from '../distro/types.js';
import type { BuildContext } from '../pipeline/context.js';
import { settleAll } from '../net/missing.js';

export async function withFileHashes(
  resolution: Resolution,
  downloads: ResolvedPackage[],
  ctx: BuildContext,
): Promise<{ resolution: Resolution; downloads: ResolvedPackage[] }> {
  const unknown = downloads.filter((p) => p.sha256 === '');
  if (unknown.length === 0) return { resolution, downloads };
  ctx.reporter.info(`hashing ${unknown.length} packages whose index gives no SHA-256`);
  const fetched = await settleAll(unknown.map((p) => ctx.fetcher.fetchFile(p.url, { size: p.size, what: `${p.name} ${p.version}` })));
  const hashes = new Map(unknown.map((p, i) => [p.name, fetched[i]!.sha256]));
  const hashed = (p: ResolvedPackage): ResolvedPackage => (hashes.has(p.name) ? { ...p, sha256: hashes.get(p.name)! } : p);
  return { resolution: { ...resolution, packages: resolution.packages.map(hashed) }, downloads: downloads.map(hashed) };
}
