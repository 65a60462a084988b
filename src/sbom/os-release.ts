/**
 * The image's os-release (/etc/os-release, else /usr/lib/os-release), for
 * the SBOM's OPERATING_SYSTEM element and the purls' distro qualifier.
 * Shell-style KEY=value lines; quotes and backslash escapes removed.
 */
import type { ImageFiles } from './image-files.js';
import type { SbomOperatingSystem } from './model.js';

const PATHS = ['/etc/os-release', '/usr/lib/os-release'];

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) value = value.slice(1, -1);
    out[m[1]!] = q === "'" ? value : value.replace(/\\(["$`\\])/g, '$1');
  }
  return out;
}

export async function readOperatingSystem(files: ImageFiles): Promise<SbomOperatingSystem | undefined> {
  for (const path of PATHS) {
    const data = await files.readFile(path);
    if (data === undefined) continue;
    const f = parseOsRelease(data.toString('utf8'));
    if (!f.ID) return undefined;
    return { id: f.ID, versionId: f.VERSION_ID, codename: f.VERSION_CODENAME, name: f.NAME, prettyName: f.PRETTY_NAME };
  }
  return undefined;
}

/** purl "distro" qualifier: "debian-12", "alpine-3.20.3"; the codename when there is no version (testing, sid). */
export function distroQualifier(os: SbomOperatingSystem | undefined): string | undefined {
  if (!os) return undefined;
  const v = os.versionId ?? os.codename;
  return v === undefined ? undefined : `${os.id}-${v}`;
}
