/**
 * [accounts]: the users and groups written to /etc/passwd and /etc/group.
 * Starts from distroless's set (root, nobody, nonroot) unless defaults =
 * false; entries with a default's name replace it in place, others follow in
 * the order given. Ids must be unique across names, and every user's primary
 * gid gets a group (named after the user) if none has it.
 */
import type { KeyPath } from './locate.js';
import type { Accounts, GroupAccount, UserAccount } from './types.js';
import { dotted, MAX_ID, nearest, type Section } from './validate-fields.js';

const ACCOUNT_KEYS = ['defaults', 'users', 'groups'];
const USER_KEYS = ['name', 'uid', 'gid', 'home', 'shell', 'gecos', 'create-home'];
const GROUP_KEYS = ['name', 'gid', 'members'];

/** Like useradd's NAME_REGEX, plus the 32-character limit of utmp. */
const ACCOUNT_NAME = /^[a-z_][a-z0-9_-]*[$]?$/;
const NOLOGIN = '/sbin/nologin';

export function defaultUsers(): UserAccount[] {
  return [
    { name: 'root', uid: 0, gid: 0, home: '/root', shell: NOLOGIN, gecos: 'root', createHome: true },
    { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent', shell: NOLOGIN, gecos: 'nobody', createHome: false },
    { name: 'nonroot', uid: 65532, gid: 65532, home: '/home/nonroot', shell: NOLOGIN, gecos: 'nonroot', createHome: true },
  ];
}

export function defaultGroups(): GroupAccount[] {
  return [
    { name: 'root', gid: 0, members: [] },
    { name: 'nobody', gid: 65534, members: [] },
    { name: 'tty', gid: 5, members: [] },
    { name: 'staff', gid: 50, members: [] },
    { name: 'nonroot', gid: 65532, members: [] },
  ];
}

/** An account plus the key path it was declared at (undefined for a built-in default). */
interface Declared<T> {
  account: T;
  at: KeyPath | undefined;
}

export function validateAccounts(s: Section): Accounts {
  s.allowOnly(ACCOUNT_KEYS);
  const useDefaults = s.boolean('defaults') ?? true;
  const givenUsers = s.tables('users').map(parseUser);
  const givenGroups = s.tables('groups').map(parseGroup);
  const users = merge(s, useDefaults ? defaultUsers() : [], givenUsers, 'user');
  const groups = merge(s, useDefaults ? defaultGroups() : [], givenGroups, 'group');

  checkUniqueIds(s, users, (u) => u.uid, 'uid', 'user');
  checkUniqueIds(s, groups, (g) => g.gid, 'gid', 'group');
  addPrimaryGroups(s, users, groups);
  checkMembers(s, groups, users);
  return { users: users.map((u) => u.account), groups: groups.map((g) => g.account) };
}

function parseUser(u: Section): Declared<UserAccount> {
  u.allowOnly(USER_KEYS);
  const name = accountName(u);
  const uid = u.integer('uid', 0, MAX_ID) ?? u.missing('uid', 'uid = 1000');
  const home = absolutePath(u, 'home') ?? (name === 'root' ? '/root' : `/home/${name}`);
  const shell = absolutePath(u, 'shell') ?? NOLOGIN;
  const gecos = u.string('gecos') ?? name;
  if (/[:\n\r\0]/.test(gecos)) u.fail('gecos', 'expected text without ":" or line breaks (they would corrupt /etc/passwd)');
  return {
    account: { name, uid, gid: u.integer('gid', 0, MAX_ID) ?? uid, home, shell, gecos, createHome: u.boolean('create-home') ?? true },
    at: u.path,
  };
}

function parseGroup(g: Section): Declared<GroupAccount> {
  g.allowOnly(GROUP_KEYS);
  const name = accountName(g);
  const gid = g.integer('gid', 0, MAX_ID) ?? g.missing('gid', 'gid = 1000');
  return { account: { name, gid, members: g.strings('members') ?? [] }, at: g.path };
}

function accountName(s: Section): string {
  const name = s.requiredString('name', 'name = "app"');
  if (name.length > 32 || !ACCOUNT_NAME.test(name)) {
    s.fail('name', `"${name}" is not a valid account name, expected lowercase letters, digits, "_" or "-" (at most 32, not starting with a digit or "-")`);
  }
  return name;
}

function absolutePath(s: Section, key: string): string | undefined {
  const p = s.string(key);
  if (p !== undefined && (!p.startsWith('/') || /[:\n\r\0]/.test(p))) s.fail(key, `expected an absolute path without ":", got "${p}"`);
  return p;
}

/** Defaults, with same-named entries replaced in place, then the remaining entries in order. */
function merge<T extends { name: string }>(s: Section, defaults: T[], given: Array<Declared<T>>, kind: string): Array<Declared<T>> {
  const out: Array<Declared<T>> = defaults.map((account) => ({ account, at: undefined }));
  for (const entry of given) {
    const same = out.findIndex((d) => d.account.name === entry.account.name);
    const previous = same < 0 ? undefined : out[same]!;
    if (previous?.at !== undefined) {
      s.ctx.fail([...entry.at!, 'name'], `${kind} "${entry.account.name}" is declared twice (also ${dotted(previous.at)})`);
    }
    if (same < 0) out.push(entry);
    else out[same] = entry;
  }
  return out;
}

function checkUniqueIds<T extends { name: string }>(s: Section, list: Array<Declared<T>>, id: (a: T) => number, idKey: string, kind: string): void {
  list.forEach((entry, i) => {
    const clash = list.findIndex((other, j) => j !== i && id(other.account) === id(entry.account));
    if (clash < 0) return;
    const other = list[clash]!;
    // Report at a declared entry: the later one, or the only one that has a position.
    const reported = entry.at !== undefined && (other.at === undefined || i > clash) ? entry : undefined;
    if (reported === undefined) return;
    const hint = other.at === undefined ? `"${other.account.name}" is a default account; pick another ${idKey} or set accounts.defaults = false` : undefined;
    s.ctx.fail([...reported.at!, idKey], `${idKey} ${id(entry.account)} is already used by ${kind} "${other.account.name}"`, hint);
  });
}

/** Every user's primary gid needs a group; create one named after the user when missing. */
function addPrimaryGroups(s: Section, users: Array<Declared<UserAccount>>, groups: Array<Declared<GroupAccount>>): void {
  for (const { account: user, at } of users) {
    if (groups.some((g) => g.account.gid === user.gid)) continue;
    const sameName = groups.find((g) => g.account.name === user.name);
    if (sameName !== undefined) {
      // A default user clashing with a declared group: point at the group.
      const where = at ?? sameName.at ?? [];
      s.ctx.fail(
        [...where, 'gid'],
        `no group has gid ${user.gid} for user "${user.name}", and group "${user.name}" has gid ${sameName.account.gid}`,
        `set gid = ${sameName.account.gid} for the user, or give the group gid = ${user.gid}`,
      );
    }
    groups.push({ account: { name: user.name, gid: user.gid, members: [] }, at: undefined });
  }
}

function checkMembers(s: Section, groups: Array<Declared<GroupAccount>>, users: Array<Declared<UserAccount>>): void {
  const names = users.map((u) => u.account.name);
  for (const { account: group, at } of groups) {
    if (at === undefined) continue;
    group.members.forEach((member, i) => {
      const memberAt = [...at, 'members', i];
      if (!names.includes(member)) s.ctx.fail(memberAt, `no user named "${member}"${nearest(member, names)}`);
      if (group.members.indexOf(member) !== i) s.ctx.fail(memberAt, `"${member}" is listed twice`);
    });
  }
}
