#!/usr/bin/env bash
# autofailover_vs_patroni.sh - automatic and planned failover through etcd:
# sqlink links with --auto-failover vs Patroni 3 + PostgreSQL 15, both over
# one 3-member etcd cluster on loopback, on this machine in the same run
# (issue 25, Done-when item 4). Every figure is in ms, to the first INSERT the
# new primary accepted (a psql INSERT, connect included, retried every 20 ms):
#   auto     kill -9 of the primary (Patroni: the leader's Patroni and its
#            postmaster together; sqlink: the primary instance) while idle,
#            until the other node takes a write by itself;
#   planned  Patroni: `patronictl switchover --leader L --candidate O --force`;
#            sqlink: `sqlink link failover L --server P --partner S`; until the
#            new primary takes a write.
# Each configuration of timings runs ROUNDS rounds: a planned failover from
# the first node to the second, then an automatic one back (the second
# killed); the killed node is started again and must follow by itself
# before the next round.
#
# Timings, a list of TTL/LOOP_WAIT/RETRY_TIMEOUT in seconds (CONFIGS, default
# "10/2/4 30/10/10": equal settings, then Patroni's defaults). Patroni gets
# them as ttl, loop_wait and retry_timeout; sqlink gets --lease-ttl TTL
# (SQ_LINK_ARGS adds link create flags, SQ_SERVE_ARGS serve flags).
# Replication mode: the sqlink link is --two-way --mode $SQ_MODE (default
# sync: no acknowledged loss); Patroni runs asynchronous replication, its
# default, unless PAT_SYNC=true (synchronous_mode).
# SQ_NO_ETCD=1 checks the sqlink side's plumbing with a binary that lacks
# the etcd flags: the same steps without them (auto rows then time out).
#
# Usage: bench/autofailover_vs_patroni.sh
#   ROUNDS=5 CONFIGS="10/2/4 30/10/10" SIDES="patroni sqlink" SQLINK_REV=HEAD
#   SIDES=patroni runs Patroni alone; the sqlink side is skipped, with a
#   note, when the binary has no `serve --etcd-endpoints` or `link create
#   --auto-failover`. KEEP=1 keeps the data directory ($OUT).
# Needs (Debian): postgresql-15, patroni, etcd-server, jq; runs as root,
# PostgreSQL and Patroni as the OS user $PGUSER_OS (created if missing).
# Output: markdown table on stdout and $RES/summary.md; raw rows in
# $RES/runs.csv, logs in $RES/logs (default $TMPDIR or /tmp,
# sqlink-bench-results/autofailover_vs_patroni/<UTC time>).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-5}; CONFIGS=${CONFIGS:-"10/2/4 30/10/10"}; SIDES=${SIDES:-"patroni sqlink"}
SQ_MODE=${SQ_MODE:-sync}; PAT_SYNC=${PAT_SYNC:-false}; SQ_NO_ETCD=${SQ_NO_ETCD:-0}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES=${RES:-${TMPDIR:-/tmp}/sqlink-bench-results/autofailover_vs_patroni/$STAMP}
OUT=${OUT:-$(mktemp -d /tmp/sqlink-afbench.XXXXXX)}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGUSER_OS=${PGUSER_OS:-pgbench}
H=127.0.0.1
TOKEN=sqlk_bench_token_0123456789; SQPW=benchpw; LINK=L
mkdir -p "$OUT" "$RES/logs"; chmod 755 "$OUT"
has() { [[ " $SIDES " == *" $1 "* ]]; }
now_ms() { date +%s%3N; }
log() { echo "[$(date +%T)] $*" >&2; }
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
echo "data in $OUT, results in $RES" >&2
CSV=$RES/runs.csv
echo "system,config,measure,round,from,to,ms,detail" >"$CSV"
row() { echo "$1,$2,$3,$4,$5,$6,$7,${8:-}" | tee -a "$CSV" >&2; }
median() { sort -n | awk '{a[NR]=$1} END{ if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2) }'; }
need="etcd jq psql"; has patroni && need="patroni patronictl $need"
for c in $need; do
  command -v $c >/dev/null || { echo "missing $c: apt-get install -y --no-install-recommends patroni etcd-server jq postgresql-15" >&2; exit 2; }
