package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/server"
)

const (
	testToken    = "sqlink-test-token-0123456789abcdef"
	testPassword = "test-password"
	testWait     = 30 * time.Second
)

// node is one sqlink instance in this process, restartable on the same
// data directory and endpoint address.
type node struct {
	t        testing.TB
	name     string
	dir      string
	endpoint string
	cfg      server.Config
	s        *server.Server
	admin    *adminapi.Client
	hc       *http.Client // trusts the admin listener's certificate
	cert     adminapi.CertificateInfo
}

// MustStartNode initialises and starts an instance named name.
func MustStartNode(t testing.TB, name string, tune func(*server.Config)) *node {
	t.Helper()
	dir := t.TempDir()
	if _, err := server.Init(context.Background(), server.InitOptions{DataDir: dir, Name: name, AdminToken: testToken, SQLPassword: testPassword}); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, name: name, dir: dir, endpoint: testutil.FreeAddr(t)}
	n.cfg = server.Config{
		DataDir: dir, ClientAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", EndpointAddr: n.endpoint,
		Synchronous: "NORMAL", LinkTick: 50 * time.Millisecond, LinkSessionTimeout: 500 * time.Millisecond,
		LinkDigestTimeout: 10 * time.Second,
	}
	if os.Getenv("SQLINK_TEST_LOG") != "" {
		n.cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
	}
	if tune != nil {
		tune(&n.cfg)
	}
	// The endpoint address is fixed for the node's life (its partner dials
	// it after a restart), so it is picked free up front; another test may
	// take it before we listen: pick another then.
	for attempt := 0; ; attempt++ {
		err := n.tryStart()
		if err == nil {
			break
		}
		if attempt == 4 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("start %s: %v", name, err)
		}
		n.endpoint = testutil.FreeAddr(t)
		n.cfg.EndpointAddr = n.endpoint
	}
	t.Cleanup(n.stop)
	cert, err := n.admin.EndpointCertificate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n.cert = cert
	return n
}

func (n *node) start() {
	n.t.Helper()
	if err := n.tryStart(); err != nil {
		n.t.Fatalf("start %s: %v", n.name, err)
	}
}

func (n *node) tryStart() error {
	ctx := context.Background()
	s, _, err := server.Open(ctx, n.cfg)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if err := s.Start(ctx); err != nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s.Close(cctx)
		return err
	}
	n.s = s
	hc, err := adminapi.NewHTTPClient(s.AdminURL(), adminapi.TLSOptions{Fingerprint: s.TLSCertificate().Fingerprint})
	if err != nil {
		return err
	}
	n.hc = hc
	n.admin = adminapi.NewClient(s.AdminURL(), testToken, hc)
	return nil
}

func (n *node) stop() {
	if n.s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.s.Close(ctx); err != nil {
		n.t.Logf("close %s: %v", n.name, err)
	}
	n.s = nil
}

func (n *node) restart() {
	n.t.Helper()
	n.stop()
	n.start()
}

func (n *node) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	u := url.URL{Scheme: "postgres", User: url.UserPassword("admin", testPassword), Host: n.s.ClientAddr(), Path: db, RawQuery: "sslmode=disable"}
	return pgx.Connect(ctx, u.String())
}

// exec runs statements on db over the PostgreSQL protocol.
func (n *node) exec(db, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	c, err := n.connect(ctx, db)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql, args...)
	return err
}

func (n *node) mustExec(db, sql string, args ...any) {
	n.t.Helper()
	if err := n.exec(db, sql, args...); err != nil {
		n.t.Fatalf("%s: %s: %v", n.name, sql, err)
	}
}

// count returns SELECT count(*) FROM table on db.
func (n *node) count(db, table string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	c, err := n.connect(ctx, db)
	if err != nil {
		return 0, err
	}
	defer c.Close(context.Background())
	var v int64
	err = c.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&v)
	return v, err
}

func (n *node) link(name string) adminapi.LinkStatus {
	n.t.Helper()
	var st adminapi.LinkStatus
	if err := n.admin.Do(context.Background(), "GET", "/v1/links/"+name, nil, &st); err != nil {
		n.t.Fatalf("%s: link status: %v", n.name, err)
	}
	return st
}

