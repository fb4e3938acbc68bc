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
OUT=${OUT:-$(mktemp -d /tmp/sqlink-bench.XXXXXX)}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGUSER_OS=${PGUSER_OS:-pgbench}
PG_PORT=${PG_PORT:-15442}; SQ_PORT=${SQ_PORT:-15443}; SQ_ADMIN=${SQ_ADMIN:-127.0.0.1:15480}
mkdir -p "$OUT"; chmod 755 "$OUT"
echo "results in $OUT"

# --- PostgreSQL 15 ------------------------------------------------------------
id "$PGUSER_OS" >/dev/null 2>&1 || useradd -m "$PGUSER_OS"
as_pg() { runuser -u "$PGUSER_OS" -- "$@"; }
PGDATA=$OUT/pg
mkdir -p "$PGDATA"; chown "$PGUSER_OS:" "$PGDATA"; chmod 700 "$PGDATA"
as_pg "$PGBIN/initdb" -D "$PGDATA" -U "$PGUSER_OS" --auth=trust -E UTF8 --locale=C.UTF-8 >"$OUT/initdb.log"
cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGDATA'
shared_buffers = 1GB
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_size = 8GB
CONF
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/pg.log" -w start >/dev/null
SQ_PID=""
trap 'as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true; kill $SQ_PID 2>/dev/null || true' EXIT
"$PGBIN/psql" -X -q -h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -d postgres -c "create database bench"
"$PGBIN/pgbench" -h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -i -s 1 -q bench >"$OUT/pg_init.log" 2>&1

# --- sqlink -------------------------------------------------------------------
go build -o "$OUT/sqlink" ./cmd/sqlink
echo "sqlk_bench_token_0123456789" >"$OUT/token"; echo "benchpw" >"$OUT/pw"
"$OUT/sqlink" init --data-dir "$OUT/sq" --name bench --admin-token-file "$OUT/token" --sql-password-file "$OUT/pw" >/dev/null
"$OUT/sqlink" serve --data-dir "$OUT/sq" --client-addr 127.0.0.1:$SQ_PORT --admin-addr $SQ_ADMIN \
  --endpoint-addr 127.0.0.1:0 --insecure-admin-http >"$OUT/sqlink.log" 2>&1 &
SQ_PID=$!
for i in $(seq 1 100); do curl -fs "http://$SQ_ADMIN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
SQLINK_SERVER=http://$SQ_ADMIN SQLINK_TOKEN=sqlk_bench_token_0123456789 "$OUT/sqlink" db create bench >/dev/null
export PGPASSWORD=benchpw PGSSLMODE=disable # plain text on both sides, as before TLS
psql -X -q -h 127.0.0.1 -p $SQ_PORT -U admin -d bench -v ON_ERROR_STOP=1 -f bench/tpcb_init.sql >/dev/null

# --- runs ---------------------------------------------------------------------
run() { # run SYSTEM CLIENTS REP
  local sys=$1 c=$2 r=$3 log=$OUT/$1_c$2_r$3.log
  if [ "$sys" = postgres ]; then
    "$PGBIN/psql" -X -q -h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -d bench -c checkpoint
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
