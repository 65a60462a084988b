/** Picks the package-family backend for a spec. */
import type { Spec } from '../spec/types.js';
import type { DistroBackend } from './types.js';
import { DebianBackend } from './debian/backend.js';
import { AlpineBackend } from './alpine/backend.js';

export function backendFor(spec: Spec): DistroBackend {
  switch (spec.source.distro) {
    case 'debian':
      return new DebianBackend();
    case 'alpine':
      return new AlpineBackend();
  }
}
