#!/usr/bin/env bash
# install-deps.sh — the single source of truth for what the Usage Copilot needs
# from Debian. Idempotent: packages already installed are skipped, so a second
# run performs no apt work at all. Uses sudo when not root.
#
#   deploy/install-deps.sh          build + run dependencies
#   deploy/install-deps.sh --test   also what only the tests need
#
# `make run` and `make test` call this first; CI calls `make test`.
set -euo pipefail

RUNTIME_PKGS=(
  build-essential cmake pkg-config g++
  libzmq3-dev
  libprotobuf-c-dev protobuf-c-compiler
  libsqlite3-dev sqlite3
  libfaiss-dev libopenblas-openmp-dev
  libcurl4-openssl-dev
  libuv1-dev
  libjansson-dev
  node-llhttp
)
TEST_PKGS=(
  libcmocka-dev
  curl
  chromium
  wrk
  procps
)

want_test=0
for a in "$@"; do
  case "$a" in
    --test) want_test=1 ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$a' (expected --test)" >&2; exit 2 ;;
  esac
done

pkgs=("${RUNTIME_PKGS[@]}")
if [ "$want_test" = 1 ]; then
  pkgs+=("${TEST_PKGS[@]}")
  # Node.js: machines that already carry a Node.js with npm (for example from
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
  exit 0
fi

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
