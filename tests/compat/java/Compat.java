// pgJDBC compatibility check for sqlink, run by tests/e2e/compat_jdbc_test.go:
//   java -cp postgresql.jar Compat.java <jdbc-url> <user> <password>
// Every check throws on failure; "OK" on the last line means all passed.
import java.math.BigDecimal;
import java.sql.*;
import java.time.*;
import java.util.*;

public class Compat {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    static void eq(Object got, Object want, String what) {
        if (!Objects.equals(got, want)) throw new AssertionError(what + ": got " + got + " (" + (got == null ? "null" : got.getClass().getName()) + "), want " + want);
    }

    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.setProperty("user", args[1]);
        p.setProperty("password", args[2]);
        try (Connection c = DriverManager.getConnection(args[0], p)) {
            if (args.length > 3 && args[3].equals("casts")) {
                casts(c);
                System.out.println("OK");
                return;
            }
            types(c);
            expressions(c);
            preparedThreshold(c);
            metadata(c);
            transactions(c);
            bulk(c);
        }
        System.out.println("OK");
    }

    static void types(Connection c) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE types (id BIGINT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT, f8 DOUBLE PRECISION, n NUMERIC, t TEXT, v VARCHAR(20), by BYTEA, d DATE, tm TIME, ts TIMESTAMP, tz TIMESTAMPTZ, u UUID, j JSON)");
        }
        byte[] bytes = {0, 1, (byte) 0xff, (byte) 0xfe};
        UUID uuid = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO types (id, b, i2, i4, i8, f8, n, t, v, by, d, tm, ts, tz, u, j) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setLong(1, 1);
            ps.setBoolean(2, true);
            ps.setShort(3, Short.MIN_VALUE);
            ps.setInt(4, Integer.MAX_VALUE);
            ps.setLong(5, Long.MIN_VALUE);
            ps.setDouble(6, -1.5e300);
            ps.setBigDecimal(7, new BigDecimal("12345.5"));
            ps.setString(8, "héllo wörld ✓ 世界");
            ps.setString(9, "x'y\"z");
            ps.setBytes(10, bytes);
            ps.setObject(11, LocalDate.of(2026, 12, 5));
            ps.setObject(12, LocalTime.of(12, 34, 56, 123456000));
            ps.setObject(13, LocalDateTime.of(2026, 12, 5, 12, 34, 56, 123456000));
            ps.setObject(14, OffsetDateTime.of(2026, 12, 5, 12, 34, 56, 123456000, ZoneOffset.ofHours(2)));
            ps.setObject(15, uuid);
            ps.setString(16, "{\"a\": [1, 2]}");
            eq(ps.executeUpdate(), 1, "insert count");
            ps.setLong(1, 2);
            for (int i = 2; i <= 16; i++) ps.setNull(i, Types.NULL);
            eq(ps.executeUpdate(), 1, "insert nulls");
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT b, i2, i4, i8, f8, n, t, v, by, d, tm, ts, tz, u, j FROM types WHERE id = ?")) {
            ps.setLong(1, 1);
            try (ResultSet rs = ps.executeQuery()) {
                check(rs.next(), "row 1");
                eq(rs.getObject(1), Boolean.TRUE, "bool");
                eq(rs.getObject(2), Integer.valueOf(Short.MIN_VALUE), "int2 (getObject of smallint is Integer)");
                eq(rs.getObject(3), Integer.MAX_VALUE, "int4");
                eq(rs.getObject(4), Long.MIN_VALUE, "int8");
                eq(rs.getObject(5), -1.5e300, "float8");
                eq(rs.getBigDecimal(6).compareTo(new BigDecimal("12345.5")), 0, "numeric " + rs.getBigDecimal(6));
                check(rs.getObject(6) instanceof BigDecimal, "numeric is BigDecimal");
                eq(rs.getObject(7), "héllo wörld ✓ 世界", "text");
                eq(rs.getObject(8), "x'y\"z", "varchar");
                check(Arrays.equals(rs.getBytes(9), bytes), "bytea " + Arrays.toString(rs.getBytes(9)));
                eq(rs.getObject(10, LocalDate.class), LocalDate.of(2026, 12, 5), "date");
                check(rs.getObject(10) instanceof java.sql.Date, "date is java.sql.Date");
                eq(rs.getObject(11, LocalTime.class), LocalTime.of(12, 34, 56, 123456000), "time");
                eq(rs.getObject(12, LocalDateTime.class), LocalDateTime.of(2026, 12, 5, 12, 34, 56, 123456000), "timestamp");
                eq(rs.getObject(13, OffsetDateTime.class).toInstant(), OffsetDateTime.of(2026, 12, 5, 10, 34, 56, 123456000, ZoneOffset.UTC).toInstant(), "timestamptz");
                eq(rs.getObject(14), uuid, "uuid");
                eq(rs.getString(15), "{\"a\": [1, 2]}", "json");
            }
            ps.setLong(1, 2);
            try (ResultSet rs = ps.executeQuery()) {
                check(rs.next(), "row 2");
                for (int i = 1; i <= 15; i++) eq(rs.getObject(i), null, "null column " + i);
            }
        }
        // setString on typed columns (pgJDBC sends varchar): stored in the
        // column's type.
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO types (id, b, d, by) VALUES (?, ?, ?, ?)")) {
            ps.setLong(1, 3);
            ps.setString(2, "false");
            ps.setString(3, "2026-01-02");
            ps.setString(4, "\\x00ff");
            eq(ps.executeUpdate(), 1, "insert with setString");
        }
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT typeof(b), typeof(by), b, d, by FROM types WHERE id = 3")) {
            check(rs.next(), "setString row");
            eq(rs.getString(1), "integer", "setString boolean stored as an integer");
            eq(rs.getString(2), "blob", "setString bytea stored as a blob");
            eq(rs.getObject(3), Boolean.FALSE, "setString boolean");
            eq(rs.getObject(4, LocalDate.class), LocalDate.of(2026, 1, 2), "setString date");
            check(Arrays.equals(rs.getBytes(5), new byte[]{0, (byte) 0xff}), "setString bytea");
        }
        try (Statement s = c.createStatement()) {
            s.executeUpdate("DELETE FROM types WHERE id = 3");
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM types WHERE b")) {
            try (ResultSet rs = ps.executeQuery()) {
                check(rs.next(), "where b");
                eq(rs.getLong(1), 1L, "rows where b");
            }
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT id FROM types WHERE b = ? AND by = ?")) {
            ps.setBoolean(1, true);
            ps.setBytes(2, bytes);
            try (ResultSet rs = ps.executeQuery()) {
                check(rs.next(), "where b = ? and by = ?");
                eq(rs.getLong(1), 1L, "id");
            }
        }
    }

    // casts needs sqlink's PostgreSQL translation layer (::type casts).
    static void casts(Connection c) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE js (id INTEGER PRIMARY KEY, j JSON)");
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO js (id, j) VALUES (?, ?::json)")) {
            ps.setInt(1, 1);
            ps.setString(2, "{\"a\": 1}");
            eq(ps.executeUpdate(), 1, "insert with ?::json");
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT ?::int4 + 1")) {
            ps.setString(1, "41");
            try (ResultSet rs = ps.executeQuery()) {
                check(rs.next(), "cast row");
                eq(rs.getInt(1), 42, "?::int4 + 1");
            }
        }
    }

    static void expressions(Connection c) throws Exception {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*), 1 + 1, upper('x'), 2.5, x'00ff' FROM types")) {
            check(rs.next(), "expression row");
            eq(rs.getObject(1), 2L, "count(*) is a bigint");
            eq(rs.getObject(2), 2L, "1 + 1");
            eq(rs.getObject(3), "X", "upper");
            eq(rs.getObject(4), 2.5, "2.5");
            check(Arrays.equals(rs.getBytes(5), new byte[]{0, (byte) 0xff}), "blob literal");
            eq(rs.getMetaData().getColumnName(1), "count", "count(*) column name");
        }
    }

    // After prepareThreshold (5) executions pgJDBC switches to a named
    // server statement and reads results in binary with the types it
    // was first told: they must stay the same.
    static void preparedThreshold(Connection c) throws Exception {
        try (PreparedStatement ps = c.prepareStatement("SELECT max(id), min(t), sum(f8) FROM types WHERE id > ?")) {
            for (int i = 0; i < 8; i++) {
                ps.setLong(1, 0);
                try (ResultSet rs = ps.executeQuery()) {
                    check(rs.next(), "threshold row");
                    eq(rs.getObject(1), 2L, "max(id), execution " + i);
                    eq(rs.getObject(2), "héllo wörld ✓ 世界", "min(t), execution " + i);
                    eq(rs.getObject(3), -1.5e300, "sum(f8), execution " + i);
                }
            }
        }
    }

    static void metadata(Connection c) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)");
            s.execute("CREATE TABLE books (author_id INTEGER NOT NULL REFERENCES authors(id), isbn TEXT NOT NULL, title VARCHAR(200), PRIMARY KEY (author_id, isbn))");
            s.execute("CREATE VIEW titles AS SELECT title FROM books");
        }
        DatabaseMetaData md = c.getMetaData();
        Set<String> tables = new TreeSet<>();
        try (ResultSet rs = md.getTables(null, null, "%", new String[]{"TABLE"})) {
            while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
        }
        eq(tables.toString(), "[authors, books, types]", "getTables");
        Set<String> views = new TreeSet<>();
        try (ResultSet rs = md.getTables(null, "public", "%", new String[]{"VIEW"})) {
            while (rs.next()) views.add(rs.getString("TABLE_NAME"));
        }
        eq(views.toString(), "[titles]", "getTables VIEW");
        List<String> cols = new ArrayList<>();
        try (ResultSet rs = md.getColumns(null, null, "books", null)) {
            while (rs.next()) cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME") + ":" + rs.getInt("NULLABLE"));
        }
        eq(cols.toString(), "[author_id:int4:0, isbn:text:0, title:varchar:1]", "getColumns");
        List<String> pk = new ArrayList<>();
        try (ResultSet rs = md.getPrimaryKeys(null, null, "books")) {
            while (rs.next()) pk.add(rs.getString("COLUMN_NAME") + ":" + rs.getInt("KEY_SEQ"));
        }
        eq(pk.toString(), "[author_id:1, isbn:2]", "getPrimaryKeys");
        List<String> fk = new ArrayList<>();
        try (ResultSet rs = md.getImportedKeys(null, null, "books")) {
            while (rs.next()) fk.add(rs.getString("PKTABLE_NAME") + "." + rs.getString("PKCOLUMN_NAME") + "<-" + rs.getString("FKCOLUMN_NAME"));
        }
        eq(fk.toString(), "[authors.id<-author_id]", "getImportedKeys");
        List<String> idx = new ArrayList<>();
        try (ResultSet rs = md.getIndexInfo(null, null, "books", false, false)) {
            while (rs.next()) idx.add(rs.getString("INDEX_NAME") + ":" + rs.getString("COLUMN_NAME") + ":" + rs.getBoolean("NON_UNIQUE"));
        }
        eq(idx.toString(), "[sqlite_autoindex_books_1:author_id:false, sqlite_autoindex_books_1:isbn:false]", "getIndexInfo");
        Set<String> schemas = new TreeSet<>();
        try (ResultSet rs = md.getSchemas()) {
            while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
        }
        check(schemas.contains("public"), "getSchemas: " + schemas);
    }

    static void transactions(Connection c) throws Exception {
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.executeUpdate("INSERT INTO authors (id, name) VALUES (1, 'a')");
            c.rollback();
            try (ResultSet rs = s.executeQuery("SELECT count(*) FROM authors")) {
                rs.next();
                eq(rs.getLong(1), 0L, "rows after rollback");
            }
            s.executeUpdate("INSERT INTO authors (id, name) VALUES (1, 'a')");
            try {
                s.executeUpdate("INSERT INTO authors (id, name) VALUES (1, 'b')");
                throw new AssertionError("duplicate key accepted");
            } catch (SQLException e) {
                eq(e.getSQLState(), "23505", "unique violation state");
            }
            try {
                s.executeQuery("SELECT 1");
                throw new AssertionError("statement accepted in a failed transaction");
            } catch (SQLException e) {
                eq(e.getSQLState(), "25P02", "failed transaction state");
            }
            c.rollback();
            try (ResultSet rs = s.executeQuery("SELECT count(*) FROM authors")) {
                rs.next();
                eq(rs.getLong(1), 0L, "rows after failed transaction");
            }
        }
        c.commit();
        c.setAutoCommit(true);
    }

    static void bulk(Connection c) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE bulk (id BIGINT PRIMARY KEY, v TEXT)");
        }
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO bulk (id, v) VALUES (?, ?)")) {
            for (int i = 0; i < 100000; i++) {
                ps.setLong(1, i);
                ps.setString(2, "v" + i);
                ps.addBatch();
                if (i % 5000 == 4999) ps.executeBatch();
            }
            ps.executeBatch();
        }
        c.commit();
        c.setAutoCommit(true);
        long n = 0, sum = 0;
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id, v FROM bulk ORDER BY id")) {
            while (rs.next()) {
                check(rs.getString(2).equals("v" + rs.getLong(1)), "bulk row");
                sum += rs.getLong(1);
                n++;
            }
        }
        eq(n, 100000L, "bulk rows");
        eq(sum, 99999L * 100000L / 2, "bulk sum");
        // A server-side cursor: with autocommit off and a fetch size, pgJDBC
        // reads the portal in batches (Execute with a row limit).
        c.setAutoCommit(false);
        long m = 0;
        try (Statement s = c.createStatement()) {
            s.setFetchSize(1000);
            try (ResultSet rs = s.executeQuery("SELECT id FROM bulk ORDER BY id")) {
                while (rs.next()) {
                    eq(rs.getLong(1), m, "cursor row");
                    m++;
                }
            }
        }
        c.commit();
        c.setAutoCommit(true);
        eq(m, 100000L, "rows through a server-side cursor");
        // And DECLARE/FETCH as SQL.
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.execute("DECLARE bc CURSOR FOR SELECT id FROM bulk WHERE id >= 99990 ORDER BY id");
            try (ResultSet rs = s.executeQuery("FETCH 4 FROM bc")) {
                long k = 0;
                while (rs.next()) {
                    eq(rs.getLong(1), 99990L + k, "FETCH row");
                    k++;
                }
                eq(k, 4L, "FETCH 4 rows");
            }
            s.execute("CLOSE bc");
        }
        c.commit();
        c.setAutoCommit(true);
    }
}
