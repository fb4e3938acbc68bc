package storage_test

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkApply applies TPC-B-like records (a few small row updates each)
// one record per Apply, as an async secondary does under a steady load.
func BenchmarkApply(b *testing.B) {
	ctx := context.Background()
	p, s := mustOpenPair(b)
	mustExecWrite(b, p, "CREATE TABLE a (id INTEGER PRIMARY KEY, bal INTEGER, pad TEXT)",
		"CREATE TABLE h (id INTEGER PRIMARY KEY, aid INTEGER, delta INTEGER, pad TEXT)")
	for i := 0; i < 1000; i++ {
		mustExecWrite(b, p, fmt.Sprintf("INSERT INTO a VALUES (%d, 0, printf('%%.80c', 'x'))", i))
	}
	ship(b, p, s, 100)
	from := p.Pos().LSN
	for i := 0; i < b.N; i++ {
		id := (i * 7919) % 1000
		mustExecWrite(b, p, fmt.Sprintf("UPDATE a SET bal = bal + 1 WHERE id = %d", id),
			fmt.Sprintf("INSERT INTO h(aid, delta, pad) VALUES (%d, 1, 'xxxxxxxxxxxxxxxxxxxx')", id))
	}
	recs := readRecords(b, p, from)
	b.ResetTimer()
	for _, r := range recs {
		if err := s.Harden(ctx, r); err != nil {
			b.Fatal(err)
		}
		if err := s.Apply(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}
