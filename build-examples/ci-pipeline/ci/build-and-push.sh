#!/usr/bin/env bash
# What CI runs (github-actions.yml and gitlab-ci.yml call this script, and
# run.sh runs it against a registry on this machine):
#   1. build SPEC into out/image.tar, SBOMs into out/sbom/ (kept as CI artifacts);
#   2. check the SBOM inside the image says what the one beside it says;
#   3. push the image to IMAGE_REF.
# Settings (environment):
#   SPEC                 the spec to build (default: base.toml)
#   IMAGE_REF            REGISTRY/REPOSITORY:TAG to push to (required)
#   BASEIMG              the baseimg command (default: baseimg on PATH)
#   BASEIMG_DEBIAN_MIRROR  the Debian mirror, when the runner's apt sources have none
#   BASEIMG_REGISTRY_USER / BASEIMG_REGISTRY_PASSWORD  registry credentials
#   PUSH_INSECURE=1      plain http (a registry on the same machine only)
#   SOURCE_DATE_EPOCH    optional; by default the packages decide (reproducible)
set -euo pipefail
SPEC="${SPEC:-base.toml}"
BASEIMG="${BASEIMG:-baseimg}"
: "${IMAGE_REF:?set IMAGE_REF to REGISTRY/REPOSITORY:TAG}"
OUT="${OUT:-out}"

mkdir -p "$OUT/sbom"
"$BASEIMG" build "$SPEC" -o "$OUT/image.tar" --tag "$IMAGE_REF" --sbom-dir "$OUT/sbom" ${BASEIMG_CACHE_DIR:+--cache-dir "$BASEIMG_CACHE_DIR"}

# The SBOM beside the tarball names the image by digest; the one inside lists the same packages.
"$BASEIMG" sbom "$OUT/image.tar" --format spdx > "$OUT/sbom/embedded.spdx.json"
packages() {
  node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(d.packages.filter((p) => p.SPDXID.startsWith("SPDXRef-Package-")).map((p) => `${p.name} ${p.versionInfo}`).sort().join("\n"))' "$1"
}
beside=$(packages "$OUT/sbom/image.spdx.json")
inside=$(packages "$OUT/sbom/embedded.spdx.json")
if [ "$beside" != "$inside" ]; then
  echo "the SBOM inside the image lists other packages than the one beside it" >&2
  diff <(echo "$beside") <(echo "$inside") >&2 || true
  exit 1
fi
echo "SBOM: $(echo "$beside" | wc -l) packages, kept in $OUT/sbom/"

"$BASEIMG" push "$OUT/image.tar" "$IMAGE_REF" ${PUSH_INSECURE:+--insecure} --json > "$OUT/push.json"
echo "pushed $IMAGE_REF@$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).digest)' "$OUT/push.json")"
