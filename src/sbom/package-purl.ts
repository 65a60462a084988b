/**
 * purls for what an image holds:
 *   pkg:deb/debian/libc6@2.36-9%2Bdeb12u9?arch=amd64&distro=debian-12
 *   pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3
 *   pkg:oci/static@sha256:…?arch=amd64&repository_url=docker.io%2Flibrary%2Fstatic&tag=latest
 * The namespace is the os-release ID (debian, ubuntu, alpine, wolfi…), else
 * the family's usual one.
 */
import type { PackageFamily, SbomOperatingSystem } from './model.js';
import { distroQualifier } from './os-release.js';
import { formatPurl } from './purl.js';
import type { ImageRef } from '../util/reference.js';

const DEFAULT_NAMESPACE: Record<PackageFamily, string> = { deb: 'debian', apk: 'alpine' };

export function packagePurl(family: PackageFamily, name: string, version: string, arch: string, os: SbomOperatingSystem | undefined): string {
  const qualifiers: Record<string, string> = { arch };
  const distro = distroQualifier(os);
  if (distro !== undefined) qualifiers.distro = distro;
  return formatPurl({ type: family, namespace: os?.id ?? DEFAULT_NAMESPACE[family], name, version, qualifiers, subpath: undefined });
}

/** The image by digest: name = last path component, repository_url = the rest of the reference without its tag. */
export function imagePurl(ref: ImageRef, digest: string, arch: string): string {
  const repository = ref.fullName.slice(0, ref.fullName.length - ref.tag.length - 1);
  const name = repository.split('/').pop()!;
  return formatPurl({ type: 'oci', namespace: undefined, name, version: digest, qualifiers: { arch, repository_url: repository, tag: ref.tag }, subpath: undefined });
}
