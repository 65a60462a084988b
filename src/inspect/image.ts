/**
 * The handles the rest of baseimg uses: an ImageArchive (a tarball or layout
 * directory and the images in it) and an Image (one of them, with its config
 * and layers, able to flatten itself and read its files).
 */
import { BaseimgError } from '../util/errors.js';
import { ContentReader } from './content.js';
import { discoverImages } from './discover.js';
import { flattenLayers, type FlattenOptions, type Flattened } from './flatten.js';
import { joinPath, type FileInode, type FsView } from './fs-view.js';
import { selectImage, type ImageSelector } from './select.js';
import { openBlobSource, type BlobSource } from './source.js';
import type { ArchiveFormat, ImageCandidate, ImageConfigDoc, ImageParts, LayerRef, Platform } from './types.js';

export class ImageArchive {
  private constructor(
    readonly source: BlobSource,
    readonly format: ArchiveFormat,
    readonly candidates: ImageCandidate[],
    /** Things worth telling the user about the archive (compressed, no manifest.json…). */
    readonly notes: string[],
  ) {}

  /** Index a tarball (or scan a directory) and list its images; reads no layer. */
  static async open(path: string): Promise<ImageArchive> {
    const source = await openBlobSource(path);
    try {
      const found = await discoverImages(source);
      return new ImageArchive(source, found.format, found.candidates, found.notes);
    } catch (e) {
      await source.close();
      throw e;
    }
  }

  get label(): string {
    return this.source.label;
  }

  /** One image; with several in the archive the selector must pick exactly one. */
  async select(selector: ImageSelector = {}): Promise<Image> {
    const { candidate, parts } = await selectImage(this.label, this.candidates, selector);
    return new Image(this, candidate, parts ?? (await candidate.load()));
  }

  /** Removes the temporary copy of a compressed tarball, if one was made. */
  async close(): Promise<void> {
    await this.source.close();
  }
}

export class Image {
  readonly content: ContentReader;

  constructor(
    readonly archive: ImageArchive,
    readonly candidate: ImageCandidate,
    readonly parts: ImageParts,
  ) {
    this.content = new ContentReader(archive.source, parts.layers);
  }

  get label(): string {
    return this.archive.label;
  }
  get refs(): string[] {
    return this.candidate.refs;
  }
  /** The manifest digest, or for archives without manifests the config digest (Docker's image ID). */
  get digest(): string | undefined {
    return this.parts.manifestDigest ?? (this.parts.configDigest || undefined);
  }
  get config(): ImageConfigDoc {
    return this.parts.config;
  }
  get layers(): LayerRef[] {
    return this.parts.layers;
  }
  get platform(): Platform {
    const c = this.parts.config;
    const fromIndex = this.candidate.platform;
    if (!c.os && !c.architecture && fromIndex) return fromIndex;
    return { os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) };
  }
  /** Notes about the archive and this image (not the layers; flatten adds those). */
  get notes(): string[] {
    return [...this.archive.notes, ...this.parts.notes];
  }

  /** Read every layer once and build the flattened filesystem. */
  flatten(options: FlattenOptions = {}): Promise<Flattened> {
    return flattenLayers(this.archive.source, this.parts.layers, options);
  }

  /** The regular file at `path` (symlinks followed inside the image) and its canonical path. */
  fileAt(view: FsView, path: string): { inode: FileInode; path: string } {
    const found = view.lookup(path, true);
    if (!found) throw new BaseimgError('IMAGE', `${this.label}: ${path}: no such file in the image`);
    if (found.node.kind !== 'file') {
      const kind = found.node.kind === 'dir' ? 'a directory' : `a ${found.node.kind} device`;
      throw new BaseimgError('IMAGE', `${this.label}: ${path} is ${kind}, not a regular file`);
    }
    return { inode: found.node.inode, path: joinPath(found.parts) };
  }

  /** The bytes of a file of the flattened view, streamed. */
  readFile(view: FsView, path: string): AsyncGenerator<Buffer> {
    return this.content.read(this.fileAt(view, path).inode);
  }

  async close(): Promise<void> {
    await this.archive.close();
  }
}

/** Open `path` and select one image in a single step; close the Image when done. */
export async function openImage(path: string, selector: ImageSelector = {}): Promise<Image> {
  const archive = await ImageArchive.open(path);
  try {
    return await archive.select(selector);
  } catch (e) {
    await archive.close();
    throw e;
  }
}
