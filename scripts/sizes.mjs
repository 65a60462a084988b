// docs/sizes.md: the size of every shipped Debian spec, built from the
// configured mirror (BASEIMG_DEBIAN_MIRROR or the host's apt sources).
//   npm run sizes                              both releases, into docs/sizes.md
//   node scripts/sizes.mjs --release 12 --cache-dir DIR --out FILE
// Compressed = the gzip layer blobs a registry stores and a client pulls;
// uncompressed = the layer tars. "own layer" is what an image adds over its
// parent (the part not shared with the rest of the family).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FLAVOURS = ['static', 'base-nossl', 'base', 'cc', 'python3', 'java', 'nodejs'];
const VARIANTS = ['', '-debug', '-nonroot'];
/** distroless's own published figures (its README), where it gives one. */
const DISTROLESS = {
  static: '"around 2 MiB" (distroless README)',
  base: 'about 20 MB (as issue 8 cites it)',
};

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const releases = option('--release', '12,13').split(',');
const out = option('--out', 'docs/sizes.md');
const cacheDir = option('--cache-dir', undefined);

const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;
const work = mkdtempSync(join(tmpdir(), 'baseimg-sizes-'));
const sections = [];
try {
  for (const release of releases) {
    const dir = `specs/debian${release}`;
    const present = new Set(readdirSync(dir).filter((f) => f.endsWith('.toml')).map((f) => f.slice(0, -5)));
    const rows = [];
    const layersOf = new Map();
    for (const flavour of FLAVOURS) {
      for (const variant of VARIANTS) {
        const name = `${flavour}${variant}`;
        if (!present.has(name)) continue;
        process.stderr.write(`building ${dir}/${name}.toml\n`);
        const result = build(`${dir}/${name}.toml`, join(work, `${name}.tar`));
        const layers = result.layers;
        layersOf.set(name, layers);
        const own = variant === '' ? layers[layers.length - 1] : layers.length > layersOf.get(flavour).length ? layers[layers.length - 1] : undefined;
        rows.push({
          name,
          layers: layers.length,
          compressed: layers.reduce((n, l) => n + l.size, 0),
          uncompressed: layers.reduce((n, l) => n + l.uncompressedSize, 0),
          own: own?.size,
          packages: result.packages.length,
          distroless: variant === '' ? DISTROLESS[flavour] : undefined,
        });
      }
    }
    sections.push(table(release, rows));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

writeFileSync(out, document(sections));
process.stderr.write(`wrote ${out}\n`);

function build(spec, tar) {
  const r = spawnSync(process.execPath, ['bin/baseimg', 'build', spec, '-o', tar, '--json', '--quiet', ...(cacheDir ? ['--cache-dir', cacheDir] : [])], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    process.exit(r.status ?? 1);
  }
  rmSync(tar, { force: true });
  return JSON.parse(r.stdout);
}

function table(release, rows) {
  const codename = release === '12' ? 'bookworm' : 'trixie';
  const lines = [
    `## Debian ${release} (${codename})`,
    '',
    '| spec | layers | compressed | uncompressed | own layer (compressed) | packages | distroless publishes |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const own = r.own === undefined ? 'none (config only)' : mib(r.own);
    lines.push(`| \`${r.name}\` | ${r.layers} | ${mib(r.compressed)} | ${mib(r.uncompressed)} | ${own} | ${r.packages} | ${r.distroless ?? ''} |`);
  }
  return lines.join('\n');
}

function document(parts) {
  const day = new Date().toISOString().slice(0, 10);
  return `# Image sizes

Every spec in \`specs/debian12\` and \`specs/debian13\`, built by
\`npm run sizes\` (\`scripts/sizes.mjs\`) on ${day} from the Debian archive as
it was that day; package updates move these numbers a little. Sizes are
for amd64.

- **compressed**: the gzip layer blobs, what a registry stores and a
  client downloads for this image alone;
- **uncompressed**: the layer tars, about what the image takes unpacked;
- **own layer**: what the image adds over its first include (its layer
  parent, see [spec.md](spec.md#layers-one-per-spec)). Images of one family
  share the rest: pulling \`python3\` after \`cc\` downloads only python3's own
  layer. \`-nonroot\` variants add no layer, \`-debug\` variants add busybox.
- **distroless publishes**: distroless's own figure where there is one (its
  README: "the smallest distroless image, gcr.io/distroless/static-debian12,
  is around 2 MiB"), and for base the "about 20 MB" issue 8 cites. No
  figure is given here for the others rather than one we could not check.

Differences from distroless's package sets are listed in each spec's
comments (for example, java leaves out CUPS, NSS and smart-card libraries).
Alpine specs are tested against the fixture repositories only and are not
measured here.

${parts.join('\n\n')}
`;
}
