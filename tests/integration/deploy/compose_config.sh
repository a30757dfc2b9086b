#!/usr/bin/env bash
# compose_config.sh — deploy.compose_config: validates deploy/docker-compose.yml
# with the compose tool's own `config` command (docker compose v2, else
# docker-compose v1). Exits 77 (ctest skip) when neither works here.
#   - the file renders without CURVE (defaults) and with CURVE variables set;
#   - the service list is exactly the expected one;
#   - retrieval-service can be scaled (no container_name, no host ports).
# Usage: compose_config.sh <source root>
set -euo pipefail
root=${1:?usage: compose_config.sh <source root>}
f=$root/deploy/docker-compose.yml
if docker compose version >/dev/null 2>&1; then dc=(docker compose)
elif docker-compose version >/dev/null 2>&1; then dc=(docker-compose)
else
  echo "neither 'docker compose' nor 'docker-compose' works here: skipped"
  exit 77
fi
"${dc[@]}" -f "$f" config --quiet
COPILOT_CURVE_ENABLED=true COPILOT_CURVE_SERVER_SECRET='JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6' \
  COPILOT_CURVE_CLIENT_SECRET='D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs' \
  "${dc[@]}" -f "$f" config > /tmp/compose-config-$$.yml
grep -q 'COPILOT_CURVE_ENABLED: "true"' /tmp/compose-config-$$.yml \
  || { echo "FAIL: CURVE variables are not interpolated"; rm -f /tmp/compose-config-$$.yml; exit 1; }
rm -f /tmp/compose-config-$$.yml
want="event-bus gateway graph-service init llm-gateway prompt-builder report-service retrieval-router retrieval-service"
have=$("${dc[@]}" -f "$f" config --services | sort | tr '\n' ' ' | sed 's/ $//')
[ "$have" = "$want" ] || { echo "FAIL: services '$have', want '$want'"; exit 1; }
# Scalable: no fixed container name or host port on the replicas.
"${dc[@]}" -f "$f" config | awk '/^  retrieval-service:/{on=1;next} /^  [a-z]/{on=0} on' > /tmp/compose-rs-$$.yml
if grep -qE 'container_name|published' /tmp/compose-rs-$$.yml; then
  rm -f /tmp/compose-rs-$$.yml
  echo "FAIL: retrieval-service has a container_name or a published port; --scale would clash"
  exit 1
fi
rm -f /tmp/compose-rs-$$.yml
echo "compose config: ok (${dc[*]})"
