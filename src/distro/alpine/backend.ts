/**
 * The Alpine (and Wolfi) family behind the DistroBackend interface: signed
 * APKINDEX files → resolver → verified .apk installer → finalize with apk's
 * database. One instance per build: it keeps the trust policy, the parsed
 * .PKGINFO and file lists between install and finalize.
 */
import type { AlpineSource, Arch, Spec } from '../../spec/types.js';
import type { BuildContext } from '../../pipeline/context.js';
import type { RootTree } from '../../rootfs/tree.js';
import type { DistroBackend, FinalizeContext, InstalledPackage, ResolvedPackage, Resolution } from '../types.js';
import { BaseimgError } from '../../util/errors.js';
import { apkArch } from './arch.js';
import { openApk, verifyApk } from './apk-file.js';
import { unpackApkData, type InstalledInfo } from './apk-install.js';
import { CA_BUNDLE_PACKAGE } from './ca-bundle.js';
import { parseDependencyList } from './dependency.js';
import { finalizeAlpine } from './finalize.js';
import type { DbDirectory } from './installed-db.js';
import { HOST_KEYS_DIR, loadTrustedKeys } from './keys.js';
import { infoList, infoValue, type PkgInfo } from './pkginfo.js';
import { openAlpineRepositories } from './repository.js';
import { resolveAlpine } from './resolve.js';
import type { TrustPolicy } from './trust.js';
import type { LockInputs, LockedArch } from '../../lock/types.js';
import { alpineLockInputs, resolveAlpineLocked } from './lock.js';

export interface AlpineBackendOptions {
  /** Keys trusted when the spec lists none (default /etc/apk/keys, as apk). */
  hostKeysDir?: string;
}

const MIB = 1024 * 1024;
const MAX_ENTRIES = 1_000_000;
/** Derived-cache key: a package identity (C:) → SHA-256 of the .apk file verified with it. */
const fileHashKey = (checksum: string): string => `alpine/apk-sha256/v1/${checksum}`;

export class AlpineBackend implements DistroBackend {
  readonly family = 'alpine' as const;
  private policy: TrustPolicy | undefined;
  private world: string[] = [];
  private readonly installed = new Map<string, InstalledInfo>();
  private readonly records = new Map<string, { pkginfo: PkgInfo; dirs: DbDirectory[] }>();

  constructor(private readonly options: AlpineBackendOptions = {}) {}

  async resolve(spec: Spec, arch: Arch, ctx: BuildContext): Promise<Resolution> {
    const source = alpineSource(spec);
    const policy = await this.trust(source, ctx);
    const repos = await openAlpineRepositories(source.repositories, arch, policy, ctx);
    const input = {
      packages: repos.packages,
      broken: repos.broken,
      otherArchs: repos.otherArchs,
      include: spec.packages.include,
      exclude: spec.packages.exclude,
      arch: apkArch(arch),
    };
    let result = resolveAlpine(input);
    if (spec.caCertificates.bundle && !result.chosen.has(CA_BUNDLE_PACKAGE)) {
      result = resolveAlpine({ ...input, extra: [{ entry: CA_BUNDLE_PACKAGE, reason: 'CA bundle (ca-certificates.bundle = true)' }] });
    }
    for (const d of result.dropped) ctx.reporter.debug(`dropped ${d.from} → ${d.dependency}: ${d.why}`);
    this.world = result.world;
    const packages = await Promise.all(result.packages.map((p) => withKnownHash(p, ctx)));
    return { arch, packages, sources: repos.sources };
  }

  lockInputs(spec: Spec): LockInputs {
    return alpineLockInputs(alpineSource(spec), spec);
  }

  lockChecksum(pkg: ResolvedPackage): string | undefined {
    return pkg.fields['C'];
  }

  async resolveLocked(spec: Spec, locked: LockedArch, ctx: BuildContext): Promise<Resolution> {
    const source = alpineSource(spec);
    await this.trust(source, ctx);
    const { resolution, world } = resolveAlpineLocked(source, spec, locked, locked.arch);
    this.world = world;
    return resolution;
  }

  downloads(resolution: Resolution): ResolvedPackage[] {
    return resolution.packages;
  }

  /** Alpine needs nothing before the first package: no merged-/usr links (packages that want them ship them). */
  async prepareRoot(): Promise<void> {}

