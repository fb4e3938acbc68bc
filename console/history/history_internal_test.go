package history

import (
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

func TestConsoleHistoryRingAndRate(t *testing.T) {
	h := New()
	t0 := time.Unix(1000, 0)
	st := func(lsn sqlink.LSN, lag float64) []adminapi.LinkStatus {
		return []adminapi.LinkStatus{{Name: "l1", State: "SYNCHRONIZED",
			Local:   adminapi.ReplicaStatus{Role: sqlink.RoleSecondary, LastRedoneLSN: lsn, SecondaryLag: lag},
			Partner: adminapi.ReplicaStatus{Role: sqlink.RolePrimary}}}
	}
	h.Record(t0, st(10, 0))
	h.Record(t0.Add(2*time.Second), st(30, 0.5))
	got := h.Get("l1")
	if len(got) != 2 || got[0].CommitsPerSec != 0 || got[1].CommitsPerSec != 10 || got[1].LagSeconds != 0.5 {
		t.Fatalf("samples = %+v", got)
	}
	// The ring keeps the last hour only, oldest first.
	for i := 0; i < ringLen+5; i++ {
		h.Record(t0.Add(time.Duration(i+2)*SampleEvery), st(sqlink.LSN(40+i), 0))
	}
	got = h.Get("l1")
	if len(got) != ringLen {
		t.Fatalf("ring holds %d samples, want %d", len(got), ringLen)
	}
	for i := 1; i < len(got); i++ {
		if !got[i].Time.After(got[i-1].Time) {
			t.Fatalf("samples out of order at %d", i)
		}
	}
	// A dropped link's history goes.
	h.Record(t0.Add(3*time.Hour), nil)
	if h.Get("l1") != nil {
		t.Fatal("a dropped link keeps its history")
	}
}
