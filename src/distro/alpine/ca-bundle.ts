/**
 * The CA bundle of an Alpine image. Alpine ships it prebuilt:
 * ca-certificates-bundle holds /etc/ssl/certs/ca-certificates.crt (the
 * resolver adds that package when the spec sets ca-certificates.bundle).
 * What update-ca-certificates (ca-certificates' script and trigger) would
 * add on top, local certificates under /usr/local/share/ca-certificates,
 * from packages or from the spec's ca-certificates.local, is appended in
 * byte order of their paths, as apko does. The bundle is then edited in
 * place, still owned by its package, whose Z: checksum no longer matches,
 * as on a system where the trigger ran.
 */
import type { BuildContext } from '../../pipeline/context.js';
import type { RootTree } from '../../rootfs/tree.js';
import type { Spec } from '../../spec/types.js';
import { BaseimgError } from '../../util/errors.js';
import { buildCaBundle } from '../../finalize/ca-bundle.js';
import { localCertificates, placeLocalCertificates } from '../debian/ca-certificates.js';

export const CA_BUNDLE_PACKAGE = 'ca-certificates-bundle';
export const CA_BUNDLE_PATH = '/etc/ssl/certs/ca-certificates.crt';

export async function finishCaBundle(root: RootTree, spec: Spec, ctx: BuildContext, mtime: number): Promise<void> {
  const { local, bundle: wanted } = spec.caCertificates;
  const real = root.realpath(CA_BUNDLE_PATH);
  const node = real === undefined ? undefined : root.get(real, false);
  if (node?.type !== 'file') {
    if (local.length > 0) {
      throw new BaseimgError('SPEC', 'ca-certificates.local is set, but the image has no CA bundle to add the certificates to', {
        hint: `set ca-certificates.bundle = true (it installs ${CA_BUNDLE_PACKAGE})`,
      });
    }
    if (wanted) throw new BaseimgError('UNPACK', `ca-certificates.bundle = true, but no installed package ships ${CA_BUNDLE_PATH}`);
    return;
  }
  await placeLocalCertificates(root, local, mtime);
  const extra = await localCertificates(root);
  if (extra.length === 0) return;
  const body = buildCaBundle([{ name: CA_BUNDLE_PATH, body: await root.bodies.read(node.body) }], extra);
  root.bodies.release(node.body);
  node.body = await root.bodies.put(body);
  node.size = body.length;
  node.meta = { ...node.meta, mtime };
  ctx.reporter.debug(`CA bundle: ${extra.length} local certificates appended to ${real}`);
}
