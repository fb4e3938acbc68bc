#!/usr/bin/env bash
# tpcb_ab_postgres.sh - pgbench TPC-B (prepared, -n, bench/tpcb.sql) against
# PostgreSQL 15 and one or more sqlink binaries (an A/B of builds), at
# several scales and client counts, interleaved in each round (the order
# reversed every other round), durable commits on both (sqlink's default
# synchronous=FULL; PostgreSQL fsync=on, synchronous_commit=on). Each run
# reports TPS and the server's CPU time per transaction (utime+stime from
# /proc; for PostgreSQL the postmaster with its reaped backends plus its
# live children), steadier than TPS on a shared machine.
#
# Usage: BINS="base=/tmp/a head=/tmp/b" SCALES="1 10" CLIENTS="1 4 8" DUR=20 REPS=1 bench/tpcb_ab_postgres.sh
#   (build each binary first: go build -o /tmp/b ./cmd/sqlink; SQARGS adds
#   serve flags to every sqlink). Raw logs and results.csv go to $OUT,
#   outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-20}; REPS=${REPS:-1}; CLIENTS=${CLIENTS:-"1 4"}; SCALES=${SCALES:-1}
OUT=${OUT:-$(mkdir -p "${TMPDIR:-/tmp}/sqlink-bench-results" && mktemp -d "${TMPDIR:-/tmp}/sqlink-bench-results/tpcb_ab.XXXXXX")}
PGBIN=/usr/lib/postgresql/15/bin; PGUSER_OS=pgbench
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PG_PORT=$(port)
mkdir -p "$OUT"; chmod 755 "$OUT"; echo "results in $OUT"
HZ=$(getconf CLK_TCK)
ticks() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }; st=${st##*) }; set -- $st; echo $(( ${12} + ${13} + ${14} + ${15} )); }
pgticks() { # postmaster (with reaped children) + live children
  local t; t=$(ticks "$PGPID"); for c in $(pgrep -P "$PGPID"); do t=$((t + $(ticks "$c"))); done; echo $t; }
as_pg() { runuser -u "$PGUSER_OS" -- "$@"; }
id "$PGUSER_OS" >/dev/null 2>&1 || useradd -m "$PGUSER_OS"
PGDATA=$OUT/pg; mkdir -p "$PGDATA"; chown "$PGUSER_OS:" "$PGDATA"; chmod 700 "$PGDATA"
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
PGPID=$(head -1 "$PGDATA/postmaster.pid")
SQPIDS=()
trap 'as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true; for p in "${SQPIDS[@]}"; do kill $p 2>/dev/null || true; done' EXIT
export PGPASSWORD=benchpw PGSSLMODE=disable
for s in $SCALES; do
  "$PGBIN/psql" -X -q -h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -d postgres -c "create database bench$s"
  "$PGBIN/pgbench" -h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -i -s $s -q bench$s >"$OUT/pg_init$s.log" 2>&1
  sed -e "s/VALUES (1, 0, '')/SELECT x, 0, '' FROM (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $s) SELECT x FROM n)/" \
      -e "s/x < 10)/x < $((10 * s)))/; s/SELECT x, 1, 0, '' FROM n/SELECT x, (x - 1) \/ 10 + 1, 0, '' FROM n/" \
      -e "s/x < 100000)/x < $((100000 * s)))/; s/SELECT x, 1, 0, printf/SELECT x, (x - 1) \/ 100000 + 1, 0, printf/" bench/tpcb_init.sql >"$OUT/init$s.sql"
done
declare -A SQPORT SQPID
i=0
for nb in $BINS; do
  n=${nb%%=*}; b=${nb#*=}; i=$((i + 1))
  cp "$b" "$OUT/sqlink_$n"
  echo "sqlk_bench_token_0123456789" >"$OUT/token"; echo "benchpw" >"$OUT/pw"
  cport=$(port); aport=$(port)
  "$OUT/sqlink_$n" init --data-dir "$OUT/sq_$n" --name bench$i --admin-token-file "$OUT/token" --sql-password-file "$OUT/pw" >/dev/null
  "$OUT/sqlink_$n" serve --data-dir "$OUT/sq_$n" --client-addr 127.0.0.1:$cport --admin-addr 127.0.0.1:$aport \
    --endpoint-addr 127.0.0.1:0 --insecure-admin-http ${SQARGS:-} >"$OUT/sqlink_$n.log" 2>&1 &
  SQPID[$n]=$!; SQPIDS+=($!); SQPORT[$n]=$cport
  for j in $(seq 1 100); do curl -fs "http://127.0.0.1:$aport/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  for s in $SCALES; do
    "$OUT/sqlink_$n" --server http://127.0.0.1:$aport --token sqlk_bench_token_0123456789 db create bench$s >/dev/null
    psql -X -q -h 127.0.0.1 -p $cport -U admin -d bench$s -v ON_ERROR_STOP=1 -f "$OUT/init$s.sql" >/dev/null
  done
done
run() { # SYS CLIENTS SCALE REP
  local sys=$1 c=$2 s=$3 r=$4 log=$OUT/$1_s$3_c$2_r$4.log t0 t1
  if [ "$sys" = postgres ]; then
    "$PGBIN/psql" -X -q -h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -d bench$s -c checkpoint
    t0=$(pgticks)
    "$PGBIN/pgbench" -h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -n -M prepared -s $s -c "$c" -j "$c" -T "$DUR" -f bench/tpcb.sql bench$s >"$log" 2>&1
    sleep 0.3; t1=$(pgticks)
  else
    t0=$(ticks ${SQPID[$sys]})
    pgbench -h 127.0.0.1 -p ${SQPORT[$sys]} -U admin -n -M prepared -s $s -c "$c" -j "$c" -T "$DUR" -f bench/tpcb.sql bench$s >"$log" 2>&1
    t1=$(ticks ${SQPID[$sys]})
  fi
  local tps tx; tps=$(awk '/^tps = /{print $3; exit}' "$log"); tx=$(awk '/number of transactions actually processed/{print $NF}' "$log")
  echo "$sys,$s,$c,$r,$tps,$(( (t1 - t0) * 1000000 / HZ / tx ))"
}
echo "system,scale,clients,rep,tps,cpu_us_per_tx" >"$OUT/results.csv"
for r in $(seq 1 "$REPS"); do
  for s in $SCALES; do
    for c in $CLIENTS; do
      order="postgres"; for nb in $BINS; do order="$order ${nb%%=*}"; done
      [ $((r % 2)) = 0 ] && order=$(echo $order | tr ' ' '\n' | tac | tr '\n' ' ')
      for sys in $order; do run $sys $c $s $r | tee -a "$OUT/results.csv"; done
    done
  done
done
echo; echo "system,scale,clients: mean tps, mean cpu us/tx, ratio to postgres"
awk -F, 'NR>1{k=$1","$2","$3; t[k]+=$5; u[k]+=$6; n[k]++; if($1=="postgres"){p[$2","$3]+=$5; pn[$2","$3]++}}
  END{for(k in t){split(k,a,","); printf "%s tps=%.0f cpu=%.0f ratio=%.2f\n", k, t[k]/n[k], u[k]/n[k], (t[k]/n[k])/(p[a[2]","a[3]]/pn[a[2]","a[3]])}}' "$OUT/results.csv" | sort
