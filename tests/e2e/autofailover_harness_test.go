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
	"github.com/sqlink/sqlink/etcdlease/etcdtest"
)

// etcdFlags are the serve flags that connect an instance to cluster c.
func etcdFlags(c *etcdtest.Cluster) []string {
	return []string{"--etcd-endpoints", strings.Join(c.Endpoints(), ",")}
}

// autoLinkTTL is the lease TTL of the tests' auto-failover links: short,
// so a failover takes seconds, and long enough for the fencing margin
// and a renewal period (TTL/3) at one-second ticks.
const autoLinkTTL = "5s"

// mustSetupAutoLink starts alpha and beta connected to etcd cluster c,
// creates database app with a notes table on alpha and links it to beta
// in sync mode with --auto-failover; it returns once beta has caught up
// and alpha holds the lease.
func mustSetupAutoLink(t *testing.T, c *etcdtest.Cluster, name string, extra ...string) (alpha, beta *Instance) {
	t.Helper()
	alpha = MustStartFailoverInstance(t, "alpha", etcdFlags(c)...)
	beta = MustStartFailoverInstance(t, "beta", etcdFlags(c)...)
	logOnFailure(t, alpha, beta)
	alpha.MustCLI("db", "create", "app")
	alpha.MustPsql("app", `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);`)
	mustFullBackup(t, alpha, "app")
	args := append([]string{"--mode", "sync", "--auto-failover", "--lease-ttl", autoLinkTTL}, extra...)
	MustCreateLink(t, alpha, beta, name, "app", args...)
	waitCaughtUp(t, alpha, beta, name, 0)
	waitLeaseHolder(t, alpha, name, "alpha")
	waitLink(t, alpha, name, time.Minute, func(st adminapi.LinkStatus) error {
		if st.State != "SYNCHRONIZED" {
			return fmt.Errorf("not synchronized")
		}
		return nil
	})
	return alpha, beta
}

// logOnFailure logs the end of each instance's output if the test fails.
func logOnFailure(t testing.TB, ins ...*Instance) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, in := range ins {
			t.Logf("%s's output:\n%s", in.Name, tail(in.Output(), 60))
		}
	})
}

// waitLeaseHolder waits until in sees holder holding link name's lease
// (in itself when holder is in's name) and taking writes if so.
func waitLeaseHolder(t testing.TB, in *Instance, name, holder string) adminapi.LinkStatus {
	t.Helper()
	return waitLink(t, in, name, 2*time.Minute, func(st adminapi.LinkStatus) error {
		a := st.AutoFailover
		switch {
		case a == nil:
			return errors.New("no auto_failover status")
		case a.Holder != holder:
			return fmt.Errorf("lease holder %q, want %q (etcd healthy %v %s, waiting %q)", a.Holder, holder, a.EtcdHealthy, a.EtcdError, a.Waiting)
		case holder == in.Name && (!a.Held || st.Local.Role != sqlink.RolePrimary || st.Local.ReadOnly):
			return fmt.Errorf("holds the lease: %v, role %s, read-only %v (waiting %q)", a.Held, st.Local.Role, st.Local.ReadOnly, a.Waiting)
		}
		return nil
	})
}

// ackLoop inserts rows with increasing ids into notes through a
// multi-host connection string (so it follows the primary), one
// transaction at a time, and keeps the ids whose COMMIT returned: the
// acknowledged transactions. A failed write closes the connection and
// the loop connects again.
type ackLoop struct {
	conn string
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	acked  []int64
	byPort map[string]int
	first  map[string]time.Time   // when each server acknowledged its first write
	starts map[string][]time.Time // each connection's first acknowledged write, by server
	codes  map[string]int         // failed writes by SQLSTATE ("" for others)
	last   string
}

func startAckLoop(t testing.TB, conn string) *ackLoop {
	l := &ackLoop{conn: conn, stop: make(chan struct{}), done: make(chan struct{}), byPort: map[string]int{}, first: map[string]time.Time{}, starts: map[string][]time.Time{}, codes: map[string]int{}}
	go l.run()
	t.Cleanup(l.Stop)
	return l
}

