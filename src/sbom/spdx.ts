/**
 * SBOM model → SPDX 2.3 JSON. The image is the document's root element
 * (DESCRIBES); it CONTAINS the operating system element (from os-release, as
 * apko does) and every package; packages DEPENDS_ON each other as resolved.
 * Licenses: licenseDeclared is what the package states (see license/*),
 * licenseConcluded is NOASSERTION (nobody concluded anything). The document
 * namespace is a UUID of the document's own content.
 */
import { createHash } from 'node:crypto';
import { contentUuid, spdxId } from './ids.js';
import { NOASSERTION } from './license/expression.js';
import { SPDX_LICENSE_LIST_VERSION } from './license/spdx-ids.js';
import { INSECURE_NOTE, type SbomFile, type SbomModel, type SbomPackage } from './model.js';
import { spdxSupplier } from './supplier.js';

type Json = Record<string, unknown>;

export const IMAGE_ID = 'SPDXRef-Image';
const OS_ID = 'SPDXRef-OperatingSystem';
const NAMESPACE_BASE = 'https://spdx.org/spdxdocs/baseimg';

export function packageSpdxId(p: SbomPackage): string {
  return spdxId(`Package-${p.family}`, p.name);
}

function fileSpdxId(path: string): string {
  return `SPDXRef-File-${createHash('sha256').update(path).digest('hex').slice(0, 16)}`;
}

export function renderSpdx(model: SbomModel): Json {
  const filesByOwner = groupFiles(model.files);
  const doc: Json = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${model.image.name} ${model.image.os}/${model.image.architecture}`,
    documentNamespace: '',
    creationInfo: {
      created: model.created,
      creators: [`Tool: ${model.tool.name}-${model.tool.version}`],
      licenseListVersion: SPDX_LICENSE_LIST_VERSION,
      ...(model.insecureSkipVerify ? { comment: INSECURE_NOTE } : {}),
    },
    documentDescribes: [IMAGE_ID],
    packages: [imagePackage(model), ...osPackage(model), ...model.packages.map((p) => packageElement(p, filesByOwner.get(p.name)))],
    ...(model.files ? { files: model.files.map(fileElement) } : {}),
    ...(model.licenses.length > 0
      ? {
          hasExtractedLicensingInfos: model.licenses.map((l) => ({
            licenseId: l.id,
            name: l.name,
            extractedText: l.text,
            comment: `read from ${l.sources.join(', ')}`,
          })),
        }
      : {}),
    relationships: relationships(model, filesByOwner),
  };
  const slug = model.image.name.replace(/[^A-Za-z0-9._-]+/g, '-');
  doc.documentNamespace = `${NAMESPACE_BASE}/${slug}-${contentUuid(JSON.stringify(doc))}`;
  return doc;
}

function imagePackage(model: SbomModel): Json {
  const { image } = model;
  const platform = `${image.os}/${image.architecture}`;
  const comment = image.digest
    ? `container image ${image.reference ?? image.name} for ${platform}, manifest digest ${image.digest}`
    : `container image built from spec "${image.name}" for ${platform}; this copy is inside the image, which cannot name its own digest (the copy beside the image tarball does)`;
  return {
    SPDXID: IMAGE_ID,
    name: image.name,
    ...(image.digest ? { versionInfo: image.digest } : {}),
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    primaryPackagePurpose: 'CONTAINER',
    licenseConcluded: NOASSERTION,
    licenseDeclared: NOASSERTION,
    copyrightText: NOASSERTION,
    ...(image.purl ? { externalRefs: [purlRef(image.purl)] } : {}),
    comment,
  };
}

function osPackage(model: SbomModel): Json[] {
  const os = model.operatingSystem;
  if (!os) return [];
  return [
    {
      SPDXID: OS_ID,
      name: os.id,
      ...(os.versionId ?? os.codename ? { versionInfo: os.versionId ?? os.codename } : {}),
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      primaryPackagePurpose: 'OPERATING_SYSTEM',
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      ...(os.prettyName ? { description: os.prettyName } : {}),
    },
  ];
}

function packageElement(p: SbomPackage, files: SbomFile[] | undefined): Json {
  const comment = [`architecture ${p.architecture}`, p.note].filter((c) => c !== undefined).join('; ');
  return {
    SPDXID: packageSpdxId(p),
    name: p.name,
    versionInfo: p.version,
    supplier: spdxSupplier(p.supplier),
    downloadLocation: p.downloadLocation ?? NOASSERTION,
    ...(p.filename ? { packageFileName: p.filename } : {}),
    filesAnalyzed: files !== undefined,
    ...(files ? { packageVerificationCode: { packageVerificationCodeValue: verificationCode(files) } } : {}),
    ...(p.sha256 ? { checksums: [{ algorithm: 'SHA256', checksumValue: p.sha256 }] } : {}),
    ...(p.source ? { sourceInfo: `built from source package ${p.source.name} ${p.source.version}` } : {}),
    licenseConcluded: NOASSERTION,
    licenseDeclared: p.license.expression,
    ...(p.license.comment ? { licenseComments: p.license.comment } : {}),
    copyrightText: NOASSERTION,
    externalRefs: [purlRef(p.purl)],
    comment,
  };
}

function purlRef(purl: string): Json {
  return { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl };
}

function fileElement(f: SbomFile): Json {
  return {
    SPDXID: fileSpdxId(f.path),
    fileName: `.${f.path}`,
    checksums: [
      { algorithm: 'SHA1', checksumValue: f.sha1 },
      { algorithm: 'SHA256', checksumValue: f.sha256 },
    ],
    licenseConcluded: NOASSERTION,
    copyrightText: NOASSERTION,
  };
}

/** SPDX 2.3 section 7.9: SHA-1 over the sorted SHA-1s of the package's files. */
function verificationCode(files: SbomFile[]): string {
  return createHash('sha1').update(files.map((f) => f.sha1).sort().join('')).digest('hex');
}

/** Files by owning package name ("" = the image itself). */
function groupFiles(files: SbomFile[] | undefined): Map<string, SbomFile[]> {
  const out = new Map<string, SbomFile[]>();
  for (const f of files ?? []) {
    const key = f.owner ?? '';
    out.set(key, [...(out.get(key) ?? []), f]);
  }
  return out;
}

function relationships(model: SbomModel, filesByOwner: Map<string, SbomFile[]>): Json[] {
  const rel = (a: string, type: string, b: string): Json => ({ spdxElementId: a, relationshipType: type, relatedSpdxElement: b });
  const ids = new Map(model.packages.map((p) => [p.name, packageSpdxId(p)]));
  const out: Json[] = [rel('SPDXRef-DOCUMENT', 'DESCRIBES', IMAGE_ID)];
  if (model.operatingSystem) out.push(rel(IMAGE_ID, 'CONTAINS', OS_ID));
  for (const p of model.packages) out.push(rel(IMAGE_ID, 'CONTAINS', ids.get(p.name)!));
  for (const p of model.packages) for (const d of p.dependsOn) out.push(rel(ids.get(p.name)!, 'DEPENDS_ON', ids.get(d)!));
  for (const [owner, files] of filesByOwner) {
    const from = owner === '' || !ids.has(owner) ? IMAGE_ID : ids.get(owner)!;
    for (const f of files) out.push(rel(from, 'CONTAINS', fileSpdxId(f.path)));
  }
  return out;
}
