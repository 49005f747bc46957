#!/usr/bin/env bash
# The main job on a built-in demo, end to end, like the original proof of concept:
# certificates, the cosign payload, an external RSA-PSS/SHA-512 signature made with
# `openssl dgst`, attach with certificate and chain, a sealed save, offline verification
# of the bundle, the same bundle as size-limited volumes (one part checked, a damaged part
# refused, a load across parts), a verified load into a second registry, verification at
# the target, an audit report (out/demo/audit.html), a delta bundle against the site's
# inventory, and the bundle served in place (`sealift serve`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/registry.sh
SEALIFT=${SEALIFT:-target/release/sealift}
out=out/demo
work=$(mktemp -d "${TMPDIR:-/tmp}/sealift-demo.XXXXXX")
trap 'cleanup_registries; rm -rf "$work"' EXIT
mkdir -p "$out"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "starting two throwaway registries (source and target)"
start_registry SRC; start_registry DST
echo "source: $SRC   target: $DST"

step "building a small sample image with umoci and pushing it with skopeo"
umoci init --layout "$work/oci" >/dev/null
umoci new --image "$work/oci:1.0" >/dev/null
umoci unpack --rootless --image "$work/oci:1.0" "$work/rootfs" >/dev/null
echo "hello from sealift's demo" > "$work/rootfs/rootfs/hello.txt"
# 2 MiB that does not compress, so that the delta below has something to leave out.
head -c 2097152 /dev/urandom > "$work/rootfs/rootfs/data.bin"
umoci repack --image "$work/oci:1.0" "$work/rootfs" >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$work/oci:1.0" "docker://$SRC/demo/hello:1.0"
IMG="$SRC/demo/hello:1.0"
echo "pushed $IMG"

step "certificates: root CA, intermediate, code-signing leaf (RSA-3072)"
run "$SEALIFT" certs create --out "$work/pki" --key-type rsa-3072 --subject "demo signer" --san email:signer@demo.example
# The proof of concept's verify flags, verbatim: any identity and any issuer under the
# private root (the leaf has no Fulcio issuer extension: '.*' matches it as "", as cosign).
TRUST=(--ca-roots "$work/pki/ca.crt" --certificate-identity-regexp '.*' --certificate-oidc-issuer-regexp '.*'
       --private-infrastructure --insecure-ignore-sct)

step "the payload to sign, exactly as cosign writes it"
run "$SEALIFT" generate "$IMG" > "$work/payload.json"
cat "$work/payload.json"; echo

step "an external signer: openssl dgst, RSA-PSS with SHA-512 (cosign cannot verify this)"
run openssl dgst -sha512 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
  -sign "$work/pki/leaf.key" -out "$work/payload.sig" "$work/payload.json"
base64 "$work/payload.sig" > "$work/payload.sig.b64"

step "attach the signature with its certificate and chain"
run "$SEALIFT" attach signature "$IMG" --payload "$work/payload.json" --signature "$work/payload.sig.b64" \
  --certificate "$work/pki/leaf.crt" --certificate-chain "$work/pki/certificate_chain.pem"

step "verify at the source, trusting only the root CA"
run "$SEALIFT" verify "$IMG" "${TRUST[@]}"

step "the same with an exact identity: the leaf's SAN"
run "$SEALIFT" verify "$IMG" --ca-roots "$work/pki/ca.crt" --certificate-identity signer@demo.example

step "sealed save: the bundle index is signed with a separate seal key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/seal.key" 2>/dev/null
openssl pkey -in "$work/seal.key" -pubout -out "$work/seal.pub"
run "$SEALIFT" save "$IMG" -o "$out/bundle.tar" --sign-key "$work/seal.key"

step "volumes: the same sealed save cut into parts of at most 8 KiB (a FAT32 stick: --volume-size 4095MiB)"
rm -rf "$out/volumes"; mkdir -p "$out/volumes"
run "$SEALIFT" save "$IMG" -o "$out/volumes/bundle.tar" --sign-key "$work/seal.key" --volume-size 8KiB
ls -l "$out/volumes"

step "check one part on its own, and the part list's signature"
run "$SEALIFT" verify --volume "$out/volumes/bundle.tar.002" --bundle-key "$work/seal.pub"

