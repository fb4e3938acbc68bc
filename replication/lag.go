package replication

import (
	"slices"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// lsnTime remembers when the transaction at an LSN committed on the
// primary. A value, kept by the lagTracker (under Link.mu) or carried in a
// sentBatch.
type lsnTime struct {
	lsn sqlink.LSN
	t   time.Time
}

// rate is a bytes-per-second estimate, smoothed over ticks. It belongs to
// whatever holds it: the lagTracker or seedProgress, both under Link.mu.
type rate struct {
	last  int64
	at    time.Time
	value float64
}

func (r *rate) sample(total int64, now time.Time) {
	if !r.at.IsZero() {
		if dt := now.Sub(r.at).Seconds(); dt > 0 {
			v := float64(total-r.last) / dt
			r.value = 0.5*r.value + 0.5*v
		}
	}
	r.last, r.at = total, now
}

// lagTracker holds the figures of a link's progress over time: what was
// sent, received, redone and acknowledged, when, at what rate, and the
// commit times of recent records, from which it derives the lags and
// queues of the link's status. It is pure: every method takes the time
// it is called at and does no I/O, so tests drive it directly.
//
// Owner: Link.mu guards the tracker (Link.lag); the sender, the receiver,
// the applier, the reader (acks, heartbeats) and the loop (ticks) update
// it under that lock.
type lagTracker struct {
	sentLSN, recvLSN       sqlink.LSN
	sentTime, recvTime     time.Time
	redoneTime             time.Time
	ackHardened, ackRedone sqlink.LSN
	ackTime                time.Time
	// primary: the last measured commit-to-acknowledgment times of the
	// newest hardened and redone records (PostgreSQL's flush_lag and
	// replay_lag), and when they were measured
	hardenLag, replayLag time.Duration
	lagAt                time.Time
	primaryLSN           sqlink.LSN // secondary: the primary's last commit as last heard
	primaryTime          time.Time
	sentBytes, recvBytes int64
	redoneBytes          int64
	sendRate, redoRate   rate
	recvRate             rate
	times                []lsnTime // commit times of recent records (sent or received)
	avgRecord            float64
}

// sent notes a Records batch sent (primary): its last LSN, its size and
// its records' commit times.
func (l *lagTracker) sent(last sqlink.LSN, bytes int, ts []lsnTime, now time.Time) {
	l.sentLSN, l.sentTime = last, now
	l.sentBytes += int64(bytes)
	l.noteTimes(ts, bytes)
}

// received notes a Records batch received (secondary). The newest
// record's commit time is the primary's last commit as far as it knows.
func (l *lagTracker) received(last sqlink.LSN, bytes int, ts []lsnTime, now time.Time) {
	l.recvLSN, l.recvTime = last, now
	l.recvBytes += int64(bytes)
	l.noteTimes(ts, bytes)
	if len(ts) > 0 && last > l.primaryLSN {
		l.primaryLSN, l.primaryTime = last, ts[len(ts)-1].t
	}
}

// receivedSeed notes seed bytes received (secondary).
func (l *lagTracker) receivedSeed(now time.Time) { l.recvTime = now }

// redone notes an apply of bytes of log (secondary).
func (l *lagTracker) redone(bytes int, now time.Time) {
	l.redoneBytes += int64(bytes)
	l.redoneTime = now
}

// heardPrimary notes the primary's last commit as a heartbeat or its
// status reports it; newer is the comparison that admits it.
func (l *lagTracker) heardPrimary(lsn sqlink.LSN, t time.Time, orEqual bool) {
	if lsn > l.primaryLSN || orEqual && lsn == l.primaryLSN {
		l.primaryLSN, l.primaryTime = lsn, t
	}
}

// acked notes a secondary's acknowledgment (primary) and returns the harden
// and replay lags it measured (negative: not measured).
func (l *lagTracker) acked(m *transport.Ack, now time.Time) (hl, rl time.Duration) {
	hl, rl = -1, -1
	if m.Hardened > l.ackHardened {
		l.ackHardened = m.Hardened
		if t, ok := l.timeOf(m.Hardened); ok {
			hl = max(0, now.Sub(t)-m.HardenedAgo)
			l.hardenLag, l.lagAt = hl, now
		}
	}
	if m.Redone > l.ackRedone {
		l.ackRedone = m.Redone
		if t, ok := l.timeOf(m.Redone); ok {
			rl = max(0, now.Sub(t))
			l.replayLag, l.lagAt = rl, now
		}
	}
	l.ackTime = now
	return hl, rl
}

// tick samples the rates.
func (l *lagTracker) tick(now time.Time) {
	l.sendRate.sample(l.sentBytes, now)
	l.redoRate.sample(l.redoneBytes, now)
	l.recvRate.sample(l.recvBytes, now)
}

// noteTimes remembers commit times of records for lag figures.
func (l *lagTracker) noteTimes(ts []lsnTime, bytes int) {
	if len(ts) == 0 {
		return
	}
	avg := float64(bytes) / float64(len(ts))
	if l.avgRecord == 0 {
		l.avgRecord = avg
	} else {
		l.avgRecord = 0.9*l.avgRecord + 0.1*avg
	}
	if n := len(l.times); n > 0 && l.times[n-1].lsn >= ts[0].lsn {
		// A resend after a reconnect: keep what we have.
		i := 0
		for i < len(ts) && ts[i].lsn <= l.times[n-1].lsn {
			i++
		}
		ts = ts[i:]
	}
	l.times = append(l.times, ts...)
	if len(l.times) > timesKept {
		l.times = append(l.times[:0], l.times[len(l.times)-timesKept/2:]...)
	}
}

// timeOf returns the commit time of the record at lsn if remembered.
func (l *lagTracker) timeOf(lsn sqlink.LSN) (time.Time, bool) {
	i, ok := slices.BinarySearchFunc(l.times, lsn, func(e lsnTime, x sqlink.LSN) int {
		switch {
		case e.lsn < x:
			return -1
		case e.lsn > x:
			return 1
		}
		return 0
	})
	if !ok {
		return time.Time{}, false
	}
	return l.times[i].t, true
}

// avgRecordSize estimates the size of one log record: the log's average
// when it holds records, else what went over the wire.
func (l *lagTracker) avgRecordSize(ds storage.Stats) float64 {
	if ds.LogBytes > 0 && ds.LogFirstLSN > 0 && ds.LogFirstLSN <= ds.Pos.LSN {
		return float64(ds.LogBytes) / float64(ds.Pos.LSN-ds.LogFirstLSN+1)
	}
	return l.avgRecord
}

// primaryFigures fills a primary's positions, queues, rates and lags into
// rs. partner is the secondary's hardened LSN as the state machine last
// heard it (0 if it does not know it as a secondary); everConnected says
// whether the secondary ever connected (a lag before that is no lag).
//
// Lag is defined as now minus the primary commit time of the oldest
// transaction the secondary has not redone yet (0 when it has redone
// everything the primary committed as far as it knows).
func (l *lagTracker) primaryFigures(rs *adminapi.ReplicaStatus, ds storage.Stats, partner sqlink.LSN, everConnected bool, now time.Time) {
	rs.LastCommitLSN, rs.LastCommitTime = ds.Pos.LSN, ds.LastCommit
	rs.LastHardenedLSN, rs.LastHardenedTime = ds.Pos.LSN, ds.LastCommit
	rs.LastRedoneLSN, rs.LastRedoneTime = ds.Pos.LSN, ds.LastCommit
	rs.LastSentLSN, rs.LastSentTime = l.sentLSN, l.sentTime
	partner = max(l.ackHardened, partner)
	if ds.Pos.LSN > partner {
		n := ds.Pos.LSN - partner
		rs.LogSendQueueBytes = int64(float64(n) * l.avgRecordSize(ds))
		rs.EstimatedDataLoss.Transactions = int64(n)
		if t, ok := l.timeOf(partner + 1); ok && !ds.LastCommit.IsZero() {
			rs.EstimatedDataLoss.Seconds = max(0, ds.LastCommit.Sub(t).Seconds())
		}
	}
	rs.LogSendRate = l.sendRate.value
	// Like PostgreSQL's, the measured lags show for a while after the
	// secondary caught up with an idle primary, then zero.
	if l.ackRedone < ds.Pos.LSN || now.Sub(l.lagAt) < lagShownIdle {
		rs.HardenLag, rs.ReplayLag = l.hardenLag.Seconds(), l.replayLag.Seconds()
	}
	if l.ackRedone < ds.Pos.LSN && everConnected {
		if t, ok := l.timeOf(l.ackRedone + 1); ok {
			rs.SecondaryLag = max(0, now.Sub(t).Seconds())
		} else if !ds.LastCommit.IsZero() {
			rs.SecondaryLag = max(0, now.Sub(ds.LastCommit).Seconds())
		}
	}
}

// secondaryFigures fills a secondary's positions, queues, rates and lags
// into rs. When the secondary has not received the oldest transaction it
// has not redone, the primary's last commit time stands in for its commit
// time, which understates the lag.
func (l *lagTracker) secondaryFigures(rs *adminapi.ReplicaStatus, ds storage.Stats, now time.Time) {
	hard, red := ds.Pos.LSN, ds.Redone.LSN
	rs.LastReceivedLSN, rs.LastReceivedTime = l.recvLSN, l.recvTime
	rs.LastHardenedLSN, rs.LastHardenedTime = hard, ds.HardenedAt
	rs.LastRedoneLSN, rs.LastRedoneTime = red, l.redoneTime
	rs.LastCommitLSN, rs.LastCommitTime = l.primaryLSN, l.primaryTime
	avg := l.avgRecordSize(ds)
	if hard > red {
		rs.RedoQueueBytes = int64(float64(hard-red) * avg)
	}
	rs.RedoRate = l.redoRate.value
	rs.LogSendRate = l.recvRate.value
	if l.primaryLSN > hard {
		n := l.primaryLSN - hard
		rs.LogSendQueueBytes = int64(float64(n) * avg)
		rs.EstimatedDataLoss.Transactions = int64(n)
		from, ok := l.timeOf(hard + 1)
		if !ok {
			from, ok = l.timeOf(hard)
		}
		if ok && !l.primaryTime.IsZero() {
			rs.EstimatedDataLoss.Seconds = max(0, l.primaryTime.Sub(from).Seconds())
		}
	}
	if l.primaryLSN > red {
		t, ok := l.timeOf(red + 1)
		if !ok {
			t = l.primaryTime
		}
		if !t.IsZero() {
			rs.SecondaryLag = max(0, now.Sub(t).Seconds())
		}
	}
}
