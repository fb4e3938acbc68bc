// Command sqlitec measures what SQLite itself costs per pgbench TPC-B
// transaction under the two Go builds of SQLite: modernc.org/sqlite (C
// transpiled to Go, what sqlink ships) and mattn/go-sqlite3 (the C
// amalgamation through cgo). It answers the question issue 22 asks before
// a cgo build of sqlink: how much of sqlink's CPU per transaction would
// the C SQLite save?
//
// Both drivers run the same transactions (pgbench's TPC-B script, the
// same random stream) through database/sql with prepared statements on
// one connection, on copies of one database file holding the tables the
// other benchmarks give sqlink (bench/tpcb_init.sql). Runs alternate
// between the drivers. CPU is the process's user+system time from
// getrusage, so it includes the Go side of each driver (database/sql, cgo
// calls) as sqlink would pay it.
//
// It is a module of its own so that sqlink's module stays free of cgo.
// It needs cgo and a C compiler (gcc) to build mattn/go-sqlite3:
//
//	cd bench/sqlitec && CGO_CFLAGS="-g -O2 -DSQLITE_ENABLE_DBPAGE_VTAB" go run . -scale 1 -dur 10s -reps 3
//
// The -D flag builds the sqlite_dbpage table a secondary's apply needs
// (../shared/notes/page-replication.md); without it the program stops
// with an error.
// Keep -O2: CGO_CFLAGS replaces cgo's default "-g -O2", and an
// unoptimized SQLite runs 1.5 times slower than modernc's.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3"
	_ "modernc.org/sqlite"
)

// drivers maps a name to the database/sql driver and its DSN for a file
// with the pragmas sqlink's writer uses (busy timeout, synchronous, WAL).
var drivers = map[string]func(path, sync string) (string, string){
	"modernc": func(path, sync string) (string, string) {
		return "sqlite", fmt.Sprintf("file:%s?_pragma=busy_timeout(5000)&_pragma=synchronous(%s)&_pragma=journal_mode(WAL)", path, sync)
	},
	"mattn": func(path, sync string) (string, string) {
		return "sqlite3", fmt.Sprintf("file:%s?_busy_timeout=5000&_synchronous=%s&_journal_mode=WAL", path, sync)
	},
}

func main() {
	scale := flag.Int("scale", 1, "pgbench scale: 100,000 accounts per unit")
	dur := flag.Duration("dur", 10*time.Second, "length of each run")
	reps := flag.Int("reps", 3, "runs per driver, alternated")
	sync := flag.String("sync", "NORMAL", "PRAGMA synchronous for the runs (NORMAL: no fsync per commit, CPU only; FULL: fsync per commit)")
	dir := flag.String("dir", "", "directory for the database files (default: a temporary directory)")
	flag.Parse()
	if err := compare(*scale, *dur, *reps, *sync, *dir); err != nil {
		log.Fatalf("sqlitec: %v", err)
	}
}

