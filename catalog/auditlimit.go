package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultFailureAuditWindow is how often at most a source's failed
// authentications are written to the audit log.
const DefaultFailureAuditWindow = time.Minute

// maxFailureSources bounds the sources a FailureAudit tracks; beyond it
// new sources share one summary.
const maxFailureSources = 4096

// otherSources is the key and name of the shared summary.
const otherSources = "other sources"

// FailureAudit writes failed authentications (bad admin tokens, failed
// SQL logins) to the audit log without letting a flood of them push real
// history out: per source and window, the first failure is written as it
// comes and the others are only counted; when the window ends, one entry
// says how many there were. A source that keeps failing gets one summary
// per window. It is safe for concurrent use.
type FailureAudit struct {
	cat    *Catalog
	window time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	sources map[string]*failureWindow
	closed  bool
}

type failureWindow struct {
	source string
	first  AuditEntry // the entry written at the window's start
	since  time.Time  // start of the counted failures
	count  int        // failures not written one by one
	timer  *time.Timer
}

// NewFailureAudit returns a FailureAudit writing to c; window 0 means
// DefaultFailureAuditWindow. Close it to write the pending summaries.
func (c *Catalog) NewFailureAudit(window time.Duration, log *slog.Logger) *FailureAudit {
	if window <= 0 {
		window = DefaultFailureAuditWindow
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FailureAudit{cat: c, window: window, log: log, sources: map[string]*failureWindow{}}
}

// Record records one failed authentication from source (an IP address).
// key separates kinds of failure (e.g. "admin" and "sql") of one source.
func (f *FailureAudit) Record(ctx context.Context, key, source string, e AuditEntry) {
	k := key + "|" + source
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	w := f.sources[k]
	if w == nil && len(f.sources) >= maxFailureSources {
		k, source = key+"|"+otherSources, otherSources
		w = f.sources[k]
	}
	if w != nil {
		w.count++
		f.mu.Unlock()
		return
	}
	e.Detail = fmt.Sprintf("%s (from %s)", e.Detail, source)
	w = &failureWindow{source: source, first: e, since: f.cat.now().UTC()}
	f.sources[k] = w
	w.timer = time.AfterFunc(f.window, func() { f.endWindow(k) })
	f.mu.Unlock()
	f.write(ctx, e)
}

// endWindow writes the window's summary, if it counted failures, and
// starts another (so that a source that keeps failing is summarised once
// per window); a quiet window ends the source's tracking.
func (f *FailureAudit) endWindow(k string) {
	f.mu.Lock()
	w := f.sources[k]
	if w == nil || f.closed {
		f.mu.Unlock()
		return
	}
	if w.count == 0 {
		delete(f.sources, k)
		f.mu.Unlock()
		return
	}
	e := w.summary()
	w.count, w.since = 0, f.cat.now().UTC()
	w.timer = time.AfterFunc(f.window, func() { f.endWindow(k) })
	f.mu.Unlock()
	f.write(context.Background(), e)
}

func (w *failureWindow) summary() AuditEntry {
	return AuditEntry{
		Action: "auth.failures",
		Target: w.source,
		Result: w.first.Result,
		Detail: fmt.Sprintf("%d more failed attempts (%s) from %s since %s, not recorded one by one",
			w.count, w.first.Action, w.source, w.since.Format(time.RFC3339)),
	}
}

// Flush writes the summaries of every window now and forgets them.
func (f *FailureAudit) Flush(ctx context.Context) {
	f.mu.Lock()
	var es []AuditEntry
	for k, w := range f.sources {
		w.timer.Stop()
		if w.count > 0 {
			es = append(es, w.summary())
		}
		delete(f.sources, k)
	}
	f.mu.Unlock()
	for _, e := range es {
		f.write(ctx, e)
	}
}

// Close flushes and stops recording.
func (f *FailureAudit) Close(ctx context.Context) {
	f.Flush(ctx)
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

func (f *FailureAudit) write(ctx context.Context, e AuditEntry) {
	if err := f.cat.Audit(context.WithoutCancel(ctx), e); err != nil {
		f.log.Error("audit of a failed authentication failed", "action", e.Action, "err", err)
	}
}
