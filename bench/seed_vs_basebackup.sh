#!/usr/bin/env bash
# seed_vs_basebackup.sh - seeding throughput: sqlink `link create` of a ~1 GiB
# database from scratch until the secondary is ONLINE, next to pg_basebackup
# of a ~1 GiB PostgreSQL 15 database, on this machine, in the same run,
# interleaved (PostgreSQL first in each round).
#
# Both databases hold one table of SIZE_MB rows of 1 MiB random bytes
# (sqlink: randomblob(); PostgreSQL: pgcrypto gen_random_bytes(), column
# STORAGE EXTERNAL, so neither side can compress it).
#   PostgreSQL: CHECKPOINT, then time `pg_basebackup -D DIR -X stream -c fast`
#     (as the anchors' 02_seed_and_basebackup.sh); bytes = du -sb DIR.
#   sqlink: a full backup starts the chain (not timed, file deleted), then
#     time from `sqlink link create --mode async` until the secondary's link
#     status shows database_state ONLINE and seeding COMPLETED (or no
#     seeding); bytes = the primary database's size_bytes. Seeding progress
#     (bytes_done, rate) is sampled every 100 ms into seed_progress_<round>.csv.
#     Between rounds the link is dropped on both sides and the secondary's
#     copy dropped; each round uses a new link name.
# MB/s is decimal (bytes / 1e6 / seconds), as in the anchors.
#
# Usage: bench/seed_vs_basebackup.sh   (SIZE_MB=1024 REPS=1 SQLINK_REV=HEAD)
#   SYSTEMS="postgres sqlink" runs both (either alone also works); KEEP=1 keeps $OUT;
#   SQBIN=path runs that sqlink binary instead of building SQLINK_REV;
#   SQA_ARGS/SQB_ARGS add serve flags (e.g. --debug-addr 127.0.0.1:6060 for pprof)
# Output: a markdown table on stdout and in $RES/summary.md, raw CSVs in $RES
# (default $TMPDIR or /tmp, sqlink-bench-results/seed_vs_basebackup/<UTC time>: raw output stays outside the repository; copy the summary and CSVs that BENCHMARKS.md cites into bench/results/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MB=${SIZE_MB:-1024}; REPS=${REPS:-1}; SYSTEMS=${SYSTEMS:-"postgres sqlink"}
SEED_TIMEOUT=${SEED_TIMEOUT:-900}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES=${RES:-${TMPDIR:-/tmp}/sqlink-bench-results/seed_vs_basebackup/$STAMP}
OUT=${OUT:-$(mktemp -d /tmp/sqlink-seedbench.XXXXXX)}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGUSER_OS=${PGUSER_OS:-pgbench}
H=127.0.0.1
PG_P=${PG_P:-15462}
SQA_C=${SQA_C:-15464}; SQA_E=${SQA_E:-15465}; SQA_A=${SQA_A:-15494}
SQB_C=${SQB_C:-15466}; SQB_E=${SQB_E:-15467}; SQB_A=${SQB_A:-15496}
TOKEN=sqlk_bench_token_0123456789; SQPW=benchpw
mkdir -p "$OUT" "$RES/logs"; chmod 755 "$OUT"
has() { [[ " $SYSTEMS " == *" $1 "* ]]; }
now_ms() { date +%s%3N; }
log() { echo "[$(date +%T)] $*" >&2; }
echo "data in $OUT, results in $RES" >&2
GATE_PCT=${GATE_PCT:-15}; GATE_MAX=${GATE_MAX:-120}
busy_pct() {
  local a b; a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local t=0 i; for i in 1 2 3 4 5 6 7 8; do t=$(( t + b[i] - a[i] )); done
  local idle=$(( b[4] - a[4] + b[5] - a[5] ))
  [ $t -gt 0 ] && echo $(( 100 * (t - idle) / t )) || echo 0
}
quiet_gate() { # the machine's CPU use below GATE_PCT % (at most GATE_MAX s); prints the last reading
  local t0 b; t0=$(date +%s)
  while :; do
    b=$(busy_pct)
    [ "$b" -lt "$GATE_PCT" ] && break
    [ $(( $(date +%s) - t0 )) -ge "$GATE_MAX" ] && break
  done
  echo "$b"
}

