"""psycopg2 and psycopg 3 compatibility check for sqlink.

Run by tests/e2e/compat_clients_test.go:
    python3 compat.py psycopg2|psycopg3 "<libpq connection string>"
Every check raises on failure; "OK" on the last line means all passed.
"""
import datetime
import decimal
import sys
import uuid

DRIVER, DSN = sys.argv[1], sys.argv[2]
# psycopg2 sends date/time and bytes values as '...'::type casts, which
# sqlink's PostgreSQL translation layer reads: the "casts" mode (a third
# argument) checks those; the main run sends their text.
CASTS = len(sys.argv) > 3 and sys.argv[3] == "casts"
if DRIVER == "psycopg2":
    import psycopg2 as db
    conn = db.connect(DSN)
    ERR_UNIQUE = db.errors.UniqueViolation
    ERR_FAILED = db.errors.InFailedSqlTransaction
    PH = "%s"
else:
    import psycopg as db
    conn = db.connect(DSN)
    ERR_UNIQUE = db.errors.UniqueViolation
    ERR_FAILED = db.errors.InFailedSqlTransaction
    PH = "%s"


def eq(got, want, what):
    if got != want or type(got) is not type(want):
        raise AssertionError(f"{what}: got {got!r} ({type(got).__name__}), want {want!r} ({type(want).__name__})")


conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE TABLE types (id BIGINT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT, f8 DOUBLE PRECISION,"
            " t TEXT, v VARCHAR(20), d DATE, tm TIME, ts TIMESTAMP, tz TIMESTAMPTZ, j JSON)")
ts = datetime.datetime(2026, 12, 5, 12, 34, 56, 123456)
tz = datetime.datetime(2026, 12, 5, 12, 34, 56, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
row = (1, True, -32768, 2147483647, -9223372036854775808, -1.5e300, "héllo ✓ 世界 \x01", "x'y\"z",
       datetime.date(2026, 12, 5), datetime.time(12, 34, 56, 123456), ts, tz, '{"a": [1, 2]}')
sent = row
if DRIVER == "psycopg2" and not CASTS:
    sent = row[:8] + ("2026-12-05", "12:34:56.123456", "2026-12-05 12:34:56.123456", "2026-12-05 12:34:56.123456+02:00") + row[12:]
cur.execute("INSERT INTO types VALUES (" + ", ".join([PH] * len(row)) + ")", sent)
cur.execute("INSERT INTO types (id) VALUES (" + PH + ")", (2,))
cur.execute("INSERT INTO types (id, i8) VALUES (" + PH + ", " + PH + ")", (3, 9223372036854775807))

cur.execute("SELECT b, i2, i4, i8, f8, t, v, d, tm, ts, tz, j FROM types WHERE id = " + PH, (1,))
got = cur.fetchone()
eq(got[0], True, "boolean")
eq(got[1], -32768, "smallint")
eq(got[2], 2147483647, "integer")
eq(got[3], -9223372036854775808, "bigint")
eq(got[4], -1.5e300, "double precision")
eq(got[5], "héllo ✓ 世界 \x01", "text")
eq(got[6], "x'y\"z", "varchar")
eq(got[7], datetime.date(2026, 12, 5), "date")
eq(got[8], datetime.time(12, 34, 56, 123456), "time")
eq(got[9], ts, "timestamp")
eq(got[10].astimezone(datetime.timezone.utc), tz.astimezone(datetime.timezone.utc), "timestamptz")
eq(got[11], {"a": [1, 2]}, "json")
cur.execute("SELECT b, i2, i4, i8, f8, t, v, d, tm, ts, tz, j FROM types WHERE id = " + PH, (2,))
eq(cur.fetchone(), (None,) * 12, "NULLs")
cur.execute("SELECT i8 FROM types WHERE id = 3")
eq(cur.fetchone()[0], 9223372036854775807, "max bigint")

# bytea: 0x00 and 0xff bytes.
cur.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, by BYTEA)")
data = bytes([0, 1, 255, 254, 0])
if DRIVER == "psycopg3" or CASTS:
    cur.execute("INSERT INTO blobs VALUES (1, " + PH + ")", (data,))
    cur.execute("SELECT by FROM blobs WHERE id = 1")
    got = cur.fetchone()[0]
    eq(bytes(got), data, "bytea")
    eq(type(got), bytes if DRIVER == "psycopg3" else memoryview, "bytea type")
    cur.execute("SELECT id FROM blobs WHERE by = " + PH, (data,))
    eq(cur.fetchall(), [(1,)], "WHERE by = bytea")
else:
    cur.execute("INSERT INTO blobs VALUES (1, x'0001fffe00')")
    cur.execute("SELECT by FROM blobs WHERE id = 1")
    got = cur.fetchone()[0]
    eq(type(got), memoryview, "bytea type")
    eq(bytes(got), data, "bytea")

