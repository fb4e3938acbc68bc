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
. bench/lib.sh
OUT=${OUT:-$(bench_out tpcb_ab)}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PG_PORT=$(port)
mkdir -p "$OUT"; chmod 755 "$OUT"; echo "results in $OUT"
HZ=$(getconf CLK_TCK)
pgticks() { # postmaster (with reaped children) + live children
  local t; t=$(proc_ticks "$PGPID"); for c in $(pgrep -P "$PGPID"); do t=$((t + $(proc_ticks "$c"))); done; echo $t; }
SQPIDS=()
trap 'pg_down; for p in "${SQPIDS[@]}"; do kill $p 2>/dev/null || true; done' EXIT
pg_up
export PGPASSWORD=$SQPW
for s in $SCALES; do
  pg_psql -d postgres -c "create database bench$s"
  "$PGBIN/pgbench" -h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -i -s $s -q bench$s >"$OUT/pg_init$s.log" 2>&1
  tpcb_init_sql $s >"$OUT/init$s.sql"
done
declare -A SQPORT SQPID
i=0
for nb in $BINS; do
  n=${nb%%=*}; b=${nb#*=}; i=$((i + 1))
  cp "$b" "$OUT/sqlink_$n"
  cport=$(port); aport=$(port)
  sq_one_up "$OUT/sqlink_$n" "$OUT/sq_$n" bench$i 127.0.0.1:$cport 127.0.0.1:$aport ${SQARGS:-}
  SQPID[$n]=$SQ_PID; SQPIDS+=($SQ_PID); SQPORT[$n]=$cport
  for s in $SCALES; do
    "$OUT/sqlink_$n" --server http://127.0.0.1:$aport --token "$TOKEN" db create bench$s >/dev/null
    psql -X -q -h 127.0.0.1 -p $cport -U admin -d bench$s -v ON_ERROR_STOP=1 -f "$OUT/init$s.sql" >/dev/null
  done
done
run() { # SYS CLIENTS SCALE REP
  local sys=$1 c=$2 s=$3 r=$4 log=$OUT/$1_s$3_c$2_r$4.log t0 t1
  if [ "$sys" = postgres ]; then
    pg_psql -d bench$s -c checkpoint
    t0=$(pgticks)
    "$PGBIN/pgbench" -h 127.0.0.1 -p $PG_PORT -U "$PGUSER_OS" -n -M prepared -s $s -c "$c" -j "$c" -T "$DUR" -f bench/tpcb.sql bench$s >"$log" 2>&1
    sleep 0.3; t1=$(pgticks)
  else
    t0=$(proc_ticks ${SQPID[$sys]})
    pgbench -h 127.0.0.1 -p ${SQPORT[$sys]} -U admin -n -M prepared -s $s -c "$c" -j "$c" -T "$DUR" -f bench/tpcb.sql bench$s >"$log" 2>&1
    t1=$(proc_ticks ${SQPID[$sys]})
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
