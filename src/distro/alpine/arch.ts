/** Spec architectures (OCI names) as apk names them: the repository directory and A: field. */
import type { Arch } from '../../spec/types.js';

const APK_ARCH: Record<Arch, string> = { amd64: 'x86_64', arm64: 'aarch64' };

export function apkArch(arch: Arch): string {
  return APK_ARCH[arch];
}

/** Packages of these architectures install on `arch`: its own and "noarch". */
export function installableArch(pkgArch: string | undefined, arch: Arch): boolean {
  return pkgArch === undefined || pkgArch === 'noarch' || pkgArch === APK_ARCH[arch];
}
