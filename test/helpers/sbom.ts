/**
 * SBOM checks shared by the sbom tests: JSON-schema validation against the
 * upstream schemas in ../shared/schemas (SPDX 2.3, CycloneDX 1.6 with the
 * SPDX license enum and JSF it refers to), read in place, and small
 * accessors for the documents baseimg writes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { PROJECT_ROOT } from './cli.js';

export const SCHEMAS_DIR = join(PROJECT_ROOT, '..', 'shared', 'schemas');

const readJson = (path: string): any => JSON.parse(readFileSync(path, 'utf8'));

let spdx: ValidateFunction | undefined;
let cdx: ValidateFunction | undefined;

function validators(): { spdx: ValidateFunction; cdx: ValidateFunction } {
  if (!spdx || !cdx) {
    const ajv = new (Ajv as unknown as typeof Ajv.default)({ strict: false, allErrors: true, validateFormats: true });
    (addFormats as unknown as typeof addFormats.default)(ajv);
    // ajv-formats lacks the internationalised forms CycloneDX uses; check their ASCII shape.
    ajv.addFormat('idn-email', /^[^\s@]+@[^\s@]+$/);
    ajv.addFormat('iri-reference', /^[^\s<>"{}|\\^`]*$/);
    spdx = ajv.compile(readJson(join(SCHEMAS_DIR, 'spdx-2.3', 'spdx-schema.json')));
    for (const f of ['spdx.schema.json', 'jsf-0.82.schema.json']) ajv.addSchema(readJson(join(SCHEMAS_DIR, 'cyclonedx', f)));
    cdx = ajv.compile(readJson(join(SCHEMAS_DIR, 'cyclonedx', 'bom-1.6.schema.json')));
  }
  return { spdx, cdx };
}

/** Schema errors of a document, [] when it validates. */
export function schemaErrors(kind: 'spdx' | 'cyclonedx', doc: unknown): string[] {
  const v = validators()[kind === 'spdx' ? 'spdx' : 'cdx'];
  if (v(doc)) return [];
  return (v.errors ?? []).slice(0, 20).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

export function exampleDocument(kind: 'spdx' | 'cyclonedx'): unknown {
  return readJson(join(SCHEMAS_DIR, 'examples', kind === 'spdx' ? 'SPDXJSONExample-v2.3.spdx.json' : 'valid-bom-1.6.json'));
}

/** The package elements of an SPDX document, without the image and OS elements. */
export function spdxPackages(doc: any): any[] {
  return doc.packages.filter((p: any) => p.primaryPackagePurpose !== 'CONTAINER' && p.primaryPackagePurpose !== 'OPERATING_SYSTEM');
}

/** The library components of a CycloneDX document. */
export function cdxPackages(doc: any): any[] {
  return doc.components.filter((c: any) => c.type === 'library');
}

export function purlOf(p: any): string {
  return p.externalRefs.find((r: any) => r.referenceType === 'purl').referenceLocator;
}

/** A package element as the embedded copy has it: no download URL (SPDX) or distribution reference (CycloneDX). */
export function withoutUrl(p: any): any {
  if (p.SPDXID !== undefined) return { ...p, downloadLocation: 'NOASSERTION' };
  const { externalReferences: _dropped, ...rest } = p;
  return rest;
}
