#!/usr/bin/env bash
# link_vs_postgres.sh - the cost and the lag of replication, sqlink link vs
# PostgreSQL 15 streaming replication, side by side in one run, interleaved.
#
# pgbench TPC-B (bench/tpcb.sql, scale 1, -n, -M prepared, TCP on 127.0.0.1,
# durable commits on both: sqlink synchronous=FULL, PostgreSQL fsync=on and
# synchronous_commit=on) in four configurations, for each client count:
#   pg_none   PostgreSQL primary, standby stopped (no standby)
#   sq_none   sqlink primary, database "nolink" (no link)
#   pg_async  PostgreSQL primary with an async streaming standby (running)
#   sq_async  sqlink primary, database "bench" with an async link to a
#             second sqlink instance (the secondary)
# sqlink's no-link runs use a second database on the same primary instance,
# created and filled the same way, so the link never has to be dropped and
# reseeded between runs (the link on "bench" is idle during them).
# PostgreSQL's no-standby runs stop the standby (as the anchors' config a).
#
# During every run bench/lagsample samples every 100 ms (same overhead in
# both configurations of a system):
#   PostgreSQL: replay_lag from pg_stat_replication (what the anchors sample),
#     clock_timestamp() - pg_last_xact_replay_timestamp() on the standby, and
#     interp_lag: the standby's pg_last_wal_replay_lsn() looked up in the
#     primary's pg_current_wal_lsn() history (linear interpolation).
#   sqlink: secondary_lag_seconds (now minus the commit time of the oldest
#     primary transaction the secondary has not redone) from the link status
#     on the primary (partner replica, as last heard of) and on the secondary
#     (its own), and interp_lag: the secondary's last_redone_lsn looked up in
#     the primary's last_commit_lsn history, the same method as PostgreSQL's.
# Bytes per transaction: PostgreSQL pg_current_wal_lsn() difference over the
# run / transactions; sqlink replication log growth / LSN growth (from the
# primary's /metrics, every 100 ms sample, skipping intervals with a log prune),
# and a link bytes-sent counter if /metrics exports one.
#
# Usage: bench/link_vs_postgres.sh   (DUR=60 REPS=1 CLIENTS="1 4" SQLINK_REV=HEAD)
#   SYSTEMS="postgres sqlink" runs both (either alone also works)
#   KEEP=1 keeps the servers' data directory ($OUT) for inspection
# Output: markdown tables on stdout and in $RES/summary.md; raw CSVs and
# pgbench logs in $RES (default $TMPDIR or /tmp, sqlink-bench-results/link_vs_postgres/<UTC time>: raw output stays outside the repository; copy the summary and CSVs that BENCHMARKS.md cites into bench/results/).
set -euo pipefail
cd "$(dirname "$0")/.."
TIMEFORMAT='%3U+%3S'   # `time` of pgbench: user+sys seconds
ROOT=$PWD
DUR=${DUR:-60}; REPS=${REPS:-1}; CLIENTS=${CLIENTS:-"1 4"}; SYSTEMS=${SYSTEMS:-"postgres sqlink"}
INTERVAL=${INTERVAL:-100ms}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES=${RES:-${TMPDIR:-/tmp}/sqlink-bench-results/link_vs_postgres/$STAMP}
OUT=${OUT:-$(mktemp -d /tmp/sqlink-linkbench.XXXXXX)}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGUSER_OS=${PGUSER_OS:-pgbench}
H=127.0.0.1
PG_P=${PG_P:-15452}; PG_S=${PG_S:-15453}
SQA_C=${SQA_C:-15454}; SQA_E=${SQA_E:-15455}; SQA_A=${SQA_A:-15484}
SQB_C=${SQB_C:-15456}; SQB_E=${SQB_E:-15457}; SQB_A=${SQB_A:-15486}
TOKEN=sqlk_bench_token_0123456789; SQPW=benchpw; LINK=L
mkdir -p "$OUT" "$RES/logs" "$RES/lag"; chmod 755 "$OUT"
has() { [[ " $SYSTEMS " == *" $1 "* ]]; }
now_ms() { date +%s%3N; }
log() { echo "[$(date +%T)] $*" >&2; }
# shared machine: before each run wait (at most GATE_MAX s) until the whole machine's CPU
# use over 1 s is below GATE_PCT % (our own servers are idle then); the last reading and
# the wait are recorded in runs.csv (busy_before_pct, gate_wait_s)
GATE_PCT=${GATE_PCT:-15}; GATE_MAX=${GATE_MAX:-120}
busy_pct() {
  local a b; a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local t=0 i; for i in 1 2 3 4 5 6 7 8; do t=$(( t + b[i] - a[i] )); done
  local idle=$(( b[4] - a[4] + b[5] - a[5] ))
  [ $t -gt 0 ] && echo $(( 100 * (t - idle) / t )) || echo 0
}
quiet_gate() { # prints the last busy % read and the seconds waited
  local t0 b; t0=$(date +%s)
  while :; do
    b=$(busy_pct)
    [ "$b" -lt "$GATE_PCT" ] && break
    [ $(( $(date +%s) - t0 )) -ge "$GATE_MAX" ] && break
  done
  echo "$b $(( $(date +%s) - t0 ))"
}
# CPU accounting of a run, so a run disturbed by other work on the machine shows: other_pct =
# machine busy - our servers (sqlink processes; postmasters with their reaped and live
# children) - pgbench - the sampler, as % of the machine (all cores) over the run
cpu_total() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat; }
SQSRV=()
servers_ticks() {
  local t=0 p c
  for p in "${SQSRV[@]}"; do t=$(( t + $(proc_ticks "$p") )); done
  for d in "$OUT/pgp" "$OUT/pgs"; do
    [ -f "$d/postmaster.pid" ] || continue
    p=$(head -1 "$d/postmaster.pid")
    t=$(( t + $(proc_ticks "$p") ))
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do t=$(( t + $(proc_ticks "$c") )); done
  done
  echo $t
}
echo "data in $OUT, results in $RES" >&2

