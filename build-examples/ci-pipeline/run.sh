#!/usr/bin/env bash
# Runs what the CI files run (ci/build-and-push.sh) against a registry on
# this machine (Debian's docker-registry on 127.0.0.1), then checks the
# pushed image with skopeo and the CI files' structure. What cannot run
# here: the hosted runners, their caches and credentials.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$EXAMPLES/ci-pipeline"

# The CI files must call the script this test runs, and keep the SBOMs.
if command -v python3 >/dev/null && python3 -c 'import yaml' 2>/dev/null; then
  python3 - <<'PY'
import yaml
gh = yaml.safe_load(open("github-actions.yml"))
steps = gh["jobs"]["build"]["steps"]
assert any(s.get("run") == "./ci/build-and-push.sh" for s in steps), "github: no build-and-push step"
assert any(s.get("uses", "").startswith("actions/upload-artifact") and s["with"]["path"].endswith("out/sbom/") for s in steps), "github: SBOMs not kept"
assert "IMAGE_REF" in gh["jobs"]["build"]["env"]
gl = yaml.safe_load(open("gitlab-ci.yml"))
job = gl["base-image"]
assert "./ci/build-and-push.sh" in job["script"], "gitlab: no build-and-push step"
assert job["artifacts"]["paths"][0].endswith("out/sbom/"), "gitlab: SBOMs not kept"
assert "IMAGE_REF" in job["variables"]
PY
  echo "ok: github-actions.yml and gitlab-ci.yml run ci/build-and-push.sh and keep the SBOMs"
else
  echo "skipped: YAML check (python3-yaml is not installed)"
fi

# A registry on a free port, storage in the work directory.
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
cat > "$WORK/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 150); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

ref="127.0.0.1:$port/example/org-base:ci"
out=$(BASEIMG="$BASEIMG" IMAGE_REF="$ref" PUSH_INSECURE=1 OUT="$WORK/out" ./ci/build-and-push.sh 2>"$WORK/ci.log") || { cat "$WORK/ci.log" >&2; exit 1; }
echo "$out"
expect "the SPDX SBOM was kept" "$(ls "$WORK/out/sbom")" '^image\.spdx\.json$'
expect "the CycloneDX SBOM was kept" "$(ls "$WORK/out/sbom")" '^image\.cdx\.json$'
pushed=$(sed -n 's/^pushed .*@//p' <<<"$out")
expect "the push printed a digest" "$pushed" '^sha256:[0-9a-f]{64}$'

# What the registry holds now, seen by another client.
inspect=$(skopeo inspect --tls-verify=false "docker://$ref")
expect "skopeo sees the pushed digest" "$inspect" "\"Digest\": \"$pushed\""
expect "with our labels" "$inspect" '"org.opencontainers.image.vendor": "Example Org"'
expect "and the layers of debian12/base" "$inspect" '"Layers": \['
