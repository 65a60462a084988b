/**
 * A package's Maintainer (Debian) / m: (Alpine), "Name <email>", as the
 * SBOM formats want it. SPDX must say Person or Organization; the field does
 * not, so a team-looking name (Maintainers, Team, Developers, Packagers,
 * Project, Group, or a mailing-list address) is an Organization and anything
 * else a Person. Either way the name and address are the package's own.
 */

export interface Contact {
  name: string;
  email: string | undefined;
}

const TEAM_WORDS = /\b(maintainers|team|developers|packagers|project|group|committee)\b/i;
const LIST_ADDRESS = /@lists\.|^team\+|-(devel|maintainers|team)@/i;
/** What CycloneDX's idn-email format accepts in practice: no spaces, one @, a dot in the domain. */
const EMAIL_RE = /^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/;

export function parseContact(value: string | undefined): Contact | undefined {
  const text = value?.trim() ?? '';
  if (text === '') return undefined;
  const m = /^(.*?)\s*<([^>]*)>\s*$/.exec(text);
  if (!m) return { name: text, email: undefined };
  const email = m[2]!.trim();
  return { name: m[1]!.trim() || email, email: EMAIL_RE.test(email) ? email : undefined };
}

/** "Organization: Debian GCC Maintainers (debian-gcc@…)", "Person: Jane Doe (jane@…)", or NOASSERTION. */
export function spdxSupplier(value: string | undefined): string {
  const c = parseContact(value);
  if (c === undefined) return 'NOASSERTION';
  const kind = TEAM_WORDS.test(c.name) || (c.email !== undefined && LIST_ADDRESS.test(c.email)) ? 'Organization' : 'Person';
  // SPDX's agent syntax puts the address in parentheses; parentheses in the name would confuse it.
  const name = c.name.replace(/[()]/g, '');
  return c.email === undefined ? `${kind}: ${name}` : `${kind}: ${name} (${c.email})`;
}
