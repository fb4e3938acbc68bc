#!/usr/bin/env bash
# lib.sh - pieces shared by the benchmark scripts; sourced, does nothing by itself.

# build_sqlink builds $OUT/sqlink (and $OUT/lagsample) from commit
# $SQLINK_REV (default HEAD) exported with git archive, so uncommitted work of
# others in a shared tree neither breaks nor skews a run; SQLINK_REV=worktree
# builds the working tree. bench/lagsample always comes from the working
# tree. Sets SQREV to what was built.
SQLINK_REV=${SQLINK_REV:-HEAD}

# The benchmarks compare plain-text sessions on loopback, as they did before
# the client listener offered TLS (libpq's default, sslmode=prefer, would now
# take it on sqlink's side only).
export PGSSLMODE=${PGSSLMODE:-disable}

# sq_http_flag BIN: --insecure-admin-http if BIN has it, so that the scripts'
# curl and http:// URLs keep reaching the admin API on loopback, with this
# commit's binary and with older ones (A/B runs) alike.
sq_http_flag() {
  "$1" serve --help 2>&1 | grep -q -- --insecure-admin-http && echo --insecure-admin-http
  return 0
}

build_sqlink() {
  if [ -n "${SQBIN:-}" ]; then # a binary built beforehand (an experiment)
    SQREV="binary $SQBIN"
    cp "$SQBIN" "$OUT/sqlink" && go build -o "$OUT/lagsample" ./bench/lagsample
    return
  fi
  if [ "$SQLINK_REV" = worktree ]; then
    SQREV="worktree($(git rev-parse --short HEAD)+changes)"
    go build -o "$OUT/sqlink" ./cmd/sqlink && go build -o "$OUT/lagsample" ./bench/lagsample
    return
  fi
  SQREV=$(git rev-parse --short "$SQLINK_REV")
  rm -rf "$OUT/src"; mkdir -p "$OUT/src"
  git archive "$SQLINK_REV" | tar -x -C "$OUT/src"
  rm -rf "$OUT/src/bench/lagsample"; cp -r bench/lagsample "$OUT/src/bench/"
  (cd "$OUT/src" && go build -o "$OUT/sqlink" ./cmd/sqlink && go build -o "$OUT/lagsample" ./bench/lagsample)
  rm -rf "$OUT/src"
}