# --- cleanup: every server and sampler we started, then the data ------------------
PIDS=()
as_pg() { runuser -u "$PGUSER_OS" -- "$@"; }
pgctl() { as_pg "$PGBIN/pg_ctl" -D "$1" -l "$OUT/pgrun/$(basename "$1").log" -w "${@:2}"; }
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for d in "$OUT/pgs" "$OUT/pgp"; do
    [ -f "$d/postmaster.pid" ] && pgctl "$d" stop -m fast >/dev/null 2>&1
  done
  for p in "${PIDS[@]}"; do
    for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  for f in "$OUT"/pgrun/*.log "$OUT"/sq*.log; do [ -f "$f" ] && cp "$f" "$RES/logs/" 2>/dev/null; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ----------------------------------------------------------------------------
# sqlink is built from a commit (default HEAD; SQLINK_REV=worktree builds the working tree),
# so uncommitted work of others in the shared tree neither breaks nor skews the run;
# bench/lagsample always comes from the working tree
. bench/lib.sh
build_sqlink
SQ=$OUT/sqlink; LAGS=$OUT/lagsample

# --- PostgreSQL 15: primary + async standby (pg_basebackup -R) ------------------------
pq() { "$PGBIN/psql" -X -q -At -U "$PGUSER_OS" -h $H -p "$1" -d "${3:-bench}" -c "$2"; }
pg_up() { [ -f "$OUT/pgs/postmaster.pid" ]; }
pg_caught_up() { # standby streaming and replayed up to the primary's current LSN (<= 60 s)
  for i in $(seq 1 600); do
    [ "$(pq $PG_P "select count(*) from pg_stat_replication where application_name='standby'
          and state='streaming' and replay_lsn >= pg_current_wal_lsn()" postgres 2>/dev/null || echo 0)" = 1 ] && return 0
    sleep 0.1
  done
  log "PostgreSQL standby did not catch up in 60 s"; return 1
}
if has postgres; then
  log "PostgreSQL: initdb, pgbench -i -s 1, pg_basebackup"
  id "$PGUSER_OS" >/dev/null 2>&1 || useradd -m "$PGUSER_OS"
  mkdir -p "$OUT/pgrun"; chown "$PGUSER_OS:" "$OUT/pgrun"   # server logs and sockets
  mkdir -p "$OUT/pgp"; chown "$PGUSER_OS:" "$OUT/pgp"; chmod 700 "$OUT/pgp"
  as_pg "$PGBIN/initdb" -D "$OUT/pgp" -U "$PGUSER_OS" --auth=trust -E UTF8 --locale=C.UTF-8 >"$RES/logs/initdb.log"
  { pg_primary_conf $H "$PG_P" "$OUT/pgrun"; echo "cluster_name = 'primary'"; } >>"$OUT/pgp/postgresql.conf"
  pgctl "$OUT/pgp" start >/dev/null
  pq $PG_P "create database bench" postgres
  "$PGBIN/pgbench" -h $H -p $PG_P -U "$PGUSER_OS" -i -s 1 -q bench >"$RES/logs/pg_init.log" 2>&1
  pq $PG_P checkpoint
  mkdir -p "$OUT/pgs"; chown "$PGUSER_OS:" "$OUT/pgs"; chmod 700 "$OUT/pgs"
  as_pg "$PGBIN/pg_basebackup" -h $H -p $PG_P -U "$PGUSER_OS" -D "$OUT/pgs" -R -X stream -c fast
  printf "port = %s\ncluster_name = 'standby'\n" $PG_S >>"$OUT/pgs/postgresql.conf"
  pgctl "$OUT/pgs" start >/dev/null
  pg_caught_up
  pq $PG_P "select name||'='||setting from pg_settings where name in ('server_version','fsync','synchronous_commit',
    'full_page_writes','wal_level','shared_buffers','synchronous_standby_names','wal_sync_method','max_wal_size')" postgres \
    >"$RES/pg_settings.txt"
fi

# --- sqlink: primary A, secondary B, async link L on database bench --------------------
sq_api() { # sq_api A|B METHOD PATH [curl args]
  local a; [ "$1" = A ] && a=$SQA_A || a=$SQB_A
  curl -fsS --max-time 10 -X "$2" -H "Authorization: Bearer $TOKEN" "http://$H:$a$3" "${@:4}"
}
link_status() { sq_api "$1" GET "/v1/links/$LINK"; }
LINK_OK=0
sq_caught_up() { # secondary has redone the primary's last commit (<= 60 s)
  local p s
  for i in $(seq 1 600); do
    p=$(link_status A 2>/dev/null | jq -r '.local.last_commit_lsn // empty' 2>/dev/null || true)
    s=$(link_status B 2>/dev/null | jq -r '.local.last_redone_lsn // empty' 2>/dev/null || true)
    [ -n "$p" ] && [ -n "$s" ] && [ "$s" -ge "$p" ] && return 0
    sleep 0.1
  done
  log "sqlink secondary did not catch up in 60 s (primary commit $p, secondary redone $s)"; return 1
}
if has sqlink; then
  log "sqlink: init + serve A and B, create databases bench and nolink"
  sq_pair_up bench
  export PGPASSWORD=$SQPW
  sq_tpcb_dbs bench nolink
  sq_chain_backup bench
  log "sqlink: link create $LINK (async)"
  t0=$(now_ms)
  if timeout 300 "$SQ" link create --name $LINK --database bench \
      --primary http://$H:$SQA_A --primary-token $TOKEN \
      --secondary http://$H:$SQB_A --secondary-token $TOKEN --mode async </dev/null >"$RES/logs/link_create.log" 2>&1; then
    for i in $(seq 1 1200); do   # seeded and ONLINE on the secondary (<= 120 s)
      st=$(link_status B 2>/dev/null || true)
      if [ -n "$st" ] && echo "$st" | jq -e '.local.database_state == "ONLINE" and
           ((.local.seeding == null) or (.local.seeding.state == "COMPLETED"))' >/dev/null 2>&1; then
        LINK_OK=1; break
      fi
      sleep 0.1
    done
    [ $LINK_OK = 1 ] && sq_caught_up || LINK_OK=0
    log "link create + seed + catch-up: $(( $(now_ms) - t0 )) ms, ok=$LINK_OK"
    link_status A >"$RES/link_status_A_start.json" 2>/dev/null || true
    link_status B >"$RES/link_status_B_start.json" 2>/dev/null || true
  else
    log "sqlink link create failed (see $RES/logs/link_create.log):"; sed 's/^/    /' "$RES/logs/link_create.log" >&2
  fi
fi

# --- one run --------------------------------------------------------------------------
CSV=$RES/runs.csv
echo "round,config,clients,tps,lat_avg_ms,xacts,failed,bytes,bytes_per_tx,drain_ms,busy_before_pct,gate_wait_s,other_pct,start,end" >"$CSV"
LAGCSV=$RES/lag.csv   # one row per run and lag measure: nearest-rank percentiles of the 100 ms samples
echo "round,config,clients,measure,n,p50,p99,max" >"$LAGCSV"
run() { # run ROUND CONFIG CLIENTS
  local r=$1 cfg=$2 c=$3 tag=${1}_${2}_c${3}
  local logf=$RES/logs/$tag.pgbench.log lagf=$RES/lag/$tag.csv sumf=$RES/lag/$tag.summary
  local port pos0="" pos1="" bytes="" drain="" sargs=()
  case $cfg in
    pg_none)  pg_up && pgctl "$OUT/pgs" stop -m fast >/dev/null
              pq $PG_P checkpoint
              port=$PG_P; sargs=(-pg-primary "postgres://$PGUSER_OS@$H:$PG_P/bench?sslmode=disable") ;;
    pg_async) pg_up || pgctl "$OUT/pgs" start >/dev/null
              pg_caught_up; pq $PG_P checkpoint; pg_caught_up; pq $PG_S checkpoint
              port=$PG_P; sargs=(-pg-primary "postgres://$PGUSER_OS@$H:$PG_P/bench?sslmode=disable"
                                 -pg-standby "postgres://$PGUSER_OS@$H:$PG_S/bench?sslmode=disable" -app standby) ;;
    sq_none)  port=$SQA_C; sargs=(-sq-primary http://$H:$SQA_A -sq-secondary http://$H:$SQB_A -token $TOKEN -db nolink)
              [ $LINK_OK = 1 ] && sargs+=(-link $LINK) ;;
    sq_async) sq_caught_up; port=$SQA_C
              sargs=(-sq-primary http://$H:$SQA_A -sq-secondary http://$H:$SQB_A -token $TOKEN -link $LINK -db bench) ;;
  esac
  sync; sleep 1
  local busy gw; read -r busy gw < <(quiet_gate)
  [ "$busy" -ge "$GATE_PCT" ] && log "machine busy ($busy % CPU) before $tag; running anyway"
  [[ $cfg == pg_* ]] && pos0=$(pq $PG_P "select pg_current_wal_lsn()")
  "$LAGS" -interval "$INTERVAL" -dur "$(( DUR + 60 ))s" -out "$lagf" "${sargs[@]}" >"$sumf" 2>"$sumf.err" &
  local spid=$!; PIDS+=($spid)
  local st; st=$(date +%s)
  local db=bench user=$PGUSER_OS
  [ $cfg = sq_none ] && db=nolink
  [[ $cfg == sq_* ]] && user=admin
  local T0 I0 O0 T1 I1 O1; read -r T0 I0 < <(cpu_total); O0=$(servers_ticks)
  { time timeout $(( DUR + 120 )) pgbench -h $H -p $port -U $user -n -M prepared -c "$c" -j "$c" -T "$DUR" \
      -f bench/tpcb.sql "$db" >"$logf" 2>&1; } 2>"$logf.cpu" || log "pgbench $tag failed: $(tail -3 "$logf")"
  read -r T1 I1 < <(cpu_total); O1=$(servers_ticks)
  local cl sm other
  cl=$(awk -F+ '{printf "%d", ($1+$2)*100}' "$logf.cpu" 2>/dev/null); sm=$(proc_ticks $spid)
  other=$(awk -v t=$(( T1 - T0 )) -v i=$(( I1 - I0 )) -v o=$(( O1 - O0 + ${cl:-0} + sm )) \
    'BEGIN{ if (t>0) { x = 100*(t-i-o)/t; if (x<0) x=0; printf "%.0f", x } }')
  local en; en=$(date +%s)
  if [ $cfg = sq_async ]; then  # how long the secondary takes to drain what is left
    local d0; d0=$(now_ms); sq_caught_up && drain=$(( $(now_ms) - d0 ))
  fi
  if [ $cfg = pg_async ]; then
    local d0; d0=$(now_ms); pg_caught_up && drain=$(( $(now_ms) - d0 ))
  fi
  kill -TERM $spid 2>/dev/null; wait $spid 2>/dev/null || true
  local tps lat xa fl
  tps=$(awk '/^tps = /{print $3; exit}' "$logf"); lat=$(awk '/^latency average/{print $4}' "$logf")
  xa=$(awk '/actually processed/{print $NF}' "$logf"); fl=$(awk '/number of failed/{print $5}' "$logf")
  local bpt=""
  if [[ $cfg == pg_* ]]; then
    bytes=$(pq $PG_P "select pg_wal_lsn_diff(pg_current_wal_lsn(), '$pos0')")
    [ -n "$xa" ] && [ "$xa" -gt 0 ] && bpt=$(( bytes / xa ))
  else
    bpt=$(sed -n 's/^log_bytes_per_tx=\([0-9]*\).*/\1/p' "$sumf")
  fi
  if [[ $cfg == *_async ]]; then
    awk -v p="$r,$cfg,$c" '$2 ~ /^n=/ { split($2,n,"="); split($3,a,"="); split($4,b,"="); split($5,m,"=");
      print p","$1","n[2]","a[2]","b[2]","m[2] }' "$sumf" >>"$LAGCSV"
  fi
  echo "$r,$cfg,$c,${tps:-},${lat:-},${xa:-},${fl:-0},${bytes:-},${bpt:-},${drain:-},$busy,$gw,${other:-},$st,$en" | tee -a "$CSV" >&2
}

