#!/usr/bin/env bash
# tests/bench/run.sh <build-dir> — `make bench`: every benchmark of the tree,
# measured in one run on this machine, summarised in ONE table that is
# printed, saved to tests/bench/results/latest.md (raw outputs next to it in
# latest-raw.log) and copied into the performance section of deploy/README.md.
#
# Steps (each one's raw output is kept; a missing program is reported as
# "not built", a failing one as "failed", and the run goes on):
#   1. data       tests/bench/data/bench_data.sh: generator rows/s (small,
#                 medium) and `copilot import` vs `sqlite3 .import` of the
#                 same CSV, same run
#   2. reports    bench_reports on the MEDIUM profile (cold = fresh engine,
#                 warm = result cache); on the LARGE profile too when its DB
#                 already exists (COPILOT_BENCH_LARGE_DB or <build>/bench/large-42.db)
#   3. graph      bench_gs_graph on the medium profile (load, memory, queries)
#   4. retrieval  bench_retrieval --db medium: index build, in-process search,
#                 router QPS with 1 then 2 replicas and the ratio, same run
#   5. cluster    `copilot up` on the medium profile with 2 replicas, then
#                 - click→answer: 200 chip clicks (POST /api/v1/explain) through
#                   every daemon with the offline narrator, distinct request ids
#                   and report windows (bench_ops), p50/p95/p99;
#                 - cached-report HTTP throughput with wrk: GET
#                   /api/v1/reports/job_cost (report-service result cache +
#                   protobuf→JSON in the gateway) vs the same JSON bytes served
#                   as a static file by the same gateway, back to back;
#                 - peak RSS (VmHWM) of every daemon after all of that;
#   6. any other ctest with label `bench` (run through ctest, pass/fail only).
# The medium database and its index are cached under <build>/bench/.
# Environment: BENCH_CLICKS (200), BENCH_WRK_SECONDS (8), BENCH_WRK_CONNECTIONS (16),
# RT_BENCH_SECONDS (5 here), COPILOT_BENCH_IMPORT_ROWS (100000 here).
set -uo pipefail
build=$(cd "${1:?usage: tests/bench/run.sh <build-dir>}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$build/bin
work=$build/bench
out_dir=$root/tests/bench/results
mkdir -p "$work" "$out_dir"
raw=$out_dir/latest-raw.log
: > "$raw"
clicks=${BENCH_CLICKS:-200}
wrk_s=${BENCH_WRK_SECONDS:-8}
wrk_c=${BENCH_WRK_CONNECTIONS:-16}
export RT_BENCH_SECONDS=${RT_BENCH_SECONDS:-5}
export COPILOT_BENCH_IMPORT_ROWS=${COPILOT_BENCH_IMPORT_ROWS:-100000}
t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

rows=()        # "| area | metric | value | notes |" lines of the table
row() { rows+=("| $1 | $2 | $3 | $4 |"); }
say() { echo "bench: $*" >&2; }
section() { printf '\n===== %s =====\n' "$1" >> "$raw"; }
# run NAME CMD... : runs with output appended to the raw log and kept in $work/NAME.out
run() {
  local name=$1; shift
  section "$name: $*"
  local t0=$(date +%s)
  "$@" > "$work/$name.out" 2> "$work/$name.err"
  local rc=$?
  cat "$work/$name.out" "$work/$name.err" >> "$raw"
  say "$name: exit $rc in $(( $(date +%s) - t0 )) s"
  return $rc
}
field() { sed -nE "s/.*[ ]$1=([^ ]+).*/\1/p" "$2" | head -1; }   # key=value on a line

medium_db=$work/medium-42.db
if [ ! -s "$medium_db" ]; then
  say "generating the medium profile (once) -> $medium_db"
  "$bin/copilot" generate --profile medium --seed 42 --db "$medium_db" >> "$raw" 2>&1 \
    || { echo "cannot generate $medium_db" >&2; exit 1; }
fi
large_db=${COPILOT_BENCH_LARGE_DB:-$work/large-42.db}

# ---- 1. data ---------------------------------------------------------------
if [ -x "$bin/copilot" ] && run data bash "$root/tests/bench/data/bench_data.sh" "$bin/copilot" "$work/data" small medium; then
  f=$work/data.out
  gen=$(awk '$1 == "medium" { print $4 }' "$f" | head -1)
  imp=$(awk '/^copilot import \(landing/ { print $(NF-2) }' "$f" | head -1)
  sq=$(awk '/^sqlite3 .import/ { print $(NF-2) }' "$f" | head -1)
  row data "generator, medium profile" "${gen:-?} rows/s" "copilot generate --seed 42 (wall)"
  row data "import vs sqlite3 .import" "${imp:-?} vs ${sq:-?} rows/s" \
      "same ${COPILOT_BENCH_IMPORT_ROWS}-row billing.usage CSV, same run (copilot maps + validates)"
else
  row data "generator / import" "failed" "see latest-raw.log"
fi

# ---- 2. reports ---------------------------------------------------------------
# bench_reports' table: | report | sql | result rows | cold p50 | cold p95 | warm p50 | warm p95 | targets |
# (awk -F'|': $2 report, $4 result rows, $5 cold p50, $6 cold p95, $7 warm p50, $9 targets)
report_rows() {   # $1 = out file, $2 = profile label
  local f=$1 p=$2
  local jc=$(awk -F'|' '$2 ~ /^ job_cost / { gsub(/ /,""); print $5" / "$7 }' "$f")
  local worst=$(awk -F'|' '$4 ~ /^ *[0-9]+ *$/ { gsub(/ /,"",$6); gsub(/ /,"",$2); if ($6+0 > m) { m = $6+0; n = $2 } } END { print m " ms (" n ")" }' "$f")
  local nrep=$(awk -F'|' '$4 ~ /^ *[0-9]+ *$/' "$f" | wc -l)
  local met=$(awk -F'|' '$4 ~ /^ *[0-9]+ *$/ && $9 ~ / met /' "$f" | wc -l)
  row reports "job_cost cold p50 / warm p50, $p" "${jc:-?} ms" "fresh engine vs result cache (in-process)"
  row reports "slowest cold p95, $p" "$worst" "$met of $nrep reports meet cold 500 ms / warm 20 ms"
}
if [ -x "$bin/bench_reports" ]; then
  if run reports_medium "$bin/bench_reports" "$bin/copilot" "$medium_db" 3 20; then
    report_rows "$work/reports_medium.out" medium
  else row reports "medium profile" "failed" "see latest-raw.log"; fi
  if [ -s "$large_db" ]; then
    if run reports_large "$bin/bench_reports" "$bin/copilot" "$large_db" 2 10; then
      report_rows "$work/reports_large.out" large
    else row reports "large profile" "failed" "see latest-raw.log"; fi
  else
    row reports "large profile" "not measured" "no $large_db (COPILOT_BENCH=1 ctest -R bench.reports.large generates it; ~minutes)"
  fi
else
  row reports "report latency" "not built" "bench_reports missing"
fi

# ---- 3. graph -------------------------------------------------------------------
if [ -x "$bin/bench_gs_graph" ]; then
  if run graph "$bin/bench_gs_graph" "$bin/copilot" "$medium_db"; then
    g=$work/graph.out
    gv() { sed -nE "s/^BENCH graph\.$1=(.*)/\1/p" "$g" | head -1; }
    row graph "load, medium profile" "$(gv load_s) s" "$(gv nodes) nodes, $(gv edges_directed) edges, $(gv memory_mib) MiB graph, peak RSS $(gv peak_rss_mib) MiB"
    row graph "subgraph p50 / p95" "$(gv subgraph_p50_ms) / $(gv subgraph_p95_ms) ms" "$(gv subgraph_queries) queries, in-process"
  else row graph "graph" "failed" "see latest-raw.log"; fi
else
  row graph "graph" "not built" "bench_gs_graph missing"
fi

# ---- 4. retrieval -------------------------------------------------------------
if [ -x "$bin/bench_retrieval" ] && [ -x "$bin/retrieval-router" ] && [ -x "$bin/retrieval-service" ]; then
  if run retrieval "$bin/bench_retrieval" "$bin/retrieval-router" "$bin/retrieval-service" --db "$medium_db"; then
    r=$work/retrieval.out
    q1=$(field qps1 "$r"); q2=$(field qps2 "$r"); ratio=$(field ratio "$r")
    row retrieval "index build, medium profile" "$(field build_s "$r") s" "$(field docs "$r") documents, $(field index_mib "$r") MiB (LSA dim 256, 1 thread)"
    row retrieval "in-process hybrid search p50" "$(field p50_ms "$r") ms" "k=10"
    row retrieval "router QPS, 1 replica / 2 replicas" "$q1 / $q2" "ratio ${ratio} (same run, 16 in flight, ${RT_BENCH_SECONDS} s each); per replica with 2: $(awk -v a="$q2" 'BEGIN { printf "%.0f", a / 2 }')"
  else row retrieval "retrieval" "failed" "see latest-raw.log"; fi
else
  row retrieval "retrieval" "not built" "bench_retrieval or the retrieval daemons missing"
fi

# ---- 5. the cluster -------------------------------------------------------------
cluster=$work/cluster
daemons="event-bus report-service graph-service llm-gateway retrieval-router retrieval-service-1 retrieval-service-2 prompt-builder gateway"
cluster_ok=0
if [ -x "$bin/copilot" ] && [ -x "$bin/bench_ops" ]; then
  "$bin/copilot" down --data-dir "$cluster" > /dev/null 2>&1 || true
  rm -rf "$cluster"; mkdir -p "$cluster"
  index=$work/medium-index
  if [ ! -f "$index/meta.sqlite" ] || [ "$medium_db" -nt "$index/meta.sqlite" ]; then
    run index "$bin/copilot" index --db "$medium_db" --out "$index" || true
  fi
  ln -s "$index" "$cluster/index"
  # The gateway serves the UI plus the report JSON as a static file.
  static=$work/static
  rm -rf "$static"; mkdir -p "$static"
  [ -d "$build/web" ] && cp -r "$build/web/." "$static/"
  section "copilot up (medium, 2 replicas)"
  if COPILOT_HTTP_STATIC_DIR=$static COPILOT_LLM_PROVIDER=narrator LLM_PROVIDER= OPENAI_API_KEY= \
       "$bin/copilot" up --db "$medium_db" --data-dir "$cluster" --http-port 0 --replicas 2 \
       > "$work/up.out" 2>> "$raw"; then
    cat "$work/up.out" >> "$raw"
    base=$(sed -n 's/^url=\(.*\)\/$/\1/p' "$work/up.out")
    token=$(sed -n 's/^token=//p' "$work/up.out")
    cluster_ok=1
  else
    cat "$work/up.out" >> "$raw"
    row cluster "copilot up" "failed" "see latest-raw.log and $cluster/logs"
  fi
fi
if [ "$cluster_ok" = 1 ]; then
  # click -> answer
  if run explain "$bin/bench_ops" explain "$base" "$token" "$clicks" job_cost; then
    e=$work/explain.out
    row "click→answer" "p50 / p95 / p99" "$(field p50_ms "$e") / $(field p95_ms "$e") / $(field p99_ms "$e") ms" \
        "$(field ok "$e")/$(field n "$e") chip clicks, POST /api/v1/explain through all daemons, offline narrator, distinct ids + windows; max $(field max_ms "$e") ms"
  else
    row "click→answer" "p50 / p95 / p99" "failed" "$(tail -1 "$work/explain.err" 2>/dev/null)"
  fi
  # cached report vs static JSON
  if command -v wrk > /dev/null; then
    curl -s -H "Authorization: Bearer $token" "$base/api/v1/reports/job_cost" -o "$static/job_cost.json"
    size=$(stat -c %s "$static/job_cost.json" 2>/dev/null || echo 0)
    wrk_one() {   # $1 name, $2 url, extra args
      local name=$1 url=$2; shift 2
      run "$name" wrk -t2 -c"$wrk_c" -d"${wrk_s}s" --latency "$@" "$url"
      local rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$work/$name.out")
      local p50=$(awk '$1 == "50%" { print $2 }' "$work/$name.out")
      local p99=$(awk '$1 == "99%" { print $2 }' "$work/$name.out")
      local non2xx=$(awk '/Non-2xx/ { print $NF }' "$work/$name.out")
      echo "${rps:-?}|${p50:-?}|${p99:-?}|${non2xx:-0}"
    }
    api=$(wrk_one wrk_report "$base/api/v1/reports/job_cost" -H "Authorization: Bearer $token")
    stc=$(wrk_one wrk_static "$base/job_cost.json")
    IFS='|' read -r a_rps a_p50 a_p99 a_bad <<<"$api"
    IFS='|' read -r s_rps s_p50 s_p99 s_bad <<<"$stc"
    ratio=$(awk -v a="$a_rps" -v s="$s_rps" 'BEGIN { if (s > 0) printf "%.2f", a / s; else print "?" }')
    row "HTTP" "cached report GET /api/v1/reports/job_cost" "$a_rps req/s" "p50 $a_p50, p99 $a_p99; ${size}-byte JSON; wrk -t2 -c$wrk_c ${wrk_s}s; non-2xx ${a_bad}"
    row "HTTP" "same JSON as a static file (gateway)" "$s_rps req/s" "p50 $s_p50, p99 $s_p99; same run; API/static ratio $ratio; non-2xx ${s_bad}"
  else
    row "HTTP" "cached report vs static" "not measured" "wrk not installed (deploy/install-deps.sh --test)"
  fi
  # peak RSS per daemon
  state=$cluster/run/supervisor.state
  for d in $daemons; do
    pid=$(awk -F'\t' -v n="$d" '$1 == n { print $2 }' "$state" 2>/dev/null)
    hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null)
    row "peak RSS" "$d" "${hwm:-?} MiB" "VmHWM after the benchmarks above (medium profile)"
  done
  section "copilot status"
  "$bin/copilot" status --data-dir "$cluster" >> "$raw" 2>&1
  "$bin/copilot" down --data-dir "$cluster" >> "$raw" 2>&1
