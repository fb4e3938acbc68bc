#!/usr/bin/env bash
# profile_tpcb.sh - a CPU profile of one sqlink instance serving pgbench
# TPC-B (prepared, -n, bench/tpcb.sql, durable commits): where the server's
# time goes per transaction. The profile covers PSEC seconds in the middle
# of a DUR-second run; the server's CPU over the same seconds comes from
# /proc, so CPU per transaction can be read beside the profile's shares.
#
# Usage: SQBIN=/tmp/b CLIENTS=1 SCALE=1 DUR=30 PSEC=20 bench/profile_tpcb.sh
#   (SQBIN defaults to a build of HEAD; SQARGS adds serve flags.) The
#   profile, the binary and pgbench's output go to $OUT, outside the
#   repository; read it with: go tool pprof -top $OUT/sqlink $OUT/cpu.pprof
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-1}; SCALE=${SCALE:-1}; DUR=${DUR:-30}; PSEC=${PSEC:-20}
[ "$PSEC" -lt "$DUR" ] || { echo "PSEC ($PSEC) must be shorter than DUR ($DUR)" >&2; exit 2; }
. bench/lib.sh
OUT=${OUT:-$(bench_out profile_tpcb)}
mkdir -p "$OUT"; echo "results in $OUT"
build_sqlink
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
C=$(port); A=$(port); DBG=$(port)
trap 'kill $SQ_PID 2>/dev/null || true' EXIT
sq_one_up "$OUT/sqlink" "$OUT/data" prof 127.0.0.1:$C 127.0.0.1:$A --debug-addr 127.0.0.1:$DBG ${SQARGS:-}
"$OUT/sqlink" --server "http://127.0.0.1:$A" --token "$TOKEN" db create bench >/dev/null
tpcb_init_sql "$SCALE" >"$OUT/init.sql"
export PGPASSWORD=$SQPW
psql -X -q -h 127.0.0.1 -p "$C" -U admin -d bench -v ON_ERROR_STOP=1 -f "$OUT/init.sql" >/dev/null
pgbench -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$DUR" -D scale="$SCALE" -f bench/tpcb.sql \
  -h 127.0.0.1 -p "$C" -U admin bench >"$OUT/pgbench.out" 2>&1 &
PB=$!
sleep $(( (DUR - PSEC) / 2 ))
t0=$(proc_ticks "$SQ_PID"); x0=$(psql -X -At -h 127.0.0.1 -p "$C" -U admin -d bench -c "SELECT count(*) FROM pgbench_history")
curl -fs -o "$OUT/cpu.pprof" "http://127.0.0.1:$DBG/debug/pprof/profile?seconds=$PSEC"
t1=$(proc_ticks "$SQ_PID"); x1=$(psql -X -At -h 127.0.0.1 -p "$C" -U admin -d bench -c "SELECT count(*) FROM pgbench_history")
wait $PB
grep -E "^tps" "$OUT/pgbench.out"
HZ=$(getconf CLK_TCK)
echo "profiled $PSEC s: $((x1 - x0)) transactions, server CPU $(( (t1 - t0) * 1000000 / HZ / (x1 - x0) )) us per transaction (/proc)"
echo "go tool pprof -top $OUT/sqlink $OUT/cpu.pprof"
