#!/usr/bin/env bash
# The main job on a built-in demo, end to end, like the original proof of concept:
# a source registry with a small signed image, certificates, an external RSA-PSS/SHA-512
# signature made with `openssl dgst`, a sealed save, a verified load into a second
# registry, verification at the target, and inspect.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/registry.sh
SEALIFT=${SEALIFT:-target/release/sealift}
work=$(mktemp -d "${TMPDIR:-/tmp}/sealift-demo.XXXXXX")
trap 'cleanup_registries; rm -rf "$work"' EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "starting two throwaway registries"
SRC=$(start_registry); DST=$(start_registry)
echo "source: $SRC   target: $DST"

step "building a small sample image with umoci and pushing it with skopeo"
umoci init --layout "$work/oci" >/dev/null
umoci new --image "$work/oci:1.0" >/dev/null
umoci unpack --rootless --image "$work/oci:1.0" "$work/rootfs" >/dev/null
echo "hello from sealift's demo" > "$work/rootfs/rootfs/hello.txt"
umoci repack --image "$work/oci:1.0" "$work/rootfs" >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$work/oci:1.0" "docker://$SRC/demo/hello:1.0"
IMG="$SRC/demo/hello:1.0"
echo "pushed $IMG"

step "sealift save"
"$SEALIFT" save "$IMG" -o "$work/bundle.tar"

step "sealift load into the second registry under the prefix 'mirror'"
"$SEALIFT" load "$work/bundle.tar" --to "$DST/mirror"

step "sealift inspect"
"$SEALIFT" inspect "$work/bundle.tar"

step "digests at source and target"
echo "source: $(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$IMG")"
echo "target: $(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$DST/mirror/demo/hello:1.0")"
echo; echo "demo finished"
