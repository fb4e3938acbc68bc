package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompat_TLS: each driver of the compatibility suite connects over TLS
// and the server says the session is encrypted (pg_stat_ssl). Where the
// driver can, it verifies the instance's self-signed certificate as its CA.
func TestCompat_TLS(t *testing.T) {
	in := startCompatInstance(t, "compat-tls")
	ca := in.TLSCertFile()
	const q = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
	dsn := strings.Replace(in.ConnString("app"), "sslmode=disable", "sslmode=verify-ca sslrootcert="+ca, 1)

	t.Run("psycopg2", func(t *testing.T) {
		requireCompat(t, havePythonModule("psycopg2"), "Python module psycopg2", "apt-get install python3-psycopg2")
		runCompat(t, t.TempDir(), nil, debianPython(), "-c",
			"import sys, psycopg2\nc = psycopg2.connect(sys.argv[1])\ncur = c.cursor()\ncur.execute(sys.argv[2])\nv = cur.fetchone()[0]\nassert v is True, repr(v)\nprint('OK')", dsn, q)
	})
	t.Run("psycopg3", func(t *testing.T) {
		requireCompat(t, havePythonModule("psycopg"), "Python module psycopg", "apt-get install python3-psycopg")
		runCompat(t, t.TempDir(), nil, debianPython(), "-c",
			"import sys, psycopg\nc = psycopg.connect(sys.argv[1])\nv = c.execute(sys.argv[2]).fetchone()[0]\nassert v is True, repr(v)\nprint('OK')", dsn, q)
	})
	t.Run("node-postgres", func(t *testing.T) {
		requireCompat(t, haveCommand("node") && haveCommand("npm"), "node and npm", "apt-get install nodejs npm")
		dir := filepath.Join(compatDir(t), "node")
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "pg")); err != nil {
			runCompat(t, dir, nil, "sh", "-c", "npm ci --no-audit --no-fund >/dev/null && echo OK")
		}
		js := `const fs = require('fs'); const { Client } = require('pg');
const [host, port, password, ca, q] = process.argv.slice(1);
const c = new Client({ host, port: +port, user: 'admin', password, database: 'app', ssl: { ca: fs.readFileSync(ca), servername: host === '127.0.0.1' ? undefined : host } });
c.connect().then(() => c.query(q)).then(r => { if (r.rows[0].ssl !== true) throw new Error('ssl = ' + r.rows[0].ssl); console.log('OK'); return c.end(); }).catch(e => { console.error(e); process.exit(1); });`
		runCompat(t, dir, nil, "node", "-e", js, in.Host(), in.Port(), in.Password, ca, q)
	})
	t.Run("pgJDBC", func(t *testing.T) {
		_, err := os.Stat(jdbcJar)
		requireCompat(t, haveCommand("java") && err == nil, "pgJDBC with a JDK", "apt-get install default-jdk-headless libpostgresql-jdbc-java")
		src := filepath.Join(t.TempDir(), "Tls.java")
		os.WriteFile(src, []byte(`import java.sql.*;
public class Tls {
  public static void main(String[] a) throws Exception {
    try (Connection c = DriverManager.getConnection(a[0], "admin", a[1]); Statement s = c.createStatement(); ResultSet r = s.executeQuery(a[2])) {
      r.next();
      if (!r.getBoolean(1)) throw new RuntimeException("not over TLS");
      System.out.println("OK");
    }
  }
}
`), 0o600)
		url := "jdbc:postgresql://" + in.ClientAddr + "/app?sslmode=verify-ca&sslrootcert=" + ca
		runCompat(t, filepath.Dir(src), nil, "java", "-cp", jdbcJar, src, url, in.Password, q)
	})
}
