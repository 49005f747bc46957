# Shared set-up of the bench scripts (run.sh, walk.sh, serve.sh, scale.sh), sourced by each:
# the work directory and its clean-up, the registries (scripts/registry.sh), images built
# by hand, latency proxies, and timing. Each script keeps its own rows.
#
#   . "$(dirname "$0")/lib.sh"; bench_init NAME   # cd to the checkout, $work, traps, checks

cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/registry.sh
SEALIFT=${SEALIFT:-target/release/sealift}
PROXY_PIDS=()

# bench_init NAME: a fresh $work under $BENCH_DIR (default /tmp), removed on exit with every
# registry and proxy started; checks the release build and bc.
bench_init() {
  work=$(mktemp -d "${BENCH_DIR:-/tmp}/sealift-$1.XXXXXX")
  trap 'for p in "${PROXY_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; cleanup_registries; rm -rf "$work"' EXIT
  [ -x "$SEALIFT" ] || { echo "build first: make build" >&2; exit 2; }
  command -v bc >/dev/null || { echo "bench needs bc (apt-get install bc)" >&2; exit 2; }
}

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
# secs command... -> wall seconds; the command's peak RSS goes to $work/rss, stderr to $work/err.
secs() {
  local start end
  start=$(now)
  /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
  end=$(now)
  echo "$end - $start" | bc -l | xargs printf '%.2f'
}
rss_mib() { echo "$(tail -1 "$work/rss") / 1024" | bc -l | xargs printf '%.0f'; }
mibs() { echo "$1 / $2 / 1048576" | bc -l | xargs printf '%.0f'; } # bytes seconds
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }

# make_image NAME MIB...: an OCI layout built by hand (random, incompressible layers of MIB
# MiB each), pushed to $SRC as bench/NAME:1; sets LAYER to the last layer's hex digest.
# --preserve-digests: skopeo would otherwise compress the layers (other digests and sizes
# than the ones the benchmark counts).
make_image() {
  local name=$1; shift
  local dir="$work/layout-$name" layers=""
  mkdir -p "$dir/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
  for mib in "$@"; do
    head -c $((mib * 1024 * 1024)) /dev/urandom > "$dir/tmp"
    LAYER=$(openssl dgst -sha256 -r "$dir/tmp" | cut -d' ' -f1)
    mv "$dir/tmp" "$dir/blobs/sha256/$LAYER"
    [ -n "$layers" ] && layers="$layers,"
    layers="$layers{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":$((mib * 1024 * 1024)),\"digest\":\"sha256:$LAYER\"}"
  done
  local cfg='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
  local cd; cd=$(printf '%s' "$cfg" | openssl dgst -sha256 -r | cut -d' ' -f1)
  printf '%s' "$cfg" > "$dir/blobs/sha256/$cd"
  local m="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":${#cfg},\"digest\":\"sha256:$cd\"},\"layers\":[$layers]}"
  local md; md=$(printf '%s' "$m" | openssl dgst -sha256 -r | cut -d' ' -f1)
  printf '%s' "$m" > "$dir/blobs/sha256/$md"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":%d,"digest":"sha256:%s","annotations":{"org.opencontainers.image.ref.name":"1"}}]}' "${#m}" "$md" > "$dir/index.json"
  skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$dir:1" "docker://$SRC/bench/$name:1"
  rm -rf "$dir"
}

# start_proxy VAR TARGET: a latency proxy (bench/latency_proxy.py, $DELAY_MS each way) in
# front of TARGET; sets VAR to its 127.0.0.1:PORT.
start_proxy() {
  local var=$1 target=$2 portfile="$work/proxy.$RANDOM"
  python3 bench/latency_proxy.py 0 "$target" "$DELAY_MS" > "$portfile" &
  PROXY_PIDS+=($!)
  for _ in $(seq 1 100); do
    if [ -s "$portfile" ]; then printf -v "$var" '127.0.0.1:%s' "$(head -1 "$portfile")"; return 0; fi
    sleep 0.05
  done
  echo "latency proxy did not start" >&2; return 1
}
