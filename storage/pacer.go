package storage

import "time"

// failPacer paces a background task that keeps failing (a full disk under
// a checkpoint, say): it backs off between attempts, from the loop's own
// interval up to maxWait, and tells the caller when to log, so that a
// failure that lasts fills the log with one line per logEvery, not one per
// attempt. Not safe for concurrent use.
type failPacer struct {
	minWait, maxWait time.Duration
	logEvery         time.Duration

	failing  bool
	seen     map[string]bool // errors logged in this run of failures
	wait     time.Duration   // current back-off
	next     time.Time       // no attempt before this
	lastLog  time.Time
	repeated int // failures since the last logged one
}

func newFailPacer(minWait, maxWait, logEvery time.Duration) *failPacer {
	return &failPacer{minWait: minWait, maxWait: maxWait, logEvery: logEvery}
}

// due reports whether an attempt may run at now.
func (p *failPacer) due(now time.Time) bool { return !p.failing || !now.Before(p.next) }

// failed records a failed attempt at now; log says whether to log it and
// repeated how many failures since the last one logged were not.
func (p *failPacer) failed(now time.Time, err error) (log bool, repeated int) {
	msg := err.Error()
	if !p.failing {
		p.wait = p.minWait
		p.seen = map[string]bool{}
	} else {
		p.wait = min(2*p.wait, p.maxWait)
	}
	p.failing = true
	p.next = now.Add(p.wait)
	if !p.seen[msg] || now.Sub(p.lastLog) >= p.logEvery {
		// A new error (even one alternating with another) is logged at
		// once; a repeated one once per logEvery.
		p.seen[msg], p.lastLog = true, now
		repeated, p.repeated = p.repeated, 0
		return true, repeated
	}
	p.repeated++
	return false, 0
}

// succeeded records a successful attempt; recovered says whether it ends
// a run of failures (which the caller logs).
func (p *failPacer) succeeded() (recovered bool) {
	recovered = p.failing
	p.failing, p.seen, p.repeated = false, nil, 0
	return recovered
}
