#!/usr/bin/env bash
# Issue 10 §4: the parallel walk, side by side in one run.
#  1. IMAGES (60) signed small images behind a ~2 x DELAY_MS (20 ms) round trip (a latency
#     proxy on loopback, bench/latency_proxy.py): sealift save -j JOBS vs `skopeo sync` of
#     the same repository (the images and their .sig tags) to a directory; sealift load of
#     the bundle vs `skopeo sync` of that directory, into fresh registries behind the proxy.
#  2. One big layer (BIG_MIB, 512): sealift save vs curl GET of the same blob to a file + sync.
#  3. Time and peak RSS of sealift save against the image count (COUNTS: 100 300 1000).
#
#   bench/walk.sh                                   # all of it
#   IMAGES=20 BIG_MIB=64 COUNTS="100" bench/walk.sh # a quick look
#
# Needs: target/release/sealift, docker-registry, skopeo, python3, openssl, curl, bc, /usr/bin/time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
IMAGES=${IMAGES:-60}
DELAY_MS=${DELAY_MS:-10}
JOBS=${JOBS:-16}
BIG_MIB=${BIG_MIB:-512}
COUNTS=${COUNTS:-100 300 1000}
bench_init walk
row() { printf '%-64s %9s %9s %9s\n' "$@"; }

start_registry SRC
python3 bench/fleet.py "$SRC" bench/fleet "$IMAGES"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/sign.key" 2>/dev/null
refs=()
for i in $(seq 1 "$IMAGES"); do
  "$SEALIFT" -q sign "$SRC/bench/fleet:i$i" --key "$work/sign.key" >/dev/null
  refs+=("bench/fleet:i$i")
done
start_proxy SLOW "$SRC"
echo "$IMAGES signed images in $SRC, behind a ${DELAY_MS} ms each way proxy at $SLOW; the machine is shared and loaded"

printf '\n%-64s %9s %9s %9s\n' "step" "seconds" "vs" "peakRSS"
slow_refs=("${refs[@]/#/$SLOW/}")
t1=$(secs "$SEALIFT" -q save -j 1 "${slow_refs[@]}" -o "$work/fleet1.tar")
row "sealift save $IMAGES signed images, -j 1" "$t1" "" "$(rss_mib)MiB"
t=$(secs "$SEALIFT" -q save -j "$JOBS" "${slow_refs[@]}" -o "$work/fleet.tar")
row "sealift save $IMAGES signed images, -j $JOBS" "$t" "" "$(rss_mib)MiB"
cmp -s "$work/fleet1.tar" "$work/fleet.tar" && echo "(-j 1 and -j $JOBS bundles byte-identical)"
ts=$(secs skopeo sync --src docker --dest dir --src-tls-verify=false "$SLOW/bench/fleet" "$work/sync")
row "skopeo sync $SLOW/bench/fleet -> dir (images + .sig)" "$ts" "" "-"
row "  save speed-up over skopeo sync" "" "$(ratio "$ts" "$t")x" ""

start_registry D1; start_proxy SLOW1 "$D1"
t=$(secs "$SEALIFT" -q load -j "$JOBS" --insecure-skip-verify "$work/fleet.tar" --to "$SLOW1/mirror")
row "sealift load -j $JOBS of that bundle -> fresh registry" "$t" "" "$(rss_mib)MiB"
start_registry D2; start_proxy SLOW2 "$D2"
ts=$(secs skopeo sync --src dir --dest docker --dest-tls-verify=false "$work/sync" "$SLOW2/mirror")
row "skopeo sync dir -> fresh registry" "$ts" "" "-"
row "  load speed-up over skopeo sync" "" "$(ratio "$ts" "$t")x" ""

# One big layer, no proxy: save vs a curl GET of the same blob (+ sync).
dir="$work/big"; mkdir -p "$dir"
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom > "$dir/layer"
d=$(openssl dgst -sha256 -r "$dir/layer" | cut -d' ' -f1)
loc=$(curl -sfi -X POST "http://$SRC/v2/bench/big/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case "$loc" in http*) ;; *) loc="http://$SRC$loc" ;; esac
sep='?'; case "$loc" in *\?*) sep='&' ;; esac
curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$dir/layer" "$loc${sep}digest=sha256:$d" >/dev/null
rm -f "$dir/layer"
cfg='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
cd_=$(printf '%s' "$cfg" | openssl dgst -sha256 -r | cut -d' ' -f1)
loc=$(curl -sfi -X POST "http://$SRC/v2/bench/big/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case "$loc" in http*) ;; *) loc="http://$SRC$loc" ;; esac
sep='?'; case "$loc" in *\?*) sep='&' ;; esac
printf '%s' "$cfg" | curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @- "$loc${sep}digest=sha256:$cd_" >/dev/null
m="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":${#cfg},\"digest\":\"sha256:$cd_\"},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":$((BIG_MIB * 1024 * 1024)),\"digest\":\"sha256:$d\"}]}"
printf '%s' "$m" | curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @- "http://$SRC/v2/bench/big/manifests/1" >/dev/null
for round in 1 2; do
  rm -f "$work/big.curl" "$work/big.tar"
  tc=$(secs bash -c "curl -sf -o '$work/big.curl' 'http://$SRC/v2/bench/big/blobs/sha256:$d' && sync '$work/big.curl'")
  t=$(secs "$SEALIFT" -q save "$SRC/bench/big:1" -o "$work/big.tar")
  row "round $round: curl GET of the ${BIG_MIB} MiB blob to a file + sync" "$tc" "" "-"
  row "round $round: sealift save of the ${BIG_MIB} MiB layer image" "$t" "$(ratio "$t" "$tc")x" "$(rss_mib)MiB"
done
rm -f "$work/big.curl" "$work/big.tar"

# Time and memory against the image count (no proxy; unsigned, so one repository each way).
for n in $COUNTS; do
  start_registry R
  python3 bench/fleet.py "$R" bench/many "$n"
  many=(); for i in $(seq 1 "$n"); do many+=("$R/bench/many:i$i"); done
  t=$(secs "$SEALIFT" -q save -j "$JOBS" "${many[@]}" -o "$work/many.tar")
  row "sealift save -j $JOBS of $n small images (local)" "$t" "" "$(rss_mib)MiB"
  rm -f "$work/many.tar"
done
