package cli

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

func (m *Main) dumpCommand() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "dump DB [--to FILE]",
		Short: "Write a database as SQL text that psql -f restores",
		Long: `dump takes a consistent copy-only backup of the database and writes it as
SQL text: its tables, their rows as INSERT statements (every value keeps its
SQLite type: integer, real, text, blob or NULL), then its indexes, views and
triggers. Restore it into an empty database with
  psql -v ON_ERROR_STOP=1 -f FILE
(pg_dump cannot read sqlink's catalog: use this instead).`,
		Args: exactArgs(1, "a database name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			if to != "" {
				if _, err := os.Lstat(to); err == nil {
					return sqlink.Errorf(sqlink.ECONFLICT, "pick another --to file (dump never replaces one)", "%s already exists", to)
				}
			}
			tmp, err := os.MkdirTemp("", "sqlink-dump-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			pr, pw := io.Pipe()
			backupErr := make(chan error, 1)
			go func() {
				_, err := c.Backup(cmd.Context(), args[0], true, pw)
				pw.CloseWithError(err)
				backupErr <- err
			}()
			path := filepath.Join(tmp, "db")
			if _, err := storage.Restore(cmd.Context(), pr, path); err != nil {
				pr.CloseWithError(err)
				if berr := <-backupErr; berr != nil {
					return berr
				}
				return err
			}
			var w io.Writer = m.Stdout
			var f *os.File
			if to != "" {
				if f, err = os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
					return sqlink.Errorf(sqlink.ECONFLICT, "pick another --to file (dump never replaces one)", "create %s: %v", to, err)
				}
				w = f
			}
			bw := bufio.NewWriterSize(w, 1<<20)
			err = dumpSQL(cmd.Context(), path, args[0], bw)
			if err == nil {
				err = bw.Flush()
			}
			if f != nil {
				if err == nil {
					err = f.Sync()
				}
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					os.Remove(to)
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "file to write (default: standard output)")
	return cmd
}

// dumpSQL writes the database file at path as SQL text.
func dumpSQL(ctx context.Context, path, name string, w io.Writer) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	type object struct{ typ, name, sql string }
	rows, err := conn.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("dump: read the schema: %w", err)
	}
	var tables, later []object
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.typ, &o.name, &o.sql); err != nil {
			rows.Close()
			return err
		}
		if o.typ == "table" {
			tables = append(tables, o)
		} else {
			later = append(later, o)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.name
	}
	order, err := parentsFirst(ctx, conn, names)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "-- sqlink dump of database %s\n-- Restore into an empty database: psql -v ON_ERROR_STOP=1 -f FILE\n\n", name)
	byName := map[string]object{}
	for _, t := range tables {
		byName[t.name] = t
	}
	for _, n := range order {
		fmt.Fprintf(w, "%s;\n", byName[n].sql)
	}
	for _, n := range order {
		if err := dumpRows(ctx, conn, n, w); err != nil {
			return err
		}
	}
	for _, o := range later {
		if o.typ == "trigger" {
			// A trigger's body holds semicolons that psql would split
			// the statement at: \gexec sends it whole.
			fmt.Fprintf(w, "SELECT %s \\gexec\n", quoteLiteral(o.sql))
			continue
		}
		fmt.Fprintf(w, "%s;\n", o.sql)
	}
	return nil
}

// dumpRows writes a table's rows as INSERT statements of up to 500 rows,
// in transactions of up to 100,000 rows. SQLite's quote() writes each
// value as a literal of its own type (reals exactly).
func dumpRows(ctx context.Context, conn *sql.Conn, table string, w io.Writer) error {
	crows, err := conn.QueryContext(ctx, "SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid", table)
	if err != nil {
		return err
	}
	var cols, quoted []string
	for crows.Next() {
		var c string
		if err := crows.Scan(&c); err != nil {
			crows.Close()
			return err
		}
		cols = append(cols, quoteIdentifier(c))
		quoted = append(quoted, "quote("+quoteIdentifier(c)+")")
	}
	crows.Close()
	if len(cols) == 0 {
		return nil
	}
	q := "SELECT " + strings.Join(quoted, ", ") + " FROM " + quoteIdentifier(table)
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("dump: read table %s: %w", table, err)
	}
	defer rows.Close()
	head := "INSERT INTO " + quoteIdentifier(table) + " (" + strings.Join(cols, ", ") + ") VALUES\n"
	vals := make([]string, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		switch {
		case n%100000 == 0:
			if n > 0 {
				io.WriteString(w, ";\nCOMMIT;\n")
			}
			io.WriteString(w, "BEGIN;\n"+head)
		case n%500 == 0:
			io.WriteString(w, ";\n"+head)
		default:
			io.WriteString(w, ",\n")
		}
		io.WriteString(w, "("+strings.Join(vals, ", ")+")")
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n > 0 {
		io.WriteString(w, ";\nCOMMIT;\n")
	}
	return nil
}

// parentsFirst orders tables so that a table comes after those its
// foreign keys reference (a cycle keeps the schema's order).
func parentsFirst(ctx context.Context, conn *sql.Conn, tables []string) ([]string, error) {
	deps := map[string][]string{}
	for _, t := range tables {
		rows, err := conn.QueryContext(ctx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, t)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return nil, err
			}
			if !strings.EqualFold(p, t) {
				deps[t] = append(deps[t], p)
			}
		}
		rows.Close()
	}
	var out []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(t string)
	visit = func(t string) {
		if state[t] != 0 {
			return
		}
		state[t] = 1
		for _, p := range deps[t] {
			for _, u := range tables {
				if strings.EqualFold(u, p) {
					visit(u)
				}
			}
		}
		state[t] = 2
		out = append(out, t)
	}
	for _, t := range tables {
		visit(t)
	}
	return out, nil
}

func quoteIdentifier(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
