#!/usr/bin/env bash
# compose_refs.sh — deploy.compose_refs: the deployment files reference only
# things that exist. Needs no Docker (bash, grep, sed, awk).
#
#   1. deploy/docker-compose.yml has every expected service;
#   2. every program a service or health check runs is `copilot`, `sh`, or a
#      daemon with an add_executable() of that name under services/<name>/;
#      the Dockerfile copies exactly programs that exist too;
#   3. every COPILOT_* variable in the compose file is the environment name
#      of a configuration key some source reads (cfg.h mapping: upper case,
#      '.' and '-' -> '_'), or of a per-service key svc.c / bus_curve.c build
#      from the service name (<svc>.endpoint, <svc>.drain_ms,
#      <svc>.curve_*); other variables (OPENAI_API_KEY ...) appear verbatim
#      in a source; every `--set key=value` key is read by some source;
#   4. every key (active or commented) in deploy/config/<daemon>.conf is read
#      by that daemon's sources or the common runtime, and every daemon has a
#      sample config.
# Usage: compose_refs.sh <source root>
set -euo pipefail
root=${1:?usage: compose_refs.sh <source root>}
compose=$root/deploy/docker-compose.yml
dockerfile=$root/deploy/Dockerfile
fail=0
err() { echo "FAIL: $*" >&2; fail=1; }

daemons=(event-bus report-service graph-service llm-gateway retrieval-router retrieval-service
         prompt-builder gateway)

# 1. services
for s in init "${daemons[@]}"; do
  grep -qE "^  $s:\s*$" "$compose" || err "service '$s' missing from $compose"
done

# 2. programs
is_program() {
  local p=$1
  [ "$p" = copilot ] && return 0
  [ "$p" = sh ] && return 0
  [ -f "$root/services/$p/CMakeLists.txt" ] && grep -qE "add_executable\(\s*$p[ )]" "$root/services/$p/CMakeLists.txt"
}
progs=$(
  { grep -oE 'command: \[[a-z-]+' "$compose" | sed 's/.*\[//'
    awk '/^    command:\s*$/ { getline; sub(/^ *- */, ""); print }' "$compose"
    grep -oE 'test: \["CMD", "[a-z-]+"' "$compose" | sed 's/.*"CMD", "//; s/"//'
  } | sort -u)
[ -n "$progs" ] || err "no programs found in $compose (parser out of date?)"
for p in $progs; do
  is_program "$p" || err "compose runs '$p', which is no program of this tree"
done
for s in "${daemons[@]}"; do
  grep -qE "^      - $s$|command: \[$s," "$compose" || err "service $s does not run the $s binary"
done
for p in $(grep -oE '/src/build/release/bin/[a-z-]+' "$dockerfile" | sed 's|.*/||' | sort -u); do
  is_program "$p" || err "Dockerfile copies '$p', which is no program of this tree"
done

# Configuration keys read by a set of source files: string literals that look
# like dotted keys, plus the bare literals passed straight to cfg_*().
keys_of() {
  { grep -ohE '"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+"' "$@" | tr -d '"'
    grep -ohE 'cfg_[a-z_]+ \([^,]+, "[a-z][a-z0-9_]*"' "$@" | sed -E 's/.*"([^"]+)"/\1/'
  } 2>/dev/null | sort -u
}
envname() { tr 'a-z.-' 'A-Z__'; }
all_src=( "$root"/common/src/*.c "$root"/services/*/src/*.c )
all_keys=$(keys_of "${all_src[@]}")
declare -A KEY ENV
for k in $all_keys; do KEY[$k]=1; done
for v in $(envname <<<"$all_keys"); do ENV[COPILOT_$v]=1; done
svc_keys=$(printf '%s\n' "${daemons[@]}" | envname)
generic_ok() {   # per-service keys built by svc.c / bus_curve.c
  local v=${1#COPILOT_} k
  for k in $svc_keys; do
    case "$v" in
      "${k}_ENDPOINT"|"${k}_DRAIN_MS"|"${k}_CURVE_SERVER_SECRET"|"${k}_CURVE_SERVER_PUBLIC"|\
      "${k}_CURVE_CLIENT_SECRET"|"${k}_CURVE_CLIENT_PUBLIC") return 0 ;;
    esac
  done
  return 1
}

# 3. environment variables and --set keys
for v in $(grep -oE '^\s+(COPILOT_[A-Z0-9_]+):' "$compose" | tr -d ' :' | sort -u); do
  [ -n "${ENV[$v]:-}" ] || generic_ok "$v" || err "compose sets $v, which no source reads"
done
for v in $(grep -oE '^\s+[A-Z][A-Z0-9_]+:' "$compose" | tr -d ' :' | grep -v '^COPILOT_' | sort -u); do
  grep -rqF "\"$v\"" "$root"/services/*/src/ "$root"/common/src/ || err "compose sets $v, which no source reads"
done
for k in $(grep -oE -- '- [a-z_.]+=|--set [a-z_.]+=' "$compose" | sed -E 's/^(- |--set )//; s/=$//' | sort -u); do
  [ -n "${KEY[$k]:-}" ] || err "compose passes --set $k, which no source reads"
done

# 4. sample configs
for d in "${daemons[@]}"; do
  conf=$root/deploy/config/$d.conf
  if [ ! -f "$conf" ]; then err "no sample config $conf"; continue; fi
  srcs=( "$root"/services/"$d"/src/*.c "$root"/common/src/*.c )
  # report-service's and others' libraries live in the same src/ dirs.
  declare -A OWN=()
  for k in $(keys_of "${srcs[@]}"); do OWN[$k]=1; done
  dkey=$(envname <<<"$d" | tr 'A-Z' 'a-z')
  for k in $(sed -nE 's/^#? ?([a-z][a-z0-9_.-]*) = .*/\1/p' "$conf" | sort -u); do
    case "$k" in
      "$dkey.endpoint"|"$dkey.drain_ms"|"$dkey".curve_*) continue ;;
    esac
    [ -n "${OWN[$k]:-}" ] || err "$conf documents '$k', which $d does not read"
  done
done

if [ "$fail" = 0 ]; then
  echo "compose refs: $(wc -w <<<"$progs") programs, $(grep -cE '^\s+COPILOT_[A-Z0-9_]+:' "$compose") COPILOT_* settings and ${#daemons[@]} sample configs check out"
fi
exit $fail
