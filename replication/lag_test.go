package replication

import (
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// An async secondary acknowledges a group once, after applying it: the
// acknowledgment says how long before it the records were hardened, so the
// primary's harden lag is commit to fsync, and only the replay lag includes
// the apply.
func TestLagTracker_HardenLagLeavesOutTheApply(t *testing.T) {
	var l lagTracker
	l.sent(5, 100, []lsnTime{{5, t0}}, t0.Add(ms(1)))
	now := t0.Add(ms(10))
	hl, rl := l.acked(&transport.Ack{Epoch: 1, Hardened: 5, Redone: 5, Time: now, HardenedAgo: ms(3)}, now)
	if hl != ms(7) || rl != ms(10) || l.hardenLag != ms(7) || l.replayLag != ms(10) {
		t.Fatalf("harden lag %v, replay lag %v; want 7ms and 10ms", hl, rl)
	}
	// The same positions again measure nothing.
	if hl, rl := l.acked(&transport.Ack{Epoch: 1, Hardened: 5, Redone: 5}, now.Add(ms(5))); hl >= 0 || rl >= 0 {
		t.Fatalf("a repeated ack measured %v, %v", hl, rl)
	}
}

// A resend after a reconnect keeps the commit times already known, and the
// memory of them stays bounded.
func TestLagTracker_TimesDeduplicatedAndBounded(t *testing.T) {
	var l lagTracker
	l.noteTimes([]lsnTime{{1, t0}, {2, t0.Add(ms(1))}}, 200)
	l.noteTimes([]lsnTime{{2, t0.Add(ms(50))}, {3, t0.Add(ms(2))}}, 200)
	if got, _ := l.timeOf(2); !got.Equal(t0.Add(ms(1))) {
		t.Fatalf("time of 2 after a resend: %v", got)
	}
	if got, ok := l.timeOf(3); !ok || !got.Equal(t0.Add(ms(2))) {
		t.Fatalf("time of 3: %v %v", got, ok)
	}
	if _, ok := l.timeOf(4); ok {
		t.Fatal("time of an LSN never seen")
	}
	ts := make([]lsnTime, timesKept)
	for i := range ts {
		ts[i] = lsnTime{sqlink.LSN(10 + i), t0}
	}
	l.noteTimes(ts, len(ts))
	if len(l.times) > timesKept {
		t.Fatalf("%d times kept, want at most %d", len(l.times), timesKept)
	}
}

func TestLagTracker_Rates(t *testing.T) {
	var l lagTracker
	l.tick(t0)
	l.sent(1, 1000, []lsnTime{{1, t0}}, t0)
	l.tick(t0.Add(time.Second))
	if l.sendRate.value != 500 { // smoothed: half the first second's 1000
		t.Fatalf("send rate %v, want 500", l.sendRate.value)
	}
	l.tick(t0.Add(2 * time.Second))
	if l.sendRate.value != 250 {
		t.Fatalf("send rate after an idle second %v, want 250", l.sendRate.value)
	}
}

func TestLagTracker_PrimaryFigures(t *testing.T) {
	stats := func(lsn sqlink.LSN) storage.Stats {
		return storage.Stats{Pos: sqlink.Pos{LSN: lsn}, LastCommit: t0.Add(time.Duration(lsn) * time.Second),
			LogBytes: int64(lsn) * 100, LogFirstLSN: 1}
	}
	for _, tc := range []struct {
		name      string
		commits   sqlink.LSN // 1..commits, LSN n at t0+n s
		acked     sqlink.LSN // hardened and redone by the secondary
		partner   sqlink.LSN
		ever      bool
		now       time.Time
		wantQueue int64
		wantLoss  int64
		wantLossS float64
		wantLag   float64
		wantShown bool // measured lags shown
	}{
		{name: "caught up, just measured", commits: 3, acked: 3, ever: true, now: t0.Add(4 * time.Second), wantShown: true},
		{name: "caught up, idle for long", commits: 3, acked: 3, ever: true, now: t0.Add(time.Minute)},
		{name: "two behind", commits: 5, acked: 3, ever: true, now: t0.Add(10 * time.Second),
			wantQueue: 200, wantLoss: 2, wantLossS: 1, wantLag: 6, wantShown: true},
		{name: "the state machine knows more than the acks", commits: 5, acked: 3, partner: 4, ever: true, now: t0.Add(10 * time.Second),
			wantQueue: 100, wantLoss: 1, wantLag: 6, wantShown: true},
		{name: "never connected: no lag", commits: 5, acked: 0, now: t0.Add(10 * time.Second),
			wantQueue: 500, wantLoss: 5, wantLossS: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l lagTracker
			for n := sqlink.LSN(1); n <= tc.commits; n++ {
				at := t0.Add(time.Duration(n) * time.Second)
				l.sent(n, 100, []lsnTime{{n, at}}, at)
			}
			if tc.acked > 0 {
				at := t0.Add(time.Duration(tc.acked)*time.Second + ms(5))
				l.acked(&transport.Ack{Hardened: tc.acked, Redone: tc.acked}, at)
			}
			var rs adminapi.ReplicaStatus
			l.primaryFigures(&rs, stats(tc.commits), tc.partner, tc.ever, tc.now)
			if rs.LogSendQueueBytes != tc.wantQueue || rs.EstimatedDataLoss.Transactions != tc.wantLoss ||
				rs.EstimatedDataLoss.Seconds != tc.wantLossS || rs.SecondaryLag != tc.wantLag {
				t.Fatalf("queue %d loss %d (%.1f s) lag %.1f; want %d, %d (%.1f s), %.1f", rs.LogSendQueueBytes,
					rs.EstimatedDataLoss.Transactions, rs.EstimatedDataLoss.Seconds, rs.SecondaryLag, tc.wantQueue, tc.wantLoss, tc.wantLossS, tc.wantLag)
			}
			if shown := rs.ReplayLag > 0; shown != tc.wantShown {
				t.Fatalf("replay lag %v shown=%v, want shown=%v", rs.ReplayLag, shown, tc.wantShown)
			}
			if rs.LastCommitLSN != tc.commits || rs.LastSentLSN != tc.commits {
				t.Fatalf("commit %d sent %d, want %d", rs.LastCommitLSN, rs.LastSentLSN, tc.commits)
			}
		})
	}
}

