#!/usr/bin/env bash
# copy_vs_postgres.sh - COPY FROM STDIN of 1M pgbench_accounts rows (psql's
# \copy of a ~100 MB text file) into sqlink and into PostgreSQL 15 on this
# machine, in the same run, interleaved, both with durable commits:
#   sqlink:     synchronous=FULL (the default), one transaction
#   PostgreSQL: fsync=on, synchronous_commit=on (the defaults), one COPY
# Each rep drops and recreates the table first; the server's peak RSS
# growth is reported for sqlink.
#
# Usage: bench/copy_vs_postgres.sh            (ROWS=1000000 REPS=3)
# Output: a table of rows/s and the ratio sqlink/PostgreSQL; raw logs in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}; REPS=${REPS:-3}
. bench/lib.sh
OUT=${OUT:-$(bench_out copy)}
PG_PORT=${PG_PORT:-15452}; SQ_PORT=${SQ_PORT:-15453}; SQ_ADMIN=${SQ_ADMIN:-127.0.0.1:15490}
mkdir -p "$OUT"; chmod 755 "$OUT"
echo "results in $OUT"

# --- data: pgbench_accounts rows, filler as PostgreSQL stores char(84) --------
DATA=$OUT/accounts.txt
awk -v n="$ROWS" 'BEGIN{f=sprintf("%84s", ""); for(i=1;i<=n;i++) printf "%d\t%d\t0\t%s\n", i, int((i-1)/100000)+1, f}' >"$DATA"
chmod 644 "$DATA"
echo "data: $(wc -l <"$DATA") rows, $(du -m "$DATA" | cut -f1) MB"

# --- PostgreSQL 15 ------------------------------------------------------------
SQ_PID=""
trap 'pg_down; kill $SQ_PID 2>/dev/null || true' EXIT
pg_up
pg_psql -d postgres -c "create database bench"

# --- sqlink -------------------------------------------------------------------
go build -o "$OUT/sqlink" ./cmd/sqlink
sq_one_up "$OUT/sqlink" "$OUT/sq" bench 127.0.0.1:$SQ_PORT $SQ_ADMIN
SQLINK_SERVER=http://$SQ_ADMIN SQLINK_TOKEN=$TOKEN "$OUT/sqlink" db create bench >/dev/null
export PGPASSWORD=$SQPW

# --- runs ---------------------------------------------------------------------
DDL="drop table if exists pgbench_accounts; create table pgbench_accounts(aid int not null, bid int, abalance int, filler char(84))"
run() { # run SYSTEM REP: prints seconds
  local sys=$1 r=$2 log=$OUT/$1_r$2.log conn
  if [ "$sys" = postgres ]; then
    conn=(-h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -d bench)
    pg_psql -d bench -c "$DDL" -c checkpoint
  else
    conn=(-h 127.0.0.1 -p $SQ_PORT -U admin -d bench)
    psql -X -q "${conn[@]}" -c "$DDL"
  fi
  local t0 t1
  t0=$(date +%s.%N)
  psql -X -v ON_ERROR_STOP=1 "${conn[@]}" -c "\\copy pgbench_accounts from '$DATA'" >"$log" 2>&1
  t1=$(date +%s.%N)
  grep -q "^COPY $ROWS" "$log"
  echo "$t1 - $t0" | bc -l
}
rss_kib() { awk '/^VmHWM:/{print $2}' /proc/$SQ_PID/status; }
echo "system,rep,seconds,rows_per_s" >"$OUT/results.csv"
RSS0=$(awk '/^VmRSS:/{print $2}' /proc/$SQ_PID/status)
for r in $(seq 1 "$REPS"); do
  for sys in postgres sqlink; do
    s=$(run $sys $r)
    echo "$sys,$r,$s,$(echo "$ROWS / $s" | bc -l)" | tee -a "$OUT/results.csv"
  done
done
PEAK=$(rss_kib)

echo
echo "| system | COPY of $ROWS rows, s (mean of $REPS) | rows/s | sqlink/PostgreSQL |"
echo "|---|---|---|---|"
awk -F, 'NR>1{s[$1]+=$3; n[$1]++} END{pg=s["postgres"]/n["postgres"]; sq=s["sqlink"]/n["sqlink"];
  printf "| PostgreSQL 15 | %.2f | %.0f | |\n", pg, '"$ROWS"'/pg;
  printf "| sqlink | %.2f | %.0f | %.2f |\n", sq, '"$ROWS"'/sq, pg/sq}' "$OUT/results.csv"
echo
echo "sqlink server RSS: $((RSS0 / 1024)) MiB before, peak $((PEAK / 1024)) MiB"
