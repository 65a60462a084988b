/** Picks the package-family backend for a spec. */
import type { Spec } from '../spec/types.js';
import type { DistroBackend } from './types.js';
import { DebianBackend } from './debian/backend.js';
import { BaseimgError } from '../util/errors.js';

export function backendFor(spec: Spec): DistroBackend {
  switch (spec.source.distro) {
    case 'debian':
      return new DebianBackend();
    case 'alpine':
      throw new BaseimgError('SPEC', `${spec.file}: distro = "alpine" is not supported by this version yet`, {
        hint: 'use distro = "debian"; Alpine and Wolfi support is being added',
      });
  }
}
