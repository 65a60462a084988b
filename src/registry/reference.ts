/**
 * Where a push goes: "registry.example:5000/team/app:tag" → registry host,
 * repository and tag, normalised like Docker's distribution/reference (the
 * same parser as --tag, src/util/reference.ts). docker.io names are sent to
 * Docker Hub's API host, as docker and skopeo do.
 */
import { BaseimgError } from '../util/errors.js';
import { checkImageRef } from '../util/reference.js';

export interface RegistryRef {
  /** As in the reference: "127.0.0.1:5000", "ghcr.io", "docker.io". */
  registry: string;
  /** Host[:port] the API is served from ("registry-1.docker.io" for docker.io). */
  apiHost: string;
  /** "team/app", "library/static". */
  repository: string;
  tag: string;
  /** "registry/repository:tag", for messages and results. */
  fullName: string;
}

const DOCKER_HUB_API = 'registry-1.docker.io';

export function parseRegistryRef(ref: string): RegistryRef {
  const parsed = checkImageRef(ref);
  if (typeof parsed === 'string') {
    throw new BaseimgError('USAGE', `invalid image reference ${JSON.stringify(ref)}: ${parsed}`, {
      hint: 'give REGISTRY/REPOSITORY:TAG, e.g. 127.0.0.1:5000/static:latest or ghcr.io/team/base:1.0',
    });
  }
  const nameAndTag = parsed.fullName;
  const slash = nameAndTag.indexOf('/');
  const colon = nameAndTag.lastIndexOf(':');
  const registry = nameAndTag.slice(0, slash);
  return {
    registry,
    apiHost: registry === 'docker.io' ? DOCKER_HUB_API : registry,
    repository: nameAndTag.slice(slash + 1, colon),
    tag: parsed.tag,
    fullName: nameAndTag,
  };
}

/** True for hosts on this machine: plain http to them is what --insecure is for. */
export function isLoopbackHost(hostPort: string): boolean {
  const host = hostPort.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
