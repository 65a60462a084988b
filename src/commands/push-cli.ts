/**
 * The command-line side of push: options and the `push` command, with the
 * registry client loaded only when something is pushed (it is a tenth of a
 * second of module loading that other commands do not need).
 */
import { InvalidArgumentError, type Command } from 'commander';

/** Blobs above this go in PATCH chunks of this size. */
export const DEFAULT_CHUNK_SIZE = 32 << 20;

export interface PushSettings {
  /** Plain http instead of https. */
  insecure?: boolean;
  /** Blobs larger than this are sent in chunks of this size. */
  chunkSize?: number;
  /** Repositories to try cross-repository mounts from. */
  mountFrom?: string[];
  cacheDir?: string;
  /** Retries after the first attempt for each request or blob upload. */
  retries?: number;
}

export interface PushCommandOptions extends PushSettings {
  image?: string;
  platform?: string;
  quiet?: boolean;
  json?: boolean;
}

/** "32M", "512k", "1G" or bytes. */
export function parseByteSize(value: string): number {
  const m = /^(\d+)([kKmMgG]i?[bB]?)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a size in bytes, e.g. 33554432, 32M or 512K');
  const unit = (m[2] ?? '').charAt(0).toLowerCase();
  const n = Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
  if (n < 1024) throw new InvalidArgumentError('chunks must be at least 1024 bytes');
  return n;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Options both `push` and `build --push` take. */
export function withPushOptions(cmd: Command): Command {
  return cmd
    .option('--insecure', 'talk plain http to the registry (a registry on this machine without TLS)')
    .option('--chunk-size <bytes>', `send blobs larger than this in chunks of this size (default ${DEFAULT_CHUNK_SIZE / 1024 / 1024}M)`, parseByteSize)
    .option('--mount-from <repo>', 'try a cross-repository mount from this repository of the same registry (repeatable)', collect);
}

export function registerPushCommand(program: Command): void {
  withPushOptions(
    program
      .command('push')
      .description('push an image tarball (or the index of a multi-arch one) to a registry')
      .argument('<img>', 'image tarball (baseimg build, docker save, podman save, OCI archive) or OCI layout directory')
      .argument('<ref>', 'where to push: REGISTRY/REPOSITORY:TAG (credentials: BASEIMG_REGISTRY_USER/_PASSWORD or ~/.docker/config.json)'),
  )
    .option('--image <ref>', 'which image of the archive to push, when it holds several')
    .option('--platform <os/arch>', 'push only this platform\'s image of a multi-arch archive')
    .option('--cache-dir <dir>', 'where to remember which repositories hold which blobs (for mounts)')
    .option('-q, --quiet', 'print warnings and errors only')
    .option('--json', 'print the result (digest, blobs and what happened to each) as JSON')
    .action(async (img: string, ref: string, opts: PushCommandOptions) => {
      const { runPush } = await import('./push.js');
      await runPush(img, ref, opts);
    });
}