func TestLagTracker_SecondaryFigures(t *testing.T) {
	var l lagTracker
	recv := func(from, to sqlink.LSN) {
		var ts []lsnTime
		for n := from; n <= to; n++ {
			ts = append(ts, lsnTime{n, t0.Add(time.Duration(n) * time.Second)})
		}
		l.received(to, int(to-from+1)*100, ts, t0.Add(time.Duration(to)*time.Second+ms(1)))
	}
	recv(1, 4)
	l.redone(200, t0.Add(5*time.Second))
	// The primary committed up to 6 (heard by heartbeat); 4 hardened, 2 redone.
	l.heardPrimary(6, t0.Add(6*time.Second), true)
	l.heardPrimary(5, t0.Add(5*time.Second), true) // older: ignored
	var rs adminapi.ReplicaStatus
	ds := storage.Stats{Pos: sqlink.Pos{LSN: 4}, Redone: sqlink.Pos{LSN: 2}}
	l.secondaryFigures(&rs, ds, t0.Add(10*time.Second))
	if rs.LastReceivedLSN != 4 || rs.LastCommitLSN != 6 || rs.LastHardenedLSN != 4 || rs.LastRedoneLSN != 2 {
		t.Fatalf("positions: %+v", rs)
	}
	if rs.RedoQueueBytes != 200 || rs.LogSendQueueBytes != 200 || rs.EstimatedDataLoss.Transactions != 2 {
		t.Fatalf("queues: redo %d send %d loss %d", rs.RedoQueueBytes, rs.LogSendQueueBytes, rs.EstimatedDataLoss.Transactions)
	}
	// Loss: from the first record not hardened (unknown: 4's time stands in) to the primary's last commit.
	if rs.EstimatedDataLoss.Seconds != 2 {
		t.Fatalf("loss seconds %v, want 2", rs.EstimatedDataLoss.Seconds)
	}
	// Lag: now minus the commit time of 3, the oldest not redone.
	if rs.SecondaryLag != 7 {
		t.Fatalf("secondary lag %v, want 7", rs.SecondaryLag)
	}
}
