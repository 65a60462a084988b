#!/usr/bin/env bash
# Compile hello.c statically, add it to debian12/static-nonroot with [[files]],
# run it in podman, and check that the base's layer was reused unchanged.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$EXAMPLES/static-c"

mkdir -p build
gcc -static -O2 -o build/hello hello.c
build hello.toml -o "$WORK/hello.tar" --tag localhost/baseimg-example/hello:latest --json > "$WORK/hello.json"
build ../../specs/debian12/static.toml -o "$WORK/static.tar" --json > "$WORK/static.json"

# The static base's layer is the first layer of the app image, byte for byte.
base_layer=$(node -e 'console.log(require(process.argv[1]).layers[0].digest)' "$WORK/static.json")
app_layers=$(node -e 'console.log(require(process.argv[1]).layers.map((l) => l.digest).join(" "))' "$WORK/hello.json")
expect "the app image starts with static's layer" "$app_layers" "^$base_layer [^ ]+$"

load "$WORK/hello.tar" localhost/baseimg-example/hello:latest
out=$(podman run --rm --network none localhost/baseimg-example/hello:latest)
expect "hello runs" "$out" '^hello from a static binary, uid 65532$'
expect "it sees the image's os-release" "$out" '^running on "Debian GNU/Linux 12'
expect "the CA bundle is there" "$out" '^CA bundle: present$'
rm -rf build