func (n *node) createLink(req adminapi.CreateLinkRequest) error {
	var st adminapi.LinkStatus
	return n.admin.Do(context.Background(), "POST", "/v1/links", req, &st)
}

func (n *node) digest(link string, lsn sqlink.LSN) (adminapi.PageDigest, error) {
	var d adminapi.PageDigest
	err := n.admin.Do(context.Background(), "GET", fmt.Sprintf("/v1/links/%s/digest?lsn=%d", link, lsn), nil, &d)
	return d, err
}

// trust makes a and b trust each other's endpoint certificates.
func trust(t testing.TB, a, b *node) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.admin.TrustCertificate(ctx, b.name, []byte(b.cert.PEM)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.admin.TrustCertificate(ctx, a.name, []byte(a.cert.PEM)); err != nil {
		t.Fatal(err)
	}
}

// linkReq returns the request creating n's half of link L, partnered with p.
func linkReq(n, p *node, role sqlink.Role, mode sqlink.Mode) adminapi.CreateLinkRequest {
	info, err := p.admin.Info(context.Background())
	if err != nil {
		n.t.Fatal(err)
	}
	return adminapi.CreateLinkRequest{
		Name: "L", LinkID: "link-0001", Database: "shop", Role: role, Mode: mode,
		PartnerName: p.name, PartnerID: info.ID, PartnerEndpoint: p.endpoint, PartnerCertFingerprint: p.cert.Fingerprint,
	}
}

// mustPrepareShop creates database shop on n with a table of rows and a
// full backup that starts its chain.
func mustPrepareShop(t testing.TB, n *node, rows int) {
	t.Helper()
	ctx := context.Background()
	if _, err := n.admin.CreateDatabase(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	n.mustExec("shop", "CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT)")
	insertRows(t, n, 0, rows, 100)
	if _, err := n.admin.Backup(ctx, "shop", false, io.Discard); err != nil {
		t.Fatal(err)
	}
}

// insertRows inserts rows [from, from+n) with bodies of size bytes, in one
// transaction.
func insertRows(t testing.TB, n *node, from, count, size int) {
	t.Helper()
	if count == 0 {
		return
	}
	n.mustExec("shop", fmt.Sprintf("WITH RECURSIVE s(v) AS (SELECT %d UNION ALL SELECT v+1 FROM s WHERE v < %d) "+
		"INSERT INTO items (id, body) SELECT v, printf('%%.*c', %d, 'x') FROM s", from, from+count-1, size))
}

// mustLinkPair starts east (primary of shop) and west (its secondary) and
// waits until west's copy is ONLINE.
func mustLinkPair(t testing.TB, mode sqlink.Mode, tuneEast, tuneWest func(*server.Config)) (east, west *node) {
	t.Helper()
	east = MustStartNode(t, "east", tuneEast)
	west = MustStartNode(t, "west", tuneWest)
	trust(t, east, west)
	mustPrepareShop(t, east, 100)
	if err := west.createLink(linkReq(west, east, sqlink.RoleSecondary, mode)); err != nil {
		t.Fatal(err)
	}
	// Until the primary's half exists, the copy cannot arrive.
	if d, err := west.admin.GetDatabase(context.Background(), "shop"); err != nil || d.State != sqlink.DatabaseRestoring {
		t.Fatalf("secondary database = %+v, %v; want RESTORING", d, err)
	}
	if _, err := west.count("shop", "items"); !hasCode(err, "57P03") {
		t.Fatalf("query on a RESTORING database: err = %v, want 57P03", err)
	}
	if err := east.createLink(linkReq(east, west, sqlink.RolePrimary, mode)); err != nil {
		t.Fatal(err)
	}
	waitOnline(t, west)
	return east, west
}

func waitOnline(t testing.TB, n *node) {
	t.Helper()
	testutil.RetryUntil(t, testWait, func() error {
		st := n.link("L")
		if st.Local.DatabaseState != sqlink.DatabaseOnline {
			return fmt.Errorf("secondary is %s (seeding %+v, last error %+v)", st.Local.DatabaseState, st.Local.Seeding, st.Local.LastError)
		}
		return nil
	})
}

// waitRows waits until table items on n has want rows.
func waitRows(t testing.TB, n *node, want int64) {
	t.Helper()
	testutil.RetryUntil(t, testWait, func() error {
		got, err := n.count("shop", "items")
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s has %d rows, want %d", n.name, got, want)
		}
		return nil
	})
}

