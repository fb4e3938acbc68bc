// Package schema reads SQLite schema facts that more than one package
// needs, on whatever connection the caller chooses.
package schema

import (
	"context"
	"database/sql"
)

// Queryer is a *sql.DB, *sql.Conn or *sql.Tx.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// TableColumns returns the name and declared type of each column of table,
// in order, read through q (pragma_table_info). A table that does not
// exist has no columns.
func TableColumns(ctx context.Context, q Queryer, table string) ([][2]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT name, type FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		out = append(out, [2]string{name, typ})
	}
	return out, rows.Err()
}