elif [ ! -x "$bin/bench_ops" ]; then
  row cluster "click→answer, HTTP, RSS" "not built" "bench_ops or copilot missing"
fi

# ---- 6. other registered benchmarks ----------------------------------------------
known='^bench\.(data|graph\.large|reports\.large|retrieval\.(synthetic|large))$'
others=$(ctest --test-dir "$build" -N -L bench 2>/dev/null | sed -nE 's/^ *Test +#[0-9]+: (bench\.[^ ]+).*/\1/p' | grep -Ev "$known" || true)
for t in $others; do
  if run "ctest_$t" ctest --test-dir "$build" -R "^${t//./\\.}\$" --output-on-failure; then
    row other "$t" "passed" "ctest -L bench (raw output in latest-raw.log)"
  else
    row other "$t" "failed or skipped" "see latest-raw.log"
  fi
done

# ---- the table -----------------------------------------------------------------------
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
btype=$(sed -nE 's/^CMAKE_BUILD_TYPE:[A-Z]+=(.*)/\1/p' "$build/CMakeCache.txt" 2>/dev/null)
{
  echo "## Benchmarks ($(date -u +%Y-%m-%d), commit $commit, ${btype:-?} build)"
  echo
  echo "$(nproc) cores ($(sed -nE 's/^model name\s*: //p' /proc/cpuinfo | head -1)), load average $load_start at the start," \
       "$(cut -d' ' -f1-3 /proc/loadavg) at the end; whole run $(( $(date +%s) - t_start )) s." \
       "Figures move with the machine's load; compare rows of the same run."
  echo
  echo "| area | metric | value | notes |"
  echo "|---|---|---:|---|"
  printf '%s\n' "${rows[@]}"
} > "$out_dir/latest.md"
cat "$out_dir/latest.md"

# Copy into deploy/README.md between the bench markers.
readme=$root/deploy/README.md
if [ -f "$readme" ] && grep -q '<!-- bench:begin -->' "$readme"; then
  awk -v table="$out_dir/latest.md" '
    /<!-- bench:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- bench:end -->/ { skip = 0 }
    !skip' "$readme" > "$readme.tmp" && mv "$readme.tmp" "$readme"
fi
