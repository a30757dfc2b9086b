#!/usr/bin/env bash
# bench_data.sh COPILOT WORKDIR [PROFILE...]
#
# Data-layer benchmark. Prints two tables:
#  1. generator: rows/s per profile (wall and CPU), file size;
#  2. importer: `copilot import` of a synthetic billing.usage CSV vs
#     `sqlite3 .import` of the same CSV into an equivalent table, same run.
# Profiles default to "small medium", plus "large" when COPILOT_BENCH=1.
# COPILOT_BENCH_IMPORT_ROWS sets the CSV size (default 200000).
set -euo pipefail
copilot=${1:?copilot binary}
work=${2:?work dir}
shift 2
profiles=("$@")
if [ ${#profiles[@]} -eq 0 ]; then
  profiles=(small medium)
  [ "${COPILOT_BENCH:-0}" = 1 ] && profiles+=(large)
fi
rows_csv=${COPILOT_BENCH_IMPORT_ROWS:-200000}
mkdir -p "$work"
for t in sqlite3 awk; do command -v $t >/dev/null || { echo "$t missing: skipping"; exit 77; }; done

# arithmetic without bc
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# seconds (wall, user+sys) of a command; output to $work/last.out
measure() {
  local t0 t1 c0 c1
  t0=$(date +%s.%N)
  c0=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
  "$@" > "$work/last.out" 2> "$work/last.err"
  t1=$(date +%s.%N)
  # CPU of finished children of this shell (cutime + cstime), in clock ticks
  c1=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", (b - a) / hz }')
}

echo "## generator (copilot generate --seed 42), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %12s %10s %12s %10s %12s %10s\n' profile rows wall_s rows/s_wall cpu_s rows/s_cpu file_MB
for p in "${profiles[@]}"; do
  db="$work/gen-$p.db"
  measure "$copilot" generate --profile "$p" --seed 42 --db "$db" --force
  rows=$(sed -n 's/.*; \([0-9]*\) rows in .*/\1/p' "$work/last.out")
  size=$(( $(stat -c %s "$db") / 1048576 ))
  printf '%-8s %12d %10.1f %12.0f %10.1f %12.0f %10d\n' "$p" "$rows" "$wall" "$(calc "$rows / $wall")" \
    "$cpu" "$(calc "$rows / ($cpu + 0.001)")" "$size"
done

echo
echo "## importer: billing.usage CSV, $rows_csv rows"
csvdir="$work/import-csv"
rm -rf "$csvdir"; mkdir -p "$csvdir"
awk -v n="$rows_csv" 'BEGIN {
  print "account_id,workspace_id,record_id,sku_name,cloud,usage_start_time,usage_end_time,usage_date,usage_unit,usage_quantity,usage_metadata,record_type,ingestion_date,billing_origin_product"
  for (i = 1; i <= n; i++) {
    d = sprintf("2025-06-%02d", 1 + (i % 28)); h = i % 24
    printf "A1,1001,rec-%08d,PREMIUM_JOBS_COMPUTE,AWS,%sT%02d:00:00Z,%sT%02d:59:59Z,%s,DBU,%.6f,\"{\"\"job_id\"\":\"\"%d\"\",\"\"job_run_id\"\":\"\"%d\"\"}\",ORIGINAL,%s,JOBS\n", i, d, h, d, h, d, (i % 97) / 7.0, i % 50, i % 5000, d
  }
}' > "$csvdir/billing.usage.csv"
printf 'account_id,price_start_time,price_end_time,sku_name,cloud,currency_code,usage_unit,pricing\nA1,2025-01-01T00:00:00Z,,PREMIUM_JOBS_COMPUTE,AWS,USD,DBU,"{""effective_list"":{""default"":""0.15""}}"\n' > "$csvdir/billing.list_prices.csv"
idb="$work/import.db"; rm -f "$idb"
"$copilot" db init --db "$idb" > /dev/null
measure "$copilot" import --from "$csvdir" --db "$idb"
imp_wall=$wall; imp_cpu=$cpu
measure "$copilot" import --from "$csvdir" --db "$idb"
re_wall=$wall
sdb="$work/sqlite-import.db"; rm -f "$sdb"
sqlite3 "$sdb" "CREATE TABLE billing_usage (account_id TEXT, workspace_id TEXT, record_id TEXT PRIMARY KEY, sku_name TEXT, cloud TEXT, usage_start_time TEXT, usage_end_time TEXT, usage_date TEXT, usage_unit TEXT, usage_quantity REAL, usage_metadata TEXT, record_type TEXT, ingestion_date TEXT, billing_origin_product TEXT)"
measure sqlite3 "$sdb" -cmd ".mode csv" ".import --skip 1 $csvdir/billing.usage.csv billing_usage"
sq_wall=$wall; sq_cpu=$cpu
n=$(sqlite3 "$sdb" "SELECT COUNT(*) FROM billing_usage")
m=$(sqlite3 "$idb" "SELECT COUNT(*) FROM import_rows WHERE source='billing.usage'")
printf '%-34s %10s %12s %10s %12s\n' tool wall_s rows/s_wall cpu_s rows/s_cpu
printf '%-34s %10.1f %12.0f %10.1f %12.0f\n' "copilot import (landing+mapping)" "$imp_wall" "$(calc "$m / $imp_wall")" "$imp_cpu" "$(calc "$m / ($imp_cpu + 0.001)")"
printf '%-34s %10.1f %12.0f %10s %12s\n' "copilot import again (no change)" "$re_wall" "$(calc "$m / $re_wall")" - -
printf '%-34s %10.1f %12.0f %10.1f %12.0f\n' "sqlite3 .import (same CSV)" "$sq_wall" "$(calc "$n / $sq_wall")" "$sq_cpu" "$(calc "$n / ($sq_cpu + 0.001)")"
printf 'ratio sqlite3/.import vs copilot import (wall): %.1fx\n' "$(calc "$imp_wall / $sq_wall")"
[ "$n" = "$rows_csv" ] && [ "$m" = "$rows_csv" ] || { echo "row counts differ: sqlite3 $n, copilot $m, csv $rows_csv"; exit 1; }
