package storage

import (
	"errors"
	"testing"
	"time"
)

func TestFailPacer_BacksOffAndLogsOncePerInterval(t *testing.T) {
	p := newFailPacer(25*time.Millisecond, time.Second, 30*time.Second)
	t0 := time.Unix(1000, 0)
	full := errors.New("database or disk is full")
	if !p.due(t0) {
		t.Fatal("a healthy task is not due")
	}
	if log, _ := p.failed(t0, full); !log {
		t.Fatal("the first failure is not logged")
	}
	// Back-off doubles from the interval up to the cap; attempts before
	// it are not due.
	now, logged := t0, 0
	var waits []time.Duration
	for i := 0; i < 8; i++ {
		prev := p.next
		if p.due(prev.Add(-time.Millisecond)) {
			t.Fatalf("attempt %d due before its back-off ended", i)
		}
		now = prev
		if log, _ := p.failed(now, full); log {
			logged++
		}
		waits = append(waits, p.next.Sub(now))
	}
	want := []time.Duration{50, 100, 200, 400, 800, 1000, 1000, 1000}
	for i, w := range waits {
		if w != want[i]*time.Millisecond {
			t.Fatalf("back-offs %v, want %v ms", waits, want)
		}
	}
	if logged != 0 {
		t.Fatalf("%d repeats of the same failure logged within the log interval", logged)
	}
	// The same failure 30 s on is logged again, with the count of the
	// ones left out; a different failure at once.
	log, repeated := p.failed(t0.Add(31*time.Second), full)
	if !log || repeated != 8 {
		t.Fatalf("after 30 s: log %v, repeated %d, want true and 8", log, repeated)
	}
	ioErr := errors.New("disk I/O error")
	if log, _ := p.failed(t0.Add(32*time.Second), ioErr); !log {
		t.Fatal("a new error is not logged")
	}
	// Two errors taking turns are each logged once, not at every turn.
	for i := 0; i < 6; i++ {
		e := full
		if i%2 == 1 {
			e = ioErr
		}
		if log, _ := p.failed(t0.Add(33*time.Second+time.Duration(i)*time.Second), e); log {
			t.Fatalf("turn %d of two alternating errors logged again", i)
		}
	}
	if !p.succeeded() {
		t.Fatal("success after failures does not report the recovery")
	}
	if p.succeeded() || !p.due(t0) {
		t.Fatal("a recovered task is still paced")
	}
	if log, _ := p.failed(t0.Add(40*time.Second), full); !log || p.next.Sub(t0.Add(40*time.Second)) != 25*time.Millisecond {
		t.Fatal("a new run of failures does not start from the first back-off")
	}
}
