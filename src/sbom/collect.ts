/**
 * The SBOM model of an image baseimg just built, from what the build knows
 * (the resolution: versions, checksums, URLs, dependency edges) and what
 * the finished root tree says (copyright files, os-release, the package
 * database finalize wrote). A package downloaded only for finalize (the CA
 * bundle's source) is listed as partially installed when the package
 * database records it, with the files of it the image really holds.
 */
import type { InstalledPackage, ResolvedPackage } from '../distro/types.js';
import { TOOL } from '../version.js';
import type { ImageFiles } from './image-files.js';
import { ExtractedLicenses } from './license/extracted.js';
import { debianDeclaredLicense } from './license/debian.js';
import { alpineDeclaredLicense } from './license/alpine.js';
import { isoSeconds, type DeclaredLicense, type PackageFamily, type SbomFile, type SbomModel, type SbomOperatingSystem, type SbomPackage } from './model.js';
import { readOperatingSystem } from './os-release.js';
import { readPackageDb, type DbPackage } from './package-db.js';
import { packagePurl } from './package-purl.js';
import { dependencyEdges } from './dependencies.js';

export interface BuildSbomInput {
  files: ImageFiles;
  family: 'debian' | 'alpine';
  /** Installed packages, in install order. */
  installed: readonly InstalledPackage[];
  /** Packages downloaded for finalize only (not installed). */
  auxiliary: readonly ResolvedPackage[];
  /** The spec's name. */
  imageName: string;
  /** OCI architecture ("amd64", "arm64"). */
  architecture: string;
  sourceDateEpoch: number;
  /** --sbom-files: per-file hashes of the tree. */
  fileHashes?: SbomFile[] | undefined;
}

const MAX_LISTED_FILES = 20;

export async function collectBuildSbom(input: BuildSbomInput): Promise<SbomModel> {
  const family: PackageFamily = input.family === 'debian' ? 'deb' : 'apk';
  const os = await readOperatingSystem(input.files);
  const db = new Map((await readPackageDb(input.files)).map((p) => [p.name, p]));
  const extracted = new ExtractedLicenses();
  const packages: SbomPackage[] = [];
  const seen = new Set<string>();

  for (const { pkg } of input.installed) {
    packages.push(await fromResolved(pkg, family, os, input.files, extracted, db.get(pkg.name), 'complete', undefined));
    seen.add(pkg.name);
  }
  for (const pkg of input.auxiliary) {
    const record = db.get(pkg.name);
    if (record === undefined || seen.has(pkg.name)) continue; // used at build time only, nothing of it in the image
    const present = record.files ?? [];
    const listed = present.slice(0, MAX_LISTED_FILES).join(', ') + (present.length > MAX_LISTED_FILES ? `, … (${present.length} files)` : '');
    const note = `partially installed: ${pkg.reason}; of its files the image holds ${present.length === 0 ? 'none' : listed}`;
    packages.push(await fromResolved(pkg, family, os, input.files, extracted, record, 'partial', note));
    seen.add(pkg.name);
  }
  const all = [...db.values()];
  for (const record of all) {
    if (seen.has(record.name)) continue;
    const note = 'listed in the image\'s package database, not installed by this build';
    packages.push(await fromDatabase(record, os, input.files, extracted, note, dependencyEdges(record, all)));
  }

  const names = new Set(packages.map((p) => p.name));
  for (const p of packages) p.dependsOn = p.dependsOn.filter((d) => names.has(d) && d !== p.name).sort();
  packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    tool: { name: TOOL.name, version: TOOL.version },
    created: isoSeconds(input.sourceDateEpoch),
    image: { name: input.imageName, os: 'linux', architecture: input.architecture },
    operatingSystem: os,
    packages,
    licenses: extracted.usedBy(packages.map((p) => p.license.expression)),
    files: input.fileHashes,
  };
}

async function fromResolved(
  pkg: ResolvedPackage,
  family: PackageFamily,
  os: SbomOperatingSystem | undefined,
  files: ImageFiles,
  extracted: ExtractedLicenses,
  record: DbPackage | undefined,
  installed: 'complete' | 'partial',
  note: string | undefined,
): Promise<SbomPackage> {
  const license = family === 'deb'
    ? await debianDeclaredLicense(files, pkg.name, extracted)
    : alpineDeclaredLicense(pkg.fields.L ?? pkg.fields.license ?? record?.license);
  return {
    family,
    name: pkg.name,
    version: pkg.version,
    architecture: pkg.architecture,
    purl: packagePurl(family, pkg.name, pkg.version, pkg.architecture, os),
    supplier: pkg.maintainer ?? record?.maintainer,
    license,
    sha256: pkg.sha256,
    downloadLocation: pkg.url,
    filename: pkg.filename,
    source: pkg.source,
    dependsOn: [...pkg.dependsOn],
    installed,
    note,
  };
}

/** A package known only from the image's database (an image baseimg did not build, or a stray record). */
export async function fromDatabase(
  record: DbPackage,
  os: SbomOperatingSystem | undefined,
  files: ImageFiles,
  extracted: ExtractedLicenses,
  note: string | undefined,
  dependsOn: string[],
): Promise<SbomPackage> {
  const license: DeclaredLicense = record.family === 'deb'
    ? await debianDeclaredLicense(files, record.name, extracted)
    : alpineDeclaredLicense(record.license);
  return {
    family: record.family,
    name: record.name,
    version: record.version,
    architecture: record.architecture,
    purl: packagePurl(record.family, record.name, record.version, record.architecture, os),
    supplier: record.maintainer,
    license,
    sha256: undefined,
    downloadLocation: undefined,
    filename: undefined,
    source: record.source,
    dependsOn,
    installed: 'complete',
    note,
  };
}
