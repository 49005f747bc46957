#!/usr/bin/env bash
# The main job on a built-in demo, end to end, like the original proof of concept:
# certificates, the cosign payload, an external RSA-PSS/SHA-512 signature made with
# `openssl dgst`, attach with certificate and chain, a sealed save, offline verification
# of the bundle, a verified load into a second registry, verification at the target, an
# audit report (out/demo/audit.html), and the bundle served in place (`sealift serve`).
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

step "serve the bundle in place as a read-only registry (same checks as load), and inspect through it"
start_serve SERVED "$out/bundle.tar" --prefix mirror --bundle-key "$work/seal.pub" "${TRUST[@]}"
cat "$SERVE_LOG"
run skopeo inspect --tls-verify=false --format '{{.Name}} {{.Digest}}' "docker://$SERVED/mirror/demo/hello:1.0"
echo; echo "demo finished: bundle $out/bundle.tar, audit report $out/audit.html"
