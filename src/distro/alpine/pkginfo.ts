/**
 * .PKGINFO, the control file of a v2 apk: "key = value" lines, "#" comments,
 * keys may repeat (depend, provides, replaces, license, triggers...). abuild
 * writes "key = value"; an empty value ("url = ") is kept as "".
 */
import { BaseimgError } from '../../util/errors.js';

export type PkgInfo = Map<string, string[]>;

export function parsePkgInfo(text: string, what: string): PkgInfo {
  const info: PkgInfo = new Map();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? '' : line.slice(0, eq).trim();
    if (key === '') {
      throw new BaseimgError('UNPACK', `${what}:${i + 1}: not a "key = value" line: ${JSON.stringify(line.slice(0, 80))}`);
    }
    const value = line.slice(eq + 1).trim();
    const values = info.get(key);
    if (values === undefined) info.set(key, [value]);
    else values.push(value);
  }
  return info;
}

/** The value of a single-valued key (the last one when repeated). */
export function infoValue(info: PkgInfo, key: string): string | undefined {
  const values = info.get(key);
  return values === undefined ? undefined : values[values.length - 1];
}

/** Every value of a repeated key, each possibly a space-separated list ("depend = a b"). */
export function infoList(info: PkgInfo, key: string): string[] {
  return (info.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter((v) => v !== '');
}
