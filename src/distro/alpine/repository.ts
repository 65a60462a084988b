/**
 * Opens the repositories an Alpine spec lists: fetches each
 * <repository>/<arch>/APKINDEX.tar.gz (concurrently), verifies it, and
 * returns the packages usable on the architecture in repository order.
 * Entries that cannot be used (a malformed field) are set aside with the
 * reason, so only a spec that needs one of them fails.
 */
import { readFile } from 'node:fs/promises';
import type { Arch } from '../../spec/types.js';
import type { BuildContext } from '../../pipeline/context.js';
import type { ResolutionSource } from '../types.js';
import { BaseimgError, isBaseimgError } from '../../util/errors.js';
import { isNotFoundError } from '../../net/http.js';
import { apkArch, installableArch } from './arch.js';
import { fieldValue } from './apkindex.js';
import { openApkIndex } from './index-file.js';
import { packageFromEntry, type ApkPackage } from './package.js';
import type { TrustPolicy } from './trust.js';

export interface AlpineRepositories {
  /** Usable packages, repository by repository in the spec's order. */
  packages: ApkPackage[];
  /** Package name → why its entry could not be used. */
  broken: Map<string, string>;
  /** Package name → architectures it exists for when none is usable here. */
  otherArchs: Map<string, Set<string>>;
  sources: ResolutionSource[];
}

const INDEX_MAX_DOWNLOAD = 256 * 1024 * 1024;

export async function openAlpineRepositories(repositories: readonly string[], arch: Arch, policy: TrustPolicy, ctx: BuildContext): Promise<AlpineRepositories> {
  const dir = apkArch(arch);
  const opened = await Promise.all(repositories.map((url, index) => openOne(url, index, dir, policy, ctx)));
  const result: AlpineRepositories = { packages: [], broken: new Map(), otherArchs: new Map(), sources: [] };
  for (const repo of opened) {
    result.sources.push(repo.source);
    for (const entry of repo.entries) {
      const entryArch = fieldValue(entry, 'A');
      const name = fieldValue(entry, 'P');
      if (!installableArch(entryArch, arch)) {
        if (name !== undefined) result.otherArchs.set(name, (result.otherArchs.get(name) ?? new Set()).add(entryArch!));
        continue;
      }
      try {
        result.packages.push(packageFromEntry(entry, { url: repo.url, index: repo.index, arch: dir }, repo.what));
      } catch (e) {
        if (!isBaseimgError(e)) throw e;
        ctx.reporter.debug(`skipping an entry: ${e.message}`);
        if (name !== undefined && !result.broken.has(name)) result.broken.set(name, e.message);
      }
    }
  }
  return result;
}

async function openOne(url: string, index: number, dir: string, policy: TrustPolicy, ctx: BuildContext) {
  const indexUrl = `${url}/${dir}/APKINDEX.tar.gz`;
  const what = `APKINDEX of ${url} (${dir})`;
  let fetched;
  try {
    fetched = await ctx.fetcher.fetchFile(indexUrl, { what, maxBytes: INDEX_MAX_DOWNLOAD });
  } catch (e) {
    if (!isNotFoundError(e)) throw e;
    throw new BaseimgError('MIRROR', `repository ${url} has no index for ${dir}: ${indexUrl} does not exist`, {
      hint: 'check source.repositories: an Alpine repository URL ends in the branch and repository, e.g. …/alpine/v3.20/main',
      cause: e,
    });
  }
  const file = await openApkIndex(await readFile(fetched.path), policy, what, ctx.reporter);
  ctx.reporter.debug(`${what}: ${file.entries.length} entries${file.description ? `, ${file.description}` : ''}, signed by ${file.keyName ?? '(untrusted)'}`);
  const source: ResolutionSource = {
    url: indexUrl,
    suite: url,
    date: undefined,
    sha256: fetched.sha256,
    baseUrl: `${url}/${dir}`,
    ...(file.keyName !== undefined ? { key: file.keyName } : {}),
  };
  return { url, index, what, entries: file.entries, source };
}