PIDS=()
as_pg() { runuser -u "$PGUSER_OS" -- "$@"; }
pgctl() { as_pg "$PGBIN/pg_ctl" -D "$1" -l "$OUT/pgrun/$(basename "$1").log" -w "${@:2}"; }
cleanup() {
  set +e
  [ -f "$OUT/pgrun/pgp/postmaster.pid" ] && pgctl "$OUT/pgrun/pgp" stop -m fast >/dev/null 2>&1
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  for f in "$OUT"/pgrun/*.log "$OUT"/sq*.log; do [ -f "$f" ] && cp "$f" "$RES/logs/" 2>/dev/null; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# sqlink is built from a commit (default HEAD; SQLINK_REV=worktree builds the working tree),
# so uncommitted work of others in the shared tree neither breaks nor skews the run;
# bench/lagsample always comes from the working tree
. bench/lib.sh

CSV=$RES/seed.csv
echo "round,system,ms,bytes,MB_per_s,db_bytes,reported_rate_MB_per_s,busy_before_pct,start,end" >"$CSV"

# --- PostgreSQL 15 ---------------------------------------------------------------------
pq() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -U "$PGUSER_OS" -h $H -p $PG_P -d "${2:-seed}" -c "$1"; }
if has postgres; then
  log "PostgreSQL: initdb, fill $SIZE_MB MiB of random blobs"
  id "$PGUSER_OS" >/dev/null 2>&1 || useradd -m "$PGUSER_OS"
  mkdir -p "$OUT/pgrun"; chown "$PGUSER_OS:" "$OUT/pgrun"; chmod 700 "$OUT/pgrun"
  as_pg "$PGBIN/initdb" -D "$OUT/pgrun/pgp" -U "$PGUSER_OS" --auth=trust -E UTF8 --locale=C.UTF-8 >"$RES/logs/initdb.log"
  cat >>"$OUT/pgrun/pgp/postgresql.conf" <<CONF
listen_addresses = '$H'
port = $PG_P
unix_socket_directories = '$OUT/pgrun'
shared_buffers = 1GB
wal_level = replica
fsync = on
max_wal_size = 8GB
min_wal_size = 1GB
max_wal_senders = 10
CONF
  pgctl "$OUT/pgrun/pgp" start >/dev/null
  pq "create database seed" postgres
  pq "create extension pgcrypto"
  pq "create table blobs(id int primary key, b bytea); alter table blobs alter column b set storage external"
  t0=$(now_ms)
  for i in $(seq 0 64 $(( SIZE_MB - 1 ))); do   # 64 MiB per statement
    n=$(( SIZE_MB - i < 64 ? SIZE_MB - i : 64 ))
    pq "insert into blobs select g, (select string_agg(gen_random_bytes(1024), ''::bytea) from generate_series(1, 1024) h
        where g > 0) from generate_series($(( i + 1 )), $(( i + n ))) g"
  done
  pq checkpoint
  PG_DB_BYTES=$(pq "select pg_database_size('seed')")
  log "PostgreSQL filled in $(( $(now_ms) - t0 )) ms: database $PG_DB_BYTES bytes"
fi
pg_round() {
  local r=$1 dest=$OUT/pgrun/bb busy
  rm -rf "$dest"; pq checkpoint; sync; busy=$(quiet_gate)
  local st t0 t1 bytes; st=$(date +%s); t0=$(now_ms)
  as_pg "$PGBIN/pg_basebackup" -h $H -p $PG_P -U "$PGUSER_OS" -D "$dest" -X stream -c fast
  t1=$(now_ms)
  bytes=$(du -sb "$dest" | cut -f1); rm -rf "$dest"
  echo "$r,postgres,$(( t1 - t0 )),$bytes,$(awk -v b="$bytes" -v t=$(( t1 - t0 )) 'BEGIN{printf "%.1f", b/1000/t}'),$PG_DB_BYTES,,$busy,$st,$(date +%s)" | tee -a "$CSV" >&2
}

# --- sqlink ------------------------------------------------------------------------------
sq_api() { # sq_api A|B METHOD PATH
  local a; [ "$1" = A ] && a=$SQA_A || a=$SQB_A
  curl -fsS --max-time 10 -X "$2" -H "Authorization: Bearer $TOKEN" "http://$H:$a$3"
}
if has sqlink; then
  log "sqlink: init + serve A and B, fill $SIZE_MB MiB of random blobs"
  build_sqlink
  SQ=$OUT/sqlink
  sq_pair_up seed
  export PGPASSWORD=$SQPW
  "$SQ" --server http://$H:$SQA_A --token $TOKEN db create seed >/dev/null
  sqq() { psql -X -q -At -v ON_ERROR_STOP=1 -h $H -p $SQA_C -U admin -d seed -c "$1"; }
  sqq "CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)"
  t0=$(now_ms)
  for i in $(seq 0 8 $(( SIZE_MB - 1 ))); do   # 8 MiB per transaction
    n=$(( SIZE_MB - i < 8 ? SIZE_MB - i : 8 ))
    sqq "INSERT INTO blobs(b) WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $n) SELECT randomblob(1048576) FROM n"
  done
  SQ_DB_BYTES=$("$SQ" --server http://$H:$SQA_A --token $TOKEN --json db show seed | jq -r .size_bytes)
  log "sqlink filled in $(( $(now_ms) - t0 )) ms: database $SQ_DB_BYTES bytes"
  "$SQ" --server http://$H:$SQA_A --token $TOKEN backup seed --to "$OUT/seed.bak" >"$RES/logs/backup.log" && rm -f "$OUT/seed.bak"
fi
SQ_FAILED=""
sq_round() {
  local r=$1 name=S$1 busy prog=$RES/seed_progress_$1.csv
  sync; busy=$(quiet_gate)
  local st t0 t1="" rate=""; st=$(date +%s); t0=$(now_ms)
  if ! timeout "$SEED_TIMEOUT" "$SQ" link create --name "$name" --database seed \
      --primary http://$H:$SQA_A --primary-token $TOKEN \
      --secondary http://$H:$SQB_A --secondary-token $TOKEN --mode async </dev/null >"$RES/logs/link_create_$r.log" 2>&1; then
    log "sqlink link create failed (logs/link_create_$r.log):"; sed 's/^/    /' "$RES/logs/link_create_$r.log" >&2
    SQ_FAILED="link create failed: $(head -3 "$RES/logs/link_create_$r.log" | tr '\n' ' ')"
    return 0
  fi
  local tc; tc=$(now_ms)
  echo "ms_since_create,state,db_state,seeding_state,bytes_done,bytes_total,rate_bytes_per_second" >"$prog"
  local deadline=$(( $(date +%s) + SEED_TIMEOUT )) s
  while [ "$(date +%s)" -lt $deadline ]; do
    s=$(sq_api B GET "/v1/links/$name" 2>/dev/null || true)
    if [ -n "$s" ]; then
      local tn line; tn=$(now_ms)
      line=$(echo "$s" | jq -r --arg t $(( tn - t0 )) '[$t, .state, .local.database_state, (.local.seeding.state // ""),
        (.local.seeding.bytes_done // ""), (.local.seeding.bytes_total // ""), (.local.seeding.rate_bytes_per_second // ""),
        (if .local.database_state == "ONLINE" and ((.local.seeding == null) or (.local.seeding.state == "COMPLETED"))
         then "done" else "" end)] | @csv' 2>/dev/null || true)
      echo "${line%,*}" >>"$prog"
      [ "${line##*,}" = '"done"' ] && { t1=$tn; break; }
    fi
    sleep 0.05
  done
  if [ -z "$t1" ]; then
    SQ_FAILED="secondary not ONLINE within $SEED_TIMEOUT s (last status: $(echo "$s" | jq -c '{state, local: {database_state: .local.database_state, seeding: .local.seeding, last_error: .local.last_error}}' 2>/dev/null))"
    log "$SQ_FAILED"
  else
    rate=$(awk -F, 'NR>1 {gsub(/"/,""); if ($4=="SEEDING" && $7+0>0) print $7/1e6}' "$prog" | sort -g |
           awk '{v[NR]=$1} END{if (NR) printf "%.1f", v[int((NR+1)/2)]}')   # median reported while SEEDING
    echo "$r,sqlink,$(( t1 - t0 )),$SQ_DB_BYTES,$(awk -v b="$SQ_DB_BYTES" -v t=$(( t1 - t0 )) 'BEGIN{printf "%.1f", b/1000/t}'),$SQ_DB_BYTES,$rate,$busy,$st,$(date +%s)" | tee -a "$CSV" >&2
    log "link create returned after $(( tc - t0 )) ms; ONLINE after $(( t1 - t0 )) ms"
  fi
  sq_api B GET "/v1/links/$name" >"$RES/link_status_B_$r.json" 2>/dev/null || true
  # drop the link on both sides and the secondary's copy, for the next round
  timeout 120 "$SQ" link drop "$name" --primary http://$H:$SQA_A --primary-token $TOKEN \
    --secondary http://$H:$SQB_A --secondary-token $TOKEN </dev/null >"$RES/logs/link_drop_$r.log" 2>&1 || true
  "$SQ" --server http://$H:$SQB_A --token $TOKEN db drop seed >/dev/null 2>&1 || true
}

for r in $(seq 1 "$REPS"); do
  has postgres && pg_round "$r"
  has sqlink && sq_round "$r"
done

# --- summary -----------------------------------------------------------------------------
med() { sort -g | awk '{v[NR]=$1} END{if(NR) print v[int((NR+1)/2)]}'; }   # lower median, as the anchors
# col SYSTEM N: column N of the system's median round, the round whose MB/s is the (lower)
# median, so that bytes, ms and MB/s in a row come from the same round
col() {
  awk -F, -v s="$1" 'NR>1 && $2==s' "$CSV" | sort -t, -k5,5g |
    awk -F, -v c="$2" '{v[NR]=$c} END{if(NR) print v[int((NR+1)/2)]}'
}
# dbrate SYSTEM: database bytes (without PostgreSQL's streamed WAL) per second in that round
dbrate() { awk -v b="$(col "$1" 6)" -v ms="$(col "$1" 3)" 'BEGIN{if (ms>0) printf "%.1f", b/ms/1000}'; }
{
  echo "## Seeding throughput: sqlink link create vs pg_basebackup ($STAMP)"
  echo
  echo "$SIZE_MB rows of 1 MiB random bytes; sqlink ${SQREV:-n/a}; $(nproc) cores; median of $REPS round(s); MB = 10^6 bytes."
  echo
  echo "| system | what is timed | bytes | ms | MB/s | database MB/s |"
  echo "|---|---|---|---|---|---|"
  has postgres && echo "| PostgreSQL 15 | pg_basebackup -X stream -c fast | $(col postgres 4) | $(col postgres 3) | $(col postgres 5) | $(dbrate postgres) |"
  if has sqlink; then
    if [ -n "$(col sqlink 5)" ]; then
      echo "| sqlink | link create until the secondary is ONLINE (seeding COMPLETED) | $(col sqlink 4) | $(col sqlink 3) | $(col sqlink 5) (status rate_bytes_per_second, median while SEEDING: $(col sqlink 7)) | $(dbrate sqlink) |"
    else
      echo "| sqlink | link create until the secondary is ONLINE | n/a | n/a | n/a: $SQ_FAILED |"
    fi
  fi
  p=$(col postgres 5); s=$(col sqlink 5)
  if [ -n "$p" ] && [ -n "$s" ]; then
    echo; echo "sqlink / PostgreSQL: **$(awk -v a="$s" -v b="$p" 'BEGIN{printf "%.2f", a/b}')x** in bytes shipped per second (goal >= 1.0x);"
    echo "$(awk -v a="$(dbrate sqlink)" -v b="$(dbrate postgres)" 'BEGIN{printf "%.2f", a/b}')x in database bytes per second (pg_basebackup also ships the WAL written meanwhile)."
    echo; echo "Every round (ms, MB/s): $(awk -F, 'NR>1 {printf "%s%s %s %s ms %s MB/s", (NR>2?"; ":""), $1, $2, $3, $5}' "$CSV")."
  fi
  echo
  echo "Reproduce: \`SIZE_MB=$SIZE_MB REPS=$REPS SYSTEMS=\"$SYSTEMS\" SQLINK_REV=$( [ "$SQLINK_REV" = worktree ] && echo worktree || git rev-parse --short "$SQLINK_REV") bench/seed_vs_basebackup.sh\`"
  echo
  echo "Raw: $(realpath --relative-to="$ROOT" "$RES")/seed.csv, seed_progress_*.csv, logs/"
} | tee "$RES/summary.md"
