package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// writeTry is one write a partWriter sent: when it went and when its
// answer came, and the answer ("" acknowledged, an SQLSTATE, or "error"
// for a connection failure or a timeout: not acknowledged either way).
type writeTry struct {
	ID         int64
	Sent, Recv time.Time
	Code       string
	Err        string
}

// partWriter inserts rows into app's notes table on one instance, one
// transaction at a time, with ids from its own range, and keeps every
// try. Timeout bounds each write: a patient writer (long timeout) sees
// what a commit waiting for the secondary finally answers, an impatient
// one (short timeout) sees the instance refuse writes as soon as it does.
type partWriter struct {
	in      *Instance
	timeout time.Duration
	stop    chan struct{}
	done    chan struct{}

	mu    sync.Mutex
	next  int64
	tries []writeTry
}

func startPartWriter(t testing.TB, in *Instance, base int64, timeout time.Duration) *partWriter {
	w := &partWriter{in: in, timeout: timeout, next: base, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	t.Cleanup(w.Stop)
	return w
}

func (w *partWriter) run() {
	defer close(w.done)
	var c *pgx.Conn
	defer func() {
		if c != nil {
			c.Close(context.Background())
		}
	}()
	for {
		select {
		case <-w.stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
		w.mu.Lock()
		id := w.next
		w.next++ // never reused: a write that failed may still have committed
		w.mu.Unlock()
		try := writeTry{ID: id, Sent: time.Now()}
		ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
		var err error
		if c == nil {
			c, err = pgx.Connect(ctx, w.in.ConnString("app")+" connect_timeout=5")
			if err != nil {
				c = nil
			}
		}
		if err == nil {
			_, err = c.Exec(ctx, `INSERT INTO notes (id, body) VALUES ($1, 'partition')`, id)
		}
		cancel()
		try.Recv = time.Now()
		if err != nil {
			try.Err = err.Error()
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				try.Code = pe.Code
			} else {
				try.Code = "error"
			}
			if c != nil && (try.Code == "error" || c.IsClosed()) {
				c.Close(context.Background())
				c = nil
			}
		}
		w.mu.Lock()
		w.tries = append(w.tries, try)
		w.mu.Unlock()
	}
}

// Stop ends the writer after the write in flight.
func (w *partWriter) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// Tries returns every write so far.
func (w *partWriter) Tries() []writeTry {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]writeTry(nil), w.tries...)
}

// Acked returns the ids of the acknowledged writes.
func (w *partWriter) Acked() []int64 {
	var out []int64
	for _, x := range w.Tries() {
		if x.Code == "" {
			out = append(out, x.ID)
		}
	}
	return out
}

// AckedSentAfter counts the acknowledged writes sent after t.
func (w *partWriter) AckedSentAfter(t time.Time) int {
	n := 0
	for _, x := range w.Tries() {
		if x.Code == "" && x.Sent.After(t) {
			n++
		}
	}
	return n
}

// FirstCode returns the first write sent after t answered with code.
func (w *partWriter) FirstCode(t time.Time, code string) (writeTry, bool) {
	for _, x := range w.Tries() {
		if x.Code == code && x.Sent.After(t) {
			return x, true
		}
	}
	return writeTry{}, false
}

// refusals returns the first and the last write sent after t that the
// instance refused with 25006, and how many it refused.
func refusals(w *partWriter, t time.Time) (first, last writeTry, n int) {
	for _, x := range w.Tries() {
		if x.Code == "25006" && x.Sent.After(t) {
			if n == 0 {
				first = x
			}
			last = x
			n++
		}
	}
	return first, last, n
}

// Summary counts the answers by code, for failure messages and logs.
func (w *partWriter) Summary() string {
	n := map[string]int{}
	last := map[string]string{}
	for _, x := range w.Tries() {
		c := x.Code
		if c == "" {
			c = "ok"
		}
		n[c]++
		if x.Err != "" {
			last[c] = x.Err
		}
	}
	var parts []string
	for c, k := range n {
		s := fmt.Sprintf("%s: %d", c, k)
		if last[c] != "" {
			s += fmt.Sprintf(" (last: %s)", last[c])
		}
		parts = append(parts, s)
	}
	return w.in.Name + ": " + strings.Join(parts, ", ")
}

// partLinkTTL is the lease TTL of the partition tests that fail over:
// the fence comes at TTL - 2 s margin - drift after the last renewal, the
// lease expires in etcd at TTL. The tests where etcd loses members use
// the default TTL (etcdlease.DefaultTTL), which leaves several renewals
// before the fence.
const partLinkTTL = 5 * time.Second

