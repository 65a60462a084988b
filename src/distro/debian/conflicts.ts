/**
 * dpkg's rule for a non-directory path shipped by two packages: the newcomer
 * may overwrite it only if its Replaces field names the current owner (at a
 * matching version); if the owner Replaces the newcomer, the owner's copy
 * stays; identical symlinks are shared quietly; anything else is an error.
 */
import type { ResolvedPackage } from '../types.js';
import type { ConflictDecision, ConflictHandler, TreeNode } from '../../rootfs/types.js';
import { BaseimgError } from '../../util/errors.js';
import { field } from './deb822.js';
import { parseRelations, satisfiesRelation } from './relations.js';

/** What the package being installed is about to place (the tree's handler is only told who ships it). */
export type IncomingEntry = { type: 'symlink'; target: string } | { type: 'other' };

/**
 * The conflict handler for installing `installing` over the packages in
 * `installed` (by name). `incoming` tells it what entry is being placed, so
 * two packages shipping the same symlink can be told apart from a clash.
 */
export function makeConflictHandler(
  installing: ResolvedPackage,
  installed: ReadonlyMap<string, ResolvedPackage>,
  incoming: () => IncomingEntry | undefined = () => undefined,
): ConflictHandler {
  return (path: string, existing: TreeNode, incomingOwner: string | undefined): ConflictDecision => {
    const ownerName = existing.owner;
    // Entries baseimg made itself, and rewrites by the same package, are not package conflicts.
    if (ownerName === undefined || incomingOwner !== installing.name || ownerName === installing.name) return 'replace';
    const owner = installed.get(ownerName);
    if (replaces(installing, ownerName, owner?.version)) return 'replace';
    if (owner !== undefined && replaces(owner, installing.name, installing.version)) return 'keep';
    const entry = incoming();
    if (entry?.type === 'symlink' && existing.type === 'symlink' && existing.target === entry.target) return 'keep';
    throw new BaseimgError('CONFLICT', `package ${installing.name} ships ${path}, which package ${ownerName} also ships`, {
      hint:
        `if ${installing.name} is meant to take ${path} over, its Replaces field must name ${ownerName}; ` +
        `otherwise leave one of the two packages out ([packages] exclude)`,
    });
  };
}

/**
 * Does `pkg`'s Replaces name `otherName`, with `otherVersion` satisfying the
 * version constraint? An unknown version only matches an unversioned entry.
 */
export function replaces(pkg: ResolvedPackage, otherName: string, otherVersion: string | undefined): boolean {
  for (const group of parseRelations(field(pkg.fields, 'Replaces'))) {
    for (const relation of group) {
      if (relation.name !== otherName) continue;
      if (relation.op === undefined) return true;
      if (otherVersion !== undefined && satisfiesRelation(otherVersion, relation)) return true;
    }
  }
  return false;
}
