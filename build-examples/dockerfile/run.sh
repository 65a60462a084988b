#!/usr/bin/env bash
# Build debian12/python3 with baseimg, load it into podman, build the
# Dockerfile on top of it with podman build, run the result, and check that
# the baseimg layers are the bottom of the new image.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$EXAMPLES/dockerfile"

base=localhost/baseimg-example/python3-debian12:latest
app=localhost/baseimg-example/dockerfile-hello:latest
build ../../specs/debian12/python3.toml -o "$WORK/python3.tar" --tag "$base" --json > "$WORK/python3.json"
load "$WORK/python3.tar" "$base"

podman build --quiet --network none --build-arg "BASE=$base" -t "$app" . > "$WORK/build.out"
LOADED+=("$app")
out=$(podman run --rm --network none "$app")
expect "the Dockerfile's image runs" "$out" '^hello from Python 3\.11\.[0-9]+ on a baseimg base, OpenSSL 3\.'
expect "the RUN step compiled the app" "$(podman run --rm --network none --entrypoint /usr/bin/python3 "$app" -c 'import os; print(os.listdir("/app/__pycache__"))')" "hello\.cpython-311\.pyc"
expect "it runs as nonroot" "$(podman image inspect --format '{{.Config.User}}' "$app")" '^65532:65532$'

# podman lists layers by diff ID; the base's are the first ones, unchanged.
base_diffs=$(node -e 'console.log(require(require("path").resolve(process.argv[1])).layers.map((l) => l.diffId).join(" "))' "$WORK/python3.json")
app_diffs=$(podman image inspect --format '{{range .RootFS.Layers}}{{.}} {{end}}' "$app")
expect "the app image starts with the baseimg layers" "$app_diffs" "^$base_diffs "
