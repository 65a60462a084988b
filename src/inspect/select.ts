/**
 * Choosing one image of an archive that holds several: --image matches a
 * name (Docker's normalisation, so "static" finds "docker.io/library/static:latest"),
 * a bare OCI tag ("latest"), or a manifest digest prefix; --platform matches
 * os/arch[/variant]. Anything but exactly one match is an error listing the choices.
 */
import { BaseimgError } from '../util/errors.js';
import { checkImageRef } from '../util/reference.js';
import type { ImageCandidate, ImageParts, Platform } from './types.js';

export interface ImageSelector {
  /** A name, tag or digest (prefix) of the image. */
  image?: string | undefined;
  /** "os/arch" or "os/arch/variant". */
  platform?: string | undefined;
}

export interface Selected {
  candidate: ImageCandidate;
  /** Parts already loaded while matching a platform (saves reading them twice). */
  parts: ImageParts | undefined;
}

export function parsePlatform(value: string): Platform {
  const parts = value.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new BaseimgError('USAGE', `--platform ${JSON.stringify(value)} is not os/arch or os/arch/variant`, { hint: 'e.g. --platform linux/amd64 or linux/arm64/v8' });
  }
  return { os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) };
}

export function platformString(p: Platform | undefined): string {
  if (!p || (!p.os && !p.architecture)) return 'unknown platform';
  return [p.os || '?', p.architecture || '?', p.variant].filter(Boolean).join('/');
}

export function matchesRef(candidate: ImageCandidate, wanted: string): boolean {
  if (candidate.refs.includes(wanted)) return true;
  const digest = wanted.replace(/^sha256:/, '');
  if (/^[0-9a-f]{7,64}$/.test(digest) && candidate.digest?.slice(7).startsWith(digest)) return true;
  const norm = checkImageRef(wanted);
  if (typeof norm === 'string') return false;
  return candidate.refs.some((r) => {
    const other = checkImageRef(r);
    return typeof other !== 'string' && other.fullName === norm.fullName;
  });
}

function hasTag(ref: string): boolean {
  return ref.lastIndexOf(':') > ref.lastIndexOf('/') || ref.includes('@');
}

/** Same repository (normalised), whatever the tag. */
function matchesRepository(candidate: ImageCandidate, wanted: string): boolean {
  const repo = (ref: string): string | undefined => {
    const n = checkImageRef(ref);
    return typeof n === 'string' ? undefined : n.fullName.slice(0, n.fullName.lastIndexOf(':'));
  };
  const want = repo(wanted);
  return want !== undefined && candidate.refs.some((r) => repo(r) === want);
}

function platformMatches(have: Platform | undefined, want: Platform): boolean {
  if (!have) return false;
  return have.os === want.os && have.architecture === want.architecture && (want.variant === undefined || have.variant === want.variant);
}

/** One line per candidate for "choose one of" lists. */
export function describeCandidate(c: ImageCandidate, platform: Platform | undefined = c.platform): string {
  const name = c.refs.length > 0 ? c.refs.join(', ') : `image ${c.number} (${c.origin})`;
  const digest = c.digest ? `, ${c.digest.slice(0, 19)}…` : '';
  return `${name} [${platformString(platform)}${digest}]`;
}

export async function selectImage(label: string, candidates: ImageCandidate[], selector: ImageSelector): Promise<Selected> {
  let pool = candidates;
  const loaded = new Map<ImageCandidate, ImageParts>();
  const platformOf = async (c: ImageCandidate): Promise<Platform | undefined> => {
    if (c.platform) return c.platform;
    let parts = loaded.get(c);
    if (!parts) {
      parts = await c.load();
      loaded.set(c, parts);
    }
    return { os: parts.config.os, architecture: parts.config.architecture, ...(parts.config.variant ? { variant: parts.config.variant } : {}) };
  };
  if (selector.image !== undefined) {
    const wanted = selector.image;
    const exact = pool.filter((c) => matchesRef(c, wanted));
    // "static" means static:latest to Docker; when no such tag exists, any tag of the repository will do.
    pool = exact.length > 0 || hasTag(wanted) ? exact : pool.filter((c) => matchesRepository(c, wanted));
  }
  if (selector.platform !== undefined) {
    const want = parsePlatform(selector.platform);
    const keep: ImageCandidate[] = [];
    for (const c of pool) if (platformMatches(await platformOf(c), want)) keep.push(c);
    pool = keep;
  }
  if (pool.length === 1) return { candidate: pool[0]!, parts: loaded.get(pool[0]!) };

  const asked = [selector.image && `--image ${selector.image}`, selector.platform && `--platform ${selector.platform}`].filter(Boolean).join(' ');
  const listed = pool.length === 0 ? candidates : pool;
  const lines: string[] = [];
  for (const c of listed) lines.push(`  ${describeCandidate(c, c.platform ?? (await platformOf(c).catch(() => undefined)))}`);
  const message = pool.length === 0
    ? `${label}: no image matches ${asked}; it holds:\n${lines.join('\n')}`
    : `${label} holds ${pool.length} images${asked ? ` matching ${asked}` : ''}; choose one with --image NAME or --platform OS/ARCH:\n${lines.join('\n')}`;
  throw new BaseimgError('USAGE', message, { hint: 'e.g. --image ' + (listed.find((c) => c.refs.length > 0)?.refs[0] ?? 'sha256:<digest prefix>') });
}
