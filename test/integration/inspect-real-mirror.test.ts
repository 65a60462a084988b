/**
 * `baseimg du --by-package` on the real debian12/static image, built by
 * bin/baseimg from the Debian mirror the tool itself finds
 * (BASEIMG_DEBIAN_MIRROR or the host's apt sources): tzdata is the largest
 * package, and the packages plus unowned files add up to the total. Skips
 * without a mirror; under CI=true that is a failure.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { debianMirrorProblem, runOk, skipOrFail } from '../helpers/tools.js';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { assertCliMatchesReference } from '../unit/inspect-compare.test.js';
import { referenceFlatten } from '../unit/inspect-testlib.test.js';

const problem = debianMirrorProblem(['bookworm', 'bookworm-updates', 'bookworm-security']);
let scratch: string;
let image: string | undefined;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'baseimg-inspect-real-'));
  if (problem !== undefined) return;
  image = join(scratch, 'static-debian12.tar');
  // The developer's environment is kept on purpose: it may name the mirror.
  runOk(process.execPath, ['bin/baseimg', 'build', 'specs/debian12/static.toml', '-o', image, '--cache-dir', join(scratch, 'cache'), '--quiet'], { cwd: PROJECT_ROOT, timeoutMs: 600_000 });
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const baseimg = (args: string[]): string => runOk(process.execPath, ['bin/baseimg', ...args], { cwd: PROJECT_ROOT }).stdout;

it('debian12/static: du --by-package lists tzdata first and adds up to the total', (t) => {
  if (problem !== undefined || !image) return skipOrFail(t, problem ?? 'the image was not built');
  const doc = JSON.parse(baseimg(['du', image, '--by-package', '--json']));
  assert.equal(doc.packages[0].name, 'tzdata', JSON.stringify(doc.packages.slice(0, 3)));
  for (const name of ['base-files', 'netbase', 'tzdata', 'media-types']) assert.ok(doc.packages.some((p: { name: string }) => p.name === name), name);
  const sum = doc.packages.reduce((n: number, p: { bytes: number }) => n + p.bytes, 0) + doc.unowned.bytes;
  assert.equal(sum, doc.total.bytes);
  assert.ok(doc.packages[0].bytes > doc.total.bytes / 2, 'tzdata is most of the image');
  const total = JSON.parse(baseimg(['du', image, '-d', '0', '--json'])).total.bytes;
  assert.equal(doc.total.bytes, total);

  const human = baseimg(['du', image, '--by-package']).split('\n');
  assert.match(human[1]!, /^tzdata\s/);
});

it('debian12/static: ls, du, cat and export agree with the reference flattening', async (t) => {
  if (problem !== undefined || !image) return skipOrFail(t, problem ?? 'the image was not built');
  const ref = await referenceFlatten(await readFile(image));
  await assertCliMatchesReference(image, ref.fs, [], scratch, { catLimit: 5 });
});