  async install(pkg: ResolvedPackage, file: string, root: RootTree, ctx: BuildContext): Promise<InstalledPackage> {
    const policy = this.policy;
    if (policy === undefined) throw new BaseimgError('INTERNAL', 'Alpine backend asked to install before it resolved');
    const label = `${pkg.name} ${pkg.version}`;
    const what = `package ${label} (${pkg.url})`;
    const checksum = pkg.fields['C'];
    if (checksum === undefined) throw new BaseimgError('INTERNAL', `${label} has no C: checksum to verify against`);
    const apk = await openApk(file, what);
    const verified = await verifyApk(apk, { name: pkg.name, version: pkg.version, arch: pkg.fields['A'], checksum }, policy, ctx.reporter, what);
    await ctx.derived.put(fileHashKey(checksum), Buffer.from(verified.fileSha256));
    reportSkippedScripts(label, apk.scripts, apk.pkginfo, ctx);

    const self: InstalledInfo = {
      version: pkg.version,
      checksum,
      origin: infoValue(apk.pkginfo, 'origin') ?? pkg.fields['o'],
      replaces: parseDependencyList(infoList(apk.pkginfo, 'replaces').join(' '), `replaces of ${label}`),
      replacesPriority: Number(infoValue(apk.pkginfo, 'replaces_priority') ?? 0) || 0,
    };
    const declared = Number(infoValue(apk.pkginfo, 'size') ?? pkg.installedSize ?? NaN);
    const maxUnpackedBytes = Number.isFinite(declared) ? Math.max(4 * declared + 64 * MIB, 64 * MIB) : Math.max(200 * apk.size, 64 * MIB);
    const unpacked = await unpackApkData(pkg, file, root, {
      dataSha256: verified.dataSha256,
      dataOffset: apk.dataOffset,
      maxUnpackedBytes,
      maxEntries: MAX_ENTRIES,
      installed: this.installed,
      self,
      reporter: ctx.reporter,
    });
    this.records.set(pkg.name, { pkginfo: apk.pkginfo, dirs: unpacked.dirs });
    ctx.reporter.debug(`unpacked ${label}: ${unpacked.entries} entries, signed by ${verified.keyName ?? '(untrusted)'}`);
    return {
      pkg: { ...pkg, sha256: verified.fileSha256 },
      files: unpacked.files,
      control: apk.pkginfoText,
      md5sums: undefined,
      newestMtime: unpacked.newestMtime,
    };
  }

  async finalize(root: RootTree, installed: InstalledPackage[], spec: Spec, arch: Arch, ctx: FinalizeContext): Promise<void> {
    const source = alpineSource(spec);
    const packages = installed.map((i) => {
      const record = this.records.get(i.pkg.name);
      if (record === undefined) throw new BaseimgError('INTERNAL', `no unpack record for ${i.pkg.name}`);
      return { installed: i, ...record };
    });
    await finalizeAlpine(root, spec, ctx, {
      packages,
      world: this.world.length > 0 ? this.world : [...spec.packages.include].sort(),
      repositories: source.repositories,
      keys: this.policy?.keys ?? [],
      arch: apkArch(arch),
    }, ctx.sourceDateEpoch);
  }

  private async trust(source: AlpineSource, ctx: BuildContext): Promise<TrustPolicy> {
    const keys = await loadTrustedKeys(source.keys, ctx, this.options.hostKeysDir ?? HOST_KEYS_DIR);
    this.policy = { keys, allowUntrusted: source.allowUntrusted, skipSignatures: ctx.insecureSkipVerify };
    return this.policy;
  }
}

function alpineSource(spec: Spec): AlpineSource {
  if (spec.source.distro !== 'alpine') throw new BaseimgError('INTERNAL', 'Alpine backend given a non-Alpine spec');
  return spec.source;
}

/** The file's SHA-256 when an earlier build verified this very package (same C:), so the cache can serve it. */
async function withKnownHash(pkg: ResolvedPackage, ctx: BuildContext): Promise<ResolvedPackage> {
  const checksum = pkg.fields['C'];
  if (checksum === undefined) return pkg;
  const known = (await ctx.derived.get(fileHashKey(checksum)))?.toString('utf8');
  return known !== undefined && /^[0-9a-f]{64}$/.test(known) ? { ...pkg, sha256: known } : pkg;
}

function reportSkippedScripts(label: string, scripts: string[], pkginfo: PkgInfo, ctx: BuildContext): void {
  if (scripts.length === 0) return;
  const triggers = infoList(pkginfo, 'triggers');
  const on = triggers.length > 0 ? ` (triggers on ${triggers.join(' ')})` : '';
  ctx.reporter.info(`${label}: not running ${scripts.join(', ')}${on}: baseimg never runs package scripts`);
}
