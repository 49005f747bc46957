#!/usr/bin/env bash
# Issue 10: how sealift scales, side by side in one run.
#  1. Time and peak RSS of save and load against the image count: COUNTS (10 100 300 1000)
#     small unsigned images (bench/fleet.py) in a local registry, `save -j JOBS` of all of
#     them, then `load -j JOBS --insecure-skip-verify` of that bundle into a fresh registry.
#  2. Peak RSS over a bundle too big to store: bench/bigbundle.py writes a valid bundle of one
#     image with HUGE_LAYERS (100) layers of HUGE_MIB (1024) MiB (100 GiB) into a FIFO, and
#     `sealift load FIFO --insecure-skip-verify` reads it (one sequential pass: every layer
#     read, hashed and checked, then uploaded) into bench/sink_registry.py, which accepts
#     and discards every byte. Measured: sealift's time and peak RSS over the whole stream.
#     Not measured: a real registry's ingest (the sink checks nothing and stores nothing),
#     or a disk read (the bytes come from openssl through a pipe).
#
#   bench/scale.sh                                   # all of it (100 GiB: long)
#   COUNTS="10 100" HUGE_LAYERS=4 bench/scale.sh     # a quick look
#   HUGE_LAYERS=0 bench/scale.sh                     # the curve only
#
# The layers' digests take one pass over their bytes; they are cached in $BENCH_CACHE
# (~/.cache/sealift-bench), so a second run streams the bytes only once.
# Needs: target/release/sealift, docker-registry, python3, openssl, bc, /usr/bin/time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
JOBS=${JOBS:-16}
COUNTS=${COUNTS:-10 100 300 1000}
HUGE_LAYERS=${HUGE_LAYERS:-100}
HUGE_MIB=${HUGE_MIB:-1024}
BENCH_CACHE=${BENCH_CACHE:-$HOME/.cache/sealift-bench}
bench_init scale
row() { printf '%-64s %9s %9s\n' "$@"; }
echo "the machine is shared: read the curve's shape, not the seconds"

printf '\n%-64s %9s %9s\n' "step" "seconds" "peakRSS"
for n in $COUNTS; do
  start_registry R
  python3 bench/fleet.py "$R" bench/many "$n"
  many=(); for i in $(seq 1 "$n"); do many+=("$R/bench/many:i$i"); done
  t=$(secs "$SEALIFT" -q save -j "$JOBS" "${many[@]}" -o "$work/many.tar")
  row "sealift save -j $JOBS of $n small images (local)" "$t" "$(rss_mib)MiB"
  start_registry D
  t=$(secs "$SEALIFT" -q load -j "$JOBS" --insecure-skip-verify "$work/many.tar" --to "$D/mirror")
  row "sealift load -j $JOBS of those $n images -> fresh registry" "$t" "$(rss_mib)MiB"
  rm -f "$work/many.tar"
done

if [ "$HUGE_LAYERS" -gt 0 ]; then
  mkdir -p "$BENCH_CACHE"
  digests="$BENCH_CACHE/bigbundle-digests.json"
  gib=$(echo "$HUGE_LAYERS * $HUGE_MIB / 1024" | bc -l | xargs printf '%.2f')
  t=$(secs python3 bench/bigbundle.py "$HUGE_LAYERS" "$HUGE_MIB" --digests-only "$digests")
  row "digests of the ${gib} GiB of layers (cached in $BENCH_CACHE)" "$t" "-"
  python3 bench/sink_registry.py > "$work/sink.port" &
  PROXY_PIDS+=($!)
  for _ in $(seq 1 200); do [ -s "$work/sink.port" ] && break; sleep 0.1; done
  sink="127.0.0.1:$(head -1 "$work/sink.port")"
  mkfifo "$work/huge.tar"
  python3 bench/bigbundle.py "$HUGE_LAYERS" "$HUGE_MIB" "$work/huge.tar" "$digests" &
  gen=$!
  PROXY_PIDS+=("$gen") # killed on exit if the load fails before it opens the FIFO
  t=$(secs "$SEALIFT" -q load --insecure-skip-verify "$work/huge.tar" --to "$sink/mirror")
  wait "$gen"
  row "sealift load of a ${gib} GiB bundle from a FIFO -> sink" "$t" "$(rss_mib)MiB"
fi
