#!/usr/bin/env bash
# pg_standby_cpu.sh - the CPU time PostgreSQL 15's primary and its async
# standby use per pgbench TPC-B transaction (prepared, C clients, T s):
# the figure bench/link_ab.sh prints for sqlink's two instances (utime +
# stime of each postmaster and its children, from /proc), to compare what
# a standby costs on this machine with what a sqlink secondary costs.
# Setup as link_vs_postgres.sh (the anchors' settings, pgbench -i -s 1,
# pg_basebackup -R); everything is removed at the end.
#
# Usage: CLIENTS="1 4" T=20 bench/pg_standby_cpu.sh
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}; U=${PGUSER_OS:-pgbench}; H=127.0.0.1
P=${PG_P:-15552}; S=${PG_S:-15553}; T=${T:-20}; CLIENTS=${CLIENTS:-"1 4"}
OUT=$(mktemp -d /tmp/pgcpu.XXXXXX); chmod 755 "$OUT"
as_pg() { runuser -u "$U" -- "$@"; }
id "$U" >/dev/null 2>&1 || useradd -m "$U"
mkdir -p "$OUT/run" "$OUT/p"; chown "$U:" "$OUT/run" "$OUT/p"; chmod 700 "$OUT/p"
cleanup() {
  for d in s p; do [ -f "$OUT/$d/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$OUT/$d" stop -m immediate >/dev/null 2>&1 || true; done
  rm -rf "$OUT"
}
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$OUT/p" -U "$U" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
. "$(dirname "$0")/lib.sh"
pg_primary_conf $H "$P" "$OUT/run" >>"$OUT/p/postgresql.conf"
as_pg "$PGBIN/pg_ctl" -D "$OUT/p" -l "$OUT/run/p.log" -w start >/dev/null
"$PGBIN/psql" -X -q -h $H -p "$P" -U "$U" -d postgres -c "create database bench"
"$PGBIN/pgbench" -h $H -p "$P" -U "$U" -i -s 1 -q bench >/dev/null 2>&1
mkdir -p "$OUT/s"; chown "$U:" "$OUT/s"; chmod 700 "$OUT/s"
as_pg "$PGBIN/pg_basebackup" -h $H -p "$P" -U "$U" -D "$OUT/s" -R -X stream -c fast
echo "port = $S" >>"$OUT/s/postgresql.conf"
as_pg "$PGBIN/pg_ctl" -D "$OUT/s" -l "$OUT/run/s.log" -w start >/dev/null
# ticks DIR: CPU ticks of the postmaster of DIR and its children so far
ticks() {
  local p t=0 c st; p=$(head -1 "$1/postmaster.pid")
  for c in $p $(ps -o pid= --ppid "$p"); do
    st=$(cat "/proc/$c/stat" 2>/dev/null) || continue
    st=${st##*) }; set -- $st; t=$(( t + ${12} + ${13} + ${14} + ${15} ))
  done
  echo $t
}
HZ=$(getconf CLK_TCK)
for c in $CLIENTS; do
  a0=$(ticks "$OUT/p"); b0=$(ticks "$OUT/s")
  out=$("$PGBIN/pgbench" -h $H -p "$P" -U "$U" -n -M prepared -c "$c" -j "$c" -T "$T" bench 2>&1)
  a1=$(ticks "$OUT/p"); b1=$(ticks "$OUT/s")
  tx=$(awk '/number of transactions actually processed/{print $NF}' <<<"$out")
  echo "postgres clients=$c tps=$(awk '/^tps/{print $3}' <<<"$out") cpu_us_per_tx primary=$(( (a1 - a0) * 1000000 / HZ / tx )) standby=$(( (b1 - b0) * 1000000 / HZ / tx ))"
done
