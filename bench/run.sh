#!/usr/bin/env bash
# sealift vs skopeo, side by side in one run, on a ~1 GiB multi-layer image set in local
# registries, plus the raw SHA-256 and disk speed of the same bytes and sealift's peak RSS.
#
#   bench/run.sh                 # 4 x 256 MiB layers (1 GiB) + a 1 GiB single-layer image
#   LAYER_MIB=64 BIG_MIB=256 bench/run.sh   # smaller, for a quick look
#   WALK=0 bench/run.sh          # without bench/walk.sh (the parallel walk of save) at the end
#
# Needs: target/release/sealift (make build), docker-registry, skopeo, openssl, curl, bc, /usr/bin/time.
# Numbers depend on the machine and its page cache; run twice and read the second run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/registry.sh
SEALIFT=${SEALIFT:-target/release/sealift}
LAYER_MIB=${LAYER_MIB:-256}
LAYERS=${LAYERS:-4}
BIG_MIB=${BIG_MIB:-1024}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/sealift-bench.XXXXXX")
trap 'cleanup_registries; rm -rf "$work"' EXIT
[ -x "$SEALIFT" ] || { echo "build first: make build" >&2; exit 2; }

# Build an OCI layout by hand (random, incompressible layers) and push it with skopeo.
make_image() { # name mib...
  local name=$1; shift
  local dir="$work/layout-$name" layers="" total=0
  mkdir -p "$dir/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
  for mib in "$@"; do
    head -c $((mib * 1024 * 1024)) /dev/urandom > "$dir/tmp"
    local d; d=$(openssl dgst -sha256 -r "$dir/tmp" | cut -d' ' -f1)
    mv "$dir/tmp" "$dir/blobs/sha256/$d"
    [ -n "$layers" ] && layers="$layers,"
    layers="$layers{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":$((mib * 1024 * 1024)),\"digest\":\"sha256:$d\"}"
  done
  local cfg='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
  local cd; cd=$(printf '%s' "$cfg" | openssl dgst -sha256 -r | cut -d' ' -f1)
  printf '%s' "$cfg" > "$dir/blobs/sha256/$cd"
  local m="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":${#cfg},\"digest\":\"sha256:$cd\"},\"layers\":[$layers]}"
  local md; md=$(printf '%s' "$m" | openssl dgst -sha256 -r | cut -d' ' -f1)
  printf '%s' "$m" > "$dir/blobs/sha256/$md"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":%d,"digest":"sha256:%s","annotations":{"org.opencontainers.image.ref.name":"1"}}]}' "${#m}" "$md" > "$dir/index.json"
  skopeo copy -q --dest-tls-verify=false "oci:$dir:1" "docker://$SRC/bench/$name:1"
  rm -rf "$dir"
}

secs() { # command... -> seconds (wall), with peak RSS in $work/rss
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l | xargs printf '%.2f'
}
mibs() { echo "$1 / $2 / 1048576" | bc -l | xargs printf '%.0f'; } # bytes seconds
rss_mib() { echo "$(cat "$work/rss") / 1024" | bc -l | xargs printf '%.0f'; }

# Issue 7's aim: a single-layer load within 1.10x of the registry's own ingest of that layer.
# REPS alternating pairs, each into fresh registries: sealift load of the bundle, then curl
# POST + one monolithic PUT of the layer's bytes (what sealift's upload does); the median
# of the per-pair ratios, and the read and hash floors of the same bytes.
load_vs_curl() { # bundle
  local bundle=$1 layer="$work/layer" name d ratios="" i ts tc loc
  name=$(tar -tvf "$bundle" | sort -k3 -n | tail -1 | awk '{print $NF}')
  tar -xOf "$bundle" "$name" > "$layer"
  d=${name##*/}
  local lsz; lsz=$(stat -c %s "$layer")
  for i in $(seq 1 "${REPS:-5}"); do
    start_registry L1; start_registry L2
    ts=$(secs "$SEALIFT" -q load --insecure-skip-verify "$bundle" --to "$L1/mirror")
    loc=$(curl -s -i -X POST "http://$L2/v2/raw/blobs/uploads/" | grep -i '^location:' | tr -d '\r' | cut -d' ' -f2)
    tc=$(secs curl -sf -T "$layer" -X PUT -H 'Content-Type: application/octet-stream' "$loc&digest=sha256:$d")
    row "  pair $i: sealift load big | curl POST+PUT of its layer" "$ts | $tc" "$(mibs "$lsz" "$ts")" "$(echo "$ts / $tc" | bc -l | xargs printf '%.2fx')"
    ratios="$ratios $(echo "$ts / $tc" | bc -l)"
    rm -rf "${REG_DIRS[-1]}/data" "${REG_DIRS[-2]}/data"
  done
  row "  median ratio sealift load / curl PUT (aim <= 1.10x)" "-" "-" "$(printf '%s\n' $ratios | sort -n | awk '{a[NR]=$1} END {printf "%.2fx", a[int((NR+1)/2)]}')"
  local t; t=$(secs cat "$layer"); row "  cat layer > /dev/null (read floor, page cache)" "$t" "$(mibs "$lsz" "$t")" "-"
  t=$(secs openssl dgst -sha256 "$layer"); row "  openssl sha256 of the layer (hash floor)" "$t" "$(mibs "$lsz" "$t")" "-"
  rm -f "$layer"
}

command -v bc >/dev/null || { echo "bench needs bc (apt-get install bc)" >&2; exit 2; }
start_registry SRC
layers=(); for _ in $(seq 1 "$LAYERS"); do layers+=("$LAYER_MIB"); done
echo "building images in $SRC: multi ${LAYERS}x${LAYER_MIB} MiB, big 1x${BIG_MIB} MiB ..."
make_image multi "${layers[@]}"
make_image big "$BIG_MIB"

printf '\n%-58s %9s %9s %9s\n' "step" "seconds" "MiB/s" "peakRSS"
row() { printf '%-58s %9s %9s %9s\n' "$@"; }

for img in multi big; do
  ref="$SRC/bench/$img:1"
  t=$(secs "$SEALIFT" -q save "$ref" -o "$work/$img.sealift.tar"); sz=$(stat -c %s "$work/$img.sealift.tar")
  row "sealift save $img -> .tar" "$t" "$(mibs "$sz" "$t")" "$(rss_mib)MiB"
  t=$(secs skopeo copy -q --src-tls-verify=false "docker://$ref" "oci-archive:$work/$img.skopeo.tar:1")
  row "skopeo copy docker:// -> oci-archive: $img" "$t" "$(mibs "$sz" "$t")" "-"
  start_registry D1; start_registry D2
  t=$(secs "$SEALIFT" -q load --insecure-skip-verify "$work/$img.sealift.tar" --to "$D1/mirror")
  row "sealift load $img -> fresh registry (one pass)" "$t" "$(mibs "$sz" "$t")" "$(rss_mib)MiB"
  start_registry D4
  t=$(secs "$SEALIFT" -q load --check-first --insecure-skip-verify "$work/$img.sealift.tar" --to "$D4/mirror")
  row "sealift load --check-first $img -> fresh registry" "$t" "$(mibs "$sz" "$t")" "$(rss_mib)MiB"
  t=$(secs skopeo copy -q --dest-tls-verify=false "oci-archive:$work/$img.skopeo.tar:1" "docker://$D2/bench/$img:1")
  row "skopeo copy oci-archive: -> fresh registry $img" "$t" "$(mibs "$sz" "$t")" "-"
  # The registry's own ingest limit: the same bytes as one streamed monolithic upload by curl.
  start_registry D3
  loc=$(curl -s -i -X POST "http://$D3/v2/raw/blobs/uploads/" | grep -i '^location:' | tr -d '\r' | cut -d' ' -f2)
  bd=$(openssl dgst -sha256 -r "$work/$img.sealift.tar" | cut -d' ' -f1)
  t=$(secs curl -sf -T "$work/$img.sealift.tar" -X PUT -H 'Content-Type: application/octet-stream' "$loc&digest=sha256:$bd")
  row "curl PUT of the bundle bytes as one blob (registry ingest)" "$t" "$(mibs "$sz" "$t")" "-"
  if [ "$img" = big ]; then load_vs_curl "$work/$img.sealift.tar"; fi
  t=$(secs "$SEALIFT" -q save "$ref" -o "$work/$img.sealift.tar.zst"); row "sealift save $img -> .tar.zst" "$t" "$(mibs "$sz" "$t")" "$(rss_mib)MiB"
  t=$(secs openssl dgst -sha256 "$work/$img.sealift.tar"); row "openssl sha256 of the bundle (hash limit)" "$t" "$(mibs "$sz" "$t")" "-"
  t=$(secs cat "$work/$img.sealift.tar"); row "cat bundle > /dev/null (read, page cache)" "$t" "$(mibs "$sz" "$t")" "-"
  t=$(secs dd if="$work/$img.sealift.tar" of="$work/copy" bs=1M conv=fdatasync status=none); row "dd bundle -> file + fdatasync (disk write limit)" "$t" "$(mibs "$sz" "$t")" "-"
  rm -f "$work"/*.tar "$work"/*.zst "$work/copy"
done

# Issue 10 §4, the parallel walk of save (latency proxy, skopeo sync, one big layer vs curl,
# time and RSS against the image count): its own script, registries and proxy.
if [ "${WALK:-1}" = 1 ]; then bench/walk.sh; fi

# sealift serve (issue 12): its rows come from bench/serve.sh, on a bundle of the big image's size.
echo; echo "sealift serve:"
SERVE_MIB=$BIG_MIB bench/serve.sh