// waitSameDigest waits until both copies are at the primary's LSN and
// compares their page checksums.
func waitSameDigest(t testing.TB, east, west *node) {
	t.Helper()
	lsn := east.link("L").Local.LastCommitLSN
	de, err := east.digest("L", lsn)
	if err != nil {
		t.Fatalf("primary digest: %v", err)
	}
	dw, err := west.digest("L", lsn)
	if err != nil {
		t.Fatalf("secondary digest: %v", err)
	}
	if de.PageCount != dw.PageCount || !slices.Equal(de.Pages, dw.Pages) {
		t.Fatalf("digests differ at LSN %d: primary %d pages, secondary %d pages", lsn, de.PageCount, dw.PageCount)
	}
}

func hasCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

func TestLinkReplicatesReadOnlySecondary(t *testing.T) {
	east, west := mustLinkPair(t, sqlink.ModeAsync, nil, nil)
	waitRows(t, west, 100)

	insertRows(t, east, 100, 50, 2000)
	east.mustExec("shop", "UPDATE items SET body = 'changed' WHERE id < 10")
	east.mustExec("shop", "CREATE INDEX items_body ON items (body)")
	waitRows(t, west, 150)

	err := west.exec("shop", "INSERT INTO items (id, body) VALUES (9999, 'no')")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "25006" || !strings.Contains(pe.Message+pe.Detail+pe.Hint, "east") {
		t.Fatalf("write on the secondary: %v, want 25006 naming east", err)
	}
	waitSameDigest(t, east, west)

	testutil.RetryUntil(t, testWait, func() error {
		e, w := east.link("L"), west.link("L")
		if e.State != "SYNCHRONIZED" || w.State != "SYNCHRONIZED" {
			return fmt.Errorf("states %s / %s", e.State, w.State)
		}
		if w.Local.SecondaryLag != 0 || w.Local.RedoQueueBytes != 0 || w.Local.LastRedoneLSN != e.Local.LastCommitLSN {
			return fmt.Errorf("secondary not caught up: %+v", w.Local)
		}
		return nil
	})
	e, w := east.link("L"), west.link("L")
	if e.Local.Role != sqlink.RolePrimary || w.Local.Role != sqlink.RoleSecondary || !w.Local.ReadOnly || e.Local.ReadOnly {
		t.Fatalf("roles: primary %+v secondary %+v", e.Local, w.Local)
	}
	if e.Partner.Instance != "west" || e.Partner.LastHardenedLSN == 0 || w.Partner.Instance != "east" {
		t.Fatalf("partner views: %+v / %+v", e.Partner, w.Partner)
	}
	if w.Local.Seeding == nil || w.Local.Seeding.State != "COMPLETED" || w.Local.Seeding.Attempts != 1 || w.Local.Seeding.BytesTotal == 0 {
		t.Fatalf("seeding = %+v", w.Local.Seeding)
	}
	if e.Local.PartnerCertExpiry.IsZero() || e.Local.LogCapBytes == 0 || e.Local.LastSentLSN != e.Local.LastCommitLSN {
		t.Fatalf("primary status = %+v", e.Local)
	}

	resp, err := east.hc.Get(east.s.AdminURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`sqlink_link_connected{database="shop",link="L",role="PRIMARY"} 1`, `sqlink_link_lsn{database="shop",kind="sent",link="L",role="PRIMARY"}`} {
		if !strings.Contains(string(metrics), want) {
			t.Fatalf("metrics lack %s", want)
		}
	}
	// Every acknowledgment that moved the secondary on was timed.
	for _, kind := range []string{"hardened", "redone"} {
		re := regexp.MustCompile(`sqlink_link_ack_lag_seconds_count\{database="shop",kind="` + kind + `",link="L"\} (\d+)`)
		m := re.FindStringSubmatch(string(metrics))
		if m == nil || m[1] == "0" {
			t.Fatalf("no %s acknowledgment timed in the metrics: %v", kind, m)
		}
	}

	// Every link route answers; a digest of a moved copy is refused.
	var all []adminapi.LinkStatus
	if err := west.admin.Do(context.Background(), "GET", "/v1/links", nil, &all); err != nil || len(all) != 1 {
		t.Fatalf("list = %v, %v", all, err)
	}
	insertRows(t, east, 150, 1, 10)
	if _, err := east.digest("L", e.Local.LastCommitLSN); sqlink.ErrorCode(err) != sqlink.ECONFLICT {
		t.Fatalf("digest of an old LSN: %v, want a conflict", err)
	}
}

