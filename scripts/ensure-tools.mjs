// Installs the real clients the test suite drives (podman, skopeo, umoci,
// oci-image-tool, mmdebstrap...) when they are missing and we are root on a
// Debian-like host, and writes the podman configuration they need here
// (runc runtime, cgroupfs, file events, no default ulimits). On a machine
// where that is not possible it only reports; the tests then skip with a
// message (and fail under CI=true).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const TOOLS = {
  podman: 'podman',
  runc: 'runc',
  skopeo: 'skopeo',
  umoci: 'umoci',
  'oci-image-tool': 'oci-image-tool',
  mmdebstrap: 'mmdebstrap',
  gpgv: 'gpgv',
  'dpkg-deb': 'dpkg',
  xz: 'xz-utils',
  zstd: 'zstd',
  gcc: 'gcc',
  // A registry on 127.0.0.1 for push and conformance tests, and bcrypt htpasswd files for its auth.
  'docker-registry': 'docker-registry',
  htpasswd: 'apache2-utils',
};
// Static libc for the probe binary the image tests compile.
const EXTRA_PACKAGES = ['libc6-dev'];

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

export function ensureTools({ log = console.error } = {}) {
  const missing = Object.entries(TOOLS).filter(([cmd]) => !have(cmd));
  const isRoot = process.getuid?.() === 0;
  if (missing.length > 0) {
    if (isRoot && have('apt-get')) {
      const pkgs = [...new Set([...missing.map(([, pkg]) => pkg), ...EXTRA_PACKAGES])];
      log(`test setup: installing ${pkgs.join(' ')} with apt-get`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs, 'uidmap', 'fuse-overlayfs', 'slirp4netns', 'netavark', 'aardvark-dns', 'catatonit'], { stdio: 'inherit', env });
    } else {
      log(`test setup: missing ${missing.map(([c]) => c).join(', ')}; tests that need them will be skipped (run as root with apt-get to install them)`);
    }
  }
  if (isRoot && have('podman')) configurePodman(log);
}

/**
 * diffoscope, for `npm run repro` only (it is large, so npm test never
 * installs it): the minimal package is enough for tars, gzip and JSON.
 * Returns whether the command is available afterwards.
 */
export function ensureDiffoscope({ log = console.error } = {}) {
  if (have('diffoscope')) return true;
  if (process.getuid?.() !== 0 || !have('apt-get')) return false;
  log('repro: installing diffoscope-minimal with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const install = update.status === 0 && spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'diffoscope-minimal'], { stdio: 'inherit', env });
  if (!install || install.status !== 0) log('repro: could not install diffoscope-minimal');
  return have('diffoscope');
}

function configurePodman(log) {
  const file = '/etc/containers/containers.conf';
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (/runtime\s*=\s*"runc"/.test(current)) return;
  if (current.trim() !== '') {
    log(`test setup: ${file} exists without runtime="runc"; leaving it alone`);
    return;
  }
  mkdirSync('/etc/containers', { recursive: true });
  writeFileSync(
    file,
    '# written by baseimg test setup (see DEVELOPERS.md)\n[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n',
  );
  log(`test setup: wrote ${file}`);
}

if (import.meta.url === `file://${process.argv[1]}`) ensureTools();
