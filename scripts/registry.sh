# Sourced by the demo and bench scripts: start throwaway registries on free loopback ports.
#   start_registry VAR   sets VAR to the registry's address (127.0.0.1:PORT);
#   cleanup_registries   stops every registry started so and removes its storage.
# Not `VAR=$(start_registry)`: a command substitution is a subshell, and the process would
# be recorded there and never stopped.

REG_PIDS=()
REG_DIRS=()

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( (RANDOM % 20000) + 20000 ))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "no free port found" >&2; return 1
}

start_registry() {
  local var=$1 dir port
  dir=$(mktemp -d "${TMPDIR:-/tmp}/sealift-registry.XXXXXX")
  port=$(free_port)
  cat > "$dir/config.yml" <<YML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$port}
YML
  # A clean environment: the registry treats every REGISTRY_* variable as configuration.
  env -i /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  REG_PIDS+=($!)
  REG_DIRS+=("$dir")
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then printf -v "$var" '%s' "127.0.0.1:$port"; return 0; fi
    sleep 0.1
  done
  echo "registry did not start: $(cat "$dir/log")" >&2; return 1
}

# start_serve VAR ARGS...: `sealift serve ARGS --listen 127.0.0.1:0` in the background; sets
# VAR to the address from its readiness line. Stopped by cleanup_registries (SIGTERM).
start_serve() {
  local var=$1 dir addr; shift
  dir=$(mktemp -d "${TMPDIR:-/tmp}/sealift-serve.XXXXXX")
  "${SEALIFT:-target/release/sealift}" serve "$@" --listen 127.0.0.1:0 >"$dir/log" 2>&1 &
  REG_PIDS+=($!)
  REG_DIRS+=("$dir")
  for _ in $(seq 1 600); do
    addr=$(sed -n 's|.*listening on https\{0,1\}://\([^ ]*\).*|\1|p' "$dir/log")
    if [ -n "$addr" ]; then printf -v "$var" '%s' "$addr"; SERVE_LOG="$dir/log"; return 0; fi
    kill -0 "${REG_PIDS[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "sealift serve did not start: $(cat "$dir/log")" >&2; return 1
}

cleanup_registries() {
  for p in "${REG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "${REG_DIRS[@]}"; do rm -rf "$d"; done
}
