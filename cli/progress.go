package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// Progress of long operations (seeding in link create, backup, restore,
// verify, failover drain): a bar with rate and ETA on stderr when stderr is
// a terminal, JSON events with --json (one object a line:
// {"event":"progress",...}), and nothing otherwise, so that the output of
// a command run by a script stays as it was.

// progress draws one operation's progress. A nil *progress does nothing.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	json     bool
	op, unit string
	start    time.Time
	drawn    time.Time
	done     int64
	total    int64
	finished bool
	now      func() time.Time
}

// ProgressEvent is the JSON form of a progress report.
type ProgressEvent struct {
	Event          string  `json:"event"` // always "progress"
	Operation      string  `json:"operation"`
	Unit           string  `json:"unit"` // bytes or pages
	Done           int64   `json:"done"`
	Total          int64   `json:"total,omitempty"`
	Percent        float64 `json:"percent,omitempty"`
	Rate           float64 `json:"rate_per_second"`
	ETASeconds     float64 `json:"eta_seconds,omitempty"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Finished       bool    `json:"finished,omitempty"`
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newProgress returns the progress of op in unit ("bytes" or "pages") of
// total (0: unknown): JSON events on jsonW with --json, a bar on stderr
// when it is a terminal, else nil.
func (m *Main) newProgress(op, unit string, total int64, jsonW io.Writer) *progress {
	p := &progress{op: op, unit: unit, total: total, now: time.Now}
	switch {
	case m.output == "json":
		p.w, p.json = jsonW, true
	case isTerminal(m.Stderr):
		p.w = m.Stderr
	default:
		return nil
	}
	p.start = p.now()
	return p
}

// enabled reports whether progress is shown.
func (p *progress) enabled() bool { return p != nil }

// Add counts n more units done.
func (p *progress) Add(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.done += n
	p.drawLocked(false)
	p.mu.Unlock()
}

// Set sets the units done and the total (total 0 keeps the old one).
func (p *progress) Set(done, total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.done = done
	if total > 0 {
		p.total = total
	}
	p.drawLocked(false)
	p.mu.Unlock()
}

// End ends the operation: after success (err nil) it draws the final
// state; after a failure it only ends the bar's line, so the error prints
// on a line of its own (and no JSON event precedes the error but those
// already sent).
func (p *progress) End(err error) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	if err == nil {
		// Done is all there was: the total was an estimate (a backup
		// file's size is the database's plus its header, say).
		if p.total > 0 {
			p.total = p.done
		}
		p.drawLocked(true)
	}
	if !p.json && (err == nil || !p.drawn.IsZero()) {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) event(final bool) ProgressEvent {
	el := p.now().Sub(p.start).Seconds()
	ev := ProgressEvent{Event: "progress", Operation: p.op, Unit: p.unit, Done: p.done, Total: p.total, ElapsedSeconds: el, Finished: final}
	if el > 0 {
		ev.Rate = float64(p.done) / el
	}
	if p.total > 0 {
		ev.Percent = min(100, 100*float64(p.done)/float64(p.total))
		if ev.Rate > 0 && p.done < p.total {
			ev.ETASeconds = float64(p.total-p.done) / ev.Rate
		}
	}
	return ev
}

func (p *progress) drawLocked(final bool) {
	now := p.now()
	every := 100 * time.Millisecond
	if p.json {
		every = time.Second
	}
	if !final && now.Sub(p.drawn) < every {
		return
	}
	p.drawn = now
	ev := p.event(final)
	if p.json {
		b, _ := json.Marshal(ev)
		p.w.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(p.w, "\r%s\033[K", progressLine(ev))
}

// progressLine renders a progress event as a bar with rate and ETA.
func progressLine(ev ProgressEvent) string {
	amount := func(n float64) string {
		if ev.Unit == "bytes" {
			return bytesHuman(int64(n))
		}
		return fmt.Sprintf("%.0f %s", n, ev.Unit)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s ", ev.Operation)
	if ev.Total > 0 {
		const width = 30
		full := int(ev.Percent / 100 * width)
		b.WriteString("[" + strings.Repeat("=", full) + strings.Repeat(" ", width-full) + "] ")
		fmt.Fprintf(&b, "%5.1f%% %s/%s", ev.Percent, amount(float64(ev.Done)), amount(float64(ev.Total)))
	} else {
		b.WriteString(amount(float64(ev.Done)))
	}
	fmt.Fprintf(&b, "  %s/s", amount(ev.Rate))
	switch {
	case ev.Finished:
		fmt.Fprintf(&b, "  done in %s", (time.Duration(ev.ElapsedSeconds * float64(time.Second))).Round(100*time.Millisecond))
	case ev.ETASeconds > 0:
		fmt.Fprintf(&b, "  ETA %s", (time.Duration(ev.ETASeconds * float64(time.Second))).Round(time.Second))
	}
	return b.String()
}

// progressWriter counts what is written through it.
type progressWriter struct {
	w io.Writer
	p *progress
}

func (pw progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.Add(int64(n))
	return n, err
}

// progressReader counts what is read through it.
type progressReader struct {
	r io.Reader
	p *progress
}

func (pr progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.Add(int64(n))
	return n, err
}

// watchDrain shows the drain of a failover: the log the primary has not
// yet sent, polled from c while the failover call runs, until stop is
// closed. It returns when done.
func (m *Main) watchDrain(ctx context.Context, c *adminapi.Client, name string, stop <-chan struct{}) {
	prog := m.newProgress("drain", "bytes", 0, m.Stderr)
	if !prog.enabled() {
		return
	}
	var total int64
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if st, err := getLink(ctx, c, name); err == nil {
			q := st.Local.LogSendQueueBytes
			if st.Partner.Role == sqlink.RolePrimary {
				q = st.Partner.LogSendQueueBytes
			}
			total = max(total, q)
			prog.Set(total-q, total)
		}
		select {
		case <-stop:
			prog.End(nil)
			return
		case <-ctx.Done():
			prog.End(ctx.Err())
			return
		case <-t.C:
		}
	}
}

// watchSeeding follows the seeding of the created links on the secondary
// until each is COMPLETED (or FAILED), showing its progress.
func (m *Main) watchSeeding(ctx context.Context, c *adminapi.Client, names []string, jsonW io.Writer) error {
	for _, name := range names {
		prog := m.newProgress("seed "+name, "bytes", 0, jsonW)
		t := time.NewTicker(200 * time.Millisecond)
		for done := false; !done; {
			st, err := getLink(ctx, c, name)
			if err != nil {
				t.Stop()
				prog.End(err)
				return sideError("secondary", err)
			}
			s := st.Local.Seeding
			if s == nil {
				s = st.Partner.Seeding
			}
			if s != nil {
				prog.Set(s.BytesDone, s.BytesTotal)
				if s.State == "FAILED" {
					t.Stop()
					err := sqlink.Errorf(sqlink.EUNAVAILABLE, "see `sqlink link status "+name+"`; seeding resumes by itself when the cause is fixed",
						"seeding of link %s failed: %s", name, lastErrorText(st))
					prog.End(err)
					return err
				}
			}
			if st.Local.DatabaseState == sqlink.DatabaseOnline || s != nil && s.State == "COMPLETED" {
				done = true
				break
			}
			select {
			case <-ctx.Done():
				t.Stop()
				prog.End(ctx.Err())
				return ctx.Err()
			case <-t.C:
			}
		}
		t.Stop()
		prog.End(nil)
	}
	return nil
}

func lastErrorText(st adminapi.LinkStatus) string {
	for _, e := range []*adminapi.LinkError{st.Local.LastError, st.Partner.LastError} {
		if e != nil {
			return e.Message
		}
	}
	return "no error recorded"
}
