/**
 * The build pipeline's two SBOM steps:
 *  1. embedSbom, after finalize and before the layer is written: collect the
 *     model from the finished tree and place both documents under
 *     /var/lib/db/sbom. Inside the image the digest is unknowable, so these
 *     copies name the image by spec name and platform; and they leave out
 *     the download URLs (see embeddedModel).
 *  2. writeBesideSbom, after the tarball is written: the same model plus the
 *     image's digest, reference and OCI purl, written atomically next to the
 *     tarball (or to --sbom-dir). If either file cannot be written, both and
 *     the tarball are removed: no image without its SBOM, no SBOM describing
 *     another image.
 */
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RootTree } from '../rootfs/tree.js';
import { writeGeneratedFile } from '../finalize/paths.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { checkImageRef } from '../util/reference.js';
import { collectBuildSbom, type BuildSbomInput } from './collect.js';
import { hashTreeFiles } from './files.js';
import { treeFiles } from './image-files.js';
import type { SbomModel } from './model.js';
import { readPackageDb } from './package-db.js';
import { imagePurl } from './package-purl.js';
import { besideSbomPaths, EMBEDDED_SBOM, renderSbom, SBOM_DIR_IN_IMAGE, SBOM_FORMATS, type SbomFormat } from './render.js';

export interface SbomOptions {
  /** Directory for the beside-the-tarball copies (default: the tarball's directory). */
  dir?: string | undefined;
  /** Add a files section with per-file hashes. */
  files?: boolean | undefined;
}

/** What collectBuildSbom needs, less what embedSbom derives from the tree itself. */
export interface EmbedInput extends Omit<BuildSbomInput, 'files' | 'fileHashes'> {
  /** --sbom-files: add per-file hashes of the tree. */
  withFiles: boolean;
  /** --insecure-skip-verify was given: recorded in both documents. */
  insecureSkipVerify?: boolean | undefined;
}

export async function embedSbom(root: RootTree, input: EmbedInput): Promise<SbomModel> {
  const files = treeFiles(root);
  let fileHashes;
  if (input.withFiles) {
    const dbOwners = new Map<string, string>();
    for (const p of await readPackageDb(files)) for (const f of p.files ?? []) dbOwners.set(files.realpath(f) ?? f, p.name);
    fileHashes = await hashTreeFiles(root, { exclude: new Set(Object.values(EMBEDDED_SBOM)), dbOwners });
  }
  const model = await collectBuildSbom({ ...input, files, fileHashes });
  if (input.insecureSkipVerify) model.insecureSkipVerify = true;
  const mtime = input.sourceDateEpoch;
  root.addDirectory(SBOM_DIR_IN_IMAGE, { mode: 0o755, uid: 0, gid: 0, mtime });
  const inside = embeddedModel(model);
  for (const format of SBOM_FORMATS) await writeGeneratedFile(root, EMBEDDED_SBOM[format], renderSbom(inside, format), { mode: 0o644, mtime });
  return model;
}

/**
 * The model as the copy inside the image states it: without download URLs.
 * The mirror is the host's choice (spec, environment, apt sources), and the
 * same packages must give the same image from any mirror; the repository
 * file name and the SHA-256 still identify each file.
 */
export function embeddedModel(model: SbomModel): SbomModel {
  return { ...model, packages: model.packages.map((p) => ({ ...p, downloadLocation: undefined })) };
}

/** The model as the copy beside the tarball states it: with the image's digest, reference and OCI purl. */
export function besideModel(model: SbomModel, image: { digest: string; tag: string }): SbomModel {
  const ref = checkImageRef(image.tag);
  if (typeof ref === 'string') return { ...model, image: { ...model.image, digest: image.digest } };
  return {
    ...model,
    image: { ...model.image, digest: image.digest, reference: ref.fullName, purl: imagePurl(ref, image.digest, model.image.architecture) },
  };
}

export async function writeBesideSbom(
  model: SbomModel,
  image: { output: string; digest: string; tag: string },
  options: SbomOptions,
  signal?: AbortSignal,
): Promise<Record<SbomFormat, string>> {
  const paths = besideSbomPaths(image.output, options.dir);
  const full = besideModel(model, image);
  const committed: string[] = [];
  try {
    await mkdir(dirname(paths.spdx), { recursive: true });
    for (const format of SBOM_FORMATS) {
      const data = renderSbom(full, format);
      await writeFileAtomic(paths[format], (out) => out.write(data), { signal });
      committed.push(paths[format]);
    }
    return paths;
  } catch (e) {
    for (const p of [...committed, image.output]) await rm(p, { force: true });
    throw e;
  }
}