# Booleans in WHERE, a bool parameter.
cur.execute("SELECT count(*) FROM types WHERE b")
eq(cur.fetchone()[0], 1, "WHERE b")
cur.execute("SELECT id FROM types WHERE b = " + PH, (True,))
eq(cur.fetchall(), [(1,)], "WHERE b = true")

# Expression columns have real types.
cur.execute("SELECT count(*), 1 + 1, upper('x'), 2.5, length('abc') FROM types")
eq(cur.fetchone(), (3, 2, "X", 2.5, 3), "expressions")
eq(cur.description[0].name, "count", "count(*) column name")

# Unicode round trip through a parameter.
s = "😀 \u00e9\u0301 \U0010ffff"
cur.execute("SELECT " + PH + " AS s", (s,))
eq(cur.fetchone()[0], s, "unicode parameter")

# Transactions: rollback, an error inside a transaction.
conn.autocommit = False
cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
conn.commit()
cur.execute("INSERT INTO t VALUES (1, 'a')")
conn.rollback()
cur.execute("SELECT count(*) FROM t")
eq(cur.fetchone()[0], 0, "rows after rollback")
cur.execute("INSERT INTO t VALUES (1, 'a')")
try:
    cur.execute("INSERT INTO t VALUES (2, 'a')")
    raise AssertionError("duplicate accepted")
except ERR_UNIQUE:
    pass
try:
    cur.execute("SELECT 1")
    raise AssertionError("statement accepted in a failed transaction")
except ERR_FAILED:
    pass
conn.rollback()
cur.execute("SELECT count(*) FROM t")
eq(cur.fetchone()[0], 0, "rows after failed transaction")
conn.commit()

# Binary parameters and results (psycopg 3's %b and binary cursors).
if DRIVER == "psycopg3":
    import psycopg.types.json
    cur.execute("CREATE TABLE bin (id INTEGER PRIMARY KEY, n NUMERIC, d DATE, tm TIME, tz TIMESTAMPTZ, u UUID, j JSONB, by BYTEA,"
                " b BOOLEAN, f FLOAT4, i8 BIGINT)")
    u = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    brow = (1, decimal.Decimal("-12345.0625"), datetime.date(1999, 12, 31), datetime.time(23, 59, 59, 999999),
            datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc), u, psycopg.types.json.Jsonb({"a": 1}),
            b"\x00\xff", False, 1.5, -9223372036854775808)
    cur.execute("INSERT INTO bin VALUES (" + ", ".join(["%b"] * len(brow)) + ")", brow)
    conn.commit()
    for binary in (False, True):
        bc = conn.cursor(binary=binary)
        bc.execute("SELECT * FROM bin")
        eq(bc.fetchone(), brow[:6] + ({"a": 1}, b"\x00\xff", False, 1.5, -9223372036854775808), f"binary={binary} row")
    conn.commit()

# Prepared statements (psycopg 3 prepares a query run often).
if DRIVER == "psycopg3":
    for i in range(10):
        cur.execute("INSERT INTO t (id, name) VALUES (%s, %s)", (i, f"n{i}"), prepare=True)
    cur.execute("SELECT count(*) FROM t WHERE id >= %s", (0,), prepare=True)
    eq(cur.fetchone()[0], 10, "prepared inserts")
    conn.commit()

# 100k rows.
cur.execute("CREATE TABLE bulk (id BIGINT PRIMARY KEY, v TEXT)")
rows = [(i, f"v{i}") for i in range(100000)]
if DRIVER == "psycopg2":
    from psycopg2.extras import execute_values
    execute_values(cur, "INSERT INTO bulk (id, v) VALUES %s", rows, page_size=1000)
else:
    cur.executemany("INSERT INTO bulk (id, v) VALUES (%s, %s)", rows)
conn.commit()
cur.execute("SELECT id, v FROM bulk ORDER BY id")
n = 0
for i, v in cur:
    if v != f"v{i}":
        raise AssertionError(f"bulk row {i} {v}")
    n += 1
eq(n, 100000, "bulk rows")
conn.commit()
# A server-side (named) cursor: DECLARE ... CURSOR and FETCH in batches.
named = conn.cursor(name="bulk_cursor")
named.itersize = 5000
named.execute("SELECT id FROM bulk WHERE id < %s ORDER BY id", (30000,))
got = [r[0] for r in named]
eq(len(got), 30000, "rows through a server-side cursor")
eq(got[-1], 29999, "last row through a server-side cursor")
named.close()
conn.commit()
if CASTS:
    cur.execute("SELECT %s::date, %s::int4 + 1", (datetime.date(2026, 1, 2), 41))
    eq(cur.fetchone(), (datetime.date(2026, 1, 2), 42), "casts in SELECT")
print("OK")
