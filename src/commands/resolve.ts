/** `baseimg resolve SPEC`: the package closure with versions, sizes and reasons. */
import type { Arch } from '../spec/types.js';
import { loadSpec } from '../spec/load.js';
import { resolveSpec } from '../pipeline/build.js';
import type { Resolution } from '../distro/types.js';
import { withBuildContext, type CommonOptions } from './context.js';
import { humanBytes } from '../util/reporter.js';

export interface ResolveCommandOptions extends CommonOptions {
  arch?: Arch;
}

export async function runResolve(specFile: string, opts: ResolveCommandOptions): Promise<Resolution> {
  const spec = await loadSpec(specFile);
  const arch = opts.arch ?? spec.arch[0]!;
  return withBuildContext(opts, async (ctx, reporter) => {
    const resolution = await resolveSpec(spec, arch, ctx);
    reporter.close();
    if (opts.json) {
      const doc = {
        spec: spec.file,
        arch,
        sources: resolution.sources,
        packages: resolution.packages.map((p) => ({
          name: p.name,
          version: p.version,
          architecture: p.architecture,
          installedSize: p.installedSize,
          size: p.size,
          sha256: p.sha256,
          repository: p.repository,
          filename: p.filename,
          reason: p.reason,
          dependsOn: p.dependsOn,
        })),
      };
      process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    } else {
      process.stdout.write(formatResolution(resolution));
    }
    return resolution;
  });
}

/** Aligned table: name, version, installed size, suite, why. */
export function formatResolution(r: Resolution): string {
  const rows = r.packages.map((p) => [p.name, p.version, p.installedSize === undefined ? '-' : humanBytes(p.installedSize), p.repository, p.reason]);
  const header = ['PACKAGE', 'VERSION', 'SIZE', 'FROM', 'WHY'];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const lines = all.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  const total = r.packages.reduce((n, p) => n + (p.installedSize ?? 0), 0);
  lines.push(`${r.packages.length} packages, ${humanBytes(total)} installed (${r.arch})`);
  return lines.join('\n') + '\n';
}
