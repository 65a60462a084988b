/**
 * Registry credentials, looked up the way docker and podman users expect:
 *   1. BASEIMG_REGISTRY_USER + BASEIMG_REGISTRY_PASSWORD (both, for any registry pushed to);
 *   2. `auths` of $DOCKER_CONFIG/config.json (default ~/.docker/config.json):
 *      "auth" (base64 "user:password") or "username"/"password", keyed by
 *      host, URL, or for Docker Hub "https://index.docker.io/v1/".
 * Credential helpers (credsStore, credHelpers) run other programs and are not
 * used; when one is configured for the registry the hint says so.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BaseimgError } from '../util/errors.js';

export interface Credentials {
  username: string;
  password: string;
  /** Where they came from, for messages ("BASEIMG_REGISTRY_USER", "/root/.docker/config.json"). */
  source: string;
}

export interface CredentialLookup {
  credentials: Credentials | undefined;
  /** Why none were found, or a note about them (credential helper configured, unreadable file). */
  notes: string[];
}

const DOCKER_HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG && env.DOCKER_CONFIG !== '' ? env.DOCKER_CONFIG : join(env.HOME || homedir(), '.docker');
  return join(dir, 'config.json');
}

export async function findCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<CredentialLookup> {
  const user = env.BASEIMG_REGISTRY_USER;
  const password = env.BASEIMG_REGISTRY_PASSWORD;
  if ((user ?? '') !== '' || (password ?? '') !== '') {
    if (!user || password === undefined) {
      throw new BaseimgError('USAGE', `BASEIMG_REGISTRY_${user ? 'PASSWORD' : 'USER'} is not set but BASEIMG_REGISTRY_${user ? 'USER' : 'PASSWORD'} is`, {
        hint: 'set both BASEIMG_REGISTRY_USER and BASEIMG_REGISTRY_PASSWORD, or neither',
      });
    }
    return { credentials: { username: user, password, source: 'BASEIMG_REGISTRY_USER/BASEIMG_REGISTRY_PASSWORD' }, notes: [] };
  }
  return fromDockerConfig(registry, dockerConfigPath(env));
}

async function fromDockerConfig(registry: string, file: string): Promise<CredentialLookup> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { credentials: undefined, notes: code === 'ENOENT' ? [] : [`cannot read ${file}: ${(e as Error).message}`] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new BaseimgError('USAGE', `${file} is not valid JSON (${(e as Error).message})`, { hint: 'fix or remove the file, or set BASEIMG_REGISTRY_USER/BASEIMG_REGISTRY_PASSWORD' });
  }
  const config = isObject(doc) ? doc : {};
  const auths = isObject(config.auths) ? config.auths : {};
  const wanted = keysFor(registry);
  const notes: string[] = [];
  for (const [key, entry] of Object.entries(auths)) {
    if (!wanted.has(normaliseKey(key)) || !isObject(entry)) continue;
    const found = entryCredentials(entry, `${file} (auths."${key}")`);
    if (found) return { credentials: found, notes };
    if (typeof entry.identitytoken === 'string') notes.push(`${file} holds an identity token for ${registry}, which baseimg does not use`);
  }
  const helpers = isObject(config.credHelpers) ? config.credHelpers : {};
  const helper = Object.entries(helpers).find(([key]) => wanted.has(normaliseKey(key)))?.[1] ?? config.credsStore;
  if (typeof helper === 'string' && helper !== '') {
    notes.push(`${file} names the credential helper "${helper}", which baseimg does not run`);
  }
  return { credentials: undefined, notes };
}

function entryCredentials(entry: Record<string, unknown>, source: string): Credentials | undefined {
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new BaseimgError('USAGE', `${source}: "auth" is not base64 of "user:password"`, { hint: 'log in again (docker login / podman login) or fix the entry' });
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
  }
  if (typeof entry.username === 'string' && entry.username !== '' && typeof entry.password === 'string') {
    return { username: entry.username, password: entry.password, source };
  }
  return undefined;
}

/** The keys under which a registry's entry may be stored, normalised. */
function keysFor(registry: string): Set<string> {
  const keys = new Set([normaliseKey(registry)]);
  if (registry === 'docker.io') for (const k of DOCKER_HUB_KEYS) keys.add(normaliseKey(k));
  return keys;
}

/** "https://host:5000/v2/" → "host:5000"; "https://index.docker.io/v1/" → "index.docker.io". */
function normaliseKey(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
