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
. "$(dirname "$0")/lib.sh"
LAYER_MIB=${LAYER_MIB:-256}
LAYERS=${LAYERS:-4}
BIG_MIB=${BIG_MIB:-1024}
bench_init bench

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

# Issue 7's other aim: a multi-layer load at least 2x faster than skopeo's, beside the
# registry's own ingest of the same layers. REPS alternating triples into fresh registries:
# sealift load of the .tar, skopeo copy of the same image's oci-archive, and curl POST + one
# monolithic PUT of every layer, all layers at once (a client that reads and hashes
# nothing: the registry's limit on this machine); the medians of the per-triple ratios.
load_vs_skopeo() { # image
  local img=$1 r1="" r2="" r3="" i ts tk tc dir="$work/layers-$img" name
  mkdir -p "$dir"
  while read -r size name; do
    [ "$size" -gt 1048576 ] && tar -xOf "$work/$img.sealift.tar" "$name" > "$dir/${name##*/}"
  done < <(tar -tvf "$work/$img.sealift.tar" | awk '$NF ~ /^blobs\/sha256\// {print $3, $NF}')
  for i in $(seq 1 "${REPS:-5}"); do
    start_registry P1; start_registry P2; start_registry P3
    ts=$(secs "$SEALIFT" -q load --insecure-skip-verify "$work/$img.sealift.tar" --to "$P1/mirror")
    tk=$(secs skopeo copy -q --dest-tls-verify=false "oci-archive:$work/$img.skopeo.tar:1" "docker://$P2/bench/$img:1")
    tc=$(secs bash -c 'pids=(); for f in "$2"/*; do
        ( loc=$(curl -sf -i -X POST "http://$1/v2/raw/blobs/uploads/" </dev/null | grep -i "^location:" | tr -d "\r" | cut -d" " -f2)
          curl -sf -T "$f" -X PUT -H "Content-Type: application/octet-stream" "$loc&digest=sha256:${f##*/}" </dev/null ) & pids+=($!)
      done; for p in "${pids[@]}"; do wait "$p" || exit 1; done' _ "$P3" "$dir")
    row "  triple $i: sealift load $img | skopeo copy | curl, all layers at once" "$ts | $tk | $tc" "-" "$(ratio "$tk" "$ts")x"
    r1="$r1 $(echo "$tk / $ts" | bc -l)"; r2="$r2 $(echo "$ts / $tc" | bc -l)"; r3="$r3 $(echo "$tk / $tc" | bc -l)"
    rm -rf "${REG_DIRS[-1]}/data" "${REG_DIRS[-2]}/data" "${REG_DIRS[-3]}/data"
  done
  median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.2fx", a[int((NR+1)/2)]}'; }
  row "  median skopeo / sealift load $img (aim >= 2x for multi)" "-" "-" "$(median $r1)"
  row "  median sealift load / curl of the same layers at once" "-" "-" "$(median $r2)"
  row "  median skopeo / curl of the same layers at once (the most any client gets)" "-" "-" "$(median $r3)"
  rm -rf "$dir"
}

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
  if [ "$img" = multi ]; then load_vs_skopeo multi; fi
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
