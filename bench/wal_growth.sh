#!/usr/bin/env bash
# wal_growth.sh - the WAL and replication log sizes of one database under a
# steady pgbench TPC-B load (no link), every 5 s: they must stay bounded
# (the WAL by the checkpoints, the log by --log-retention).
#
# SQBIN=path runs that sqlink binary instead of building the working tree.
#
# Usage: C=4 T=40 bench/wal_growth.sh
set -euo pipefail
cd "$(dirname "$0")/.."
C=${C:-4}; T=${T:-40}
OUT=$(mktemp -d /tmp/sqlink-walgrowth.XXXXXX)
H=127.0.0.1; TOKEN=tok-walgrowth-1234567890abcdef; SQPW=pw-walgrowth-123
PIDS=(); SQSRV=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$OUT"; }
trap cleanup EXIT
if [ -n "${SQBIN:-}" ]; then cp "$SQBIN" "$OUT/sqlink"; else go build -o "$OUT/sqlink" ./cmd/sqlink; fi
SQ=$OUT/sqlink
. bench/lib.sh
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SQA_C=$(port) SQA_A=$(port) SQA_E=$(port) SQB_C=$(port) SQB_A=$(port) SQB_E=$(port)
sq_pair_up wg
sq_tpcb_dbs bench
export PGPASSWORD=$SQPW
pgbench -h $H -p "$SQA_C" -U admin -n -M prepared -c "$C" -j "$C" -T "$T" -f bench/tpcb.sql bench >"$OUT/pgbench.log" 2>&1 &
pb=$!
d=$OUT/sqA/databases
for i in $(seq 1 $((T / 5))); do
  sleep 5
  echo "t=$((i * 5))s wal_bytes=$(stat -c %s "$d/bench.db-wal") log_bytes=$(du -sb "$d/bench.db-log" | cut -f1)"
done
wait $pb
grep '^tps' "$OUT/pgbench.log"
