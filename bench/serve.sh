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
. "$(dirname "$0")/lib.sh"
SERVE_MIB=${SERVE_MIB:-1024}
SMALL_MIB=${SMALL_MIB:-16}
bench_init bench-serve
row() { printf '%-62s %9s %9s %9s\n' "$@"; }

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
