package server_test

import (
	"cmp"
	"context"
	"os"
	"runtime/pprof"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/server"
)

// BenchmarkLinkSeed measures seeding a 256 MiB database over loopback TLS.
func BenchmarkLinkSeed(b *testing.B) {
	ctx := context.Background()
	full := func(c *server.Config) { c.Synchronous = "FULL" }
	east := MustStartNode(b, "east", full)
	west := MustStartNode(b, "west", full)
	trust(b, east, west)
	mustPrepareShop(b, east, 10)
	for range 8 {
		if err := east.s.Exec(ctx, "shop", "INSERT INTO items (body) WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n WHERE x < 512) SELECT randomblob(65536) FROM n"); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second) // let the background checkpoint of the fill finish
	b.ResetTimer()
	if f := os.Getenv("SEED_PROF"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		pprof.StartCPUProfile(out)
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	if err := west.createLink(linkReq(west, east, sqlink.RoleSecondary, sqlink.ModeAsync)); err != nil {
		b.Fatal(err)
	}
	if err := east.createLink(linkReq(east, west, sqlink.RolePrimary, sqlink.ModeAsync)); err != nil {
		b.Fatal(err)
	}
	waitOnline(b, west)
	d := time.Since(start)
	sd := west.link("L").Local.Seeding
	b.ReportMetric(float64(sd.BytesTotal)/d.Seconds()/1e6, "MB/s")
	b.Logf("seeded %d bytes in %s", sd.BytesTotal, d)
}

// BenchmarkLinkCommit measures single-client autocommit inserts on a
// primary without a link, with an async link and with a sync link, and the
// secondary's lag (its own status figure, sampled every 2 ms).
func BenchmarkLinkCommit(b *testing.B) {
	for _, mode := range []string{"none", "async", "sync"} {
		b.Run(mode, func(b *testing.B) {
			full := func(c *server.Config) { c.Synchronous = cmp.Or(os.Getenv("SQLINK_BENCH_SYNCHRONOUS"), "FULL") }
			var east, west *node
			if mode == "none" {
				east = MustStartNode(b, "east", full)
				mustPrepareShop(b, east, 10)
			} else {
				east, west = mustLinkPair(b, sqlink.Mode(mode), full, func(c *server.Config) { c.Synchronous = cmp.Or(os.Getenv("SQLINK_BENCH_SYNCHRONOUS"), "FULL") })
			}
			ctx := context.Background()
			base, err := east.count("shop", "items")
			if err != nil {
				b.Fatal(err)
			}
			c, err := east.connect(ctx, "shop")
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(ctx)
			var lags []float64
			var stop atomic.Bool
			done := make(chan struct{})
			go func() {
				defer close(done)
				for !stop.Load() && west != nil {
					lags = append(lags, west.link("L").Local.SecondaryLag)
					time.Sleep(2 * time.Millisecond)
				}
			}()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if _, err := c.Exec(ctx, "INSERT INTO items (id, body) VALUES ($1, 'x')", 1000+i); err != nil {
					b.Fatal(err)
				}
			}
			d := time.Since(start)
			stop.Store(true)
			<-done
			b.ReportMetric(float64(b.N)/d.Seconds(), "tx/s")
			if len(lags) > 0 {
				slices.Sort(lags)
				b.ReportMetric(lags[len(lags)*99/100]*1000, "lag-p99-ms")
				b.ReportMetric(lags[len(lags)/2]*1000, "lag-p50-ms")
			}
			if west != nil {
				waitRows(b, west, base+int64(b.N))
			}
		})
	}
}
