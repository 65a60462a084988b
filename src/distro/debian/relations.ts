/**
 * Package relationship fields (Depends, Pre-Depends, Recommends, Provides,
 * Conflicts, Breaks, Replaces): parsing into an AND of OR-groups, checking a
 * version against one relation, and formatting relations back for messages.
 */
import { BaseimgError } from '../../util/errors.js';
import { compareVersions } from './version.js';

export type RelationOp = '<<' | '<=' | '=' | '>=' | '>>';

export interface Relation {
  name: string;
  /** Multi-Arch qualifier as written after the colon: "any", "native" or an architecture. */
  archQualifier?: string;
  op?: RelationOp;
  version?: string;
}

/** The obsolete single-character operators meant "or equal". */
const OPERATORS: Record<string, RelationOp> = {
  '<<': '<<',
  '<=': '<=',
  '=': '=',
  '>=': '>=',
  '>>': '>>',
  '<': '<=',
  '>': '>=',
};

/**
 * name[:qualifier] [(op version)] followed by any [arch ...] and <profile>
 * restrictions (source-package syntax; accepted and ignored).
 */
const ALTERNATIVE =
  /^([A-Za-z0-9][A-Za-z0-9+.\-_]*)(?::([A-Za-z0-9-]+))?\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([^\s()<>=]+)\s*\))?\s*((?:\[[^\]]*\]\s*|<[^<>]*>\s*)*)$/;

/**
 * Parse a relationship field value into AND-ed OR-groups. Folded lines and
 * extra whitespace are fine; empty entries (a trailing comma) are skipped.
 * Throws a RESOLVE error naming the offending entry when it is malformed.
 */
export function parseRelations(field: string | undefined): Relation[][] {
  if (field === undefined) return [];
  const groups: Relation[][] = [];
  for (const rawGroup of field.split(',')) {
    if (rawGroup.trim() === '') continue;
    groups.push(rawGroup.split('|').map((alternative) => parseAlternative(alternative, field)));
  }
  return groups;
}

/** Provides has no alternatives: a flat list of (optionally "= version") names. */
export function parseProvides(field: string | undefined): Relation[] {
  return parseRelations(field).flat();
}

function parseAlternative(text: string, field: string): Relation {
  const trimmed = text.replace(/\s+/g, ' ').trim();
  const match = ALTERNATIVE.exec(trimmed);
  if (match === null) {
    throw new BaseimgError('RESOLVE', `malformed package relation "${trimmed}" in "${field.replace(/\s+/g, ' ').trim()}"`, {
      hint: 'the package index is damaged or uses a syntax baseimg does not understand',
    });
  }
  const [, name, archQualifier, op, version] = match;
  const relation: Relation = { name: name! };
  if (archQualifier !== undefined) relation.archQualifier = archQualifier;
  if (op !== undefined && version !== undefined) {
    relation.op = OPERATORS[op]!;
    relation.version = version;
  }
  return relation;
}

/** Does `version` meet the relation's version constraint? Unversioned relations accept any version. */
export function satisfiesRelation(version: string, relation: Relation): boolean {
  if (relation.op === undefined || relation.version === undefined) return true;
  const cmp = compareVersions(version, relation.version);
  switch (relation.op) {
    case '<<':
      return cmp < 0;
    case '<=':
      return cmp <= 0;
    case '=':
      return cmp === 0;
    case '>=':
      return cmp >= 0;
    case '>>':
      return cmp > 0;
  }
}

/** "libffi8 (>= 3.4)", "python3:any" */
export function formatRelation(relation: Relation): string {
  const qualifier = relation.archQualifier === undefined ? '' : `:${relation.archQualifier}`;
  const constraint = relation.op === undefined ? '' : ` (${relation.op} ${relation.version})`;
  return `${relation.name}${qualifier}${constraint}`;
}

/** "debconf (>= 0.5) | debconf-2.0" */
export function formatGroup(group: Relation[]): string {
  return group.map(formatRelation).join(' | ');
}
