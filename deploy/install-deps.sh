#!/usr/bin/env bash
# install-deps.sh — the single source of truth for what the Usage Copilot needs
# from Debian. Idempotent: packages already installed are skipped, so a second
# run performs no apt work at all. Uses sudo when not root.
#
#   deploy/install-deps.sh          build + run dependencies
#   deploy/install-deps.sh --test   also what only the tests need
#   deploy/install-deps.sh --runtime only the shared libraries the built
#                                    binaries load (the container image's
#                                    final stage)
#
# Besides Debian packages it installs the npm packages pinned by the
# package-lock.json files (npm ci, only when node_modules is missing or stale):
# services/gateway/web (vega, vega-lite, vega-embed, bundled into the UI by
# the build) and, with --test, tests/e2e (playwright-core; it drives Debian's
# chromium and never downloads a browser).
#
# `make run` and `make test` call this first; CI calls `make test`.
set -euo pipefail

RUNTIME_PKGS=(
  build-essential cmake pkg-config g++
  libzmq3-dev
  libprotobuf-c-dev protobuf-c-compiler
  libsqlite3-dev sqlite3
  libfaiss-dev libopenblas-openmp-dev
  libcurl4-openssl-dev zlib1g-dev
  libuv1-dev
  libjansson-dev
  node-llhttp
  libcmocka-dev
)
# Shared libraries the binaries need at run time (FAISS is linked statically;
# it pulls BLAS/LAPACK from OpenBLAS and libgomp/libgfortran).
RUNTIME_ONLY_PKGS=(
  libzmq5 libprotobuf-c1 libsqlite3-0 sqlite3 libcurl4 libuv1 libjansson4
  libopenblas0-openmp libgomp1 libgfortran5 ca-certificates
)
# (libcmocka-dev is a build dependency above: every CMakeLists registers its
# tests at configure time, so configuring without it fails.)
TEST_PKGS=(
  curl
  chromium
  fonts-noto-color-emoji
  wrk
  procps
)

want_test=0
want_runtime_only=0
for a in "$@"; do
  case "$a" in
    --test) want_test=1 ;;
    --runtime) want_runtime_only=1 ;;
    -h|--help) sed -n 2,19p "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$a' (expected --test or --runtime)" >&2; exit 2 ;;
  esac
done

if [ "$want_runtime_only" = 1 ]; then
  pkgs=("${RUNTIME_ONLY_PKGS[@]}")
else
  pkgs=("${RUNTIME_PKGS[@]}")
fi
if [ "$want_test" = 1 ]; then
  pkgs+=("${TEST_PKGS[@]}")
fi
if [ "$want_runtime_only" = 0 ]; then
  # Node.js (the build bundles the UI's npm packages; the browser test runs on
  # it): machines that already carry a Node.js with npm (for example from
  # NodeSource, whose nodejs conflicts with Debian's npm) keep it; otherwise
  # Debian's nodejs + npm are installed.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    pkgs+=(nodejs npm)
  fi
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
else
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1
    fi
  fi

  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm ci in DIR unless node_modules was installed from this exact lock file
# (stamp: the lock's sha256 inside node_modules). Never downloads browsers.
npm_ci() {
  local dir=$1 want stamp=$1/node_modules/.install-deps.lock.sha256
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "install-deps: npm packages in ${dir#"$root"/} up to date"
    return 0
  fi
  echo "install-deps: npm ci in ${dir#"$root"/}"
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  echo "$want" > "$stamp"
}
if [ "$want_runtime_only" = 0 ]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  npm_ci "$root/services/gateway/web"
  if [ "$want_test" = 1 ]; then
    npm_ci "$root/tests/e2e"
  fi
fi
