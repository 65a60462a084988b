/**
 * Picks the package-family backend for a spec. Each family's code is loaded
 * only when a spec of that family is built: a Debian build never parses the
 * Alpine modules, which keeps start-up short (a warm build is ~0.5 s, much
 * of it module loading).
 */
import type { Spec } from '../spec/types.js';
import type { DistroBackend } from './types.js';

export async function backendFor(spec: Spec): Promise<DistroBackend> {
  switch (spec.source.distro) {
    case 'debian':
      return new (await import('./debian/backend.js')).DebianBackend();
    case 'alpine':
      return new (await import('./alpine/backend.js')).AlpineBackend();
  }
}
