#!/usr/bin/env bash
# failover_vs_postgres.sh - how long a failover takes, end to end, sqlink link vs
# PostgreSQL 15 streaming replication, on this machine in the same run.
#
# Every figure runs from the operator's first command to the first write the new
# primary accepted (a psql INSERT, connect included, retried until it succeeds), in ms:
#   planned_idle   no load. sqlink: `sqlink link failover L --server <primary>` (keep link,
#                  two-way) then INSERT on the new primary. PostgreSQL (05_switchover.sh):
#                  `pg_ctl stop -m fast` on the primary, `select pg_promote(true, 60)` on the
#                  standby, INSERT on it.
#   planned_load   the same right after a 4-client pgbench TPC-B run of LOAD_DUR s
#                  (bench/tpcb.sql on sqlink, the built-in TPC-B on PostgreSQL, -M prepared).
#   forced         the primary is killed (sqlink: SIGKILL; PostgreSQL: pg_ctl stop -m
#                  immediate, its SIGKILL-like stop) while idle; then sqlink: `sqlink link
#                  failover L --force --allow-data-loss` on the secondary, PostgreSQL:
#                  pg_promote(true, 60) on the standby; then INSERT on the new primary.
#   reattach       the old primary following the new one again, until it has replayed the
#                  new primary's position. sqlink after planned: nothing to run (the link is
#                  kept), time from the failover's end until the old primary has redone the
#                  new primary's last commit; after forced: start the old primary, wait for
#                  SPLIT_BRAIN, `sqlink link set-role L --primary <new>`, until caught up.
#                  PostgreSQL: pg_ctl stop -m fast (if running), CHECKPOINT on the new primary,
#                  pg_rewind, standby.signal +
#                  primary_conninfo, start, until streaming and replayed (05_switchover.sh).
# Each measure runs REPS times, alternating direction; the table shows the median and the
# range. Traffic only on 127.0.0.1; every loop is bounded in time.
#
# Usage: bench/failover_vs_postgres.sh   (REPS=3 LOAD_DUR=10 SQLINK_REV=HEAD SYSTEMS="postgres sqlink")
#   SQLINK_REV=worktree builds the working tree; KEEP=1 keeps the data directory ($OUT).
# Output: markdown table on stdout and $RES/summary.md; raw rows in $RES/runs.csv, CLI JSON
# and server logs in $RES/logs (default $TMPDIR or /tmp, sqlink-bench-results/failover_vs_postgres/<UTC time>: raw output stays outside the repository; copy the summary and CSVs that BENCHMARKS.md cites into bench/results/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REPS=${REPS:-3}; LOAD_DUR=${LOAD_DUR:-10}; SYSTEMS=${SYSTEMS:-"postgres sqlink"}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES=${RES:-${TMPDIR:-/tmp}/sqlink-bench-results/failover_vs_postgres/$STAMP}
OUT=${OUT:-$(mktemp -d /tmp/sqlink-fobench.XXXXXX)}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGUSER_OS=${PGUSER_OS:-pgbench}
H=127.0.0.1
PG_A=${PG_A:-15562}; PG_B=${PG_B:-15563}
SQA_C=${SQA_C:-15564}; SQA_E=${SQA_E:-15565}; SQA_A=${SQA_A:-15584}
SQB_C=${SQB_C:-15566}; SQB_E=${SQB_E:-15567}; SQB_A=${SQB_A:-15586}
TOKEN=sqlk_bench_token_0123456789; SQPW=benchpw; LINK=L
mkdir -p "$OUT" "$RES/logs"; chmod 755 "$OUT"
has() { [[ " $SYSTEMS " == *" $1 "* ]]; }
now_ms() { date +%s%3N; }
log() { echo "[$(date +%T)] $*" >&2; }
echo "data in $OUT, results in $RES" >&2
CSV=$RES/runs.csv
echo "system,measure,rep,from,to,ms,detail" >"$CSV"
row() { echo "$1,$2,$3,$4,$5,$6,${7:-}" | tee -a "$CSV" >&2; }

