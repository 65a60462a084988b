/**
 * Commander wiring for the commands that look inside images (inspect, ls,
 * du, cat, diff, export), kept here so src/cli.ts needs one line for all six.
 */
import { InvalidArgumentError, type Command } from 'commander';
// Each command module is imported when its command runs (see src/cli.ts).

/** Three levels show /usr/share/zoneinfo-sized culprits without listing every directory. */
export const DEFAULT_DU_DEPTH = 3;

function parseDepth(value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InvalidArgumentError('expected a non-negative integer');
  return Number(value);
}

/** --image, --platform and --json, which every one of these commands takes. */
function withSelection(cmd: Command, what = 'the image'): Command {
  return cmd
    .option('--image <ref>', `which image of the archive to read (name, tag or digest prefix), when it holds several`)
    .option('--platform <os/arch>', `which platform's image to read (e.g. linux/arm64), when it holds several`)
    .option('--json', `print ${what} as JSON`);
}

const IMG = ['<img>', 'image tarball (docker save, podman save, OCI archive, baseimg build) or OCI layout directory'] as const;

export function registerInspectCommands(program: Command): void {
  withSelection(
    program
      .command('inspect')
      .description('show an image\'s digest, platform, config, layers, installed packages and SBOM')
      .argument(...IMG),
    'the report',
  ).action(async (img: string, opts) => {
    const { runInspect } = await import('../commands/inspect.js');
    await runInspect(img, opts);
  });

  withSelection(
    program
      .command('ls')
      .description('list files of the flattened image, like ls -l or tree')
      .argument(...IMG)
      .argument('[path]', 'directory or file inside the image', '/')
      .option('-l, --long', 'mode, owner, size, modification time and link target')
      .option('--tree', 'draw the directory tree (all levels unless --depth)')
      .option('--depth <n>', 'levels to descend (default 1; --tree: unlimited)', parseDepth),
    'the entries',
  ).action(async (img: string, path: string, opts) => {
    const { runLs } = await import('../commands/ls.js');
    await runLs(img, path, opts);
  });

  withSelection(
    program
      .command('du')
      .description('bytes per directory, or per installed package with --by-package (largest first)')
      .argument(...IMG)
      .argument('[path]', 'directory inside the image', '/')
      .option('-d, --max-depth <n>', `directory levels to show (default ${DEFAULT_DU_DEPTH})`, parseDepth)
      .option('--by-package', 'attribute files to the dpkg/apk packages that installed them'),
    'the sizes',
  ).action(async (img: string, path: string, opts) => {
    const { runDu } = await import('../commands/du.js');
    await runDu(img, path, opts);
  });

  withSelection(
    program
      .command('cat')
      .description('print a file of the image (symlinks are followed inside the image)')
      .argument(...IMG)
      .argument('<path>', 'file inside the image'),
    'the file (content as UTF-8 or base64)',
  ).action(async (img: string, path: string, opts) => {
    const { runCat } = await import('../commands/cat.js');
    await runCat(img, path, opts);
  });

  withSelection(
    program
      .command('diff')
      .description('files added, removed and changed between two images, package version changes, size delta')
      .argument('<img1>', 'the image before')
      .argument('<img2>', 'the image after'),
    'the differences',
  ).action(async (a: string, b: string, opts) => {
    const { runDiff } = await import('../commands/diff.js');
    await runDiff(a, b, opts);
  });

  withSelection(
    program
      .command('export')
      .description('write the flattened root filesystem into an empty directory, or as a tar to stdout ("-")')
      .argument(...IMG)
      .argument('<target>', 'new or empty directory, or "-" for a tar on stdout'),
    'a summary (on stderr when the tar goes to stdout)',
  ).action(async (img: string, target: string, opts) => {
    const { runExport } = await import('../commands/export.js');
    await runExport(img, target, opts);
  });
}
