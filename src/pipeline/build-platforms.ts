/**
 * A build of several architectures: one platform image per architecture
 * (buildImage: its own resolution, packages, layers and SBOMs), then one
 * tarball holding an OCI image index over all of them (src/image/index-tarball.ts).
 * Each platform's SBOMs go beside the tarball as NAME.<arch>.spdx.json and
 * NAME.<arch>.cdx.json (they name that platform's manifest digest); a failure
 * at any point removes what was written, tarball and SBOMs alike.
 */
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Arch, Spec } from '../spec/types.js';
import type { BuildContext } from './context.js';
import { buildImage, type BuildOptions, type BuildResult } from './build.js';
import { writeIndexTarball } from '../image/index-tarball.js';
import { rfc3339 } from '../image/config.js';
import { ANNOTATION, MEDIA_TYPE } from '../image/types.js';

export interface PlatformsBuildOptions extends Omit<BuildOptions, 'arch' | 'locked'> {
  arches: Arch[];
  /** build --locked: the lock entry for an architecture. */
  locked?: (arch: Arch) => Promise<NonNullable<BuildOptions['locked']>>;
}

export interface PlatformsBuildResult {
  output: string;
  tag: string;
  /** Digest of the image index. */
  digest: string;
  mediaType: typeof MEDIA_TYPE.index;
  /** Bytes of the output tarball. */
  size: number;
  architectures: Arch[];
  /** SOURCE_DATE_EPOCH of the tarball and index: the newest of the platforms'. */
  sourceDateEpoch: number;
  /** One per architecture, in order; `size` there is that platform's image alone as a tarball. */
  images: BuildResult[];
}

export async function buildPlatformImages(spec: Spec, options: PlatformsBuildOptions, ctx: BuildContext): Promise<PlatformsBuildResult> {
  const { arches, locked: lockFor, ...common } = options;
  const name = basename(options.output).replace(/\.tar$/, '');
  const sbomDir = options.sbom?.dir ?? dirname(options.output);
  const images: BuildResult[] = [];
  try {
    for (const arch of arches) {
      ctx.signal.throwIfAborted();
      ctx.reporter.info(`building ${arch} (${images.length + 1} of ${arches.length})`);
      const locked = lockFor ? await lockFor(arch) : undefined;
      images.push(
        await buildImage(
          spec,
          {
            ...common,
            arch,
            // NAME.<arch>.tar in the scratch dir; its SBOMs land in sbomDir as NAME.<arch>.spdx.json.
            output: join(ctx.tmpDir, `${name}.${arch}.tar`),
            sbom: { ...options.sbom, dir: sbomDir },
            ...(locked ? { locked } : {}),
          },
          ctx,
        ),
      );
    }
    const sourceDateEpoch = Math.max(...images.map((i) => i.sourceDateEpoch));
    const written = await writeIndexTarball(
      options.output,
      images.map((i) => ({ arch: i.arch, path: i.output })),
      {
        tag: options.tag,
        sourceDateEpoch,
        annotations: { [ANNOTATION.created]: rfc3339(sourceDateEpoch), ...spec.image.annotations },
        signal: ctx.signal,
      },
    );
    for (const i of images) await rm(i.output, { force: true });
    return {
      output: options.output,
      tag: options.tag,
      digest: written.digest,
      mediaType: MEDIA_TYPE.index,
      size: written.size,
      architectures: [...arches],
      sourceDateEpoch,
      images: images.map((i) => ({ ...i, output: options.output })),
    };
  } catch (e) {
    for (const i of images) for (const p of [i.output, i.sbom.spdx, i.sbom.cyclonedx]) await rm(p, { force: true });
    throw e;
  }
}