// Records flow as soon as the secondary comes online: neither side waits
// for the other's next heartbeat to learn that replication can start (with
// the tick an hour long, a wait would never end within the test).
func TestLinkStreamsWithoutWaitingForATick(t *testing.T) {
	slow := func(c *server.Config) { c.LinkTick = time.Hour }
	east, west := mustLinkPair(t, sqlink.ModeAsync, slow, slow)
	insertRows(t, east, 100, 5, 10)
	waitRows(t, west, 105)
}

func TestLinkSyncWaitsThenStopsWaiting(t *testing.T) {
	east, west := mustLinkPair(t, sqlink.ModeSync, nil, nil)
	testutil.RetryUntil(t, testWait, func() error {
		if st := east.link("L"); st.State != "SYNCHRONIZED" {
			return fmt.Errorf("state %s", st.State)
		}
		return nil
	})
	// A sync commit returns only once the secondary hardened it.
	for i := range 20 {
		insertRows(t, east, 100+i, 1, 10)
		if e, w := east.link("L").Local.LastCommitLSN, west.link("L").Local.LastHardenedLSN; w < e {
			t.Fatalf("commit %d returned before the secondary hardened it (%d < %d)", e, w, e)
		}
	}
	west.stop()
	// The next commit waits for the secondary until the session timeout
	// marks it gone (NOT_SYNCHRONIZING), then returns; the link shows it.
	if err := east.exec("shop", "INSERT INTO items (id, body) VALUES (200, 'x')"); err != nil {
		t.Fatal(err)
	}
	st := east.link("L")
	if st.Local.SyncState != sqlink.NotSynchronizing || st.Local.Connected || st.State != "DISCONNECTED" {
		t.Fatalf("a sync commit returned with the secondary gone before the link stopped waiting for it: %+v", st)
	}
	// Disconnected, commits do not wait for the secondary to come back.
	done := make(chan error, 1)
	go func() { done <- east.exec("shop", "INSERT INTO items (id, body) VALUES (201, 'x')") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testWait):
		t.Fatalf("a commit on a disconnected sync link waited for the secondary (%s)", testWait)
	}
	west.start()
	waitRows(t, west, 122)
	if a := west.link("L").Local.Seeding.Attempts; a != 1 {
		t.Fatalf("secondary reseeded after a restart: %d attempts", a)
	}
}

func TestLinkRestartResumesWithoutReseed(t *testing.T) {
	east, west := mustLinkPair(t, sqlink.ModeAsync, nil, nil)
	east.restart()
	insertRows(t, east, 100, 10, 10)
	waitRows(t, west, 110)
	west.restart()
	insertRows(t, east, 110, 10, 10)
	waitRows(t, west, 120)
	west.stop()
	insertRows(t, east, 120, 10, 10)
	east.restart()
	west.start()
	insertRows(t, east, 130, 10, 10)
	waitRows(t, west, 140)
	if a := west.link("L").Local.Seeding.Attempts; a != 1 {
		t.Fatalf("seeding attempts = %d, want 1", a)
	}
	waitSameDigest(t, east, west)
}