step "a damaged part is named (exit 4), nothing is pushed"
cp "$out/volumes/bundle.tar.002" "$work/part.good"
printf 'X' | dd of="$out/volumes/bundle.tar.002" bs=1 seek=100 conv=notrunc status=none
if "$SEALIFT" load "$out/volumes/bundle.tar.001" --to "$DST/volumes" --bundle-key "$work/seal.pub" "${TRUST[@]}"; then
  echo "a damaged part was loaded" >&2; exit 1
fi
cp "$work/part.good" "$out/volumes/bundle.tar.002"

step "load across the parts, from the first one"
run "$SEALIFT" load "$out/volumes/bundle.tar.001" --to "$DST/volumes" --bundle-key "$work/seal.pub" "${TRUST[@]}"

step "inspect the bundle"
run "$SEALIFT" inspect "$out/bundle.tar"

step "verify offline against the bundle (no network)"
run "$SEALIFT" verify "$IMG" --bundle "$out/bundle.tar" "${TRUST[@]}"

step "load: check the seal and every signature first, then push under the prefix 'mirror'"
run "$SEALIFT" load "$out/bundle.tar" --to "$DST/mirror" --bundle-key "$work/seal.pub" "${TRUST[@]}"

step "verify at the target"
run "$SEALIFT" verify "$DST/mirror/demo/hello:1.0" "${TRUST[@]}"

step "audit report of the bundle"
run "$SEALIFT" audit "$out/bundle.tar" "${TRUST[@]}" --bundle-key "$work/seal.pub"
"$SEALIFT" audit "$out/bundle.tar" "${TRUST[@]}" --bundle-key "$work/seal.pub" --output html -o "$out/audit.html"
echo "HTML report: $out/audit.html"

step "digests at source and target"
echo "source: $(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$IMG")"
echo "target: $(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$DST/mirror/demo/hello:1.0")"

step "a delta: the site lists what it holds (signed inventory), to carry back"
run "$SEALIFT" inventory --registry "$DST/mirror" -o "$out/site-inventory.json" --sign-key "$work/seal.key"

step "a change at the source: hello:1.1 adds a layer on top of 1.0, and is signed"
umoci unpack --rootless --image "$work/oci:1.0" "$work/rootfs2" >/dev/null
echo "news in 1.1" > "$work/rootfs2/rootfs/news.txt"
umoci repack --image "$work/oci:1.1" "$work/rootfs2" >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$work/oci:1.1" "docker://$SRC/demo/hello:1.1"
IMG2="$SRC/demo/hello:1.1"
"$SEALIFT" generate "$IMG2" > "$work/payload2.json"
openssl dgst -sha512 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
  -sign "$work/pki/leaf.key" -out "$work/payload2.sig" "$work/payload2.json"
base64 "$work/payload2.sig" > "$work/payload2.sig.b64"
run "$SEALIFT" attach signature "$IMG2" --payload "$work/payload2.json" --signature "$work/payload2.sig.b64" \
  --certificate "$work/pki/leaf.crt" --certificate-chain "$work/pki/certificate_chain.pem"

step "delta save: the layers the site already has stay out (inventory checked with the seal key)"
run "$SEALIFT" save "$IMG2" -o "$out/delta.tar" --have "$out/site-inventory.json" --bundle-key "$work/seal.pub" \
  --sign-key "$work/seal.key"
run "$SEALIFT" inspect "$out/delta.tar"
echo "full bundle: $(stat -c %s "$out/bundle.tar") bytes; delta: $(stat -c %s "$out/delta.tar") bytes"

step "load the delta: every assumed blob is HEAD-checked at the target before anything is pushed"
run "$SEALIFT" load "$out/delta.tar" --to "$DST/mirror" --bundle-key "$work/seal.pub" "${TRUST[@]}"
echo "source: $(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$IMG2")"
echo "target: $(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$DST/mirror/demo/hello:1.1")"
run "$SEALIFT" verify "$DST/mirror/demo/hello:1.1" "${TRUST[@]}"

step "serve the bundle in place as a read-only registry (same checks as load), and inspect through it"
start_serve SERVED "$out/bundle.tar" --prefix mirror --bundle-key "$work/seal.pub" "${TRUST[@]}"
cat "$SERVE_LOG"
run skopeo inspect --tls-verify=false --format '{{.Name}} {{.Digest}}' "docker://$SERVED/mirror/demo/hello:1.0"
echo; echo "demo finished: bundle $out/bundle.tar, delta $out/delta.tar, audit report $out/audit.html"
