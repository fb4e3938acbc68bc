#!/usr/bin/env bash
# link_ab.sh - a quick A/B of one setting: two sqlink instances on loopback,
# database "bench" linked (async) from A to B, database "nolink" on A alone;
# pgbench TPC-B (prepared, C clients, T seconds) alternates between the two,
# with the secondary's lag sampled every 100 ms during the linked runs.
# Much quicker than link_vs_postgres.sh, and without PostgreSQL: for trying
# a change or a setting (e.g. SQLINK_LINK_HARDEN_DELAY=1ms, inherited by
# both servers), not for the record.
#
# Usage: C=1 T=30 ROUNDS=2 bench/link_ab.sh [label]
set -euo pipefail
cd "$(dirname "$0")/.."
C=${C:-1}; T=${T:-30}; ROUNDS=${ROUNDS:-2}; LABEL=${1:-run}
OUT=$(mktemp -d /tmp/sqlink-linkab.XXXXXX)
H=127.0.0.1; TOKEN=tok-linkab-1234567890abcdef; PW=pw-linkab-123
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$OUT"; }
trap cleanup EXIT
go build -o "$OUT/sqlink" ./cmd/sqlink
go build -o "$OUT/lagsample" ./bench/lagsample
BIN=$OUT/sqlink
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
echo "$TOKEN" >"$OUT/token"; echo "$PW" >"$OUT/pw"
declare -A CA AA
for n in A B; do
  CA[$n]=$(port); AA[$n]=$(port)
  "$BIN" init --data-dir "$OUT/$n" --name "ab$n" --admin-token-file "$OUT/token" --sql-password-file "$OUT/pw" >/dev/null
  "$BIN" serve --data-dir "$OUT/$n" --client-addr $H:${CA[$n]} --admin-addr $H:${AA[$n]} --endpoint-addr $H:$(port) >"$OUT/$n.log" 2>&1 &
  PIDS+=($!)
  for i in $(seq 1 100); do curl -fs "http://$H:${AA[$n]}/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
done
export PGPASSWORD=$PW
for d in bench nolink; do
  "$BIN" --server "http://$H:${AA[A]}" --token $TOKEN db create $d >/dev/null
  psql -X -q -h $H -p "${CA[A]}" -U admin -d $d -v ON_ERROR_STOP=1 -f bench/tpcb_init.sql >/dev/null
done
"$BIN" --server "http://$H:${AA[A]}" --token $TOKEN backup bench --to "$OUT/bench.bak" >/dev/null
"$BIN" link create --name L --database bench --primary "http://$H:${AA[A]}" --primary-token $TOKEN \
  --secondary "http://$H:${AA[B]}" --secondary-token $TOKEN --mode async </dev/null >/dev/null
for i in $(seq 1 600); do
  curl -fsS -H "Authorization: Bearer $TOKEN" "http://$H:${AA[B]}/v1/links/L" 2>/dev/null |
    jq -e '.local.database_state == "ONLINE"' >/dev/null 2>&1 && break
  sleep 0.1
done
for r in $(seq 1 "$ROUNDS"); do
  for db in nolink bench; do
    lag=""
    if [ $db = bench ]; then
      "$OUT/lagsample" -interval 100ms -dur $((T + 5))s -out "$OUT/lag.csv" -sq-primary "http://$H:${AA[A]}" \
        -sq-secondary "http://$H:${AA[B]}" -token $TOKEN -link L -db bench >"$OUT/lag.sum" 2>&1 &
      sp=$!
    fi
    tps=$(pgbench -h $H -p "${CA[A]}" -U admin -n -M prepared -c "$C" -j "$C" -T "$T" -f bench/tpcb.sql $db 2>&1 | awk '/^tps/{print $3}')
    if [ $db = bench ]; then
      kill -TERM $sp; wait $sp 2>/dev/null || true
      lag=$(grep -E '^interp_lag_ms' "$OUT/lag.sum" | head -1)
    fi
    echo "$LABEL round=$r clients=$C $db tps=$tps $lag"
  done
done