func TestLinkUntrustedCertificateShowsOnBothSides(t *testing.T) {
	east, west := mustLinkPair(t, sqlink.ModeAsync, nil, nil)
	if err := west.admin.UntrustCertificate(context.Background(), "east"); err != nil {
		t.Fatal(err)
	}
	west.restart() // drops the connection; the next handshakes are refused
	testutil.RetryUntil(t, testWait, func() error {
		e, w := east.link("L"), west.link("L")
		if w.Local.LastError == nil || !strings.Contains(w.Local.LastError.Message, "not in this instance's trust store") {
			return fmt.Errorf("secondary last error = %+v", w.Local.LastError)
		}
		if e.Local.LastError == nil || !strings.Contains(e.Local.LastError.Message, "refused this instance's certificate") {
			return fmt.Errorf("primary last error = %+v", e.Local.LastError)
		}
		if e.Local.Connected || w.Local.Connected {
			return fmt.Errorf("still connected")
		}
		return nil
	})
	// Trusting it again heals the link.
	if _, err := west.admin.TrustCertificate(context.Background(), "east", []byte(east.cert.PEM)); err != nil {
		t.Fatal(err)
	}
	insertRows(t, east, 100, 5, 10)
	waitRows(t, west, 105)
}

func TestLinkRetentionCapReseeds(t *testing.T) {
	east, west := mustLinkPair(t, sqlink.ModeAsync, func(c *server.Config) { c.LinkLogCapBytes = 256 << 10 }, nil)
	west.stop()
	for i := range 10 {
		insertRows(t, east, 1000+i*50, 50, 1000)
	}
	testutil.RetryUntil(t, testWait, func() error {
		st := east.link("L")
		if st.State != "RESEED_REQUIRED" || st.Local.LastError == nil || !strings.Contains(st.Local.LastError.Message, "RESEED_REQUIRED") {
			return fmt.Errorf("state %s, last error %+v", st.State, st.Local.LastError)
		}
		return nil
	})
	west.start()
	testutil.RetryUntil(t, testWait, func() error {
		st := west.link("L")
		if st.Local.Seeding == nil || st.Local.Seeding.Attempts < 2 || st.Local.DatabaseState != sqlink.DatabaseOnline {
			return fmt.Errorf("secondary %s, seeding %+v", st.Local.DatabaseState, st.Local.Seeding)
		}
		return nil
	})
	waitRows(t, west, 600)
	if st := east.link("L"); st.State == "RESEED_REQUIRED" {
		t.Fatalf("primary still RESEED_REQUIRED after the reseed")
	}
	insertRows(t, east, 5000, 1, 10)
	waitRows(t, west, 601)
	waitSameDigest(t, east, west)
}

func TestLinkSeedingResumes(t *testing.T) {
	slow := func(c *server.Config) { c.LinkSeedBytesPerSecond = 4 << 20 }
	east := MustStartNode(t, "east", slow)
	west := MustStartNode(t, "west", nil)
	trust(t, east, west)
	mustPrepareShop(t, east, 100)
	insertRows(t, east, 100, 2500, 4000) // about 10 MB
	if err := west.createLink(linkReq(west, east, sqlink.RoleSecondary, sqlink.ModeAsync)); err != nil {
		t.Fatal(err)
	}
	if err := east.createLink(linkReq(east, west, sqlink.RolePrimary, sqlink.ModeAsync)); err != nil {
		t.Fatal(err)
	}
	seeded := func(min int64) int64 {
		var done int64
		testutil.RetryUntil(t, testWait, func() error {
			sd := west.link("L").Local.Seeding
			if sd == nil || sd.BytesDone < min {
				return fmt.Errorf("seeding %+v", sd)
			}
			done = sd.BytesDone
			return nil
		})
		return done
	}
	// The secondary restarts half-way: it resumes the same snapshot.
	before := seeded(2 << 20)
	west.restart()
	if sd := west.link("L").Local.Seeding; sd == nil || sd.BytesDone < before-1<<20 {
		t.Fatalf("after restart the seed is at %+v, it was at %d bytes", sd, before)
	}
	// The primary restarts, with writes going on: a newer snapshot
	// continues where the seed stopped.
	before = seeded(before + 1<<20)
	insertRows(t, east, 3000, 100, 4000)
	east.restart()
	insertRows(t, east, 3100, 100, 4000)
	after := seeded(0)
	if after < before-1<<20 {
		t.Fatalf("after the primary's restart the seed went back to %d bytes from %d", after, before)
	}
	waitOnline(t, west)
	st := west.link("L").Local.Seeding
	if st.Attempts < 3 {
		t.Fatalf("seeding = %+v, want 3 attempts", st)
	}
	t.Logf("seeding: %+v", st)
	waitRows(t, west, 2800)
	waitSameDigest(t, east, west)
}

