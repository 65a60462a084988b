/**
 * Command-line entry: wires commander to the commands in src/commands. Every
 * command returns normally or throws; this file turns errors into a short
 * message, a hint and an exit status (2: fix your input, 1: anything else).
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { TOOL } from './version.js';
import { BaseimgError, isBaseimgError } from './util/errors.js';
// Commands are imported when they run, not here: loading every command's
// dependencies (undici, openpgp, the inspect readers…) took 0.4–0.7 s before
// any work started, which dominated short runs such as a warm build.
import { registerInspectCommands } from './inspect/commands.js';
import { registerPushCommand, withPushOptions } from './commands/push-cli.js';
import { ARCHES, type Arch } from './spec/types.js';
import { checkImageRef } from './util/reference.js';

function parseArch(value: string): Arch {
  if (!(ARCHES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${ARCHES.join(', ')}`);
  }
  return value as Arch;
}

/** "amd64", or "amd64,arm64" for a multi-arch build. */
function parseArchList(value: string): Arch[] {
  const list = value.split(',').map((a) => a.trim());
  const bad = list.find((a) => !(ARCHES as readonly string[]).includes(a));
  if (bad !== undefined) {
    throw new InvalidArgumentError(`expected one of ${ARCHES.join(', ')}, or several separated by commas${list.length > 1 ? ` ("${bad}" is none of them)` : ''}`);
  }
  if (new Set(list).size !== list.length) throw new InvalidArgumentError('an architecture is listed twice');
  return list as Arch[];
}

function parseEpoch(value: string): number {
  if (!/^\d{1,12}$/.test(value)) throw new InvalidArgumentError('expected a non-negative integer (seconds since 1970)');
  return Number(value);
}

function parseSbomFormat(value: string): 'spdx' | 'cyclonedx' {
  if (value === 'spdx' || value === 'cyclonedx') return value;
  throw new InvalidArgumentError('expected spdx or cyclonedx');
}

function parseTag(value: string): string {
  const parsed = checkImageRef(value);
  if (typeof parsed === 'string') {
    throw new InvalidArgumentError(`${parsed} (expected e.g. "myimage:1.0" or "registry.example/team/img:tag")`);
  }
  return value;
}

/** One wording on every command that takes the flag; what it skips is in docs/SECURITY.md. */
const INSECURE_HELP =
  'DANGEROUS: accept repository signatures and Release dates that fail verification, with a warning for each (checksums are still enforced; recorded in the SBOM)';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('baseimg')
    .description('Assemble minimal, reproducible container base images from Debian and Alpine packages.')
    .version(TOOL.version, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) });

  withPushOptions(program
    .command('build')
    .description('build the image described by SPEC into an OCI image tarball')
    .argument('<spec>', 'the image spec (TOML)')
    .option('-o, --output <file>', 'output tarball (default: <spec name>.tar in the current directory)')
    .option('--tag <name:tag>', 'image reference recorded in the tarball (default: the spec\'s tag)', parseTag)
    .option('--arch <arch>', `target architecture(s): ${ARCHES.join('|')}, or a list (amd64,arm64: one tarball with an OCI index); default: the spec's`, parseArchList)
    .option('--cache-dir <dir>', 'download cache (default: $XDG_CACHE_HOME/baseimg or ~/.cache/baseimg)')
    .option('--source-date-epoch <seconds>', 'timestamp for the image and clamp for file mtimes (default: $SOURCE_DATE_EPOCH, the spec, else derived from the packages)', parseEpoch)
    .option('--offline', 'use the download cache only; fail with a list of what is missing')
    .option('--locked', 'build from the lock file alone: no index download, every file verified by its locked hash')
    .option('--frozen', 'as --locked, and fail when the spec no longer matches the lock')
    .option('--lock <file>', 'lock file for --locked/--frozen (default: <spec>.lock.json beside the spec)')
    .option('--insecure-skip-verify', INSECURE_HELP)
    .option('--sbom-dir <dir>', 'where to write NAME.spdx.json and NAME.cdx.json (default: beside the tarball)')
    .option('--sbom-files', 'list every file with its SHA-256 in the SBOMs')
    .option('--timings', 'print where the time went')
    .option('-q, --quiet', 'print warnings and errors only')
    .option('--json', 'print the result as JSON on stdout (progress as JSON lines on stderr)')
    .option('--push <ref>', 'then push the image (or multi-arch index) to REGISTRY/REPOSITORY:TAG'))
    .action(async (spec: string, opts) => {
      const { runBuild } = await import('./commands/build.js');
      await runBuild(spec, opts);
    });

  program
    .command('resolve')
    .description('print the packages SPEC resolves to, with versions, sizes and why each is in')
    .argument('<spec>', 'the image spec (TOML)')
    .option('--arch <arch>', `target architecture (${ARCHES.join('|')})`, parseArch)
    .option('--cache-dir <dir>', 'download cache')
    .option('--offline', 'use the download cache only')
    .option('--insecure-skip-verify', INSECURE_HELP)
    .option('-q, --quiet', 'print warnings and errors only')
    .option('--json', 'print the resolution as JSON')
    .action(async (spec: string, opts) => {
      const { runResolve } = await import('./commands/resolve.js');
      await runResolve(spec, opts);
    });

  program
    .command('lock')
    .description('resolve SPEC for each of its architectures and write its lock file')
    .argument('<spec>', 'the image spec (TOML)')
    .option('-o, --output <file>', 'lock file to write (default: <spec>.lock.json beside the spec)')
    .option('--cache-dir <dir>', 'download cache')
    .option('--offline', 'use the download cache only')
    .option('--insecure-skip-verify', INSECURE_HELP)
    .option('-q, --quiet', 'print warnings and errors only')
    .option('--json', 'print a summary as JSON')
    .action(async (spec: string, opts: { output?: string } & Record<string, unknown>) => {
      const { runLock } = await import('./commands/lock.js');
      await runLock(spec, { ...opts, lockFile: opts.output });
    });

  registerInspectCommands(program);
  registerPushCommand(program);

  program
    .command('sbom')
    .description('print an image\'s SBOM: the one baseimg embedded, else one derived from its dpkg/apk database')
    .argument('<img>', 'image tarball (baseimg build, docker save, podman save, OCI archive) or OCI layout directory')
    .option('--format <format>', 'spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.6 JSON)', parseSbomFormat, 'spdx')
    .option('--derive', 'ignore an embedded SBOM and derive one from the package database')
    .option('--image <ref>', 'which image of the archive to read (name, tag or digest prefix), when it holds several')
    .option('--platform <os/arch>', 'which platform\'s image to read (e.g. linux/arm64), when it holds several')
    .action(async (img: string, opts) => {
      const { runSbom } = await import('./commands/sbom.js');
      await runSbom(img, opts);
    });

  return program;
}

/** Run the CLI; resolves to the process exit status. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // Subcommands copy settings when they are created, so each needs its own override;
  // without it commander calls process.exit(1) on a bad option value (exit 2 is ours).
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    return reportError(e);
  }
}

function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (help, version, or a usage error)
    return e.exitCode === 0 ? 0 : 2;
  }
  if (isBaseimgError(e)) {
    process.stderr.write(`baseimg: error: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
    if (process.env.BASEIMG_DEBUG === '1' && e.stack) process.stderr.write(e.stack + '\n');
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new BaseimgError('INTERNAL', String(e));
  process.stderr.write(`baseimg: internal error: ${err.message}\n${err.stack ?? ''}\n`);
  process.stderr.write('  this is a bug in baseimg; please report it with the command you ran\n');
  return 1;
}
