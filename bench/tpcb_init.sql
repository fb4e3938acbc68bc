-- pgbench TPC-B tables at scale 1 in SQLite's dialect (pgbench -i uses COPY
-- and PostgreSQL-only DDL, so the tables are created here instead).
CREATE TABLE pgbench_branches (bid INTEGER PRIMARY KEY, bbalance INTEGER NOT NULL, filler TEXT);
CREATE TABLE pgbench_tellers (tid INTEGER PRIMARY KEY, bid INTEGER NOT NULL, tbalance INTEGER NOT NULL, filler TEXT);
CREATE TABLE pgbench_accounts (aid INTEGER PRIMARY KEY, bid INTEGER NOT NULL, abalance INTEGER NOT NULL, filler TEXT);
CREATE TABLE pgbench_history (tid INTEGER, bid INTEGER, aid INTEGER, delta INTEGER, mtime TIMESTAMP, filler TEXT);
INSERT INTO pgbench_branches (bid, bbalance, filler) VALUES (1, 0, '');
INSERT INTO pgbench_tellers (tid, bid, tbalance, filler)
  WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10)
  SELECT x, 1, 0, '' FROM n;
INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
  WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000)
  SELECT x, 1, 0, printf('%84s', '') FROM n;
