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
#   ATTACHED=1 COUNTS="1000 5000" HUGE_LAYERS=0 bench/scale.sh  # the metadata capacity
#
# ATTACHED=1: each image also has a `.sig`, an `.att` (DSSE in-toto) and an `.sbom` (SPDX,
# SBOM_KIB KiB, default 2) as cosign leaves them (bench/fleet.py --attached, real ECDSA
# signatures), and each bundle is also read by `inspect`, `audit --key`, `verify --bundle
# --key` and `load --dry-run`; each row gives the metadata budget the load charged (bytes
# held and JSON values, src/content/budget.rs), or the refusal.
#
# The layers' digests take one pass over their bytes; they are cached in $BENCH_CACHE
# (~/.cache/sealift-bench), so a second run streams the bytes only once.
# Needs: target/release/sealift, docker-registry, python3, openssl, bc, /usr/bin/time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
JOBS=${JOBS:-16}
COUNTS=${COUNTS:-10 100 300 1000}
ATTACHED=${ATTACHED:-0}
SBOM_KIB=${SBOM_KIB:-2}
HUGE_LAYERS=${HUGE_LAYERS:-100}
HUGE_MIB=${HUGE_MIB:-1024}
BENCH_CACHE=${BENCH_CACHE:-$HOME/.cache/sealift-bench}
bench_init scale
row() { printf '%-64s %9s %9s\n' "$@"; }
echo "the machine is shared: read the curve's shape, not the seconds"

printf '\n%-64s %9s %9s\n' "step" "seconds" "peakRSS"
# budget: what the last `-v` run logged of the metadata budget (bytes held, JSON values).
budget() { grep -o 'budget_bytes=[0-9]* budget_values=[0-9]*' "$work/err" | tail -1 | sed 's/budget_//g'; }
# try LABEL command...: a row with seconds and peak RSS, or the exit code and the refusal.
try() {
  local label=$1 start rc=0; shift
  start=$(now)
  /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>"$work/err" || rc=$?
  local rss; rss=$(echo "$(tail -1 "$work/rss") / 1024" | bc -l | xargs printf '%.0f')
  if [ "$rc" = 0 ]; then row "$label" "$(since "$start")" "${rss}MiB"; else
    row "$label" "exit $rc" "${rss}MiB"; echo "    $(tail -1 "$work/err")"; fi
}

for n in $COUNTS; do
  start_registry R
  if [ "$ATTACHED" = 1 ]; then
    python3 bench/fleet.py "$R" bench/many "$n" --attached "$work/sign.key" --sbom-kib "$SBOM_KIB"
  else
    python3 bench/fleet.py "$R" bench/many "$n"
  fi
  many=(); for i in $(seq 1 "$n"); do many+=("$R/bench/many:i$i"); done
  what="$n small images"; [ "$ATTACHED" = 1 ] && what="$n images + .sig/.att/.sbom"
  if ! t=$(secs "$SEALIFT" -q save -j "$JOBS" "${many[@]}" -o "$work/many.tar"); then
    row "sealift save -j $JOBS of $what: refused" "-" "$(rss_mib)MiB"
    continue
  fi
  row "sealift save -j $JOBS of $what (local)" "$t" "$(rss_mib)MiB"
  if [ "$ATTACHED" = 1 ]; then
    row "  bundle size" "$(du -m "$work/many.tar" | cut -f1)MiB" "-"
    k="$work/sign.key.pub" b="$work/many.tar"
    try "sealift inspect" "$SEALIFT" inspect "$b"
    try "sealift audit --key" "$SEALIFT" audit --key "$k" "$b"
    try "sealift verify --bundle --key" "$SEALIFT" verify --bundle "$b" --key "$k"
    try "sealift load --dry-run" "$SEALIFT" -v load --dry-run --insecure-skip-verify "$b" --to "$R/mirror"
    echo "    load charged: $(budget)"
  fi
  start_registry D
  t=$(secs "$SEALIFT" -q load -j "$JOBS" --insecure-skip-verify "$work/many.tar" --to "$D/mirror") \
    && row "sealift load -j $JOBS of those $n images -> fresh registry" "$t" "$(rss_mib)MiB" \
    || row "sealift load -j $JOBS of those $n images: refused" "-" "$(rss_mib)MiB"
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