func TestLinkSeedFromBackup(t *testing.T) {
	ctx := context.Background()
	east := MustStartNode(t, "east", nil)
	west := MustStartNode(t, "west", nil)
	trust(t, east, west)
	mustPrepareShop(t, east, 100)
	var backup bytes.Buffer
	if _, err := east.admin.Backup(ctx, "shop", false, &backup); err != nil {
		t.Fatal(err)
	}
	insertRows(t, east, 100, 20, 10) // after the backup
	if _, err := west.admin.Restore(ctx, "shop", true, &backup); err != nil {
		t.Fatal(err)
	}
	req := linkReq(west, east, sqlink.RoleSecondary, sqlink.ModeAsync)
	req.SeedFromBackup = true
	if err := west.createLink(req); err != nil {
		t.Fatal(err)
	}
	if err := east.createLink(linkReq(east, west, sqlink.RolePrimary, sqlink.ModeAsync)); err != nil {
		t.Fatal(err)
	}
	waitOnline(t, west)
	waitRows(t, west, 120)
	st := west.link("L").Local
	if st.Seeding == nil || !st.Seeding.FromBackup || st.Seeding.BytesDone != 0 {
		t.Fatalf("seeding from a backup: %+v", st.Seeding)
	}
	if e := east.link("L").Local; e.LastSentLSN == 0 {
		t.Fatalf("primary sent nothing: %+v", e)
	}
	insertRows(t, east, 200, 5, 10)
	waitRows(t, west, 125)
	waitSameDigest(t, east, west)
}

func TestLinkDrop(t *testing.T) {
	ctx := context.Background()
	east, west := mustLinkPair(t, sqlink.ModeAsync, nil, nil)
	insertRows(t, east, 100, 5, 10)
	waitRows(t, west, 105)
	if err := east.admin.Do(ctx, "DELETE", "/v1/links/L", nil, nil); err != nil {
		t.Fatal(err)
	}
	testutil.RetryUntil(t, testWait, func() error {
		var all []adminapi.LinkStatus
		if err := west.admin.Do(ctx, "GET", "/v1/links", nil, &all); err != nil {
			return err
		}
		if len(all) != 0 {
			return fmt.Errorf("secondary still has %d links", len(all))
		}
		return nil
	})
	// Both copies are independent read-write databases now.
	west.mustExec("shop", "INSERT INTO items (id, body) VALUES (9999, 'west')")
	east.mustExec("shop", "INSERT INTO items (id, body) VALUES (9999, 'east')")
	if err := east.admin.Do(ctx, "GET", "/v1/links/L", nil, nil); sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
		t.Fatalf("dropped link: %v", err)
	}
}

func TestLinkDropWithPartnerAway(t *testing.T) {
	ctx := context.Background()
	east, west := mustLinkPair(t, sqlink.ModeAsync, nil, nil)
	east.stop()
	if err := west.admin.Do(ctx, "DELETE", "/v1/links/L", nil, nil); err != nil {
		t.Fatal(err)
	}
	west.mustExec("shop", "INSERT INTO items (id, body) VALUES (9999, 'west')")
	// The primary learns of it when it next reaches the secondary.
	east.start()
	testutil.RetryUntil(t, testWait, func() error {
		var all []adminapi.LinkStatus
		if err := east.admin.Do(ctx, "GET", "/v1/links", nil, &all); err != nil {
			return err
		}
		if len(all) != 0 {
			return fmt.Errorf("primary still has link %s", all[0].State)
		}
		return nil
	})
	east.mustExec("shop", "INSERT INTO items (id, body) VALUES (9999, 'east')")
}

