/**
 * Package URLs (purl): "pkg:type/namespace/name@version?qualifiers#subpath".
 *
 * Encoding follows the purl specification's "Character encoding" clause:
 * every octet outside A–Z a–z 0–9 . - _ ~ is percent-encoded (UTF-8 first),
 * except ':' which is never encoded. So a Debian epoch stays "1:4.13" and
 * '+' becomes "%2B": the purl-spec test suite's canonical form is
 * "pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64". Parsers must still accept
 * "%3A" (older writers produce it); decoding takes care of that.
 * Qualifiers are written sorted by key; empty values are dropped. Type and
 * qualifier keys are lowercased; the oci type also lowercases its name.
 */
import { BaseimgError } from '../util/errors.js';

export interface PackageURL {
  type: string;
  /** Segments joined with '/' (decoded); undefined when absent. */
  namespace: string | undefined;
  name: string;
  version: string | undefined;
  /** Decoded values by lowercase key. */
  qualifiers: Record<string, string>;
  subpath: string | undefined;
}

const TYPE_RE = /^[a-zA-Z][a-zA-Z0-9.+-]*$/;
const KEY_RE = /^[a-zA-Z][a-zA-Z0-9._-]*$/;
const UNRESERVED = /[A-Za-z0-9._~:-]/;

/** Percent-encode one component string (see the file comment for the allowed set). */
export function encodePurlComponent(value: string): string {
  let out = '';
  for (const ch of value) {
    if (UNRESERVED.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function decode(value: string, what: string, purl: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw invalid(purl, `${what} has a malformed percent-encoding`);
  }
}

function invalid(purl: string, why: string): BaseimgError {
  return new BaseimgError('INTERNAL', `invalid package URL ${JSON.stringify(purl)}: ${why}`);
}

/** The canonical string for `p`. Throws on a component the spec does not allow. */
export function formatPurl(p: PackageURL): string {
  if (!TYPE_RE.test(p.type)) throw invalid(`pkg:${p.type}/${p.name}`, `type "${p.type}" is not letters, digits, ".", "+" or "-"`);
  const type = p.type.toLowerCase();
  const name = type === 'oci' ? p.name.toLowerCase() : p.name;
  if (name === '') throw invalid(`pkg:${type}/`, 'the name is empty');
  let out = `pkg:${type}/`;
  const namespace = (p.namespace ?? '').split('/').filter((s) => s !== '');
  if (namespace.length > 0) out += namespace.map(encodePurlComponent).join('/') + '/';
  out += encodePurlComponent(name);
  if (p.version !== undefined && p.version !== '') out += `@${encodePurlComponent(p.version)}`;
  const pairs = Object.entries(p.qualifiers)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => {
      if (!KEY_RE.test(k)) throw invalid(out, `qualifier key "${k}" is not allowed`);
      return `${k.toLowerCase()}=${encodePurlComponent(v)}`;
    })
    .sort();
  if (pairs.length > 0) out += `?${pairs.join('&')}`;
  const subpath = (p.subpath ?? '').split('/').filter((s) => s !== '' && s !== '.' && s !== '..');
  if (subpath.length > 0) out += `#${subpath.map(encodePurlComponent).join('/')}`;
  return out;
}

/** Parse a purl string (right to left, as the spec describes). Throws on malformed input. */
export function parsePurl(purl: string): PackageURL {
  let rest = purl;
  let subpath: string | undefined;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    const segs = rest.slice(hash + 1).split('/').filter((s) => s !== '' && s !== '.' && s !== '..');
    subpath = segs.length > 0 ? segs.map((s) => decode(s, 'subpath', purl)).join('/') : undefined;
    rest = rest.slice(0, hash);
  }
  const qualifiers: Record<string, string> = {};
  const question = rest.indexOf('?');
  if (question >= 0) {
    for (const pair of rest.slice(question + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq <= 0) throw invalid(purl, `qualifier "${pair}" has no key=value form`);
      const key = pair.slice(0, eq).toLowerCase();
      if (!KEY_RE.test(key)) throw invalid(purl, `qualifier key "${key}" is not allowed`);
      if (key in qualifiers) throw invalid(purl, `qualifier "${key}" appears twice`);
      const value = decode(pair.slice(eq + 1), `qualifier ${key}`, purl);
      if (value !== '') qualifiers[key] = value;
    }
    rest = rest.slice(0, question);
  }
  const colon = rest.indexOf(':');
  if (colon < 0 || rest.slice(0, colon).toLowerCase() !== 'pkg') throw invalid(purl, 'the scheme is not "pkg:"');
  rest = rest.slice(colon + 1).replace(/^\/+/, '').replace(/\/+$/, '');
  const slash = rest.indexOf('/');
  if (slash <= 0) throw invalid(purl, 'there is no type/name');
  const type = rest.slice(0, slash).toLowerCase();
  if (!TYPE_RE.test(type)) throw invalid(purl, `type "${type}" is not allowed`);
  rest = rest.slice(slash + 1);
  let version: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    version = decode(rest.slice(at + 1), 'version', purl);
    rest = rest.slice(0, at);
  }
  const segs = rest.split('/').filter((s) => s !== '');
  const rawName = segs.pop();
  if (rawName === undefined) throw invalid(purl, 'the name is empty');
  let name = decode(rawName, 'name', purl);
  if (type === 'oci') name = name.toLowerCase();
  const namespace = segs.length > 0 ? segs.map((s) => decode(s, 'namespace', purl)).join('/') : undefined;
  return { type, namespace, name, version: version === '' ? undefined : version, qualifiers, subpath };
}
