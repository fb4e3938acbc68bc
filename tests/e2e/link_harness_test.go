package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// API returns an admin API client for the instance, for polling without
// starting a CLI process each time.
func (in *Instance) API() *adminapi.Client {
	return adminapi.NewClient(in.AdminURL(), in.Token, in.HTTPClient(in.t))
}

// linkFlags names p as the primary and s as the secondary on a link
// command line.
func linkFlags(p, s *Instance) []string {
	return []string{"--primary", p.AdminURL(), "--primary-token", p.Token, "--primary-fingerprint", p.Fingerprint(),
		"--secondary", s.AdminURL(), "--secondary-token", s.Token, "--secondary-fingerprint", s.Fingerprint()}
}

// createdLink is the result line of `link create --json`.
type createdLink struct {
	Name      string              `json:"name"`
	Database  string              `json:"database"`
	LinkID    string              `json:"link_id"`
	Primary   adminapi.LinkStatus `json:"primary"`
	Secondary adminapi.LinkStatus `json:"secondary"`
}

// linkCreateEvent is one line of `link create --json`.
type linkCreateEvent struct {
	Event   string        `json:"event"`
	Name    string        `json:"name"`
	Status  string        `json:"status"`
	Detail  string        `json:"detail"`
	Links   []createdLink `json:"links"`
	Code    string        `json:"code"`
	Message string        `json:"message"`
}

