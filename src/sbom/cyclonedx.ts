/**
 * SBOM model → CycloneDX 1.6 JSON. metadata.component is the image
 * (type container); components are the operating system and the packages
 * (type library), with their files nested under them when --sbom-files
 * asked for them. bom-refs: "image", "os:<id>@<version>", the package purl,
 * "file:<path>". Licenses: one SPDX id → license.id; one LicenseRef →
 * license.name with the text; anything compound → expression (the texts of
 * its LicenseRefs are in the SPDX document). The serial number is a UUID of
 * the BOM's own content: CycloneDX recommends a fresh one per BOM, but a
 * reproducible build must not depend on a random source.
 */
import { contentUuid } from './ids.js';
import { isLicenseRef, NOASSERTION } from './license/expression.js';
import { INSECURE_NOTE, type SbomFile, type SbomModel, type SbomPackage } from './model.js';
import { parseContact } from './supplier.js';

type Json = Record<string, unknown>;

const IMAGE_REF = 'image';

export function renderCycloneDx(model: SbomModel): Json {
  const files = new Map<string, SbomFile[]>();
  for (const f of model.files ?? []) files.set(f.owner ?? '', [...(files.get(f.owner ?? '') ?? []), f]);
  const osRef = model.operatingSystem ? `os:${model.operatingSystem.id}@${model.operatingSystem.versionId ?? model.operatingSystem.codename ?? 'unknown'}` : undefined;
  const known = new Set(model.packages.map((p) => p.name));
  const orphanFiles = [...files].filter(([owner]) => !known.has(owner)).flatMap(([, f]) => f);

  const bom: Json = {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: '',
    version: 1,
    metadata: {
      timestamp: model.created,
      tools: { components: [{ type: 'application', name: model.tool.name, version: model.tool.version }] },
      component: imageComponent(model),
      ...(model.insecureSkipVerify ? { properties: [{ name: 'baseimg:insecure-skip-verify', value: INSECURE_NOTE }] } : {}),
    },
    components: [
      ...(model.operatingSystem && osRef ? [osComponent(model, osRef)] : []),
      ...model.packages.map((p) => packageComponent(p, model, files.get(p.name))),
      ...orphanFiles.map(fileComponent),
    ],
    dependencies: [
      { ref: IMAGE_REF, dependsOn: [...(osRef ? [osRef] : []), ...model.packages.map((p) => p.purl)] },
      ...model.packages.map((p) => ({ ref: p.purl, dependsOn: p.dependsOn.map((d) => model.packages.find((q) => q.name === d)!.purl) })),
    ],
  };
  bom.serialNumber = `urn:uuid:${contentUuid(JSON.stringify(bom))}`;
  return bom;
}

function imageComponent(model: SbomModel): Json {
  const { image } = model;
  const platform = `${image.os}/${image.architecture}`;
  return {
    type: 'container',
    'bom-ref': IMAGE_REF,
    name: image.name,
    ...(image.digest ? { version: image.digest } : {}),
    description: image.digest
      ? `container image ${image.reference ?? image.name} for ${platform}`
      : `container image built from spec "${image.name}" for ${platform}; this copy is inside the image, which cannot name its own digest (the copy beside the image tarball does)`,
    ...(image.digest ? { hashes: [{ alg: 'SHA-256', content: image.digest.replace(/^sha256:/, '') }] } : {}),
    ...(image.purl ? { purl: image.purl } : {}),
    properties: [{ name: 'baseimg:platform', value: platform }],
  };
}

function osComponent(model: SbomModel, ref: string): Json {
  const os = model.operatingSystem!;
  return {
    type: 'operating-system',
    'bom-ref': ref,
    name: os.id,
    ...(os.versionId ?? os.codename ? { version: os.versionId ?? os.codename } : {}),
    ...(os.prettyName ? { description: os.prettyName } : {}),
  };
}

function packageComponent(p: SbomPackage, model: SbomModel, files: SbomFile[] | undefined): Json {
  const contact = parseContact(p.supplier);
  const properties: Array<{ name: string; value: string }> = [{ name: 'baseimg:architecture', value: p.architecture }];
  if (p.source) properties.push({ name: 'baseimg:source-package', value: p.source.name }, { name: 'baseimg:source-version', value: p.source.version });
  if (p.filename) properties.push({ name: 'baseimg:filename', value: p.filename });
  properties.push({ name: 'baseimg:installed', value: p.installed });
  if (p.note) properties.push({ name: 'baseimg:note', value: p.note });
  if (p.license.comment) properties.push({ name: 'baseimg:license-comment', value: p.license.comment });
  return {
    type: 'library',
    'bom-ref': p.purl,
    ...(contact ? { supplier: { name: contact.name, ...(contact.email ? { contact: [{ email: contact.email }] } : {}) } } : {}),
    name: p.name,
    version: p.version,
    ...(p.sha256 ? { hashes: [{ alg: 'SHA-256', content: p.sha256 }] } : {}),
    ...licenses(p, model),
    purl: p.purl,
    ...(p.downloadLocation ? { externalReferences: [{ type: 'distribution', url: p.downloadLocation }] } : {}),
    properties,
    ...(files ? { components: files.map(fileComponent) } : {}),
  };
}

function licenses(p: SbomPackage, model: SbomModel): Json {
  const expr = p.license.expression;
  if (expr === NOASSERTION) return {};
  if (/^[A-Za-z0-9.+-]+$/.test(expr) && !expr.endsWith('+')) {
    if (!isLicenseRef(expr)) return { licenses: [{ license: { id: expr } }] };
    const text = model.licenses.find((l) => l.id === expr)?.text;
    return { licenses: [{ license: { name: expr, ...(text ? { text: { contentType: 'text/plain', content: text } } : {}) } }] };
  }
  return { licenses: [{ expression: expr }] };
}

function fileComponent(f: SbomFile): Json {
  return {
    type: 'file',
    'bom-ref': `file:${f.path}`,
    name: f.path,
    hashes: [
      { alg: 'SHA-1', content: f.sha1 },
      { alg: 'SHA-256', content: f.sha256 },
    ],
  };
}