# proc_ticks PID: the CPU time (utime+stime+cutime+cstime) of a process so
# far, in clock ticks (getconf CLK_TCK a second); 0 if it is gone.
proc_ticks() {
  local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  st=${st##*) }; set -- $st; echo $(( ${12} + ${13} + ${14} + ${15} ))
}

# sq_pair_up NAME: init and serve two sqlink instances from $SQ, named NAME
# followed by A and B, data in $OUT/sqA and $OUT/sqB, logs $OUT/sqA.log and
# $OUT/sqB.log, on $H ports SQA_C/SQA_A/SQA_E and SQB_C/SQB_A/SQB_E (client,
# admin, endpoint), with admin token $TOKEN and SQL password $SQPW; returns
# once both answer. Their pids are appended to PIDS and SQSRV.
# SQB_DIR=path puts B's data there instead (e.g. on tmpfs, to see what the
# secondary's disk costs); the directory must not exist yet. SQA_ARGS and
# SQB_ARGS add serve flags (e.g. SQA_ARGS="--debug-addr 127.0.0.1:6060").
sq_pair_up() {
  echo "$TOKEN" >"$OUT/token"; echo "$SQPW" >"$OUT/pw"
  local n c a e i extra
  for n in A B; do
    if [ $n = A ]; then c=$SQA_C a=$SQA_A e=$SQA_E extra=${SQA_ARGS:-}; else c=$SQB_C a=$SQB_A e=$SQB_E extra=${SQB_ARGS:-}; fi
    if [ $n = B ] && [ -n "${SQB_DIR:-}" ]; then mkdir "$SQB_DIR" && ln -s "$SQB_DIR" "$OUT/sqB"; fi
    "$SQ" init --data-dir "$OUT/sq$n" --name "$1$n" --admin-token-file "$OUT/token" --sql-password-file "$OUT/pw" >/dev/null
    "$SQ" serve --data-dir "$OUT/sq$n" --client-addr "$H:$c" --admin-addr "$H:$a" --endpoint-addr "$H:$e" $(sq_http_flag "$SQ") $extra >"$OUT/sq$n.log" 2>&1 &
    PIDS+=($!); SQSRV+=($!)
    for i in $(seq 1 100); do curl -fs "http://$H:$a/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  done
}

# sq_tpcb_dbs DB...: creates each database on instance A with the TPC-B
# tables (bench/tpcb_init.sql).
sq_tpcb_dbs() {
  local d
  for d in "$@"; do
    "$SQ" --server "http://$H:$SQA_A" --token "$TOKEN" db create "$d" >/dev/null
    PGPASSWORD=$SQPW psql -X -q -h $H -p "$SQA_C" -U admin -d "$d" -v ON_ERROR_STOP=1 -f bench/tpcb_init.sql >/dev/null
  done
}

# sq_chain_backup DB: takes a full backup of DB on instance A, which starts
# the backup chain that link create requires; the file is not kept.
sq_chain_backup() {
  "$SQ" --server "http://$H:$SQA_A" --token "$TOKEN" backup "$1" --to "$OUT/$1.bak" >/dev/null && rm -f "$OUT/$1.bak"
}

# pg_primary_conf HOST PORT SOCKDIR: the settings of a benchmark's
# PostgreSQL primary with a standby, for its postgresql.conf: the anchors'
# COMMON_CONF (../shared/anchors/postgres/01_setup_primary.sh), with a host,
# port and socket directory of our own.
pg_primary_conf() {
  cat <<CONF
listen_addresses = '$1'
port = $2
unix_socket_directories = '$3'
shared_buffers = 1GB
wal_level = replica
fsync = on
synchronous_commit = on
synchronous_standby_names = ''
full_page_writes = on
max_wal_size = 8GB
min_wal_size = 1GB
wal_keep_size = 4GB
max_wal_senders = 10
hot_standby = on
CONF
}

# tpcb_init_sql SCALE: bench/tpcb_init.sql (scale 1) rewritten for SCALE
# branches, 10 x SCALE tellers and 100,000 x SCALE accounts, as pgbench -i
# -s SCALE makes them; on stdout.
tpcb_init_sql() {
  local s=$1
  sed -e "s/VALUES (1, 0, '')/SELECT x, 0, '' FROM (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $s) SELECT x FROM n)/" \
      -e "s/x < 10)/x < $((10 * s)))/; s/SELECT x, 1, 0, '' FROM n/SELECT x, (x - 1) \/ 10 + 1, 0, '' FROM n/" \
      -e "s/x < 100000)/x < $((100000 * s)))/; s/SELECT x, 1, 0, printf/SELECT x, (x - 1) \/ 100000 + 1, 0, printf/" bench/tpcb_init.sql
}

# --- one PostgreSQL 15 and one sqlink, for the *_vs_postgres comparisons ---

# bench_out NAME: a new directory for a run's raw output, outside the
# repository: under ${TMPDIR:-/tmp}/sqlink-bench-results.
bench_out() {
  mkdir -p "${TMPDIR:-/tmp}/sqlink-bench-results"
  mktemp -d "${TMPDIR:-/tmp}/sqlink-bench-results/$1.XXXXXX"
}

# as_pg CMD...: runs CMD as the PostgreSQL OS user $PGUSER_OS.
as_pg() { runuser -u "$PGUSER_OS" -- "$@"; }

# pg_single_conf HOST PORT SOCKDIR: the settings of a benchmark's lone
# PostgreSQL, for its postgresql.conf: durable commits (fsync=on,
# synchronous_commit=on, the defaults), full-page writes, 1 GB of shared
# buffers and room for the WAL between checkpoints.
pg_single_conf() {
  cat <<CONF
listen_addresses = '$1'
port = $2
unix_socket_directories = '$3'
shared_buffers = 1GB
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_size = 8GB
CONF
}

# pg_up: initdb and start a lone PostgreSQL from $PGBIN (default
# /usr/lib/postgresql/15/bin) as the OS user $PGUSER_OS (default pgbench,
# made if missing), data in $OUT/pg, on 127.0.0.1:$PG_PORT, trusting local
# connections. Sets PGDATA and PGPID (the postmaster). pg_down stops it.
pg_up() {
  PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}; PGUSER_OS=${PGUSER_OS:-pgbench}
  id "$PGUSER_OS" >/dev/null 2>&1 || useradd -m "$PGUSER_OS"
  PGDATA=$OUT/pg
  mkdir -p "$PGDATA"; chown "$PGUSER_OS:" "$PGDATA"; chmod 700 "$PGDATA"
  as_pg "$PGBIN/initdb" -D "$PGDATA" -U "$PGUSER_OS" --auth=trust -E UTF8 --locale=C.UTF-8 >"$OUT/initdb.log"
  pg_single_conf 127.0.0.1 "$PG_PORT" "$PGDATA" >>"$PGDATA/postgresql.conf"
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/pg.log" -w start >/dev/null
  PGPID=$(head -1 "$PGDATA/postmaster.pid")
}

# pg_down: stops the PostgreSQL of pg_up, if it runs (for an EXIT trap).
pg_down() {
  [ -n "${PGDATA:-}" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1
  return 0
}

# pg_psql ARGS...: psql to the PostgreSQL of pg_up as $PGUSER_OS.
pg_psql() { "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PGUSER_OS" "$@"; }

# sq_one_up BIN DIR NAME CLIENT_ADDR ADMIN_ADDR [SERVE_ARGS...]: inits and
# serves one sqlink instance from BIN, data in DIR, log DIR.log, admin
# token $TOKEN and SQL password $SQPW (defaults below), plain HTTP admin
# on loopback; returns once it answers. Sets SQ_PID.
TOKEN=${TOKEN:-sqlk_bench_token_0123456789}; SQPW=${SQPW:-benchpw}
sq_one_up() {
  local bin=$1 dir=$2 name=$3 caddr=$4 aaddr=$5 i; shift 5
  echo "$TOKEN" >"$OUT/token"; echo "$SQPW" >"$OUT/pw"
  "$bin" init --data-dir "$dir" --name "$name" --admin-token-file "$OUT/token" --sql-password-file "$OUT/pw" >/dev/null
  "$bin" serve --data-dir "$dir" --client-addr "$caddr" --admin-addr "$aaddr" --endpoint-addr 127.0.0.1:0 \
    $(sq_http_flag "$bin") "$@" >"$dir.log" 2>&1 &
  SQ_PID=$!
  for i in $(seq 1 100); do curl -fs "http://$aaddr/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}