# --- cleanup: every server we started, then the data -----------------------------------
SQPID_A=""; SQPID_B=""
as_pg() { runuser -u "$PGUSER_OS" -- "$@"; }
pgdir() { echo "$OUT/pg$1"; }
pgport() { [ "$1" = A ] && echo $PG_A || echo $PG_B; }
pgctl() { local n=$1; shift; as_pg "$PGBIN/pg_ctl" -D "$(pgdir "$n")" -l "$OUT/pgrun/pg$n.log" -w "$@"; }
pg_running() { [ -f "$(pgdir "$1")/postmaster.pid" ]; }
cleanup() {
  set +e
  for p in $SQPID_A $SQPID_B; do kill "$p" 2>/dev/null; done
  for n in A B; do pg_running $n && pgctl $n stop -m fast >/dev/null 2>&1; done
  for p in $SQPID_A $SQPID_B; do
    for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  for f in "$OUT"/pgrun/*.log "$OUT"/sq*.log; do [ -f "$f" ] && cp "$f" "$RES/logs/" 2>/dev/null; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- sqlink from a commit (default HEAD), so others' uncommitted work does not skew it ---
. bench/lib.sh
has sqlink && build_sqlink
SQ=$OUT/sqlink

median() { sort -n | awk '{a[NR]=$1} END{ if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2) }'; }

# ======================= PostgreSQL 15: nodes A and B, roles swap =======================
pq() { "$PGBIN/psql" -X -q -At -U "$PGUSER_OS" -h $H -p "$(pgport "$1")" -d "${3:-bench}" -c "$2"; }
pg_node_conf() { # pg_node_conf NODE [PRIMARY_NODE]: port, name, and primary_conninfo for a standby
  local n=$1 p=${2:-}
  { printf "port = %s\ncluster_name = 'node%s'\n" "$(pgport "$n")" "$n"
    [ -n "$p" ] && echo "primary_conninfo = 'host=$H port=$(pgport "$p") user=$PGUSER_OS application_name=node$n'"
  } >"$(pgdir "$n")/node.conf"
  chown "$PGUSER_OS:" "$(pgdir "$n")/node.conf"
  sed -i '/^primary_conninfo/d' "$(pgdir "$n")/postgresql.auto.conf" 2>/dev/null || true
  if [ -n "$p" ]; then as_pg touch "$(pgdir "$n")/standby.signal"; else rm -f "$(pgdir "$n")/standby.signal"; fi
}
pg_caught_up() { # pg_caught_up PRIMARY STANDBY: streaming and replayed (<= 60 s)
  local i
  for i in $(seq 1 1200); do
    [ "$(pq "$1" "select count(*) from pg_stat_replication where application_name='node$2'
          and state='streaming' and replay_lsn >= pg_current_wal_lsn()" postgres 2>/dev/null || echo 0)" = 1 ] && return 0
    sleep 0.05
  done
  log "PostgreSQL node$2 did not catch up with node$1 in 60 s"; return 1
}
pg_first_write() { # pg_first_write NODE TAG: INSERT until it succeeds (<= 60 s)
  local i
  for i in $(seq 1 6000); do
    pq "$1" "insert into marker(note) values ('$2')" >/dev/null 2>&1 && return 0
    sleep 0.01
  done
  log "PostgreSQL node$1 took no write in 60 s"; return 1
}
pg_reattach() { # pg_reattach KIND REP OLD NEW
  local kind=$1 rep=$2 P=$3 S=$4 t0 t1 res
  t0=$(now_ms)
  pg_running "$P" && pgctl "$P" stop -m fast >/dev/null
  # a just-promoted source still shows its old timeline in pg_control until its first
  # checkpoint, and pg_rewind would rewind to the wrong fork: checkpoint it first
  pq "$S" checkpoint postgres
  as_pg "$PGBIN/pg_rewind" --target-pgdata="$(pgdir "$P")" \
    --source-server="host=$H port=$(pgport "$S") user=$PGUSER_OS dbname=postgres" \
    >"$RES/logs/pg_rewind_${kind}_${rep}_$P.log" 2>&1 || true
  res=$(grep -Eo 'no rewind required|Done!|fatal.*' "$RES/logs/pg_rewind_${kind}_${rep}_$P.log" | head -1 | tr ',' ' ')
  pg_node_conf "$P" "$S"
  pgctl "$P" start >/dev/null
  pg_caught_up "$S" "$P"
  t1=$(now_ms)
  row postgres "reattach_after_$kind" "$rep" "node$P" "node$S" $((t1 - t0)) "pg_rewind: $res"
}
pg_setup() {
  log "PostgreSQL: initdb node A, pgbench -i -s 1, pg_basebackup node B"
  id "$PGUSER_OS" >/dev/null 2>&1 || useradd -m "$PGUSER_OS"
  mkdir -p "$OUT/pgrun"; chown "$PGUSER_OS:" "$OUT/pgrun"
  mkdir -p "$(pgdir A)"; chown "$PGUSER_OS:" "$(pgdir A)"; chmod 700 "$(pgdir A)"
  as_pg "$PGBIN/initdb" -D "$(pgdir A)" -U "$PGUSER_OS" --auth=trust -E UTF8 --locale=C.UTF-8 >"$RES/logs/initdb.log"
  cat >>"$(pgdir A)/postgresql.conf" <<CONF
listen_addresses = '$H'
unix_socket_directories = '$OUT/pgrun'
shared_buffers = 256MB
wal_level = replica
fsync = on
synchronous_commit = on
full_page_writes = on
wal_log_hints = on
max_wal_size = 8GB
min_wal_size = 1GB
wal_keep_size = 2GB
max_wal_senders = 10
hot_standby = on
include_if_exists = 'node.conf'
CONF
  echo "local all all trust" >"$(pgdir A)/pg_hba.conf"
  echo "host all all $H/32 trust" >>"$(pgdir A)/pg_hba.conf"
  echo "host replication all $H/32 trust" >>"$(pgdir A)/pg_hba.conf"
  pg_node_conf A
  pgctl A start >/dev/null
  pq A "create database bench" postgres
  "$PGBIN/pgbench" -h $H -p $PG_A -U "$PGUSER_OS" -i -s 1 -q bench >"$RES/logs/pg_init.log" 2>&1
  pq A "create table marker(id serial primary key, note text, ts timestamptz default now())"
  pq A checkpoint
  mkdir -p "$(pgdir B)"; chown "$PGUSER_OS:" "$(pgdir B)"; chmod 700 "$(pgdir B)"
  as_pg "$PGBIN/pg_basebackup" -h $H -p $PG_A -U "$PGUSER_OS" -D "$(pgdir B)" -X stream -c fast
  pg_node_conf B A
  pgctl B start >/dev/null
  pg_caught_up A B
}
pg_planned() { # pg_planned MEASURE REP P S
  local m=$1 rep=$2 P=$3 S=$4 t0 t1
  pg_caught_up "$P" "$S"
  if [ "$m" = planned_load ]; then
    "$PGBIN/pgbench" -h $H -p "$(pgport "$P")" -U "$PGUSER_OS" -n -M prepared -c 4 -j 4 -T "$LOAD_DUR" bench \
      >"$RES/logs/pg_load_${rep}_$P.log" 2>&1 || log "pgbench on node$P failed"
  fi
  pq "$P" "insert into marker(note) values ('last-$m-$rep')"
  t0=$(now_ms)
  pgctl "$P" stop -m fast >/dev/null
  pq "$S" "select pg_promote(true, 60)" postgres >/dev/null
  pg_first_write "$S" "first-$m-$rep"
  t1=$(now_ms)
  local zl; zl=$(pq "$S" "select count(*) from marker where note='last-$m-$rep'")
  row postgres "$m" "$rep" "node$P" "node$S" $((t1 - t0)) "last marker on new primary: $zl"
  pg_node_conf "$S"   # the new primary keeps no standby.signal / primary_conninfo
  pg_reattach "$m" "$rep" "$P" "$S"
}
pg_forced() { # pg_forced REP P S
  local rep=$1 P=$2 S=$3 t0 t1
  pg_caught_up "$P" "$S"
  pgctl "$P" stop -m immediate >/dev/null
  t0=$(now_ms)
  pq "$S" "select pg_promote(true, 60)" postgres >/dev/null
  pg_first_write "$S" "first-forced-$rep"
  t1=$(now_ms)
  row postgres forced "$rep" "node$P" "node$S" $((t1 - t0)) "pg_ctl stop -m immediate then promote"
  pg_node_conf "$S"
  pg_reattach forced "$rep" "$P" "$S"
}

# ======================= sqlink: instances A and B, two-way link L ======================
sqport() { [ "$1" = A ] && echo $SQA_C || echo $SQB_C; }
sqadmin() { [ "$1" = A ] && echo "http://$H:$SQA_A" || echo "http://$H:$SQB_A"; }
sqname() { echo "bench$1"; }
other() { [ "$1" = A ] && echo B || echo A; }
sq_api() { curl -fsS --max-time 10 -H "Authorization: Bearer $TOKEN" "$(sqadmin "$1")$2"; }
sq_start() { # sq_start A|B
  local n=$1 c e a
  if [ "$n" = A ]; then c=$SQA_C e=$SQA_E a=$SQA_A; else c=$SQB_C e=$SQB_E a=$SQB_A; fi
  "$SQ" serve --data-dir "$OUT/sq$n" --client-addr $H:$c --admin-addr $H:$a --endpoint-addr $H:$e $(sq_http_flag "$SQ") >>"$OUT/sq$n.log" 2>&1 &
  if [ "$n" = A ]; then SQPID_A=$!; else SQPID_B=$!; fi
  local i; for i in $(seq 1 200); do curl -fs "http://$H:$a/healthz" >/dev/null 2>&1 && return 0; sleep 0.05; done
  log "sqlink $n did not start"; return 1
}
sq_kill() { local p; [ "$1" = A ] && p=$SQPID_A || p=$SQPID_B; kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; }
sq_psql() { PGPASSWORD=$SQPW psql -X -q -At -h $H -p "$(sqport "$1")" -U admin -d bench -c "$2"; }
sq_caught_up() { # sq_caught_up PRIMARY SECONDARY: the secondary has redone the primary's last commit (<= 60 s)
  local p s i
  for i in $(seq 1 1200); do
    p=$(sq_api "$1" "/v1/links/$LINK" 2>/dev/null | jq -r 'select(.local.role=="PRIMARY") | .local.last_commit_lsn' 2>/dev/null || true)
    s=$(sq_api "$2" "/v1/links/$LINK" 2>/dev/null | jq -r 'select(.local.role=="SECONDARY" and .local.database_state=="ONLINE") | .local.last_redone_lsn' 2>/dev/null || true)
    [ -n "$p" ] && [ -n "$s" ] && [ "$s" -ge "$p" ] && return 0
    sleep 0.05
  done
  log "sqlink $2 did not catch up with $1 in 60 s"; return 1
}
sq_first_write() { # sq_first_write NODE TAG
  local i
  for i in $(seq 1 6000); do
    sq_psql "$1" "insert into marker(note) values ('$2')" >/dev/null 2>&1 && return 0
    sleep 0.01
  done
  log "sqlink $1 took no write in 60 s"; return 1
}
sq_setup() {
  log "sqlink: init + serve A and B, database bench, two-way link $LINK"
  echo "$TOKEN" >"$OUT/token"; echo "$SQPW" >"$OUT/pw"
  for n in A B; do
    "$SQ" init --data-dir "$OUT/sq$n" --name "$(sqname $n)" --admin-token-file "$OUT/token" --sql-password-file "$OUT/pw" >/dev/null
    sq_start $n
  done
  "$SQ" --server "$(sqadmin A)" --token $TOKEN db create bench >/dev/null
  PGPASSWORD=$SQPW psql -X -q -h $H -p $SQA_C -U admin -d bench -v ON_ERROR_STOP=1 -f bench/tpcb_init.sql >/dev/null
  sq_psql A "create table marker(id integer primary key, note text, ts text default current_timestamp)"
  "$SQ" --server "$(sqadmin A)" --token $TOKEN backup bench --to "$OUT/bench.bak" >/dev/null && rm -f "$OUT/bench.bak"
  timeout 300 "$SQ" link create --name $LINK --database bench --two-way \
    --primary "$(sqadmin A)" --primary-token $TOKEN --secondary "$(sqadmin B)" --secondary-token $TOKEN \
    </dev/null >"$RES/logs/link_create.log" 2>&1
  sq_caught_up A B
}
SQ_FAILOVER_OK=1
sq_failover() { # sq_failover ON PARTNER LOGTAG [flags]: run `link failover --json`, save its output
  local on=$1 partner=$2 tag=$3; shift 3
  timeout 300 "$SQ" link failover $LINK --server "$(sqadmin "$on")" --token $TOKEN \
    --partner "$(sqadmin "$partner")" --partner-token $TOKEN --json "$@" </dev/null \
    >"$RES/logs/failover_$tag.json" 2>"$RES/logs/failover_$tag.err"
}
sq_planned() { # sq_planned MEASURE REP P S
  local m=$1 rep=$2 P=$3 S=$4 t0 t1 t2 d
  sq_caught_up "$P" "$S"
  if [ "$m" = planned_load ]; then
    PGPASSWORD=$SQPW timeout $((LOAD_DUR + 60)) pgbench -h $H -p "$(sqport "$P")" -U admin -n -M prepared -c 4 -j 4 \
      -T "$LOAD_DUR" -f bench/tpcb.sql bench >"$RES/logs/sq_load_${rep}_$P.log" 2>&1 || log "pgbench on sqlink $P failed"
  fi
  sq_psql "$P" "insert into marker(note) values ('last-$m-$rep')"
  t0=$(now_ms)
  if ! sq_failover "$P" "$S" "${m}_$rep" ; then
    log "sqlink failover $m $rep failed: $(tail -2 "$RES/logs/failover_${m}_$rep.err" | tr '\n' ' ')"
    row sqlink "$m" "$rep" "$(sqname "$P")" "$(sqname "$S")" "" "FAILED: $(head -1 "$RES/logs/failover_${m}_$rep.err" | tr ',' ' ')"
    SQ_FAILOVER_OK=0; return 1
  fi
  sq_first_write "$S" "first-$m-$rep"
  t1=$(now_ms)
  d=$(jq -r '"server \(.duration_seconds)s, epoch \(.epoch)"' "$RES/logs/failover_${m}_$rep.json" 2>/dev/null | tr ',' ';')
  local zl; zl=$(sq_psql "$S" "select count(*) from marker where note='last-$m-$rep'")
  row sqlink "$m" "$rep" "$(sqname "$P")" "$(sqname "$S")" $((t1 - t0)) "$d; last marker on new primary: $zl"
  sq_caught_up "$S" "$P"
  t2=$(now_ms)
  row sqlink "reattach_after_$m" "$rep" "$(sqname "$P")" "$(sqname "$S")" $((t2 - t1)) "link kept: old primary caught up after the first write"
}
sq_forced() { # sq_forced REP P S
  local rep=$1 P=$2 S=$3 t0 t1 t2 d i
  sq_caught_up "$P" "$S"
  sq_kill "$P"
  t0=$(now_ms)
  if ! sq_failover "$S" "$P" "forced_$rep" --force --allow-data-loss; then
    log "sqlink forced failover $rep failed: $(tail -2 "$RES/logs/failover_forced_$rep.err" | tr '\n' ' ')"
    row sqlink forced "$rep" "$(sqname "$P")" "$(sqname "$S")" "" "FAILED: $(head -1 "$RES/logs/failover_forced_$rep.err" | tr ',' ' ')"
    sq_start "$P"; SQ_FAILOVER_OK=0; return 1
  fi
  sq_first_write "$S" "first-forced-$rep"
  t1=$(now_ms)
  d=$(jq -r '"estimated loss \(.estimated_loss.transactions) tx; recorded \(.lost.transactions) tx; server \(.duration_seconds)s"' \
      "$RES/logs/failover_forced_$rep.json" 2>/dev/null | tr ',' ';')
  row sqlink forced "$rep" "$(sqname "$P")" "$(sqname "$S")" $((t1 - t0)) "SIGKILL then --force; $d"
  # re-attach: restart the old primary, wait for SPLIT_BRAIN, designate the new primary
  t1=$(now_ms)
  sq_start "$P"
  for i in $(seq 1 1200); do
    [ "$(sq_api "$P" "/v1/links/$LINK" 2>/dev/null | jq -r .state 2>/dev/null)" = SPLIT_BRAIN ] && break
    sleep 0.05
  done
  timeout 300 "$SQ" link set-role $LINK --primary "$(sqname "$S")" --server "$(sqadmin "$S")" --token $TOKEN \
    --partner "$(sqadmin "$P")" --partner-token $TOKEN --json </dev/null >"$RES/logs/setrole_$rep.json" 2>&1 || log "set-role failed: $(tail -2 "$RES/logs/setrole_$rep.json")"
  sq_caught_up "$S" "$P" || true
  t2=$(now_ms)
  d=$(jq -r '"set-role via \(.instance): \(.method // "no rewind") \(.diverged_transactions) diverged"' "$RES/logs/setrole_$rep.json" 2>/dev/null | tr ',' ';')
  row sqlink reattach_after_forced "$rep" "$(sqname "$P")" "$(sqname "$S")" $((t2 - t1)) "restart + SPLIT_BRAIN + set-role + catch-up; $d"
}

# ======================= the runs ========================================================
if has postgres; then
  pg_setup
  P=A; S=B
  for m in planned_idle planned_load; do
    for r in $(seq 1 "$REPS"); do pg_planned $m $r $P $S; t=$P; P=$S; S=$t; done
  done
  for r in $(seq 1 "$REPS"); do pg_forced $r $P $S; t=$P; P=$S; S=$t; done
  for n in A B; do pg_running $n && pgctl $n stop -m fast >/dev/null; done
fi
if has sqlink; then
  sq_setup
  P=A; S=B
  for m in planned_idle planned_load; do
    for r in $(seq 1 "$REPS"); do
      [ $SQ_FAILOVER_OK = 1 ] || break
      sq_planned $m $r $P $S && { t=$P; P=$S; S=$t; }
    done
  done
  for r in $(seq 1 "$REPS"); do
    [ $SQ_FAILOVER_OK = 1 ] || break
    sq_forced $r $P $S && { t=$P; P=$S; S=$t; }
  done
  "$SQ" link verify $LINK --primary "$(sqadmin $P)" --primary-token $TOKEN --secondary "$(sqadmin $S)" --secondary-token $TOKEN \
    </dev/null >"$RES/logs/link_verify.log" 2>&1 && log "link verify: $(cat "$RES/logs/link_verify.log")" \
    || log "link verify failed: $(tail -2 "$RES/logs/link_verify.log")"
fi

# ======================= summary =========================================================
stat() { # stat SYSTEM MEASURE -> "median (min-max, n=N)"
  local v; v=$(awk -F, -v s="$1" -v m="$2" 'NR>1 && $1==s && $2==m && $6!="" {print $6}' "$CSV")
  [ -z "$v" ] && { echo "n/a"; return; }
  echo "$(echo "$v" | median) ($(echo "$v" | sort -n | head -1)-$(echo "$v" | sort -n | tail -1), n=$(echo "$v" | wc -l))"
}
{
  echo "## Failover time: sqlink link vs PostgreSQL 15 streaming replication ($STAMP)"
  echo
  echo "ms from the operator's first command to the first INSERT the new primary accepted (psql connect included);"
  echo "median (min-max, n) over $REPS rep(s), alternating direction; $(nproc) cores; sqlink ${SQREV:-n/a}; TCP 127.0.0.1."
  echo
  echo "| measure | sqlink | PostgreSQL 15 | sqlink command | PostgreSQL command |"
  echo "|---|---|---|---|---|"
  echo "| planned, idle | $(stat sqlink planned_idle) | $(stat postgres planned_idle) | \`sqlink link failover L --server P\`; INSERT on S | \`pg_ctl stop -m fast\` on P; \`select pg_promote(true, 60)\` on S; INSERT on S |"
  echo "| planned, right after ${LOAD_DUR} s of 4-client pgbench | $(stat sqlink planned_load) | $(stat postgres planned_load) | same | same |"
  echo "| forced, primary killed | $(stat sqlink forced) | $(stat postgres forced) | \`kill -9\` P; \`sqlink link failover L --force --allow-data-loss\` on S; INSERT | \`pg_ctl stop -m immediate\` P; \`pg_promote\` on S; INSERT |"
  echo "| re-attach old primary after planned (idle) | $(stat sqlink reattach_after_planned_idle) | $(stat postgres reattach_after_planned_idle) | nothing: link kept (until caught up) | \`pg_rewind\`, standby.signal, start, until replayed |"
  echo "| re-attach old primary after planned (load) | $(stat sqlink reattach_after_planned_load) | $(stat postgres reattach_after_planned_load) | nothing: link kept | \`pg_rewind\` ... |"
  echo "| re-attach old primary after forced | $(stat sqlink reattach_after_forced) | $(stat postgres reattach_after_forced) | start P; \`sqlink link set-role L --primary S\`; until caught up | \`pg_rewind\` (crash recovery first), standby.signal, start, until replayed |"
  echo
  echo "PostgreSQL's planned switchover has no in-protocol handshake: zero loss holds because a fast shutdown"
  echo "sends the remaining WAL to the standby; sqlink's failover swaps roles through the link (sync, drain,"
  echo "epoch + 1 persisted on both) and keeps the link, so the old primary needs no re-attach step."
  [ "${SQ_FAILOVER_OK}" = 1 ] || { echo; echo "**sqlink failover runs stopped at the first failure** (logs/failover_*.err)."; }
  echo
  echo "Reproduce: \`REPS=$REPS LOAD_DUR=$LOAD_DUR SYSTEMS=\"$SYSTEMS\" SQLINK_REV=$SQLINK_REV bench/failover_vs_postgres.sh\`"
  echo
  echo "Raw: $(realpath --relative-to="$ROOT" "$RES")/runs.csv, logs/"
} | tee "$RES/summary.md"
