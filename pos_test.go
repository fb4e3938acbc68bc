package sqlink_test

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/sqlink/sqlink"
)

func TestParseLSN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want sqlink.LSN
		ok   bool
	}{
		{"0000000000000010", 16, true},
		{"16", 16, true},
		{sqlink.LSN(12345).String(), 12345, true},
		{"x", 0, false},
		{"-1", 0, false},
	} {
		got, err := sqlink.ParseLSN(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseLSN(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && sqlink.ErrorCode(err) != sqlink.EINVALID {
			t.Errorf("ParseLSN(%q) error code %q", tc.in, sqlink.ErrorCode(err))
		}
	}
}

func TestErrorCode(t *testing.T) {
	e := sqlink.Errorf(sqlink.ENOTFOUND, "create it", "database %q does not exist", "x")
	wrapped := fmt.Errorf("open: %w", e)
	if got := sqlink.ErrorCode(wrapped); got != sqlink.ENOTFOUND {
		t.Fatalf("code %q", got)
	}
	if got := sqlink.ErrorHint(wrapped); got != "create it" {
		t.Fatalf("hint %q", got)
	}
	if got := sqlink.ErrorMessage(wrapped); got != `database "x" does not exist` {
		t.Fatalf("message %q", got)
	}
	if got := sqlink.ErrorCode(errors.New("boom")); got != sqlink.EINTERNAL {
		t.Fatalf("plain error code %q", got)
	}
	if got := sqlink.ErrorCode(nil); got != "" {
		t.Fatalf("nil code %q", got)
	}
}

// forkOracle walks both logs LSN by LSN: the simple definition ForkLSN must
// agree with.
func forkOracle(a []sqlink.HistoryEntry, endA sqlink.LSN, b []sqlink.HistoryEntry, endB sqlink.LSN) sqlink.LSN {
	epochAt := func(h []sqlink.HistoryEntry, lsn sqlink.LSN) sqlink.Epoch {
		var e sqlink.Epoch
		for _, x := range h {
			if x.FirstLSN <= lsn {
				e = x.Epoch
			}
		}
		return e
	}
	end := min(endA, endB)
	for lsn := sqlink.LSN(1); lsn <= end; lsn++ {
		if epochAt(a, lsn) != epochAt(b, lsn) {
			return lsn - 1
		}
	}
	return end
}

func TestForkLSN_MatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	randomHistory := func(common []sqlink.HistoryEntry, from sqlink.LSN, epoch sqlink.Epoch) ([]sqlink.HistoryEntry, sqlink.LSN) {
		h := append([]sqlink.HistoryEntry(nil), common...)
		lsn := from
		for i := rng.Intn(3); i > 0; i-- {
			epoch += sqlink.Epoch(1 + rng.Intn(2))
			lsn += sqlink.LSN(rng.Intn(5))
			h = append(h, sqlink.HistoryEntry{Epoch: epoch, FirstLSN: lsn + 1})
		}
		return h, lsn + sqlink.LSN(rng.Intn(6))
	}
	for i := 0; i < 5000; i++ {
		common := []sqlink.HistoryEntry{{Epoch: 1, FirstLSN: 1}}
		lsn, epoch := sqlink.LSN(rng.Intn(5)), sqlink.Epoch(1)
		for j := rng.Intn(3); j > 0; j-- {
			epoch++
			lsn += sqlink.LSN(rng.Intn(4))
			common = append(common, sqlink.HistoryEntry{Epoch: epoch, FirstLSN: lsn + 1})
		}
		a, endA := randomHistory(common, lsn, epoch)
		b, endB := randomHistory(common, lsn, epoch+10)
		if endA < lsn {
			endA = lsn
		}
		if endB < lsn {
			endB = lsn
		}
		got, want := sqlink.ForkLSN(a, endA, b, endB), forkOracle(a, endA, b, endB)
		if got != want {
			t.Fatalf("ForkLSN(%v, %d, %v, %d) = %d, oracle says %d", a, endA, b, endB, got, want)
		}
	}
}
