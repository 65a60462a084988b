/**
 * `baseimg sbom IMG.tar`: the SBOM of any image tarball, read through the
 * image inspector (src/inspect). An image baseimg built carries its SBOM
 * under /var/lib/db/sbom and that copy is returned as it is; for an image
 * built by other tools (or with --derive) one is made from its package
 * database (dpkg status.d / status, apk installed), its copyright files and
 * os-release. Such an SBOM has no download locations or package checksums:
 * an image does not record them. Its creation time is the image's own
 * "created" (so the same image always gives the same document).
 */
import { basename } from 'node:path';
import type { Image } from '../inspect/image.js';
import { isPackageDatabasePath, readPackageDatabase, type InstalledPackage } from '../inspect/packages/index.js';
import { joinPath, type FsView } from '../inspect/fs-view.js';
import { TOOL } from '../version.js';
import { checkImageRef } from '../util/reference.js';
import { fromDatabase } from './collect.js';
import { dependencyEdges } from './dependencies.js';
import type { ImageFiles } from './image-files.js';
import { ExtractedLicenses } from './license/extracted.js';
import { isoSeconds, type SbomModel } from './model.js';
import { readOperatingSystem } from './os-release.js';
import type { DbPackage } from './package-db.js';
import { imagePurl } from './package-purl.js';
import { EMBEDDED_SBOM, renderSbom, SBOM_DIR_IN_IMAGE, type SbomFormat } from './render.js';

export interface ImageSbom {
  data: Buffer;
  /** "embedded": the image's own copy; "derived": made from its package database. */
  origin: 'embedded' | 'derived';
  notes: string[];
}

const CAPTURE = /^\/(usr\/share\/doc\/[^/]+\/copyright|etc\/os-release|usr\/lib\/os-release)$/;

export async function imageSbom(img: Image, format: SbomFormat, options: { derive?: boolean } = {}): Promise<ImageSbom> {
  const flat = await img.flatten({ capture: (p) => isPackageDatabasePath(p) || CAPTURE.test(p) || p.startsWith(`${SBOM_DIR_IN_IMAGE}/`) });
  const files = viewFiles(flat.view, (inode) => img.content.readBuffer(inode));
  const notes = [...img.notes, ...flat.notes];
  const embedded = options.derive ? undefined : await files.readFile(EMBEDDED_SBOM[format]);
  if (embedded !== undefined) return { data: embedded, origin: 'embedded', notes };

  const db = await readPackageDatabase(flat.view, (inode) => img.content.readBuffer(inode));
  notes.push(...db.notes);
  if (db.packages.length === 0) notes.push('the image has no dpkg or apk package database: the SBOM lists no packages');
  const records = db.packages.map(toDbPackage).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const os = await readOperatingSystem(files);
  const extracted = new ExtractedLicenses();
  const note = 'read from the image\'s package database (no download location or package checksum recorded there)';
  const packages = [];
  for (const r of records) packages.push(await fromDatabase(r, os, files, extracted, note, dependencyEdges(r, records)));
  const ref = img.refs.map((r) => checkImageRef(r)).find((r) => typeof r !== 'string');
  const digest = img.digest;
  const architecture = img.platform.architecture || 'unknown';
  const model: SbomModel = {
    tool: { name: TOOL.name, version: TOOL.version },
    created: createdOf(img.config.created),
    image: {
      name: img.refs[0] ?? basename(img.label),
      os: 'linux',
      architecture,
      digest,
      reference: typeof ref === 'object' ? ref.fullName : undefined,
      purl: typeof ref === 'object' && digest ? imagePurl(ref, digest, architecture) : undefined,
    },
    operatingSystem: os,
    packages,
    licenses: extracted.usedBy(packages.map((p) => p.license.expression)),
    files: undefined,
  };
  return { data: renderSbom(model, format), origin: 'derived', notes };
}

function createdOf(created: string | undefined): string {
  const t = created === undefined ? NaN : Date.parse(created);
  return isoSeconds(Number.isFinite(t) ? Math.floor(t / 1000) : 0);
}

/** ImageFiles over the inspector's flattened view. */
export function viewFiles(view: FsView, read: (inode: import('../inspect/fs-view.js').FileInode) => Promise<Buffer>): ImageFiles {
  return {
    async readFile(path) {
      const found = view.lookup(path, true);
      return found?.node.kind === 'file' ? read(found.node.inode) : undefined;
    },
    realpath(path) {
      const found = view.lookup(path, true);
      return found ? joinPath(found.parts) : undefined;
    },
    list(path) {
      const found = view.lookup(path, true);
      return found?.node.kind === 'dir' ? [...found.node.children.keys()].sort() : [];
    },
  };
}

/** The inspector's record → the SBOM side's. */
function toDbPackage(p: InstalledPackage): DbPackage {
  const f = p.fields;
  if (p.manager === 'apk') {
    return {
      family: 'apk', name: p.name, version: p.version, architecture: p.architecture ?? '', maintainer: f.m, license: p.license,
      source: p.source === undefined ? undefined : { name: p.source, version: p.version },
      depends: f.D, provides: f.p, files: p.files.length > 0 ? p.files : undefined,
    };
  }
  const get = (name: string): string | undefined => Object.entries(f).find(([k]) => k.toLowerCase() === name)?.[1];
  const m = /^(\S+)\s*(?:\(\s*([^)\s]+)\s*\))?$/.exec(get('source')?.trim() ?? '');
  const depends = [get('pre-depends'), get('depends')].filter((d) => d !== undefined && d.trim() !== '').join(', ');
  return {
    family: 'deb', name: p.name, version: p.version, architecture: p.architecture ?? '', maintainer: get('maintainer'), license: undefined,
    source: m ? { name: m[1]!, version: m[2] ?? p.version } : { name: p.name, version: p.version },
    depends: depends === '' ? undefined : depends.replace(/\s*\n\s*/g, ' '), provides: get('provides'),
    files: p.files.length > 0 ? p.files : undefined,
  };
}
