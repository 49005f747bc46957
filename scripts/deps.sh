#!/usr/bin/env bash
# Installs what sealift's demo and tests need from Debian, when run as root; otherwise
# says exactly what is missing. Used by `make demo` and `make test`; the latter also builds
# the test-only ferro-oci-server registry once into a cache (SEALIFT_WITH_FERRO=1).
set -euo pipefail
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v umoci >/dev/null || need+=(umoci)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v openssl >/dev/null || need+=(openssl)
[ -x /usr/bin/time ] || need+=(time)  # peak-RSS checks in the tests
command -v pkg-config >/dev/null || need+=(pkg-config)
{ command -v pkg-config >/dev/null && pkg-config --exists openssl; } || need+=(libssl-dev)
if [ "${SEALIFT_WITH_CHROMIUM:-0}" = 1 ]; then command -v chromium >/dev/null || need+=(chromium); fi

# A second registry for the tests, with the OCI 1.1 referrers API (Debian's distribution 2.8
# has none): ferro-oci-server from crates.io, pinned, built once (about 3.5 min on 2 cores)
# into a cache that survives repeated runs; tests/support/registry.rs runs it from there.
install_ferro() {
  [ "${SEALIFT_WITH_FERRO:-0}" = 1 ] || return 0
  local version=1.0.0 tools="${SEALIFT_TEST_TOOLS:-$HOME/.cache/sealift-test-tools}"
  grep -qs "^\"ferro-oci-server $version " "$tools/.crates.toml" && [ -x "$tools/bin/ferro-oci-server" ] && return 0
  command -v cargo >/dev/null || { echo "cargo is needed to build ferro-oci-server for the tests" >&2; exit 1; }
  echo "building ferro-oci-server $version into $tools (once, a few minutes)" >&2
  cargo install --quiet --locked ferro-oci-server --version "$version" --root "$tools"
}

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${need[*]}" >&2
    echo "install them as root: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the packaged registry service from starting on port 5000.
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT; fi
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
install_ferro