// setupPartitionLink builds the lab (alpha, beta, three etcd members, each
// in a namespace), creates app with a notes table on alpha and links it to
// beta in sync mode with --auto-failover and lease TTL ttl; it returns once the link is
// SYNCHRONIZED and alpha holds the lease.
func setupPartitionLink(t *testing.T, ttl time.Duration) (lab *netLab, ms []*etcdMember, alpha, beta *Instance) {
	t.Helper()
	requireTool(t, "psql")
	lab = newNetLab(t, "alpha", "beta", "etcd1", "etcd2", "etcd3")
	ms = startEtcdCluster(t, lab, "etcd1", "etcd2", "etcd3")
	eps := etcdEndpoints(ms)
	alpha = startNetInstance(t, lab, "alpha", "--etcd-endpoints", eps)
	beta = startNetInstance(t, lab, "beta", "--etcd-endpoints", eps)
	logOnFailure(t, alpha, beta)
	lab.healAtEnd()
	alpha.MustCLI("db", "create", "app")
	alpha.MustPsql("app", `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);`)
	mustFullBackup(t, alpha, "app")
	MustCreateLink(t, alpha, beta, "af", "app", "--mode", "sync", "--auto-failover", "--lease-ttl", ttl.String())
	waitCaughtUp(t, alpha, beta, "af", 0)
	waitLeaseHolder(t, alpha, "af", "alpha")
	waitLink(t, alpha, "af", time.Minute, func(st adminapi.LinkStatus) error {
		if st.State != "SYNCHRONIZED" {
			return errors.New("not synchronized")
		}
		return nil
	})
	return lab, ms, alpha, beta
}

// waitAcked waits until w has n more acknowledged writes sent after since.
func waitAcked(t testing.TB, w *partWriter, since time.Time, n int, timeout time.Duration) {
	t.Helper()
	testutil.RetryUntil(t, timeout, func() error {
		if k := w.AckedSentAfter(since); k < n {
			return fmt.Errorf("%d writes sent since %s acknowledged, want %d; %s", k, since.Format("15:04:05.000"), n, w.Summary())
		}
		return nil
	})
}

// checkNoPromotion fails if sec accepted a write or calls itself primary.
func checkNoPromotion(t testing.TB, sec *Instance, w *partWriter, epoch sqlink.Epoch) {
	t.Helper()
	if ok := w.Acked(); len(ok) > 0 {
		t.Fatalf("the secondary %s acknowledged %d writes, e.g. id %d: %s", sec.Name, len(ok), ok[0], w.Summary())
	}
	st := mustLinkStatus(t, sec, "af")
	if st.Local.Role != sqlink.RoleSecondary || st.Epoch != epoch {
		t.Fatalf("the secondary %s is %s at epoch %d (was a secondary at %d)", sec.Name, st.Local.Role, st.Epoch, epoch)
	}
}

// waitFollows waits until sec is the secondary of the link at p's epoch,
// caught up, and p sees the link SYNCHRONIZED with no split brain.
func waitFollows(t testing.TB, p, sec *Instance) {
	t.Helper()
	pst := mustLinkStatus(t, p, "af")
	waitLink(t, sec, "af", 2*time.Minute, func(st adminapi.LinkStatus) error {
		if st.Local.Role != sqlink.RoleSecondary || st.Epoch < pst.Epoch {
			return fmt.Errorf("%s is %s at epoch %d", sec.Name, st.Local.Role, st.Epoch)
		}
		return nil
	})
	waitCaughtUp(t, p, sec, "af", 2*time.Minute)
	waitLink(t, p, "af", 2*time.Minute, func(st adminapi.LinkStatus) error {
		if st.State != "SYNCHRONIZED" || st.SplitBrain != nil {
			return fmt.Errorf("state %s, split brain %+v", st.State, st.SplitBrain)
		}
		return nil
	})
}

// checkAllPresent fails unless in holds every write the writers saw
// acknowledged.
func checkAllPresent(t testing.TB, in *Instance, ws ...*partWriter) int {
	t.Helper()
	var acked []int64
	for _, w := range ws {
		acked = append(acked, w.Acked()...)
	}
	if miss := missingNotes(t, in, acked); len(miss) > 0 {
		t.Fatalf("%d of %d acknowledged writes missing on %s, e.g. %v", len(miss), len(acked), in.Name, miss[:min(10, len(miss))])
	}
	return len(acked)
}