func TestLinkSeedFromBackupRefusedWhenLogIsGone(t *testing.T) {
	ctx := context.Background()
	east := MustStartNode(t, "east", func(c *server.Config) { c.LogRetentionBytes = 1; c.CheckpointBytes = 1 << 20 })
	west := MustStartNode(t, "west", nil)
	trust(t, east, west)
	mustPrepareShop(t, east, 10)
	var backup bytes.Buffer
	if _, err := east.admin.Backup(ctx, "shop", false, &backup); err != nil {
		t.Fatal(err)
	}
	// More than a log segment (16 MiB) after the backup, so a checkpoint
	// prunes the segment that holds it.
	for i := range 24 {
		insertRows(t, east, 100+i*256, 256, 4000)
	}
	extra := 100000
	testutil.RetryUntil(t, testWait, func() error {
		// A background checkpoint prunes the first segment.
		if n := metric(t, east, `sqlink_database_log_bytes{database="shop"}`); n <= 0 || n >= 16<<20 {
			extra++
			insertRows(t, east, extra, 1, 10) // let the background checkpoint see a write
			return fmt.Errorf("log is %v bytes", n)
		}
		return nil
	})
	if _, err := west.admin.Restore(ctx, "shop", true, &backup); err != nil {
		t.Fatal(err)
	}
	req := linkReq(west, east, sqlink.RoleSecondary, sqlink.ModeAsync)
	req.SeedFromBackup = true
	if err := west.createLink(req); err != nil {
		t.Fatal(err)
	}
	if err := east.createLink(linkReq(east, west, sqlink.RolePrimary, sqlink.ModeAsync)); err != nil {
		t.Fatal(err)
	}
	testutil.RetryUntil(t, testWait, func() error {
		st := west.link("L").Local
		if st.LastError == nil || !strings.Contains(st.LastError.Message, "no longer reaches back") || st.Seeding == nil || st.Seeding.State != "FAILED" {
			return fmt.Errorf("secondary: last error %+v, seeding %+v", st.LastError, st.Seeding)
		}
		return nil
	})
}

func TestLinkDropUnseededSecondaryRemovesDatabase(t *testing.T) {
	ctx := context.Background()
	east := MustStartNode(t, "east", nil)
	west := MustStartNode(t, "west", nil)
	trust(t, east, west)
	mustPrepareShop(t, east, 10)
	if err := west.createLink(linkReq(west, east, sqlink.RoleSecondary, sqlink.ModeAsync)); err != nil {
		t.Fatal(err)
	}
	if err := west.createLink(linkReq(west, east, sqlink.RoleSecondary, sqlink.ModeAsync)); sqlink.ErrorCode(err) != sqlink.ECONFLICT {
		t.Fatalf("second create: %v, want a conflict", err)
	}
	if err := west.admin.Do(ctx, "DELETE", "/v1/links/L", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := west.admin.GetDatabase(ctx, "shop"); sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
		t.Fatalf("unseeded secondary database after drop: %v, want not found", err)
	}
	// The primary refuses a database without a full backup.
	if _, err := east.admin.CreateDatabase(ctx, "nobackup"); err != nil {
		t.Fatal(err)
	}
	req := linkReq(east, west, sqlink.RolePrimary, sqlink.ModeAsync)
	req.Name, req.Database, req.LinkID = "L2", "nobackup", "link-0002"
	err := east.createLink(req)
	if sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(sqlink.ErrorHint(err), "sqlink backup nobackup --to FILE") {
		t.Fatalf("link without a backup chain: %v (hint %q)", err, sqlink.ErrorHint(err))
	}
}

// metric returns the value of the Prometheus sample named series on n.
func metric(t testing.TB, n *node, series string) float64 {
	t.Helper()
	resp, err := n.hc.Get(n.s.AdminURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}