// compare runs reps runs of each driver, alternated, and prints each run
// and the medians.
func compare(scale int, dur time.Duration, reps int, sync, dir string) error {
	if scale < 1 || reps < 1 || dur <= 0 {
		return errors.New("-scale and -reps must be at least 1 and -dur positive")
	}
	if sync != "NORMAL" && sync != "FULL" {
		return fmt.Errorf("-sync is NORMAL or FULL, not %q", sync)
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "sqlitec-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	ctx := context.Background()
	tmpl := filepath.Join(dir, "template.db")
	if err := initTPCB(ctx, tmpl, scale); err != nil {
		return fmt.Errorf("create the pgbench tables: %w", err)
	}
	for _, name := range []string{"modernc", "mattn"} {
		v, dbpage, err := describe(ctx, name, tmpl)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !dbpage {
			return fmt.Errorf("%s has no sqlite_dbpage table, which sqlink's secondaries need: build with CGO_CFLAGS=\"-g -O2 -DSQLITE_ENABLE_DBPAGE_VTAB\"", name)
		}
		fmt.Printf("# %s: SQLite %s, with sqlite_dbpage\n", name, v)
	}
	fmt.Printf("# scale %d, synchronous=%s, %s per run, %d runs per driver, alternated\n", scale, sync, dur, reps)
	fmt.Println("rep\tdriver\ttx\ttx_per_s\tcpu_us_per_tx")
	res := map[string][]float64{}
	order := []string{"modernc", "mattn"}
	for rep := 1; rep <= reps; rep++ {
		for _, name := range order {
			path := filepath.Join(dir, name+".db")
			if err := copyDB(tmpl, path); err != nil {
				return err
			}
			n, wall, cpu, err := run(ctx, name, path, sync, scale, dur, uint64(rep))
			if err != nil {
				return fmt.Errorf("%s run %d: %w", name, rep, err)
			}
			us := float64(cpu.Microseconds()) / float64(n)
			res[name] = append(res[name], us)
			fmt.Printf("%d\t%s\t%d\t%.0f\t%.1f\n", rep, name, n, float64(n)/wall.Seconds(), us)
		}
		order[0], order[1] = order[1], order[0]
	}
	mc, mt := median(res["modernc"]), median(res["mattn"])
	fmt.Printf("# median CPU per transaction: modernc %.1f us, mattn %.1f us; mattn/modernc %.2f; the C build saves %.1f us per transaction\n",
		mc, mt, mt/mc, mc-mt)
	return nil
}

// initTPCB makes pgbench's four tables at the given scale, as the other
// benchmarks make them for sqlink (bench/tpcb_init.sql: the keys are
// rowid aliases).
func initTPCB(ctx context.Context, path string, scale int) error {
	db, err := sql.Open(drivers["modernc"](path, "OFF"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	series := func(n int) string {
		return fmt.Sprintf("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < %d) ", n)
	}
	stmts := []string{
		"PRAGMA page_size=4096",
		"PRAGMA journal_mode=WAL",
		"CREATE TABLE pgbench_branches (bid INTEGER PRIMARY KEY, bbalance INTEGER NOT NULL, filler TEXT)",
		"CREATE TABLE pgbench_tellers (tid INTEGER PRIMARY KEY, bid INTEGER NOT NULL, tbalance INTEGER NOT NULL, filler TEXT)",
		"CREATE TABLE pgbench_accounts (aid INTEGER PRIMARY KEY, bid INTEGER NOT NULL, abalance INTEGER NOT NULL, filler TEXT)",
		"CREATE TABLE pgbench_history (tid INTEGER, bid INTEGER, aid INTEGER, delta INTEGER, mtime TIMESTAMP, filler TEXT)",
		"BEGIN",
		"INSERT INTO pgbench_branches (bid, bbalance, filler) " + series(scale) + "SELECT x, 0, '' FROM n",
		"INSERT INTO pgbench_tellers (tid, bid, tbalance, filler) " + series(10*scale) + "SELECT x, (x - 1) / 10 + 1, 0, '' FROM n",
		"INSERT INTO pgbench_accounts (aid, bid, abalance, filler) " + series(100000*scale) + "SELECT x, (x - 1) / 100000 + 1, 0, printf('%84s', '') FROM n",
		"COMMIT",
		"PRAGMA wal_checkpoint(TRUNCATE)",
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// describe opens path with a driver and returns its SQLite version and
// whether it has the sqlite_dbpage table.
func describe(ctx context.Context, name, path string) (string, bool, error) {
	db, err := sql.Open(drivers[name](path, "NORMAL"))
	if err != nil {
		return "", false, err
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&v); err != nil {
		return "", false, err
	}
	var n int
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_dbpage").Scan(&n)
	return v, err == nil && n > 0, nil
}

// run runs TPC-B transactions for d on one connection and returns how
// many committed, the wall time and the process's CPU time they took.
func run(ctx context.Context, name, path, sync string, scale int, d time.Duration, seed uint64) (int, time.Duration, time.Duration, error) {
	db, err := sql.Open(drivers[name](path, sync))
	if err != nil {
		return 0, 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	defer conn.Close()
	// sqlink's writer checkpoints from its own goroutine rather than at
	// commit; either way it is SQLite's work, so both drivers keep
	// SQLite's default of a checkpoint every 1,000 WAL pages.
	texts := []string{
		"BEGIN",
		"UPDATE pgbench_accounts SET abalance = abalance + ? WHERE aid = ?",
		"SELECT abalance FROM pgbench_accounts WHERE aid = ?",
		"UPDATE pgbench_tellers SET tbalance = tbalance + ? WHERE tid = ?",
		"UPDATE pgbench_branches SET bbalance = bbalance + ? WHERE bid = ?",
		"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (?, ?, ?, ?, CURRENT_TIMESTAMP)",
		"COMMIT",
	}
	st := make([]*sql.Stmt, len(texts))
	for i, q := range texts {
		if st[i], err = conn.PrepareContext(ctx, q); err != nil {
			return 0, 0, 0, fmt.Errorf("prepare %q: %w", q, err)
		}
		defer st[i].Close()
	}
	rng := rand.New(rand.NewPCG(seed, 22))
	n := 0
	cpu0, start := cpuTime(), time.Now()
	for time.Since(start) < d {
		aid := 1 + rng.IntN(100000*scale)
		bid := 1 + rng.IntN(scale)
		tid := 1 + rng.IntN(10*scale)
		delta := rng.IntN(10001) - 5000
		var bal int
		if _, err := st[0].ExecContext(ctx); err != nil {
			return n, 0, 0, err
		}
		if _, err := st[1].ExecContext(ctx, delta, aid); err != nil {
			return n, 0, 0, err
		}
		if err := st[2].QueryRowContext(ctx, aid).Scan(&bal); err != nil {
			return n, 0, 0, err
		}
		if _, err := st[3].ExecContext(ctx, delta, tid); err != nil {
			return n, 0, 0, err
		}
		if _, err := st[4].ExecContext(ctx, delta, bid); err != nil {
			return n, 0, 0, err
		}
		if _, err := st[5].ExecContext(ctx, tid, bid, aid, delta); err != nil {
			return n, 0, 0, err
		}
		if _, err := st[6].ExecContext(ctx); err != nil {
			return n, 0, 0, err
		}
		n++
	}
	return n, time.Since(start), cpuTime() - cpu0, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func copyDB(from, to string) error {
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(to + suffix)
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
