#!/usr/bin/env bash
# Build the app on debian12/python3-nonroot, run it in podman, check what it
# prints and that the SBOM beside the image lists the Python packages.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$EXAMPLES/python-app"

ref=localhost/baseimg-example/python-app:latest
build python-app.toml -o "$WORK/python-app.tar" --tag "$ref"
load "$WORK/python-app.tar" "$ref"

out=$(podman run --rm --network none "$ref")
echo "$out"
expect "the app ran its SQLite query" "$out" '"items": 8'
expect "ssl is OpenSSL 3" "$out" '"openssl": "OpenSSL 3\.'
expect "it runs as nonroot in its home" "$out" '"uid": 65532, "cwd": "/home/nonroot"'
expect "OpenSSL loads the image's CA bundle" "$out" '"ca_certs": [1-9][0-9]+'
expect "the SBOM lists python3" "$(cat "$WORK/python-app.spdx.json")" '"name": "python3\.11"'
