#!/usr/bin/env bash
# `sealift serve` blob throughput against `cat` of the same bytes from the page cache and
# against docker-registry serving the same image, 1 and 8 clients (curl); serve's peak RSS;
# start-up time (to the readiness line) against bundle size.
#
#   bench/serve.sh                  # a 1 GiB single-layer image and a 16 MiB one
#   SERVE_MIB=256 bench/serve.sh    # smaller
#
# Needs: target/release/sealift, docker-registry, skopeo, openssl, curl, bc.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/registry.sh
SEALIFT=${SEALIFT:-target/release/sealift}
SERVE_MIB=${SERVE_MIB:-1024}
SMALL_MIB=${SMALL_MIB:-16}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/sealift-bench-serve.XXXXXX")
trap 'cleanup_registries; rm -rf "$work"' EXIT
[ -x "$SEALIFT" ] || { echo "build first: make build" >&2; exit 2; }
command -v bc >/dev/null || { echo "bench needs bc (apt-get install bc)" >&2; exit 2; }

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
mibs() { echo "$1 / $2 / 1048576" | bc -l | xargs printf '%.0f'; } # bytes seconds
row() { printf '%-62s %9s %9s %9s\n' "$@"; }

# One image with one random layer of $2 MiB, pushed to $SRC as bench/$1:1; sets LAYER.
make_image() {
  local name=$1 mib=$2 dir="$work/layout-$1"
  mkdir -p "$dir/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
  head -c $((mib * 1024 * 1024)) /dev/urandom > "$dir/tmp"
  LAYER=$(openssl dgst -sha256 -r "$dir/tmp" | cut -d' ' -f1)
  mv "$dir/tmp" "$dir/blobs/sha256/$LAYER"
  local cfg='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
  local cd; cd=$(printf '%s' "$cfg" | openssl dgst -sha256 -r | cut -d' ' -f1)
  printf '%s' "$cfg" > "$dir/blobs/sha256/$cd"
  local m="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":${#cfg},\"digest\":\"sha256:$cd\"},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":$((mib * 1024 * 1024)),\"digest\":\"sha256:$LAYER\"}]}"
  local md; md=$(printf '%s' "$m" | openssl dgst -sha256 -r | cut -d' ' -f1)
  printf '%s' "$m" > "$dir/blobs/sha256/$md"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":%d,"digest":"sha256:%s","annotations":{"org.opencontainers.image.ref.name":"1"}}]}' "${#m}" "$md" > "$dir/index.json"
  # --preserve-digests: skopeo would otherwise compress the layer (another digest).
  skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$dir:1" "docker://$SRC/bench/$name:1"
  rm -rf "$dir"
}

# GET $1 with $2 clients in parallel; prints the wall seconds.
get_parallel() {
  local url=$1 n=$2 t pids=() p; t=$(now)
  for _ in $(seq 1 "$n"); do curl -sf -o /dev/null "$url" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || { echo "curl $url failed" >&2; exit 1; }; done
  since "$t"
}

start_registry SRC
echo "building images in $SRC: big 1x${SERVE_MIB} MiB, small 1x${SMALL_MIB} MiB ..."
make_image big "$SERVE_MIB"; BIG=$LAYER
make_image small "$SMALL_MIB"
"$SEALIFT" -q save "$SRC/bench/big:1" -o "$work/big.tar"
"$SEALIFT" -q save "$SRC/bench/small:1" -o "$work/small.tar"
size=$((SERVE_MIB * 1024 * 1024))

printf '\n%-62s %9s %9s %9s\n' "step" "seconds" "MiB/s" "peakRSS"
for b in small big; do
  cat "$work/$b.tar" > /dev/null # page cache
  t=$(now)
  start_serve ADDR "$work/$b.tar" --insecure-skip-verify
  row "serve start-up to readiness, $b bundle ($(du -m "$work/$b.tar" | cut -f1) MiB)" "$(since "$t")" "-" "-"
  kill "${REG_PIDS[-1]}"; wait "${REG_PIDS[-1]}" 2>/dev/null || true
done

cat "$work/big.tar" > /dev/null
t=$(now); cat "$work/big.tar" > /dev/null; s=$(since "$t")
row "cat of the bundle from the page cache" "$s" "$(mibs "$size" "$s")" "-"

start_serve ADDR "$work/big.tar" --insecure-skip-verify
pid=${REG_PIDS[-1]}
url="http://$ADDR/v2/bench/big/blobs/sha256:$BIG"
s=$(get_parallel "$url" 1); row "serve GET, first (hash, then send), 1 client" "$s" "$(mibs "$size" "$s")" "-"
s=$(get_parallel "$url" 1); row "serve GET, verified, 1 client" "$s" "$(mibs "$size" "$s")" "-"
s=$(get_parallel "$url" 8); row "serve GET, verified, 8 clients (aggregate)" "$s" "$(mibs $((size * 8)) "$s")" "-"
rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
row "serve peak RSS after the GETs above" "-" "-" "${rss}MiB"

rurl="http://$SRC/v2/bench/big/blobs/sha256:$BIG"
get_parallel "$rurl" 1 > /dev/null # its storage into the page cache
s=$(get_parallel "$rurl" 1); row "docker-registry GET, 1 client" "$s" "$(mibs "$size" "$s")" "-"
s=$(get_parallel "$rurl" 8); row "docker-registry GET, 8 clients (aggregate)" "$s" "$(mibs $((size * 8)) "$s")" "-"
