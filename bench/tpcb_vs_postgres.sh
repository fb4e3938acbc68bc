#!/usr/bin/env bash
# tpcb_vs_postgres.sh - pgbench TPC-B (scale 1, prepared mode, -n) against
# sqlink and against PostgreSQL 15 on this machine, in the same run,
# interleaved, both with durable commits:
#   sqlink:     synchronous=FULL (the default)
#   PostgreSQL: fsync=on, synchronous_commit=on (the defaults)
# Both run the same custom script (bench/tpcb.sql) over TCP on 127.0.0.1.
#
# Usage: bench/tpcb_vs_postgres.sh            (DUR=60 REPS=1 CLIENTS="1 4")
# Output: a table of TPS and the ratio sqlink/PostgreSQL, and raw logs in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-60}; REPS=${REPS:-1}; CLIENTS=${CLIENTS:-"1 4"}
. bench/lib.sh
OUT=${OUT:-$(bench_out tpcb)}
PG_PORT=${PG_PORT:-15442}; SQ_PORT=${SQ_PORT:-15443}; SQ_ADMIN=${SQ_ADMIN:-127.0.0.1:15480}
mkdir -p "$OUT"; chmod 755 "$OUT"
echo "results in $OUT"

# --- PostgreSQL 15 ------------------------------------------------------------
SQ_PID=""
trap 'pg_down; kill $SQ_PID 2>/dev/null || true' EXIT
pg_up
pg_psql -d postgres -c "create database bench"
"$PGBIN/pgbench" -h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -i -s 1 -q bench >"$OUT/pg_init.log" 2>&1

# --- sqlink -------------------------------------------------------------------
go build -o "$OUT/sqlink" ./cmd/sqlink
sq_one_up "$OUT/sqlink" "$OUT/sq" bench 127.0.0.1:$SQ_PORT $SQ_ADMIN
SQLINK_SERVER=http://$SQ_ADMIN SQLINK_TOKEN=$TOKEN "$OUT/sqlink" db create bench >/dev/null
export PGPASSWORD=$SQPW # plain text on both sides (lib.sh sets PGSSLMODE=disable)
psql -X -q -h 127.0.0.1 -p $SQ_PORT -U admin -d bench -v ON_ERROR_STOP=1 -f bench/tpcb_init.sql >/dev/null

# --- runs ---------------------------------------------------------------------
run() { # run SYSTEM CLIENTS REP
  local sys=$1 c=$2 r=$3 log=$OUT/$1_c$2_r$3.log
  if [ "$sys" = postgres ]; then
    pg_psql -d bench -c checkpoint
    "$PGBIN/pgbench" -h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -n -M prepared -c "$c" -j "$c" -T "$DUR" -f bench/tpcb.sql bench >"$log" 2>&1
  else
    pgbench -h 127.0.0.1 -p $SQ_PORT -U admin -n -M prepared -c "$c" -j "$c" -T "$DUR" -f bench/tpcb.sql bench >"$log" 2>&1
  fi
  awk '/^tps = /{print $3; exit}' "$log"
}
echo "system,clients,rep,tps" >"$OUT/results.csv"
for r in $(seq 1 "$REPS"); do
  for c in $CLIENTS; do
    for sys in postgres sqlink; do
      tps=$(run $sys $c $r)
      echo "$sys,$c,$r,$tps" | tee -a "$OUT/results.csv"
    done
  done
done

echo
echo "| clients | PostgreSQL 15 TPS | sqlink TPS | sqlink/PostgreSQL |"
echo "|---|---|---|---|"
for c in $CLIENTS; do
  awk -F, -v c="$c" '$2==c && $1=="postgres"{pg+=$4; np++} $2==c && $1=="sqlink"{sq+=$4; ns++}
    END{printf "| %s | %.0f | %.0f | %.2f |\n", c, pg/np, sq/ns, (sq/ns)/(pg/np)}' "$OUT/results.csv"
done
