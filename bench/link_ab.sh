#!/usr/bin/env bash
# link_ab.sh - a quick A/B of one setting: two sqlink instances on loopback,
# database "bench" linked (async) from A to B, database "nolink" on A alone;
# pgbench TPC-B (prepared, C clients, T seconds) alternates between the two,
# with the secondary's lag sampled every 100 ms during the linked runs.
# Much quicker than link_vs_postgres.sh, and without PostgreSQL: for trying
# a change or a setting (e.g. SQLINK_LINK_HARDEN_DELAY=1ms, inherited by
# both servers), not for the record.
#
# Each run also reports the CPU time the primary (A) and the secondary (B)
# used per transaction (utime+stime from /proc): much steadier than tps on a
# noisy machine, so the figure to compare when a change is about cost.
#
# SQBIN=path runs that sqlink binary instead of building the working tree
# (to alternate two builds of a change: go build -o /tmp/a ./cmd/sqlink).
#
# KEEP=1 keeps the working directory (the servers' logs sqA.log and sqB.log,
# the last lag samples lag.csv) and prints its path at the end; with
# GODEBUG=gctrace=1, say, the logs show each server's garbage collections.
#
# SQB_DIR=/dev/shm/x puts the secondary's data there (tmpfs: what its disk
# costs the primary and the lag); removed at the end unless KEEP is set.
#
# Usage: C=1 T=30 ROUNDS=2 bench/link_ab.sh [label]
set -euo pipefail
cd "$(dirname "$0")/.."
C=${C:-1}; T=${T:-30}; ROUNDS=${ROUNDS:-2}; LABEL=${1:-run}
OUT=$(mktemp -d /tmp/sqlink-linkab.XXXXXX)
H=127.0.0.1; TOKEN=tok-linkab-1234567890abcdef; SQPW=pw-linkab-123
PIDS=(); SQSRV=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept: $OUT"; else rm -rf "$OUT" ${SQB_DIR:+"$SQB_DIR"}; fi
}
trap cleanup EXIT
if [ -n "${SQBIN:-}" ]; then cp "$SQBIN" "$OUT/sqlink"; else go build -o "$OUT/sqlink" ./cmd/sqlink; fi
go build -o "$OUT/lagsample" ./bench/lagsample
SQ=$OUT/sqlink
. bench/lib.sh
HZ=$(getconf CLK_TCK)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SQA_C=$(port) SQA_A=$(port) SQA_E=$(port) SQB_C=$(port) SQB_A=$(port) SQB_E=$(port)
sq_pair_up ab
sq_tpcb_dbs bench nolink
sq_chain_backup bench
"$SQ" link create --name L --database bench --primary "http://$H:$SQA_A" --primary-token $TOKEN \
  --secondary "http://$H:$SQB_A" --secondary-token $TOKEN --mode async </dev/null >/dev/null
for i in $(seq 1 600); do
  curl -fsS -H "Authorization: Bearer $TOKEN" "http://$H:$SQB_A/v1/links/L" 2>/dev/null |
    jq -e '.local.database_state == "ONLINE"' >/dev/null 2>&1 && break
  sleep 0.1
done
export PGPASSWORD=$SQPW
for r in $(seq 1 "$ROUNDS"); do
  for db in nolink bench; do
    lag=""
    if [ $db = bench ]; then
      "$OUT/lagsample" -interval 100ms -dur $((T + 5))s -out "$OUT/lag.csv" -sq-primary "http://$H:$SQA_A" \
        -sq-secondary "http://$H:$SQB_A" -token $TOKEN -link L -db bench >"$OUT/lag.sum" 2>&1 &
      sp=$!
    fi
    a0=$(proc_ticks "${SQSRV[0]}"); b0=$(proc_ticks "${SQSRV[1]}")
    out=$(pgbench -h $H -p "$SQA_C" -U admin -n -M prepared -c "$C" -j "$C" -T "$T" -f bench/tpcb.sql $db 2>&1)
    a1=$(proc_ticks "${SQSRV[0]}"); b1=$(proc_ticks "${SQSRV[1]}")
    tps=$(awk '/^tps/{print $3}' <<<"$out")
    tx=$(awk '/number of transactions actually processed/{print $NF}' <<<"$out")
    cpu="cpu_us_per_tx A=$(( (a1 - a0) * 1000000 / HZ / tx )) B=$(( (b1 - b0) * 1000000 / HZ / tx ))"
    if [ $db = bench ]; then
      kill -TERM $sp; wait $sp 2>/dev/null || true
      lag=$(grep -E '^(replay_lag_ms|interp_lag_ms)' "$OUT/lag.sum" | tr '\n' ' ')
    fi
    echo "$LABEL round=$r clients=$C $db tps=$tps $cpu $lag"
  done
done