# --- the matrix, interleaved ---------------------------------------------------------------
CONFIGS=()
has postgres && CONFIGS+=(pg_none)
has sqlink && CONFIGS+=(sq_none)
has postgres && CONFIGS+=(pg_async)
has sqlink && [ $LINK_OK = 1 ] && CONFIGS+=(sq_async)
log "configs: ${CONFIGS[*]}; clients: $CLIENTS; $REPS round(s) of $DUR s"
for r in $(seq 1 "$REPS"); do
  for c in $CLIENTS; do
    for cfg in "${CONFIGS[@]}"; do run "$r" "$cfg" "$c"; done
  done
done
if [ $LINK_OK = 1 ]; then
  link_status A >"$RES/link_status_A_end.json" 2>/dev/null || true
  link_status B >"$RES/link_status_B_end.json" 2>/dev/null || true
  curl -fsS --max-time 10 "http://$H:$SQA_A/metrics" 2>/dev/null | grep -E '^sqlink_(database|link)' >"$RES/metrics_A_end.txt" || true
  "$SQ" link verify $LINK --primary http://$H:$SQA_A --primary-token $TOKEN \
    --secondary http://$H:$SQB_A --secondary-token $TOKEN </dev/null >"$RES/logs/link_verify.log" 2>&1 \
    && log "link verify: ok" || log "link verify failed: $(tail -3 "$RES/logs/link_verify.log")"