done
id "$PGUSER_OS" >/dev/null 2>&1 || useradd -m "$PGUSER_OS"
chown "$PGUSER_OS:" "$OUT"

# --- cleanup: every process we started, then the data ---------------------------------
PIDS=()
cleanup() {
  set +e
  local p i d
  for d in "$OUT"/pat-*; do [ -d "$d" ] && PAT_DIR=$d pat_stop; done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  # postmasters whose Patroni was killed: stop them by their data directory's pid
  for f in "$OUT"/pat*/pg*/postmaster.pid; do [ -f "$f" ] && kill -9 "$(head -1 "$f")" 2>/dev/null; done
  for f in "$OUT"/*.log "$OUT"/pat*/*.log; do [ -f "$f" ] && cp "$f" "$RES/logs/" 2>/dev/null; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- etcd: three members on loopback, shared by both sides ----------------------------
E_C=(); E_P=()
for i in 1 2 3; do E_C+=("$(port)"); E_P+=("$(port)"); done
ECLUSTER="e1=http://$H:${E_P[0]},e2=http://$H:${E_P[1]},e3=http://$H:${E_P[2]}"
ETCD_URLS="http://$H:${E_C[0]},http://$H:${E_C[1]},http://$H:${E_C[2]}"
ETCD_HOSTS="$H:${E_C[0]},$H:${E_C[1]},$H:${E_C[2]}"
log "etcd: 3 members, clients on $ETCD_URLS"
for i in 0 1 2; do
  n=e$((i + 1))
  etcd --name $n --data-dir "$OUT/etcd-$n" --listen-client-urls "http://$H:${E_C[$i]}" --advertise-client-urls "http://$H:${E_C[$i]}" \
    --listen-peer-urls "http://$H:${E_P[$i]}" --initial-advertise-peer-urls "http://$H:${E_P[$i]}" \
    --initial-cluster "$ECLUSTER" --initial-cluster-state new --initial-cluster-token "afbench-$STAMP" >"$OUT/etcd-$n.log" 2>&1 &
  PIDS+=($!)
done
for i in $(seq 1 300); do
  ok=0; for c in "${E_C[@]}"; do curl -sf "http://$H:$c/health" | grep -q '"health":"true"' && ok=$((ok + 1)); done
  [ $ok = 3 ] && break; sleep 0.1
done
[ $ok = 3 ] || { log "etcd did not become healthy"; exit 1; }
ETCD_VER=$(etcd --version | awk 'NR==1{print $3}')

# first_write SYSTEM_PSQL_FN NODE T0 LIMIT_S -> ms from T0 until an INSERT succeeded, or "timeout"
first_write() {
  local fn=$1 node=$2 t0=$3 limit=$4 end
  end=$(( $(now_ms) + limit * 1000 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    "$fn" "$node" "insert into marker(note) values ('w')" >"$RES/logs/last_write_error.txt" 2>&1 && { echo $(( $(now_ms) - t0 )); return 0; }
    sleep 0.02
  done
  cat "$RES/logs/last_write_error.txt" >&2
  echo timeout
}
late() { [ "$1" = timeout ] && echo "; no write within $2 s"; return 0; }

# ======================= Patroni 3 + PostgreSQL 15: nodes pg1 and pg2 ===================
# pat_conf DIR NAME PGPORT RESTPORT SCOPE TTL LOOP RETRY
pat_conf() {
  cat >"$1/$2.yml" <<YML
scope: $5
namespace: /afbench/
name: $2
restapi: {listen: $H:$4, connect_address: $H:$4}
etcd3: {hosts: "$ETCD_HOSTS"}
bootstrap:
  dcs:
    ttl: $6
    loop_wait: $7
    retry_timeout: $8
    synchronous_mode: $PAT_SYNC
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      parameters: {wal_level: replica, hot_standby: "on", max_wal_senders: 5, max_replication_slots: 5, wal_log_hints: "on"}
  initdb: [{encoding: UTF8}, {locale: C.UTF-8}]
postgresql:
  listen: $H:$3
  connect_address: $H:$3
  data_dir: $1/$2
  bin_dir: $PGBIN
  pgpass: $1/pgpass-$2
  authentication:
    superuser: {username: $PGUSER_OS, password: benchpw}
    replication: {username: replicator, password: benchpw}
    rewind: {username: $PGUSER_OS, password: benchpw}
  pg_hba:
    - local all all trust
    - host all all $H/32 trust
    - host replication replicator $H/32 trust
  parameters: {shared_buffers: 128MB, fsync: "on", synchronous_commit: "on", unix_socket_directories: "$1"}
YML
  chown "$PGUSER_OS:" "$1/$2.yml"
}
PAT_DIR=""; declare -A PAT_PG PAT_REST PAT_PID
pat_start() { # pat_start NODE
  runuser -u "$PGUSER_OS" -- patroni "$PAT_DIR/$1.yml" >>"$PAT_DIR/patroni-$1.log" 2>&1 &
  PIDS+=($!); PAT_PID[$1]=$!
}
pat_wait() { # pat_wait NODE primary|replica LIMIT_S: until the node's REST API says so
  local end=$(( $(now_ms) + $3 * 1000 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    curl -sf --max-time 2 "http://$H:${PAT_REST[$1]}/$2" >/dev/null && return 0
    sleep 0.2
  done
  log "Patroni $1 is not $2 after $3 s"; return 1
}
pat_psql() { "$PGBIN/psql" -X -q -At -h $H -p "${PAT_PG[$1]}" -U "$PGUSER_OS" -d postgres -c "$2"; }
pat_caught_up() { # pat_caught_up LEADER REPLICA LIMIT_S: streaming and replayed the leader's WAL
  # (Patroni lets an async replica within maximum_lag_on_failover take over, so
  # a switchover right after a write can lose it: wait as an operator would)
  local end=$(( $(now_ms) + $3 * 1000 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    [ "$(pat_psql "$1" "select count(*) from pg_stat_replication where application_name='$2'
          and state='streaming' and replay_lsn >= pg_current_wal_lsn()" 2>/dev/null || echo 0)" = 1 ] && return 0
    sleep 0.1
  done
  log "Patroni $2 has not replayed $1's WAL after $3 s"; return 1
}
pat_leader() { curl -sf --max-time 2 "http://$H:${PAT_REST[pg1]}/primary" >/dev/null && echo pg1 || echo pg2; }
pat_other() { [ "$1" = pg1 ] && echo pg2 || echo pg1; }
pat_kill() { # pat_kill NODE: kill -9 its Patroni and its postmaster at once
  local pm="" pp
  pp=$(pgrep -u "$PGUSER_OS" -f "patroni $PAT_DIR/$1.yml" | tr '\n' ' ')
  [ -f "$PAT_DIR/$1/postmaster.pid" ] && pm=$(head -1 "$PAT_DIR/$1/postmaster.pid")
  kill -9 $pp $pm
}
pat_run() { # pat_run TTL LOOP RETRY
  local ttl=$1 lw=$2 rt=$3 cfg="$1/$2/$3" r L O t0 ms limit
  # Bounds scale with the timings: a failover takes up to about TTL + LOOP_WAIT,
  # a killed node's return (crash recovery, pg_rewind, start) a few loops more.
  limit=$(( 60 + 3 * ttl + 3 * lw ))
  PAT_DIR="$OUT/pat-$ttl-$lw-$rt"; mkdir -p "$PAT_DIR"; chown "$PGUSER_OS:" "$PAT_DIR"; chmod 755 "$PAT_DIR"
  PAT_PG[pg1]=$(port); PAT_PG[pg2]=$(port); PAT_REST[pg1]=$(port); PAT_REST[pg2]=$(port)
  for n in pg1 pg2; do pat_conf "$PAT_DIR" $n "${PAT_PG[$n]}" "${PAT_REST[$n]}" "bench-$ttl-$lw-$rt" "$ttl" "$lw" "$rt"; done
  log "Patroni $cfg: bootstrap pg1, then pg2 as its replica"
  pat_start pg1; pat_wait pg1 primary 300
  pat_start pg2; pat_wait pg2 replica 300
  pat_psql pg1 "create table marker(id serial primary key, note text, ts timestamptz default now())"
  for r in $(seq 1 "$ROUNDS"); do
    L=$(pat_leader); O=$(pat_other "$L")
    pat_wait "$O" replica "$limit" && pat_caught_up "$L" "$O" "$limit" || true
    t0=$(now_ms)
    patronictl -c "$PAT_DIR/$L.yml" switchover --leader "$L" --candidate "$O" --force >>"$PAT_DIR/switchover.log" 2>&1 ||
      log "switchover $L->$O refused: $(tail -2 "$PAT_DIR/switchover.log" | tr '\n' ' ')"
    ms=$(first_write pat_psql "$O" "$t0" "$limit")
    row patroni "$cfg" planned "$r" "$L" "$O" "${ms/timeout/}" "patronictl switchover$(late "$ms" "$limit")"
    # auto: kill -9 the new leader once the old one follows it
    pat_wait "$L" replica "$limit" && pat_caught_up "$O" "$L" "$limit" || true
    L=$O; O=$(pat_other "$L")
    t0=$(now_ms); pat_kill "$L"
    ms=$(first_write pat_psql "$O" "$t0" "$limit")
    row patroni "$cfg" auto "$r" "$L" "$O" "${ms/timeout/}" "kill -9 patroni+postmaster$(late "$ms" "$limit")"
    t0=$(now_ms); pat_start "$L"
    if pat_wait "$L" replica "$limit"; then
      row patroni "$cfg" rejoin "$r" "$L" "$O" $(( $(now_ms) - t0 )) "restart until /replica"
    else
      row patroni "$cfg" rejoin "$r" "$L" "$O" "" "not a replica after $limit s"
    fi
  done
  pat_stop
}
pat_stop() { # stop this configuration's Patroni processes (they stop their PostgreSQL)
  local pp p i
  pp=$(pgrep -u "$PGUSER_OS" -f "patroni $PAT_DIR/" || true)
  for p in $pp; do kill "$p" 2>/dev/null || true; done
  for p in $pp; do
    for i in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
}

# ======================= sqlink: instances A and B, a link with --auto-failover =========
. bench/lib.sh
SQ_OK=0; SQ_SKIP=""
if has sqlink; then
  build_sqlink
  SQ=$OUT/sqlink
  if [ "$SQ_NO_ETCD" = 1 ]; then
    SQ_OK=1; SQ_SKIP="SQ_NO_ETCD=1: the sqlink side ran without etcd, a plumbing check; its figures mean nothing"
  elif ! "$SQ" serve --help 2>&1 | grep -q -- --etcd-endpoints || ! "$SQ" link create --help 2>&1 | grep -q -- --auto-failover; then
    SQ_SKIP="sqlink ${SQREV} has no \`serve --etcd-endpoints\` or \`link create --auto-failover\`: sqlink side skipped"
    log "$SQ_SKIP"
  else
    SQ_OK=1
  fi
fi
declare -A SQ_C SQ_A SQ_E SQ_PID
SQ_DIR=""
sqadmin() { echo "http://$H:${SQ_A[$1]}"; }
sq_other() { [ "$1" = A ] && echo B || echo A; }
sq_start() { # sq_start A|B
  "$SQ" serve --data-dir "$SQ_DIR/sq$1" --client-addr "$H:${SQ_C[$1]}" --admin-addr "$H:${SQ_A[$1]}" --endpoint-addr "$H:${SQ_E[$1]}" \
    $([ "$SQ_NO_ETCD" = 1 ] || echo --etcd-endpoints "$ETCD_URLS") $(sq_http_flag "$SQ") ${SQ_SERVE_ARGS:-} >>"$SQ_DIR/sq$1.log" 2>&1 &
  PIDS+=($!); SQ_PID[$1]=$!
  local i; for i in $(seq 1 200); do curl -fs "$(sqadmin "$1")/healthz" >/dev/null 2>&1 && return 0; sleep 0.05; done
  log "sqlink $1 did not start"; return 1
}
sq_api() { curl -fsS --max-time 5 -H "Authorization: Bearer $TOKEN" "$(sqadmin "$1")$2"; }
sq_psql() { PGPASSWORD=$SQPW psql -X -q -At -h $H -p "${SQ_C[$1]}" -U admin -d bench -c "$2"; }
sq_role() { sq_api "$1" "/v1/links/$LINK" 2>/dev/null | jq -r '.local.role' 2>/dev/null || true; }
sq_primary() { [ "$(sq_role A)" = PRIMARY ] && echo A || echo B; }
sq_caught_up() { # sq_caught_up PRIMARY SECONDARY LIMIT_S: the secondary follows and has redone the primary's last commit
  local p s end=$(( $(now_ms) + $3 * 1000 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    p=$(sq_api "$1" "/v1/links/$LINK" 2>/dev/null | jq -r 'select(.local.role=="PRIMARY") | .local.last_commit_lsn' 2>/dev/null || true)
    s=$(sq_api "$2" "/v1/links/$LINK" 2>/dev/null | jq -r 'select(.local.role=="SECONDARY" and .local.database_state=="ONLINE") | .local.last_redone_lsn' 2>/dev/null || true)
    [ -n "$p" ] && [ -n "$s" ] && [ "$s" -ge "$p" ] && return 0
    sleep 0.1
  done
  log "sqlink $2 does not follow $1 after $3 s"; return 1
}
sq_run() { # sq_run TTL LOOP RETRY
  local ttl=$1 lw=$2 rt=$3 cfg="$1/$2/$3" r P S t0 ms limit n
  limit=$(( 60 + 3 * ttl + 3 * lw ))
  SQ_DIR="$OUT/sq-$ttl-$lw-$rt"; mkdir -p "$SQ_DIR"
  echo "$TOKEN" >"$SQ_DIR/token"; echo "$SQPW" >"$SQ_DIR/pw"
  for n in A B; do
    SQ_C[$n]=$(port); SQ_A[$n]=$(port); SQ_E[$n]=$(port)
    "$SQ" init --data-dir "$SQ_DIR/sq$n" --name "bench$n" --admin-token-file "$SQ_DIR/token" --sql-password-file "$SQ_DIR/pw" >/dev/null
    sq_start $n
  done
  log "sqlink $cfg: database bench on A, link $LINK --two-way --mode $SQ_MODE --auto-failover --lease-ttl ${ttl}s to B"
  "$SQ" --server "$(sqadmin A)" --token $TOKEN db create bench >/dev/null
  sq_psql A "create table marker(id integer primary key, note text, ts text default current_timestamp)"
  "$SQ" --server "$(sqadmin A)" --token $TOKEN backup bench --to "$SQ_DIR/bench.bak" >/dev/null && rm -f "$SQ_DIR/bench.bak"
  local af="--auto-failover --lease-ttl ${ttl}s"; [ "$SQ_NO_ETCD" = 1 ] && af=""
  timeout 300 "$SQ" link create --name $LINK --database bench --two-way --mode "$SQ_MODE" $af ${SQ_LINK_ARGS:-} \
    --primary "$(sqadmin A)" --primary-token $TOKEN --secondary "$(sqadmin B)" --secondary-token $TOKEN \
    </dev/null >"$RES/logs/sq_link_create_$ttl.log" 2>&1 || { log "link create failed: $(tail -3 "$RES/logs/sq_link_create_$ttl.log")"; return 1; }
  sq_caught_up A B 120 || return 1
  for r in $(seq 1 "$ROUNDS"); do
    P=$(sq_primary); S=$(sq_other "$P")
    sq_caught_up "$P" "$S" "$limit" || true
    t0=$(now_ms)
    timeout 300 "$SQ" link failover $LINK --server "$(sqadmin "$P")" --token $TOKEN \
      --partner "$(sqadmin "$S")" --partner-token $TOKEN --json </dev/null >"$RES/logs/sq_failover_${ttl}_$r.json" 2>"$RES/logs/sq_failover_${ttl}_$r.err" ||
      log "sqlink failover $P->$S failed: $(tail -2 "$RES/logs/sq_failover_${ttl}_$r.err" | tr '\n' ' ')"
    ms=$(first_write sq_psql "$S" "$t0" "$limit")
    row sqlink "$cfg" planned "$r" "bench$P" "bench$S" "${ms/timeout/}" "sqlink link failover$(late "$ms" "$limit")"
    # auto: kill -9 the new primary once the old one follows it
    sq_caught_up "$S" "$P" "$limit" || true
    P=$S; S=$(sq_other "$P")
    t0=$(now_ms); kill -9 "${SQ_PID[$P]}"; wait "${SQ_PID[$P]}" 2>/dev/null || true
    ms=$(first_write sq_psql "$S" "$t0" "$limit")
    row sqlink "$cfg" auto "$r" "bench$P" "bench$S" "${ms/timeout/}" "kill -9 of the primary$(late "$ms" "$limit")"
    t0=$(now_ms); sq_start "$P"
    if sq_caught_up "$S" "$P" "$limit"; then
      row sqlink "$cfg" rejoin "$r" "bench$P" "bench$S" $(( $(now_ms) - t0 )) "restart until it follows and caught up"
    else
      row sqlink "$cfg" rejoin "$r" "bench$P" "bench$S" "" "does not follow after $limit s"
    fi
  done
  "$SQ" link verify $LINK --primary "$(sqadmin "$(sq_primary)")" --primary-token $TOKEN \
    --secondary "$(sqadmin "$(sq_other "$(sq_primary)")")" --secondary-token $TOKEN </dev/null >"$RES/logs/sq_verify_$ttl.log" 2>&1 &&
    log "link verify: $(tail -1 "$RES/logs/sq_verify_$ttl.log")" || log "link verify failed: $(tail -2 "$RES/logs/sq_verify_$ttl.log")"
  for n in A B; do kill "${SQ_PID[$n]}" 2>/dev/null || true; done
  for n in A B; do wait "${SQ_PID[$n]}" 2>/dev/null || true; done
}

# ======================= the runs ========================================================
for c in $CONFIGS; do
  IFS=/ read -r ttl lw rt <<<"$c"
  has patroni && pat_run "$ttl" "$lw" "$rt"
  [ $SQ_OK = 1 ] && { sq_run "$ttl" "$lw" "$rt" || log "sqlink $c stopped early"; }
done

# ======================= summary =========================================================
stat() { # stat SYSTEM CONFIG MEASURE -> "median (min-max, n=N)"
  local v t
  v=$(awk -F, -v s="$1" -v c="$2" -v m="$3" 'NR>1 && $1==s && $2==c && $3==m && $7!="" {print $7}' "$CSV")
  t=$(awk -F, -v s="$1" -v c="$2" -v m="$3" 'NR>1 && $1==s && $2==c && $3==m && $7=="" {n++} END{print n+0}' "$CSV")
  [ -z "$v" ] && { [ "$t" -gt 0 ] && echo "none of $t" || echo "n/a"; return; }
  echo "$(echo "$v" | median) ($(echo "$v" | sort -n | head -1)-$(echo "$v" | sort -n | tail -1), n=$(echo "$v" | wc -l)$([ "$t" -gt 0 ] && echo ", $t failed"))"
}
{
  echo "## Automatic failover through etcd: sqlink vs Patroni 3 + PostgreSQL 15 ($STAMP)"
  echo
  echo "ms to the first INSERT the new primary accepted (psql connect included, retried every 20 ms); median (min-max, n)"
  echo "over $ROUNDS round(s) (each: planned one way, auto back); etcd $ETCD_VER, 3 members; $(patroni --version 2>/dev/null); $(nproc) cores;"
  echo "sqlink ${SQREV:-n/a}$([ $SQ_OK = 1 ] && echo ", link --mode $SQ_MODE"); Patroni synchronous_mode: $PAT_SYNC."
  echo "Timings TTL/LOOP_WAIT/RETRY_TIMEOUT in s (sqlink: --lease-ttl TTL)."
  echo
  echo "| timings | measure | sqlink | Patroni |"
  echo "|---|---|---|---|"
  for c in $CONFIGS; do
    for m in auto planned rejoin; do
      echo "| $c | $m | $(stat sqlink "$c" $m) | $(stat patroni "$c" $m) |"
    done
  done
  echo
  echo "auto: kill -9 of the primary (Patroni: its Patroni and postmaster) until the other node takes a write;"
  echo "planned: \`sqlink link failover\` / \`patronictl switchover --force\` until the new primary takes a write;"
  echo "rejoin: restart of the killed node until it follows the new primary (sqlink: and has caught up)."
  [ -n "$SQ_SKIP" ] && { echo; echo "$SQ_SKIP."; }
  echo
  echo "Reproduce: \`ROUNDS=$ROUNDS CONFIGS=\"$CONFIGS\" SIDES=\"$SIDES\"$([ "$SQ_NO_ETCD" = 1 ] && echo " SQ_NO_ETCD=1") SQ_MODE=$SQ_MODE PAT_SYNC=$PAT_SYNC SQLINK_REV=$SQLINK_REV bench/autofailover_vs_patroni.sh\`"
  echo
  echo "Raw: $RES/runs.csv, logs/"
} | tee "$RES/summary.md"
