/**
 * crane (go-containerregistry), for `crane validate --tarball` in the
 * conformance suite. Debian ships it only in unstable, so it is taken from
 * suite sid of the host's own Debian mirror (BASEIMG_DEBIAN_MIRROR or the
 * apt sources, as for any build) with baseimg's repository code: the
 * InRelease signature checked against the host's archive keyring, the
 * Packages index and the .deb by SHA-256. The mirror may hold a frozen copy
 * of sid whose Valid-Until has passed; it is then judged as of its own Date,
 * as a snapshot is (src/distro/debian/repository.ts). The binary is kept in
 * the cache directory, so later runs need no network.
 */
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { BuildContext } from '../../src/pipeline/context.js';
import type { DebianSource } from '../../src/spec/types.js';
import { createFetcher } from '../../src/net/fetcher.js';
import { nullReporter } from '../../src/util/reporter.js';
import { openDebianRepository } from '../../src/distro/debian/repository.js';
import { resolveDebianMirrors } from '../../src/distro/debian/mirror.js';
import { ArArchive } from '../../src/archive/ar-reader.js';
import { compressionOfMember, decompressStream } from '../../src/archive/decompress.js';
import { readTar } from '../../src/archive/tar-reader.js';

const SID: DebianSource = { distro: 'debian', mirror: undefined, securityMirror: undefined, suites: ['sid'], components: ['main'], keyring: [], mergedUsr: true };

/** Path of a crane that runs here, or the reason there is none. */
export async function obtainCrane(cacheDir: string): Promise<{ path: string } | { problem: string }> {
  const onPath = spawnSync('sh', ['-c', 'command -v crane'], { encoding: 'utf8' });
  if (onPath.status === 0) return { path: onPath.stdout.trim() };
  const target = join(cacheDir, 'tools', 'crane');
  if (existsSync(target) && runs(target)) return { path: target };
  try {
    resolveDebianMirrors(SID, { env: process.env });
  } catch {
    return { problem: 'crane is not installed and no Debian mirror is configured to fetch it from sid' };
  }
  const { fetcher, derived, close } = createFetcher({ cacheDir, offline: false, retries: 1 });
  const ctx: BuildContext = { fetcher, derived, reporter: nullReporter(), tmpDir: cacheDir, now: new Date(), signal: new AbortController().signal, insecureSkipVerify: false, offline: false };
  try {
    const repo = await openDebianRepository(SID, 'amd64', await asOfRelease(ctx)).catch((e: Error) => {
      throw new Error(`sid from the host's mirror: ${e.message}`);
    });
    const pkg = repo.packages.filter((p) => p.name === 'crane' && p.architecture === 'amd64').at(-1);
    if (!pkg) return { problem: 'the mirror\'s sid has no crane package for amd64' };
    const deb = await fetcher.fetchFile(`${pkg.baseUrl}/${pkg.filename}`, { sha256: pkg.sha256, size: pkg.size, what: `crane ${pkg.version}` });
    const binary = await extract(deb.path, './usr/bin/crane', `crane ${pkg.version}`);
    if (!binary) return { problem: `crane ${pkg.version} has no /usr/bin/crane` };
    await mkdir(join(cacheDir, 'tools'), { recursive: true });
    await writeFile(`${target}.tmp`, binary);
    await chmod(`${target}.tmp`, 0o755);
    await rename(`${target}.tmp`, target);
    return runs(target) ? { path: target } : { problem: `crane ${pkg.version} from sid does not run on this host` };
  } catch (e) {
    return { problem: `cannot fetch crane from sid: ${(e as Error).message}` };
  } finally {
    await close();
  }
}

/** The context with its clock at sid's Release Date when the Release has expired (a frozen mirror copy). */
async function asOfRelease(ctx: BuildContext): Promise<BuildContext> {
  const base = resolveDebianMirrors(SID, { env: process.env }).get('sid')!;
  const text = (await ctx.fetcher.fetchBuffer(`${base}/dists/sid/InRelease`, { maxBytes: 1 << 20 })).toString('utf8');
  const date = /^Date: (.+)$/m.exec(text)?.[1];
  const validUntil = /^Valid-Until: (.+)$/m.exec(text)?.[1];
  if (!date || !validUntil || Date.parse(validUntil) > ctx.now.getTime()) return ctx;
  return { ...ctx, now: new Date(Date.parse(date) + 60_000) };
}

async function extract(debPath: string, member: string, what: string): Promise<Buffer | undefined> {
  const ar = await ArArchive.open(debPath);
  try {
    const data = ar.members.find((m) => m.name.startsWith('data.tar'));
    if (!data) return undefined;
    const plain = decompressStream(ar.stream(data), compressionOfMember(data.name, what), { maxOutputBytes: 1 << 30, what });
    for await (const entry of readTar(plain, { what, maxEntries: 10_000, maxTotalBytes: 1 << 30 })) {
      if (entry.path === member && entry.type === 'file') {
        const chunks: Buffer[] = [];
        for await (const c of entry.body) chunks.push(c);
        return Buffer.concat(chunks);
      }
      for await (const _ of entry.body) void _;
    }
    return undefined;
  } finally {
    await ar.close();
  }
}

function runs(path: string): boolean {
  return spawnSync(path, ['version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}