func (l *ackLoop) run() {
	defer close(l.done)
	var (
		c     *pgx.Conn
		port  string
		fresh bool // no write acknowledged on c yet
	)
	defer func() {
		if c != nil {
			c.Close(context.Background())
		}
	}()
	pace := func() bool {
		select {
		case <-l.stop:
			return false
		case <-time.After(20 * time.Millisecond):
			return true
		}
	}
	for id := int64(1); ; {
		select {
		case <-l.stop:
			return
		default:
		}
		if c == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var err error
			port, c, err = pgxPrimaryPort(ctx, l.conn)
			cancel()
			if err != nil {
				c = nil
				l.note(err)
				if !pace() {
					return
				}
				continue
			}
			fresh = true
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := c.Exec(ctx, `INSERT INTO notes (id, body) VALUES ($1, 'ack')`, id)
		cancel()
		id++ // never reuse an id: a failed COMMIT may still have committed
		if err != nil {
			l.note(err)
			c.Close(context.Background())
			c = nil
			continue
		}
		l.mu.Lock()
		l.acked = append(l.acked, id-1)
		if l.byPort[port] == 0 {
			l.first[port] = time.Now()
		}
		if fresh {
			l.starts[port] = append(l.starts[port], time.Now())
			fresh = false
		}
		l.byPort[port]++
		l.mu.Unlock()
	}
}

func (l *ackLoop) note(err error) {
	code := ""
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		code = pe.Code
	}
	l.mu.Lock()
	l.codes[code]++
	l.last = err.Error()
	l.mu.Unlock()
}

// Stop ends the loop after the write in flight.
func (l *ackLoop) Stop() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// Acked returns the acknowledged ids so far.
func (l *ackLoop) Acked() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.acked...)
}

// On returns how many writes in's server acknowledged.
func (l *ackLoop) On(in *Instance) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byPort[in.Port()]
}

// FirstOn returns when in's server acknowledged its first write (zero if
// none yet).
func (l *ackLoop) FirstOn(in *Instance) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first[in.Port()]
}

// FirstSince returns when in's server acknowledged the first write of a
// connection that acknowledged nothing before since (zero if none yet):
// after a kill, the first write the new primary took.
func (l *ackLoop) FirstSince(in *Instance, since time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, at := range l.starts[in.Port()] {
		if !at.Before(since) {
			return at
		}
	}
	return time.Time{}
}

// Codes returns the failed writes by SQLSTATE and the last error.
func (l *ackLoop) Codes() (map[string]int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for k, v := range l.codes {
		out[k] = v
	}
	return out, l.last
}

// waitFollowing waits until old, restarted after losing the lease, follows
// primary in link name by itself: secondary and read-only at the
// primary's epoch, seeing primary hold the lease.
func waitFollowing(t testing.TB, old, primary *Instance, name string) {
	t.Helper()
	waitLink(t, old, name, 2*time.Minute, func(st adminapi.LinkStatus) error {
		pst, err := linkStatus(primary, name)
		if err != nil {
			return err
		}
		if st.Local.Role != sqlink.RoleSecondary || !st.Local.ReadOnly || st.Epoch != pst.Epoch || pst.Local.Role != sqlink.RolePrimary {
			return fmt.Errorf("%s is %s (read-only %v) at epoch %d, %s %s at %d", old.Name, st.Local.Role, st.Local.ReadOnly, st.Epoch, primary.Name, pst.Local.Role, pst.Epoch)
		}
		if a := st.AutoFailover; a == nil || a.Holder != primary.Name || a.Held {
			return fmt.Errorf("%s's view of the lease: %+v", old.Name, a)
		}
		return nil
	})
}

// mustWriteApp inserts a note into database app through psql.
func mustWriteApp(t testing.TB, in *Instance, body string) {
	t.Helper()
	in.MustPsql("app", fmt.Sprintf(`INSERT INTO notes (body) VALUES ('%s');`, body))
}

// missingNotes returns the ids of acked that in's notes table lacks.
func missingNotes(t testing.TB, in *Instance, acked []int64) []int64 {
	t.Helper()
	out := in.MustPsql("app", `SELECT id FROM notes ORDER BY id;`)
	have := map[int64]bool{}
	for _, f := range strings.Fields(out) {
		var n int64
		if _, err := fmt.Sscan(f, &n); err == nil {
			have[n] = true
		}
	}
	var missing []int64
	for _, id := range acked {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing
}

// auditActions returns the actions of in's audit log entries whose action
// starts with prefix, with their details.
func auditActions(t testing.TB, in *Instance, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	es, err := in.API().Audit(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Action, prefix) {
			out = append(out, e.Action+": "+e.Detail)
		}
	}
	return out
}
