/**
 * Image references ("static", "static:1.0", "registry.example:5000/team/app:tag")
 * normalised as Docker's distribution/reference does it: a registry host when
 * the first component looks like one, "docker.io" and "library/" otherwise,
 * "latest" when no tag is given. One parser for the CLI, the spec and the
 * tarball writer, so all three accept and name images the same way.
 */
export interface ImageRef {
  /** Fully-qualified name with tag: "docker.io/library/static:latest" (io.containerd.image.name). */
  fullName: string;
  /** Docker's short form for RepoTags: "static:latest". */
  repoTag: string;
  /** The tag alone (org.opencontainers.image.ref.name): "latest". */
  tag: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PATH_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const DOMAIN_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?$/;
const TAG_RE = /^\w[\w.-]{0,127}$/;

/** The normalised reference, or a sentence saying what is wrong with it. */
export function checkImageRef(ref: string): ImageRef | string {
  if (ref.includes('@')) return 'digests are not tags';
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  const hasTag = colon > slash;
  const name = hasTag ? ref.slice(0, colon) : ref;
  const tag = hasTag ? ref.slice(colon + 1) : 'latest';
  if (!TAG_RE.test(tag)) return `tag "${tag}" must be letters, digits, "_", "." or "-" (at most 128, not starting with "." or "-")`;

  const first = name.indexOf('/');
  const head = first === -1 ? '' : name.slice(0, first);
  const looksLikeDomain = head !== '' && (head.includes('.') || head.includes(':') || head === 'localhost' || head !== head.toLowerCase());
  let domain = looksLikeDomain ? head : 'docker.io';
  let path = looksLikeDomain ? name.slice(first + 1) : name;
  if (looksLikeDomain && !DOMAIN_RE.test(domain)) return `"${domain}" is not a registry host`;
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  if (!PATH_RE.test(path)) return 'the name must be lowercase letters, digits and separators (".", "_", "__", "-", "/")';
  if (`${domain}/${path}`.length > 255) return 'the name is longer than 255 characters';

  const familiar = domain !== 'docker.io' ? `${domain}/${path}` : path.startsWith('library/') && path.split('/').length === 2 ? path.slice(8) : path;
  return { fullName: `${domain}/${path}:${tag}`, repoTag: `${familiar}:${tag}`, tag };
}
