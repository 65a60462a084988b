/** One installable package as an APKINDEX entry describes it, with its relations parsed. */
import { BaseimgError } from '../../util/errors.js';
import { fieldValue, flatFields, listField, type ApkIndexEntry } from './apkindex.js';
import { parseDependencyList, parseProvides, type ApkDependency, type Provision } from './dependency.js';

export interface ApkPackage {
  name: string;
  version: string;
  /** A: ("x86_64", "aarch64", "noarch"); undefined when the index omits it. */
  arch: string | undefined;
  /** C: the identity checksum, "Q1" + base64(SHA-1 of the control member). */
  checksum: string;
  /** S: bytes of the .apk file. */
  size: number;
  /** I: bytes once installed. */
  installedSize: number | undefined;
  depends: ApkDependency[];
  provides: Provision[];
  installIf: ApkDependency[];
  /** k: makes unversioned provides selectable; higher wins. */
  providerPriority: number | undefined;
  origin: string | undefined;
  maintainer: string | undefined;
  /** Every field of the entry (repeated letters joined by newlines). */
  fields: Record<string, string>;
  /** Repository base URL as the spec lists it, and its position there (0 = most preferred). */
  repository: string;
  repositoryIndex: number;
  /** URL of the .apk: <repository>/<arch>/<name>-<version>.apk. */
  url: string;
}

export interface RepositoryRef {
  url: string;
  index: number;
  /** The architecture directory of the repository ("x86_64"). */
  arch: string;
}

const CHECKSUM = /^Q1[A-Za-z0-9+/]{27}=$/;

/**
 * Turn an index entry into a package. An entry that cannot be used (missing
 * or malformed required fields, unparseable relations) throws; the caller
 * decides whether that matters (see repository.ts).
 */
export function packageFromEntry(entry: ApkIndexEntry, repo: RepositoryRef, what: string): ApkPackage {
  const at = `${what}:${entry.line}`;
  const name = fieldValue(entry, 'P');
  const version = fieldValue(entry, 'V');
  const checksum = fieldValue(entry, 'C');
  const size = fieldValue(entry, 'S');
  if (name === undefined || name === '') throw broken(at, 'entry has no P: (name)');
  const label = `${at}: ${name}`;
  if (version === undefined || !/^\S+$/.test(version)) throw broken(label, `V:${version ?? ''} is not a version`);
  if (checksum === undefined || !CHECKSUM.test(checksum)) throw broken(label, `C:${checksum ?? ''} is not a Q1 (SHA-1) checksum`);
  if (size === undefined || !/^[0-9]+$/.test(size) || !Number.isSafeInteger(Number(size))) throw broken(label, `S:${size ?? ''} is not a size in bytes`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(name)) throw broken(label, 'is not a valid package name');
  const where = `${name} ${version}`;
  const installed = fieldValue(entry, 'I');
  const priority = fieldValue(entry, 'k');
  return {
    name,
    version,
    arch: fieldValue(entry, 'A'),
    checksum,
    size: Number(size),
    installedSize: installed !== undefined && /^[0-9]+$/.test(installed) ? Number(installed) : undefined,
    depends: parseDependencyList(listField(entry, 'D'), `D: of ${where}`),
    provides: parseProvides(listField(entry, 'p'), `p: of ${where}`),
    installIf: parseDependencyList(listField(entry, 'i'), `i: of ${where}`),
    providerPriority: priority !== undefined && /^[0-9]+$/.test(priority) ? Number(priority) : undefined,
    origin: fieldValue(entry, 'o'),
    maintainer: fieldValue(entry, 'm'),
    fields: flatFields(entry),
    repository: repo.url,
    repositoryIndex: repo.index,
    url: `${repo.url}/${repo.arch}/${name}-${version}.apk`,
  };
}

function broken(where: string, problem: string): BaseimgError {
  return new BaseimgError('RESOLVE', `${where} ${problem}`);
}