fi

# --- summary ---------------------------------------------------------------------------
mean() { # mean CONFIG CLIENTS COLUMN  (over rounds; empty if none)
  awk -F, -v k="$1" -v c="$2" -v col="$3" 'NR>1 && $2==k && $3==c && $col!="" {s+=$col; n++} END{if(n) printf "%.2f", s/n}' "$CSV"
}
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.3f", a/b }' || echo "n/a"; }
f0() { [ -n "$1" ] && printf "%.0f" "$1" || echo "n/a"; }
nz() { [ -n "$1" ] && echo "$1" || echo "n/a"; }
{
  echo "## sqlink link vs PostgreSQL 15 streaming replication ($STAMP)"
  echo
  echo "pgbench TPC-B scale 1, -n -M prepared, bench/tpcb.sql, ${DUR} s per run, $REPS round(s), TCP 127.0.0.1, durable commits;"
  echo "sqlink $SQREV synchronous=FULL, PostgreSQL $(pq $PG_P 'show server_version' postgres 2>/dev/null || echo 15) fsync=on synchronous_commit=on; $(nproc) cores; mean over rounds."
  echo
  echo "### Throughput (TPS)"
  echo
  echo "| clients | PG no standby | PG async standby | PG standby/none | sqlink no link | sqlink async link | sqlink link/none (goal >= 0.95 at 1, > PG's at 4) | sqlink link / PG async | other CPU % (pg_none, sq_none, pg_async, sq_async) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for c in $CLIENTS; do
    a=$(mean pg_none $c 4); b=$(mean pg_async $c 4); x=$(mean sq_none $c 4); y=$(mean sq_async $c 4)
    echo "| $c | $(f0 "$a") | $(f0 "$b") | $(ratio "$b" "$a") | $(f0 "$x") | $(f0 "$y") | $(ratio "$y" "$x") | $(ratio "$y" "$b") |" \
         "$(f0 "$(mean pg_none $c 13)"), $(f0 "$(mean sq_none $c 13)"), $(f0 "$(mean pg_async $c 13)"), $(f0 "$(mean sq_async $c 13)") |"
  done
  echo
  echo "other CPU %: the machine's CPU use during the run not from this benchmark's servers, pgbench or sampler (% of all cores);"
  echo "the machine is shared, so a high figure flags a disturbed run."
  echo
  echo "### Secondary lag under async load, 100 ms samples (p50 / p99 / max)"
  echo
  echo "| clients | system | measure | p50 | p99 | max |"
  echo "|---|---|---|---|---|---|"
  for c in $CLIENTS; do
    for m in "pg_async replay_lag_ms PostgreSQL replay_lag, pg_stat_replication on the primary (ms; what the anchors sample)" \
             "pg_async interp_lag_ms PostgreSQL LSN lag, interpolated (ms)" \
             "pg_async xact_replay_age_ms PostgreSQL clock_timestamp() - pg_last_xact_replay_timestamp() on the standby (ms)" \
             "pg_async bytes_behind PostgreSQL pg_current_wal_lsn() - replay_lsn (bytes)" \
             "sq_async replay_lag_ms sqlink replay_lag_seconds, link status on the primary (ms; PostgreSQL's replay_lag method)" \
             "sq_async harden_lag_ms sqlink harden_lag_seconds, link status on the primary (ms; PostgreSQL's flush_lag method)" \
             "sq_async secondary_lag_ms sqlink secondary_lag_seconds, link status on the primary (ms)" \
             "sq_async secondary_local_lag_ms sqlink secondary_lag_seconds, link status on the secondary (ms)" \
             "sq_async interp_lag_ms sqlink LSN lag, interpolated (ms)" \
             "sq_async tx_behind sqlink last_commit_lsn - secondary's last_redone_lsn (transactions)" \
             "sq_async log_send_queue_bytes sqlink log_send_queue_bytes on the primary (bytes)"; do
      set -- $m; k=$1; ms=$2; shift 2; sys=$1; shift
      row=$(awk -F, -v k="$k" -v c="$c" -v m="$ms" 'NR>1 && $2==k && $3==c && $4==m && $6!="-" {a+=$6; b+=$7; x+=$8; n++}
        END{ if (n) printf "%.2f | %.2f | %.2f", a/n, b/n, x/n }' "$LAGCSV")
      [ -n "$row" ] && echo "| $c | $sys | $* | $row |"
    done
    echo "| $c | both | drain: time to catch up after pgbench ends (ms) PG / sqlink | $(f0 "$(mean pg_async $c 10)") / $(f0 "$(mean sq_async $c 10)") | | |"
  done
  echo
  echo "LSN lag, interpolated: the secondary's replayed position (PG pg_last_wal_replay_lsn() on the standby, sqlink"
  echo "last_redone_lsn of the secondary's own link status) is read just before the primary's (PG pg_current_wal_lsn(), sqlink"
  echo "last_commit_lsn) and located in the primary's position history by linear interpolation: the time since the primary"
  echo "was at that position; 0 when caught up. The same method on both systems. Raw samples: lag/*.csv; per run: lag.csv."
  echo "replay_lag (both systems): the primary's last measured time from a position's commit (PG: the WAL sender picking it up)"
  echo "to the standby's report that it replayed it, as pg_stat_replication shows it; sqlink's harden_lag/replay_lag are measured"
  echo "on the primary from the record's commit to the acknowledgment, each acknowledgment also a sample of the histogram"
  echo "sqlink_link_ack_lag_seconds."
  echo
  echo "### Bytes shipped per transaction"
  echo
  echo "| clients | PG WAL bytes/tx, no standby | PG WAL bytes/tx, async | sqlink log bytes/tx, no link | sqlink log bytes/tx, link |"
  echo "|---|---|---|---|---|"
  for c in $CLIENTS; do
    echo "| $c | $(f0 "$(mean pg_none $c 9)") | $(f0 "$(mean pg_async $c 9)") | $(f0 "$(mean sq_none $c 9)") | $(f0 "$(mean sq_async $c 9)") |"
  done
  echo
  echo "PG: pg_current_wal_lsn() difference over the run / transactions (CHECKPOINT before each run, so full-page writes count)."
  echo "sqlink: replication log growth / LSN growth from the primary's /metrics at every 100 ms sample (intervals with a prune skipped);"
  echo "the log holds what the link ships: one record per transaction (page deltas, whole images of pages the capture had no earlier image of)."
  grep -h '^sent_bytes_per_tx' "$RES"/lag/*sq_async*.summary 2>/dev/null | sed 's/^/link bytes counter: /' || true
  echo
  has sqlink && [ $LINK_OK = 0 ] && echo "**sqlink link runs skipped: link create did not succeed** (logs/link_create.log)." && echo
  echo "Reproduce: \`DUR=$DUR REPS=$REPS CLIENTS=\"$CLIENTS\" SYSTEMS=\"$SYSTEMS\" SQLINK_REV=$( [ "$SQLINK_REV" = worktree ] && echo worktree || git rev-parse --short "$SQLINK_REV") bench/link_vs_postgres.sh\`"
  echo
  echo "Raw: $(realpath --relative-to="$ROOT" "$RES")/runs.csv, lag/, logs/"
} | tee "$RES/summary.md"
