/**
 * Small C programs run inside built images to report what a process sees
 * there. Each prints "key=value" lines; parseProbeOutput reads them back.
 *
 *  - static: no libc needed in the image. Static glibc has no NSS (getpwuid
 *    fails), so it reads /etc/passwd itself. Reports uid/gid, the passwd
 *    name and home, whether home exists and is owned by the uid, and the
 *    TLS-relevant files: /etc/ssl/certs, the CA bundle (bytes and
 *    certificates) and whatever $SSL_CERT_FILE names.
 *  - dynamic: linked against the host glibc; dlopen()s libssl.so.3, prints
 *    OpenSSL's version and where OpenSSL would take its CA file from
 *    ($SSL_CERT_FILE, as named by X509_get_default_cert_file_env). Only
 *    meaningful in an image whose glibc is at least the host's.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type ProbeKind = 'static' | 'dynamic';

const STATIC_PROBE_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Splits a passwd line on ':' keeping empty fields (strtok would merge them). */
static int split_fields(char *line, char **fields, int max) {
  int n = 0;
  line[strcspn(line, "\n")] = 0;
  fields[n++] = line;
  for (char *p = line; n < max && (p = strchr(p, ':')) != NULL; ) { *p++ = 0; fields[n++] = p; }
  return n;
}

static void report_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) printf("tls:%s=missing\n", path);
  else if (S_ISDIR(st.st_mode)) printf("tls:%s=dir\n", path);
  else printf("tls:%s=%lld\n", path, (long long)st.st_size);
}

int main(void) {
  unsigned uid = getuid();
  printf("uid=%u\ngid=%u\n", uid, (unsigned)getgid());

  FILE *pw = fopen("/etc/passwd", "r");
  if (!pw) { perror("/etc/passwd"); return 1; }
  char line[1024], *f[7];
  while (fgets(line, sizeof line, pw)) {
    if (split_fields(line, f, 7) == 7 && (unsigned)strtoul(f[2], NULL, 10) == uid) {
      printf("user=%s\nhome=%s\n", f[0], f[5]);
      struct stat st;
      int exists = stat(f[5], &st) == 0 && S_ISDIR(st.st_mode);
      printf("home_exists=%s\nhome_owned=%s\n", exists ? "yes" : "no", exists && st.st_uid == uid ? "yes" : "no");
      break;
    }
  }
  fclose(pw);

  const char *bundle = "/etc/ssl/certs/ca-certificates.crt";
  FILE *ca = fopen(bundle, "r");
  long bytes = -1, certs = 0;
  if (ca) {
    bytes = 0;
    while (fgets(line, sizeof line, ca)) {
      bytes += (long)strlen(line);
      if (strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0) certs++;
    }
    fclose(ca);
  }
  printf("ca_bundle_bytes=%ld\nca_bundle_certs=%ld\n", bytes, certs);

  report_path("/etc/ssl/certs");
  report_path(bundle);
  const char *env = getenv("SSL_CERT_FILE");
  printf("ssl_cert_file=%s\n", env ? env : "");
  if (env) report_path(env);
  return 0;
}
`;

const DYNAMIC_PROBE_C = String.raw`
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(void) {
  void *ssl = dlopen("libssl.so.3", RTLD_NOW);
  if (!ssl) { printf("dlopen=FAILED %s\n", dlerror()); return 1; }
  printf("dlopen=OK\n");
  /* dlsym on the libssl handle also searches its dependency libcrypto. */
  const char *(*version)(int) = (const char *(*)(int))dlsym(ssl, "OpenSSL_version");
  printf("openssl=%s\n", version ? version(0) : "?");
  const char *(*cert_env)(void) = (const char *(*)(void))dlsym(ssl, "X509_get_default_cert_file_env");
  const char *name = cert_env ? cert_env() : "?";
  const char *file = getenv(name);
  struct stat st;
  long long size = file && stat(file, &st) == 0 ? (long long)st.st_size : -1;
  printf("cert_file_env=%s\ncert_file=%s\ncert_file_bytes=%lld\n", name, file ? file : "", size);
  return 0;
}
`;

/** Compile a probe into `dir`: its path, or why it could not be built. */
export function compileProbe(dir: string, kind: ProbeKind): { path: string } | { problem: string } {
  const source = join(dir, `probe-${kind}.c`);
  const binary = join(dir, `probe-${kind}`);
  writeFileSync(source, kind === 'static' ? STATIC_PROBE_C : DYNAMIC_PROBE_C);
  const args = kind === 'static' ? ['-static', '-O2', '-o', binary, source] : ['-O2', '-o', binary, source];
  const r = spawnSync('gcc', args, { encoding: 'utf8' });
  if (r.error) return { problem: `gcc not runnable: ${r.error.message}` };
  if (r.status !== 0) {
    const hint = kind === 'static' ? ' (static glibc comes with libc6-dev)' : '';
    return { problem: `gcc ${kind} probe failed${hint}: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}` };
  }
  return { path: binary };
}

/** "key=value" lines into a map (later keys win). */
export function parseProbeOutput(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** The host glibc as [major, minor], or undefined when it cannot be told (musl, no getconf). */
export function hostGlibcVersion(): [number, number] | undefined {
  const r = spawnSync('getconf', ['GNU_LIBC_VERSION'], { encoding: 'utf8' });
  const m = /glibc (\d+)\.(\d+)/.exec(r.stdout ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Upstream [major, minor] of a Debian glibc package version ("2.36-9+deb12u14" → [2, 36]). */
export function debianGlibcVersion(version: string): [number, number] | undefined {
  const m = /^(?:\d+:)?(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}
