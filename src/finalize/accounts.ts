/**
 * User accounts as files: /etc/passwd, /etc/group, home directories, and the
 * image user turned into numbers.
 *
 * The spec's accounts are the whole truth: our /etc/passwd and /etc/group
 * replace any a package shipped (as distroless does). No Debian package ships
 * them in its data anyway; base-passwd builds them in its postinst from
 * /usr/share/base-passwd/*.master, which is left in place untouched.
 * /etc/shadow is not written: nobody logs in to these images.
 */
import type { Accounts, GroupAccount, UserAccount } from '../spec/types.js';
import type { RootTree } from '../rootfs/tree.js';
import { BaseimgError, didYouMean } from '../util/errors.js';
import { writeGeneratedFile, type WriteOptions } from './paths.js';

const MAX_ID = 4294967294; // (uid_t)-1 means "no id"

/** /etc/passwd: `name:x:uid:gid:gecos:home:shell`, one line per user in spec order. */
export function renderPasswd(users: readonly UserAccount[]): string {
  return users
    .map((u) => {
      for (const [field, value] of [['name', u.name], ['gecos', u.gecos], ['home', u.home], ['shell', u.shell]] as const) {
        checkField(`user ${u.name}`, field, value);
      }
      return `${u.name}:x:${u.uid}:${u.gid}:${u.gecos}:${u.home}:${u.shell}\n`;
    })
    .join('');
}

/** /etc/group: `name:x:gid:member,member`, one line per group in spec order. */
export function renderGroup(groups: readonly GroupAccount[]): string {
  return groups
    .map((g) => {
      checkField(`group ${g.name}`, 'name', g.name);
      for (const m of g.members) {
        if (m.includes(',')) throw new BaseimgError('SPEC', `group ${g.name}: member ${JSON.stringify(m)} contains a comma`);
        checkField(`group ${g.name}`, 'member', m);
      }
      return `${g.name}:x:${g.gid}:${g.members.join(',')}\n`;
    })
    .join('');
}

/** A ':' or a line break would split or corrupt the record. */
function checkField(owner: string, field: string, value: string): void {
  if (/[:\n\r]/.test(value)) {
    throw new BaseimgError('SPEC', `${owner}: ${field} ${JSON.stringify(value)} contains ':' or a line break`, {
      hint: 'account fields are written as colon-separated lines of /etc/passwd and /etc/group',
    });
  }
}

/**
 * Write /etc/passwd and /etc/group (0644 root), create the home directories
 * asked for (0700, owned by the user; an existing one is left alone), and make
 * sure /home (0755) and /tmp (1777) exist as distroless has them.
 */
export async function writeAccounts(root: RootTree, accounts: Accounts, options: WriteOptions): Promise<void> {
  const { mtime } = options;
  await writeGeneratedFile(root, '/etc/passwd', Buffer.from(renderPasswd(accounts.users)), { mode: 0o644, mtime });
  await writeGeneratedFile(root, '/etc/group', Buffer.from(renderGroup(accounts.groups)), { mode: 0o644, mtime });

  root.addDirectory('/home', { mode: 0o755, uid: 0, gid: 0, mtime });
  for (const user of accounts.users) {
    if (!user.createHome || root.get(user.home, true) !== undefined) continue;
    root.addDirectory(user.home, { mode: 0o700, uid: user.uid, gid: user.gid, mtime });
  }

  // Programs need a world-writable sticky /tmp; a package's /tmp directory gets those bits,
  // a /tmp symlink (to /var/tmp, say) is the image author's choice and stays.
  const tmp = root.get('/tmp', false);
  if (tmp === undefined) root.addDirectory('/tmp', { mode: 0o1777, uid: 0, gid: 0, mtime });
  else if (tmp.type === 'dir') tmp.meta = { ...tmp.meta, mode: 0o1777, uid: 0, gid: 0 };
}

/**
 * The image config's User as numbers, so runtimes can check "non-root"
 * without reading /etc/passwd: "nonroot" → "65532", "nonroot:nonroot" →
 * "65532:65532", "65532" stays "65532". The user (name or uid) must be an
 * account of the spec, so the process has a passwd entry (HOME, getpwuid);
 * a group given by name must exist, a numeric gid is taken as it is.
 */
export function resolveImageUser(user: string, accounts: Accounts): string {
  const parts = user.split(':');
  if (user === '' || parts.length > 2 || parts.some((p) => p === '')) {
    throw new BaseimgError('SPEC', `image user ${JSON.stringify(user)} is not "name", "uid", "name:group" or "uid:gid"`, {
      hint: 'for example user = "nonroot" or user = "65532:65532"',
    });
  }
  const uid = resolveUid(parts[0]!, accounts.users, user);
  if (parts.length === 1) return String(uid);
  return `${uid}:${resolveGid(parts[1]!, accounts.groups, user)}`;
}

function resolveUid(part: string, users: readonly UserAccount[], user: string): number {
  const id = numericId(part);
  // A numeric uid needs no passwd entry: runtimes run arbitrary uids (OpenShift, runAsUser).
  if (id !== undefined) return id;
  const found = users.find((u) => u.name === part);
  if (found) return found.uid;
  const names = users.map((u) => u.name);
  throw new BaseimgError(
    'SPEC',
    `image user ${JSON.stringify(user)}: no account named ${part}${didYouMean(part, names)}`,
    { hint: `declare the user under [[accounts.users]]; the spec defines ${describe(users.map((u) => `${u.name} (${u.uid})`))}` },
  );
}

/** A numeric gid needs no group entry (it only lacks a name then); a group name must exist. */
function resolveGid(part: string, groups: readonly GroupAccount[], user: string): number {
  const id = numericId(part);
  if (id !== undefined) return id;
  const found = groups.find((g) => g.name === part);
  if (found) return found.gid;
  const names = groups.map((g) => g.name);
  throw new BaseimgError(
    'SPEC',
    `image user ${JSON.stringify(user)}: no group named ${part}${didYouMean(part, names)}`,
    { hint: `declare the group under [[accounts.groups]]; the spec defines ${describe(groups.map((g) => `${g.name} (${g.gid})`))}` },
  );
}

function numericId(part: string): number | undefined {
  if (!/^[0-9]+$/.test(part)) return undefined;
  const n = Number(part);
  if (n > MAX_ID) throw new BaseimgError('SPEC', `id ${part} is out of range (at most ${MAX_ID})`);
  return n;
}

function describe(items: string[]): string {
  return items.length === 0 ? 'none' : items.join(', ');
}
