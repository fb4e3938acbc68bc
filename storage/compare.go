package storage

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
)

// ComparePagesResult is the outcome of ComparePages.
type ComparePagesResult struct {
	Equal      bool     `json:"equal"`
	PageSizeA  int64    `json:"page_size_a"`
	PageSizeB  int64    `json:"page_size_b"`
	PageCountA int64    `json:"page_count_a"`
	PageCountB int64    `json:"page_count_b"`
	DiffPages  []uint32 `json:"diff_pages,omitempty"` // the first few differing page numbers
	DiffCount  int64    `json:"diff_count"`           // pages that differ, including those only one side has
}

const maxDiffPages = 10

// Page 1 bytes that differ between replicas by design: the file change
// counter (24-27), version-valid-for (92-95) and the SQLite version (96-99).
var maskedRanges = [][2]int{{24, 28}, {92, 96}, {96, 100}}

// ComparePages compares two database files page by page, each through a
// read transaction on a read-only connection, masking the page 1 bytes
// that differ between replicas by design.
func ComparePages(ctx context.Context, pathA, pathB string) (ComparePagesResult, error) {
	var res ComparePagesResult
	a, err := openSnapshot(ctx, pathA)
	if err != nil {
		return res, err
	}
	defer a.close()
	b, err := openSnapshot(ctx, pathB)
	if err != nil {
		return res, err
	}
	defer b.close()
	res.PageSizeA, res.PageCountA = a.pageSize, a.pageCount
	res.PageSizeB, res.PageCountB = b.pageSize, b.pageCount
	pagesA := make(chan []byte, 64)
	errA := make(chan error, 1)
	go func() {
		defer close(pagesA)
		_, err := readPages(ctx, a.conn, a.pageSize, func(_ int64, d []byte) error {
			select {
			case pagesA <- bytes.Clone(d):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		errA <- err
	}()
	var pgno int64
	diff := func(n int64) {
		res.DiffCount++
		if len(res.DiffPages) < maxDiffPages {
			res.DiffPages = append(res.DiffPages, uint32(n))
		}
	}
	_, errB := readPages(ctx, b.conn, b.pageSize, func(_ int64, db []byte) error {
		pgno++
		da, ok := <-pagesA
		if !ok {
			diff(pgno)
			return nil
		}
		if pgno == 1 && len(da) >= 100 && len(db) >= 100 {
			da, db = bytes.Clone(da), bytes.Clone(db)
			for _, r := range maskedRanges {
				clear(da[r[0]:r[1]])
				clear(db[r[0]:r[1]])
			}
		}
		if !bytes.Equal(da, db) {
			diff(pgno)
		}
		return nil
	})
	for range pagesA {
		pgno++
		diff(pgno)
	}
	if err := <-errA; err != nil {
		return res, fmt.Errorf("compare: read %s: %w", pathA, err)
	}
	if errB != nil {
		return res, fmt.Errorf("compare: read %s: %w", pathB, errB)
	}
	res.Equal = res.DiffCount == 0 && res.PageSizeA == res.PageSizeB && res.PageCountA == res.PageCountB
	return res, nil
}

type snapshot struct {
	db        *sql.DB
	conn      *sql.Conn
	pageSize  int64
	pageCount int64
}

func openSnapshot(ctx context.Context, path string) (*snapshot, error) {
	sqldb, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &snapshot{db: sqldb}
	s.conn, err = sqldb.Conn(ctx)
	if err == nil {
		_, err = s.conn.ExecContext(ctx, "BEGIN")
	}
	if err == nil {
		err = s.conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(new(int64))
	}
	if err == nil {
		err = s.conn.QueryRowContext(ctx, "PRAGMA page_size").Scan(&s.pageSize)
	}
	if err == nil {
		err = s.conn.QueryRowContext(ctx, "PRAGMA page_count").Scan(&s.pageCount)
	}
	if err != nil {
		s.close()
		return nil, fmt.Errorf("open snapshot of %s: %w", path, err)
	}
	return s, nil
}

func (s *snapshot) close() {
	if s.conn != nil {
		s.conn.ExecContext(context.Background(), "ROLLBACK")
		s.conn.Close()
	}
	s.db.Close()
}

// readPages reads every page of the connection's current snapshot in page
// order through sqlite_dbpage and returns how many it read.
func readPages(ctx context.Context, c *sql.Conn, pageSize int64, fn func(pgno int64, data []byte) error) (int64, error) {
	rows, err := c.QueryContext(ctx, "SELECT pgno, data FROM sqlite_dbpage")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	var data []byte
	for rows.Next() {
		var pgno int64
		if err := rows.Scan(&pgno, &data); err != nil {
			return n, err
		}
		if pgno != n+1 || int64(len(data)) != pageSize {
			return n, fmt.Errorf("page %d: unexpected page number or size %d", pgno, len(data))
		}
		if err := fn(pgno, data); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
