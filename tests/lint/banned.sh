#!/usr/bin/env bash
# Fails when project C/C++ sources call a banned function (c-patterns §1.7):
# strcpy strcat sprintf vsprintf gets atoi atol strtok sscanf.
# strtok_r, snprintf and vsnprintf are allowed. Comments are not exempt on
# purpose: spell the names differently in prose.
set -euo pipefail
root=${1:-.}
cd "$root"
pat='(^|[^_[:alnum:]])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok|sscanf)[[:space:]]*\('
hits=$(grep -rnE --include='*.c' --include='*.h' --include='*.cc' --include='*.cpp' "$pat" \
         common services tests 2>/dev/null || true)
if [ -n "$hits" ]; then
  echo "banned functions used (use snprintf/memcpy/strtol/strtok_r instead):"
  echo "$hits"
  exit 1
fi
echo "banned-function check: clean"
