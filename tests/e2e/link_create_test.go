package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

func TestLink_CreateReplicateVerifyDrop(t *testing.T) {
	requireTool(t, "pgbench")
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "tpcb")
	MustInitTPCB(t, p, "tpcb")
	p.MustPsql("tpcb", `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);`)

	// Without a full backup, validation refuses and says what to do;
	// nothing is left behind on either side.
	args := append([]string{"link", "create", "--name", "shop", "--database", "tpcb"}, linkFlags(p, s)...)
	r := p.CLI(args...)
	if r.Code == 0 || !strings.Contains(r.Stderr, "Try: take a full backup: sqlink backup tpcb") || !strings.Contains(r.Stderr, "step 2") {
		t.Fatalf("link create without a backup: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	for _, in := range []*Instance{p, s} {
		if out := in.MustCLI("cert", "list", "--json"); strings.Contains(out, "fingerprint") {
			t.Fatalf("a refused create left a trusted certificate on %s:\n%s", in.Name, out)
		}
	}

	mustFullBackup(t, p, "tpcb")
	created := MustCreateLink(t, p, s, "shop", "tpcb")
	// The secondary's half was created before the primary's, so it
	// reported the database RESTORING: not readable until seeded.
	if got := created.Secondary.Local.DatabaseState; got != sqlink.DatabaseRestoring {
		t.Fatalf("secondary half created with database state %q, want RESTORING", got)
	}
	if created.Primary.LinkID != created.Secondary.LinkID || created.LinkID == "" {
		t.Fatalf("link ids differ: primary %q, secondary %q", created.Primary.LinkID, created.Secondary.LinkID)
	}
	waitCaughtUp(t, p, s, "shop", 0)
	if got := s.MustPsql("tpcb", `SELECT count(*) FROM pgbench_accounts;`); got != "100000" {
		t.Fatalf("seeded secondary has %s accounts, want 100000", got)
	}

	// Rows written on the primary through psql appear on the secondary.
	p.MustPsql("tpcb", `INSERT INTO notes (body) VALUES ('one'), ('two'), ('three');`)
	waitRows(t, s, "tpcb", `SELECT count(*) FROM notes;`, 3, 0)

	// The secondary is read-only, and says who the primary is.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.ConnString("tpcb"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO notes (body) VALUES ('nope')`)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "25006" || !strings.Contains(pe.Message, "alpha") {
		t.Fatalf("write on the secondary: %v, want SQLSTATE 25006 naming alpha", err)
	}
	conn.Close(ctx)

	// Status, both sides, as a table with every field and as JSON.
	out := p.MustCLI(append([]string{"link", "status", "shop"}, linkFlags(p, s)...)...)
	for _, want := range []string{"Synchronization state", "Last hardened LSN", "Redo queue", "Estimated data loss", "Seeding", "Partner cert expiry", "Last error", "beta", "alpha"} {
		if !strings.Contains(out, want) {
			t.Errorf("link status lacks %q:\n%s", want, out)
		}
	}
	var st adminapi.LinkStatus
	if err := json.Unmarshal([]byte(s.MustCLI("link", "status", "shop", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Local.Role != sqlink.RoleSecondary || st.Partner.Instance != "alpha" || !st.Local.ReadOnly {
		t.Fatalf("secondary's status: role %s, partner %q, read-only %v", st.Local.Role, st.Partner.Instance, st.Local.ReadOnly)
	}
	if out := p.MustCLI("link", "list"); !strings.Contains(out, "shop") || !strings.Contains(out, "PRIMARY") {
		t.Fatalf("link list on the primary:\n%s", out)
	}

	// After a pgbench run stops, both copies are page-for-page equal.
	bench, err := p.Pgbench(ctx, "tpcb", "-n", "-M", "prepared", "-c", "2", "-j", "2", "-t", "200", "-f", tpcbScript)
	if err != nil {
		t.Fatalf("pgbench: %v\n%s", err, bench)
	}
	waitCaughtUp(t, p, s, "shop", 0)
	t.Log(mustVerify(t, p, s, "shop"))
	if got, want := checkTPCBConsistent(t, s, "tpcb"), checkTPCBConsistent(t, p, "tpcb"); got != want {
		t.Fatalf("secondary has %d history rows, primary %d", got, want)
	}

	// Drop: both copies become independent and writable.
	out = p.MustCLI(append([]string{"link", "drop", "shop"}, linkFlags(p, s)...)...)
	// The primary tells its partner, so the secondary's half may be gone
	// by the time drop gets there.
	if !strings.Contains(out, "Dropped link shop on primary") {
		t.Fatalf("link drop:\n%s", out)
	}
	testutil.RetryUntil(t, 30*time.Second, func() error {
		out, err := s.Psql(context.Background(), "tpcb", `INSERT INTO notes (body) VALUES ('mine now');`)
		if err != nil {
			return fmt.Errorf("write on the former secondary: %v: %s", err, out)
		}
		return nil
	})
	if got := s.MustPsql("tpcb", `SELECT count(*) FROM notes;`); got != "4" {
		t.Fatalf("former secondary has %s notes, want 4", got)
	}
	p.MustPsql("tpcb", `INSERT INTO notes (body) VALUES ('primary too');`)
	for _, in := range []*Instance{p, s} {
		if out := in.MustCLI("link", "list", "--json"); strings.Contains(out, "shop") {
			t.Fatalf("link list on %s after drop:\n%s", in.Name, out)
		}
	}
}

// grantAllBut creates on in a principal whose role has every permission a
// link creation uses except the one left out, and returns its token.
func grantAllBut(t *testing.T, in *Instance, missing string) string {
	t.Helper()
	perms := []string{"instance/read", "databases/read", "links/read", "links/write", "links/delete", "endpointCertificates/read",
		"serverTrustCertificates/read", "serverTrustCertificates/write", "serverTrustCertificates/delete"}
	var keep []string
	for _, p := range perms {
		if p != missing {
			keep = append(keep, p)
		}
	}
	in.MustCLI("role", "create", "linker", "--permissions", strings.Join(keep, ","))
	in.MustCLI("principal", "create", "carol", "--roles", "linker")
	var tok struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(in.MustCLI("token", "create", "--principal", "carol", "--json")), &tok); err != nil {
		t.Fatal(err)
	}
	return tok.Secret
}

func TestLink_Security(t *testing.T) {
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "app")
	p.MustPsql("app", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a');`)
	mustFullBackup(t, p, "app")

	// A token without links/write on the primary cannot create a link; the
	// half already created on the secondary and both certificates trusted
	// are undone, with no manual clean-up.
	limited := grantAllBut(t, p, "links/write")
	args := []string{"link", "create", "--name", "l", "--database", "app",
		"--primary", p.AdminURL(), "--primary-token", limited, "--primary-fingerprint", p.Fingerprint(),
		"--secondary", s.AdminURL(), "--secondary-token", s.Token, "--secondary-fingerprint", s.Fingerprint()}
	// Validation (step 2) names the missing permission before anything changes.
	if r := p.CLI(args...); r.Code != 6 || !strings.Contains(r.Stderr, "links/write") || !strings.Contains(r.Stderr, "step 2") {
		t.Fatalf("link create without links/write: exit %d, want 6 naming links/write at validation\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	// Past validation (the check skipped), the refusal at step 4 is undone.
	r := p.CLI(append(args, "--skip-check", "permissions")...)
	if r.Code != 4 || !strings.Contains(r.Stderr, "links/write") || !strings.Contains(r.Stderr, "step 4") || !strings.Contains(r.Stderr, "undone") {
		t.Fatalf("link create without links/write: exit %d, want 4 naming links/write and what was undone\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	for _, in := range []*Instance{p, s} {
		if out := in.MustCLI("link", "list", "--json"); strings.Contains(out, `"name"`) {
			t.Fatalf("a failed create left a link on %s:\n%s", in.Name, out)
		}
		if out := in.MustCLI("cert", "list", "--json"); strings.Contains(out, "fingerprint") {
			t.Fatalf("a failed create left a trusted certificate on %s:\n%s", in.Name, out)
		}
	}

	// A certificate that is not trusted is refused, and both sides say why.
	MustCreateLink(t, p, s, "l", "app")
	waitCaughtUp(t, p, s, "l", 0)
	s.MustCLI("cert", "untrust", "alpha")
	s.Stop() // a restart makes both sides reconnect
	s.Start()
	certErr := func(st adminapi.LinkStatus) error {
		if st.Local.Connected {
			return fmt.Errorf("still connected")
		}
		if st.Local.LastError == nil {
			return fmt.Errorf("no last error")
		}
		if msg := strings.ToLower(st.Local.LastError.Message); !strings.Contains(msg, "certificate") && !strings.Contains(msg, "trust") {
			return fmt.Errorf("last error does not say why: %s", st.Local.LastError.Message)
		}
		return nil
	}
	ps := waitLink(t, p, "l", 0, certErr)
	ss := waitLink(t, s, "l", 0, certErr)
	t.Logf("primary: %s; secondary: %s", lastError(ps.Local), lastError(ss.Local))

	// Trusting it again brings the link back without re-creating it.
	pem := writeFile(t, "alpha.pem", p.MustCLI("cert", "show", "--pem"))
	s.MustCLI("cert", "trust", "alpha", pem)
	p.MustPsql("app", `INSERT INTO t (v) VALUES ('b');`)
	waitCaughtUp(t, p, s, "l", 0)
	waitRows(t, s, "app", `SELECT count(*) FROM t;`, 2, 0)
}

// TestLink_SeveralDatabasesAndDropWithASideDown creates one link per
// database in one command, and drops one while its secondary is down: the
// unreachable side is reported, not fatal, and is dropped there later.
func TestLink_SeveralDatabasesAndDropWithASideDown(t *testing.T) {
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	for _, db := range []string{"a", "b"} {
		p.MustCLI("db", "create", db)
		p.MustPsql(db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('`+db+`');`)
		mustFullBackup(t, p, db)
	}
	out := p.MustCLI(append([]string{"link", "create", "--name", "multi", "--database", "a,b", "--json"}, linkFlags(p, s)...)...)
	evs := parseCreateOutput(t, out)
	res := evs[len(evs)-1]
	if res.Event != "result" || len(res.Links) != 2 || res.Links[0].Name != "multi_a" || res.Links[1].Name != "multi_b" {
		t.Fatalf("link create of two databases:\n%s", out)
	}
	var steps []string
	for _, ev := range evs {
		if ev.Event == "step" && ev.Status == "ok" {
			steps = append(steps, ev.Name)
		}
	}
	if got, want := strings.Join(steps, ","), "sign-in,validate,certificates,create"; got != want {
		t.Fatalf("steps reported: %s, want %s", got, want)
	}
	waitCaughtUp(t, p, s, "multi_a", 0)
	waitCaughtUp(t, p, s, "multi_b", 0)
	if got := s.MustPsql("b", `SELECT v FROM t;`); got != "b" {
		t.Fatalf("secondary copy of b: %q", got)
	}
	// The same database cannot be linked twice in the same direction.
	r := p.CLI(append([]string{"link", "create", "--name", "again", "--database", "a"}, linkFlags(p, s)...)...)
	if r.Code != 6 || !strings.Contains(r.Stderr, "already the primary of link multi_a") {
		t.Fatalf("linking a linked database again: exit %d\n%s", r.Code, r.Stderr)
	}

	// Status of both sides, as JSON.
	var both map[string]struct {
		Links []adminapi.LinkStatus `json:"links"`
	}
	if err := json.Unmarshal([]byte(p.MustCLI(append([]string{"link", "status", "--json"}, linkFlags(p, s)...)...)), &both); err != nil {
		t.Fatal(err)
	}
	if len(both["primary"].Links) != 2 || len(both["secondary"].Links) != 2 {
		t.Fatalf("link status of both sides: %+v", both)
	}

	// Drop multi_b with the secondary down: reported, not fatal.
	s.Kill()
	r = p.CLI(append([]string{"link", "drop", "multi_b"}, linkFlags(p, s)...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Dropped link multi_b on primary") || !strings.Contains(r.Stdout, "Could not reach secondary") {
		t.Fatalf("link drop with the secondary down: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	p.MustPsql("b", `INSERT INTO t (v) VALUES ('primary writes on');`)
	s.Start()
	// The secondary drops its half when it hears from its partner, or on
	// request; either way it ends up without the link and writable.
	if r := s.CLI("link", "drop", "multi_b"); r.Code != 0 && r.Code != 5 {
		t.Fatalf("link drop on the secondary alone: exit %d\n%s", r.Code, r.Stderr)
	}
	testutil.RetryUntil(t, 30*time.Second, func() error {
		if out, err := s.Psql(context.Background(), "b", `INSERT INTO t (v) VALUES ('mine');`); err != nil {
			return fmt.Errorf("write on b after drop: %v: %s", err, out)
		}
		return nil
	})
	// multi_a is untouched and still replicates.
	p.MustPsql("a", `INSERT INTO t (v) VALUES ('more');`)
	waitRows(t, s, "a", `SELECT count(*) FROM t;`, 2, 0)
	if out := s.MustCLI("link", "list"); !strings.Contains(out, "multi_a") || strings.Contains(out, "multi_b") {
		t.Fatalf("link list on the secondary:\n%s", out)
	}
}