// parseCreateOutput decodes the JSON lines `link create --json` printed.
func parseCreateOutput(t testing.TB, out string) []linkCreateEvent {
	t.Helper()
	var evs []linkCreateEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var ev linkCreateEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("link create --json line %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// MustCreateLink creates link name replicating db from p to s, with extra
// flags for `link create`, and returns the link as both halves reported it
// when created.
func MustCreateLink(t testing.TB, p, s *Instance, name, db string, extra ...string) createdLink {
	t.Helper()
	args := append([]string{"link", "create", "--name", name, "--database", db, "--json"}, linkFlags(p, s)...)
	out := p.MustCLI(append(args, extra...)...)
	evs := parseCreateOutput(t, out)
	if len(evs) == 0 || evs[len(evs)-1].Event != "result" || len(evs[len(evs)-1].Links) != 1 {
		t.Fatalf("link create printed no result:\n%s", out)
	}
	return evs[len(evs)-1].Links[0]
}

// linkStatus returns the link as in sees it.
func linkStatus(in *Instance, name string) (adminapi.LinkStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var st adminapi.LinkStatus
	err := in.API().Do(ctx, "GET", "/v1/links/"+name, nil, &st)
	return st, err
}

// mustLinkStatus returns the link as in sees it or fails the test.
func mustLinkStatus(t testing.TB, in *Instance, name string) adminapi.LinkStatus {
	t.Helper()
	st, err := linkStatus(in, name)
	if err != nil {
		t.Fatalf("link status %s on %s: %v", name, in.Name, err)
	}
	return st
}

// waitLink polls in's view of link name until cond accepts it.
func waitLink(t testing.TB, in *Instance, name string, timeout time.Duration, cond func(adminapi.LinkStatus) error) adminapi.LinkStatus {
	t.Helper()
	var st adminapi.LinkStatus
	testutil.RetryUntil(t, timeout, func() error {
		var err error
		if st, err = linkStatus(in, name); err != nil {
			return err
		}
		if err := cond(st); err != nil {
			return fmt.Errorf("%s on %s: %w (state %s, local %s/%s, last error %s)", name, in.Name, err, st.State,
				st.Local.SyncState, st.Local.DatabaseState, lastError(st.Local))
		}
		return nil
	})
	return st
}

func lastError(r adminapi.ReplicaStatus) string {
	if r.LastError == nil {
		return "none"
	}
	return r.LastError.Code + ": " + r.LastError.Message
}

// waitCaughtUp waits until the secondary s is ONLINE and has redone the
// primary's last committed LSN, and returns that LSN.
func waitCaughtUp(t testing.TB, p, s *Instance, name string, timeout time.Duration) sqlink.LSN {
	t.Helper()
	var lsn sqlink.LSN
	testutil.RetryUntil(t, timeout, func() error {
		ps, err := linkStatus(p, name)
		if err != nil {
			return err
		}
		ss, err := linkStatus(s, name)
		if err != nil {
			return err
		}
		lsn = ps.Local.LastCommitLSN
		if ss.Local.DatabaseState != sqlink.DatabaseOnline || ss.Local.LastRedoneLSN < lsn {
			return fmt.Errorf("secondary %s is %s at redone LSN %d, primary at %d (state %s/%s, seeding %+v, errors: primary %s, secondary %s)",
				s.Name, ss.Local.DatabaseState, ss.Local.LastRedoneLSN, lsn, ps.State, ss.State, ss.Local.Seeding,
				lastError(ps.Local), lastError(ss.Local))
		}
		return nil
	})
	return lsn
}

// mustVerify runs `link verify` and fails unless both copies are equal.
func mustVerify(t testing.TB, p, s *Instance, name string) string {
	t.Helper()
	r := p.CLI(append([]string{"link", "verify", name, "--timeout", "60s"}, linkFlags(p, s)...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "equal at LSN") {
		t.Fatalf("link verify %s: exit %d\nstdout: %s\nstderr: %s", name, r.Code, r.Stdout, r.Stderr)
	}
	return strings.TrimSpace(r.Stdout)
}

// seedingOf returns a replica's seeding progress, from its own status or
// else from its partner's view of it.
func seedingOf(st adminapi.LinkStatus) *adminapi.SeedingStatus {
	if st.Local.Seeding != nil {
		return st.Local.Seeding
	}
	return st.Partner.Seeding
}

// mustFullBackup takes a full backup of db on in, starting its chain.
func mustFullBackup(t *testing.T, in *Instance, db string) manifest {
	t.Helper()
	return mustBackup(t, in, db, filepath.Join(t.TempDir(), db+".bak"), false)
}

// queryInt runs a one-value query through psql.
func queryInt(in *Instance, db, q string) (int64, error) {
	out, err := in.Psql(context.Background(), db, q)
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	var n int64
	if _, err := fmt.Sscan(strings.TrimSpace(out), &n); err != nil {
		return 0, fmt.Errorf("parse %q: %v", out, err)
	}
	return n, nil
}

// waitRows waits until query q on in returns at least want.
func waitRows(t testing.TB, in *Instance, db, q string, want int64, timeout time.Duration) int64 {
	t.Helper()
	var got int64
	testutil.RetryUntil(t, timeout, func() error {
		var err error
		if got, err = queryInt(in, db, q); err != nil {
			return err
		}
		if got < want {
			return fmt.Errorf("%s on %s = %d, waiting for %d", q, in.Name, got, want)
		}
		return nil
	})
	return got
}

// blobTable is the table the tests that move large rows over a link use.
const blobTable = `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);`

// insert500kB inserts 500 kB (five 100 kB rows) into blobTable.
const insert500kB = `INSERT INTO t (v) SELECT randomblob(100000) FROM (SELECT 1 UNION SELECT 2 UNION SELECT 3 UNION SELECT 4 UNION SELECT 5)`

// startLinkedF starts instances alpha and beta, runs prepare on them (if
// not nil: to move one onto a small volume, say), creates database f on
// alpha with schema, takes its chain-starting backup and links f as name
// from alpha to beta with extra create flags. It does not wait for the
// seeding.
func startLinkedF(t *testing.T, name, schema string, prepare func(alpha, beta *Instance), extra ...string) (alpha, beta *Instance) {
	t.Helper()
	alpha = MustStartInstance(t, "alpha")
	beta = MustStartInstance(t, "beta")
	if prepare != nil {
		prepare(alpha, beta)
	}
	linkF(t, alpha, beta, name, schema, extra...)
	return alpha, beta
}

// startLinkedFWith is startLinkedF with serve flags for both instances
// and nothing to prepare.
func startLinkedFWith(t *testing.T, serveFlags []string, name, schema string, extra ...string) (alpha, beta *Instance) {
	t.Helper()
	alpha = MustStartInstance(t, "alpha", serveFlags...)
	beta = MustStartInstance(t, "beta", serveFlags...)
	linkF(t, alpha, beta, name, schema, extra...)
	return alpha, beta
}

// linkF creates database f on alpha with schema, takes its chain-starting
// backup and links it as name to beta with extra create flags.
func linkF(t *testing.T, alpha, beta *Instance, name, schema string, extra ...string) {
	t.Helper()
	alpha.MustCLI("db", "create", "f")
	alpha.MustPsql("f", schema)
	mustFullBackup(t, alpha, "f")
	MustCreateLink(t, alpha, beta, name, "f", extra...)
}
