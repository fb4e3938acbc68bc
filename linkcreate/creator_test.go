package linkcreate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/linkcreate"
)

// mustFakes returns a primary alpha holding database shop (ONLINE, with a
// full backup), an empty secondary beta, and a Creator between them whose
// link ids are id1, id2, ... and whose progress is recorded in *steps.
func mustFakes(tb testing.TB) (p, s *fakeInstance, lc *linkcreate.Creator, steps *[]string) {
	tb.Helper()
	p, s = newFakeInstance("alpha"), newFakeInstance("beta")
	p.dbs["shop"] = adminapi.DatabaseInfo{Name: "shop", State: sqlink.DatabaseOnline, ChainStarted: true}
	n := 0
	steps = new([]string)
	lc = &linkcreate.Creator{
		Primary: p, Secondary: s,
		PrimaryURL: "http://127.0.0.1:7080", SecondaryURL: "http://127.0.0.1:7081",
		NewID:    func() string { n++; return fmt.Sprintf("id%d", n) },
		Progress: func(st linkcreate.Step) { *steps = append(*steps, st.Name+":"+st.Status) },
	}
	return p, s, lc, steps
}

func opts(dbs ...string) linkcreate.Options {
	return linkcreate.Options{Name: "l", Databases: dbs, Mode: sqlink.ModeAsync}
}

func TestCreate_CreatesBothHalves(t *testing.T) {
	p, s, lc, steps := mustFakes(t)
	o := opts("shop")
	o.Mode = sqlink.ModeSync
	links, err := lc.Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(*steps, " "), "sign-in:running sign-in:ok validate:running validate:ok certificates:running certificates:ok create:running create:ok"; got != want {
		t.Fatalf("steps = %s, want %s", got, want)
	}
	if len(links) != 1 || links[0].Name != "l" || links[0].LinkID != "id1" || links[0].Secondary.Local.DatabaseState != sqlink.DatabaseRestoring {
		t.Fatalf("links = %+v", links)
	}
	sreq, preq := s.links["l"], p.links["l"]
	if sreq.Role != sqlink.RoleSecondary || preq.Role != sqlink.RolePrimary || sreq.LinkID != "id1" || preq.LinkID != "id1" {
		t.Fatalf("requests: secondary %+v, primary %+v", sreq, preq)
	}
	// An unspecified endpoint host is dialled at the admin URL's host.
	if preq.PartnerEndpoint != "127.0.0.1:5022" || preq.PartnerCertFingerprint != "fp-beta" || sreq.PartnerName != "alpha" ||
		sreq.PartnerID != "alpha-id" || sreq.PartnerCertFingerprint != "fp-alpha" || sreq.Mode != sqlink.ModeSync {
		t.Fatalf("partner fields: primary %+v, secondary %+v", preq, sreq)
	}
	// Certificates first, then the secondary's half before the primary's.
	if got, want := strings.Join(s.calls, "; "), "trust alpha; create link l SECONDARY"; got != want {
		t.Fatalf("secondary calls = %s, want %s", got, want)
	}
	if got, want := strings.Join(p.calls, "; "), "trust beta; create link l PRIMARY"; got != want {
		t.Fatalf("primary calls = %s, want %s", got, want)
	}

	// The same name again is refused at validation, before any change.
	p.calls, s.calls = nil, nil
	_, err = lc.Create(context.Background(), opts("shop"))
	if sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(sqlink.ErrorMessage(err), "step 2") {
		t.Fatalf("second create: %v", err)
	}
	if len(p.calls)+len(s.calls) != 0 {
		t.Fatalf("a refused validation changed something: %v %v", p.calls, s.calls)
	}
}

func TestCreate_SeveralDatabases(t *testing.T) {
	p, s, lc, _ := mustFakes(t)
	p.dbs["stock"] = adminapi.DatabaseInfo{Name: "stock", State: sqlink.DatabaseOnline, ChainStarted: true}
	links, err := lc.Create(context.Background(), opts("shop", "stock"))
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 2 || links[0].Name != "l_shop" || links[1].Name != "l_stock" || links[0].LinkID == links[1].LinkID {
		t.Fatalf("links = %+v", links)
	}
	if got, want := s.state(), "db shop=RESTORING, db stock=RESTORING, link l_shop=id1, link l_stock=id2, trust alpha"; got != want {
		t.Fatalf("secondary holds %s, want %s", got, want)
	}
	if got, want := p.state(), "db shop=ONLINE, db stock=ONLINE, link l_shop=id1, link l_stock=id2, trust beta"; got != want {
		t.Fatalf("primary holds %s, want %s", got, want)
	}
}

// A failure at any step undoes everything that run did, in reverse, and
// leaves both instances as they were; the error names the step and what
// was undone.
func TestCreate_FailureAtEachStepUndoesTheRun(t *testing.T) {
	gone := sqlink.Errorf(sqlink.EUNAVAILABLE, "check that alpha runs", "cannot reach alpha")
	forbidden := sqlink.Errorf(sqlink.EFORBIDDEN, "ask for links/write", "principal carol lacks permission links/write")
	for _, tc := range []struct {
		name   string
		dbs    []string
		setup  func(p, s *fakeInstance)
		code   string
		words  []string // in the error message
		undo   string   // the undo step's progress, "" if none
		hint   string
		sCalls string // what the run did to the secondary, undo included
	}{
		{"sign-in", []string{"shop"}, func(p, s *fakeInstance) { p.failInfo = gone },
			sqlink.EUNAVAILABLE, []string{"step 1 (Sign in to both instances)", "primary: cannot reach alpha"}, "", "check that alpha runs", ""},
		{"validate", []string{"shop"}, func(p, s *fakeInstance) {
			p.dbs["shop"] = adminapi.DatabaseInfo{Name: "shop", State: sqlink.DatabaseOnline}
		},
			sqlink.ECONFLICT, []string{"step 2 (Validate)", "no full backup"}, "", "take a full backup: sqlink backup shop --to FILE --server <primary>", ""},
		{"certificates", []string{"shop"}, func(p, s *fakeInstance) { p.failTrust = forbidden },
			sqlink.EFORBIDDEN, []string{"step 3 (Exchange endpoint certificates)", "primary: principal carol", "undone: untrusted alpha on beta"},
			"undo:ok", "ask for links/write", "trust alpha; untrust alpha"},
		{"create on the primary", []string{"shop"}, func(p, s *fakeInstance) { p.failCreate = forbidden },
			sqlink.EFORBIDDEN, []string{"step 4", "links/write", "dropped link l on beta", "untrusted alpha on beta", "untrusted beta on alpha", "removed the unseeded database shop on beta"},
			"undo:ok", "ask for links/write", "trust alpha; create link l SECONDARY; drop link l; drop database shop; untrust alpha"},
		{"create of the second database", []string{"shop", "stock"}, func(p, s *fakeInstance) {
			p.dbs["stock"] = adminapi.DatabaseInfo{Name: "stock", State: sqlink.DatabaseOnline, ChainStarted: true}
			p.failCreate, p.failCreateAt = forbidden, 2 // the primary refuses its second half only
		}, sqlink.EFORBIDDEN, []string{"step 4", "dropped link l_stock on beta", "dropped link l_shop on alpha", "dropped link l_shop on beta", "removed the unseeded database shop on beta"},
			"undo:ok", "ask for links/write", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, s, lc, steps := mustFakes(t)
			tc.setup(p, s)
			pBefore, sBefore := p.state(), s.state()
			_, err := lc.Create(context.Background(), linkcreate.Options{Name: "l", Databases: tc.dbs, Mode: sqlink.ModeAsync})
			if got := sqlink.ErrorCode(err); got != tc.code {
				t.Fatalf("err = %v (code %s), want code %s", err, got, tc.code)
			}
			for _, w := range tc.words {
				if !strings.Contains(sqlink.ErrorMessage(err), w) {
					t.Errorf("error lacks %q: %s", w, sqlink.ErrorMessage(err))
				}
			}
			if got := sqlink.ErrorHint(err); got != tc.hint {
				t.Errorf("hint = %q, want %q", got, tc.hint)
			}
			if got, want := p.state(), pBefore; got != want {
				t.Errorf("primary left holding %s, had %s", got, want)
			}
			if got, want := s.state(), sBefore; got != want {
				t.Errorf("secondary left holding %s, had %s", got, want)
			}
			last := (*steps)[len(*steps)-1]
			if tc.undo == "" && strings.HasPrefix(last, "undo") || tc.undo != "" && last != tc.undo {
				t.Errorf("last progress = %s, want %q", last, tc.undo)
			}
			if tc.sCalls != "" {
				if got := strings.Join(s.calls, "; "); got != tc.sCalls {
					t.Errorf("secondary calls = %s, want %s", got, tc.sCalls)
				}
			}
		})
	}
}

// Undo removes only what the run created: a certificate each side already
// trusted, other links and other databases stay.
func TestCreate_UndoLeavesWhatTheRunDidNotCreate(t *testing.T) {
	p, s, lc, _ := mustFakes(t)
	s.trusted["alpha-old"] = adminapi.CertificateInfo{Name: "alpha-old", Fingerprint: "fp-alpha"} // already trusted
	s.links["other"] = adminapi.CreateLinkRequest{Name: "other", LinkID: "x", Database: "stock", Role: sqlink.RoleSecondary}
	s.dbs["stock"] = adminapi.DatabaseInfo{Name: "stock", State: sqlink.DatabaseRestoring}
	p.trusted["beta"] = adminapi.CertificateInfo{Name: "beta", Fingerprint: "fp-old-beta"} // the name is taken
	p.failCreate = sqlink.Errorf(sqlink.EFORBIDDEN, "", "no links/write")
	pBefore, sBefore := p.state(), s.state()
	_, err := lc.Create(context.Background(), opts("shop"))
	if err == nil {
		t.Fatal("create succeeded")
	}
	msg := sqlink.ErrorMessage(err)
	if !strings.Contains(msg, "untrusted beta-fp-beta on alpha") || strings.Contains(msg, "on beta (") || strings.Contains(msg, "untrusted alpha") {
		t.Fatalf("undo = %s", msg)
	}
	if got := p.state(); got != pBefore {
		t.Fatalf("primary holds %s, had %s", got, pBefore)
	}
	if got := s.state(); got != sBefore {
		t.Fatalf("secondary holds %s, had %s", got, sBefore)
	}
}

// A half whose creation call failed may exist all the same (the instance
// created it, then died answering): undo drops it. A link of the same name
// that this run did not create is never dropped.
func TestCreate_UndoesAHalfWhoseCallFailed(t *testing.T) {
	p, s, lc, _ := mustFakes(t)
	p.failAfterCreate = sqlink.Errorf(sqlink.EUNAVAILABLE, "", "connection reset")
	_, err := lc.Create(context.Background(), opts("shop"))
	if err == nil || !strings.Contains(sqlink.ErrorMessage(err), "dropped link l on alpha") || !strings.Contains(sqlink.ErrorMessage(err), "dropped link l on beta") {
		t.Fatalf("err = %v", err)
	}
	if len(p.links) != 0 || len(s.links) != 0 || len(s.dbs) != 0 {
		t.Fatalf("left behind: primary links %v, secondary links %v dbs %v", p.links, s.links, s.dbs)
	}

	// Someone else creates a link named l on the primary just before this
	// run's CreateLink, which is refused: undo leaves that link alone.
	p.failAfterCreate = nil
	p.appearsAtCreate = &adminapi.CreateLinkRequest{Name: "l", LinkID: "theirs", Database: "other", Role: sqlink.RolePrimary}
	if _, err := lc.Create(context.Background(), opts("shop")); err == nil {
		t.Fatal("create over an existing link succeeded")
	}
	if l, ok := p.links["l"]; !ok || l.LinkID != "theirs" {
		t.Fatalf("undo touched a link it did not create: %+v", p.links)
	}

	// What undo cannot do is named, with what to do by hand.
	p.appearsAtCreate = nil
	delete(p.links, "l")
	p.failCreate = sqlink.Errorf(sqlink.EFORBIDDEN, "", "no links/write")
	s.failDrop = sqlink.Errorf(sqlink.EUNAVAILABLE, "", "beta is gone")
	_, err = lc.Create(context.Background(), opts("shop"))
	if want := "could not drop link l on beta (beta is gone): do it by hand"; err == nil || !strings.Contains(sqlink.ErrorMessage(err), want) {
		t.Fatalf("err = %v, want it to say %q", err, want)
	}
}

// With SeedFromBackup the secondary's restored database is kept by undo.
func TestCreate_SeedFromBackupKeepsTheRestoredDatabase(t *testing.T) {
	p, s, lc, _ := mustFakes(t)
	s.dbs["shop"] = adminapi.DatabaseInfo{Name: "shop", State: sqlink.DatabaseRestoring}
	p.failCreate = sqlink.Errorf(sqlink.EFORBIDDEN, "", "no links/write")
	o := opts("shop")
	o.SeedFromBackup = true
	_, err := lc.Create(context.Background(), o)
	if err == nil || !strings.Contains(sqlink.ErrorMessage(err), "the restored database shop stays there, RESTORING") {
		t.Fatalf("err = %v", err)
	}
	if got, want := s.state(), "db shop=RESTORING"; got != want {
		t.Fatalf("secondary holds %s, want %s", got, want)
	}
}

func TestCreate_Validation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(p, s *fakeInstance)
		opts  linkcreate.Options
		want  string
	}{
		{"no chain", func(p, s *fakeInstance) {
			p.dbs["shop"] = adminapi.DatabaseInfo{Name: "shop", State: sqlink.DatabaseOnline}
		}, linkcreate.Options{}, "take a full backup: sqlink backup shop"},
		{"no database", func(p, s *fakeInstance) { delete(p.dbs, "shop") }, linkcreate.Options{}, "create it there first"},
		{"exists on secondary", func(p, s *fakeInstance) { s.dbs["shop"] = adminapi.DatabaseInfo{State: sqlink.DatabaseOnline} }, linkcreate.Options{}, "drop it there"},
		{"restoring without flag", func(p, s *fakeInstance) { s.dbs["shop"] = adminapi.DatabaseInfo{State: sqlink.DatabaseRestoring} }, linkcreate.Options{}, "--seed-from-backup"},
		{"seed from missing backup", func(p, s *fakeInstance) {}, linkcreate.Options{SeedFromBackup: true}, "restore a backup of shop"},
		{"collation", func(p, s *fakeInstance) { s.info.Collation = "nocase" }, linkcreate.Options{}, "same --collation"},
		{"version", func(p, s *fakeInstance) { s.info.Version = "1.0.0" }, linkcreate.Options{}, "same major version"},
		{"same instance", func(p, s *fakeInstance) { s.info.Name = "alpha" }, linkcreate.Options{}, "two different instances"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, s, lc, _ := mustFakes(t)
			tc.setup(p, s)
			o := tc.opts
			o.Name, o.Databases, o.Mode = "l", []string{"shop"}, sqlink.ModeAsync
			_, err := lc.Create(context.Background(), o)
			if err == nil || !strings.Contains(sqlink.ErrorHint(err), tc.want) {
				t.Fatalf("err = %v, want a hint with %q", err, tc.want)
			}
			if len(p.calls)+len(s.calls) != 0 {
				t.Fatalf("validation failure changed something: %v %v", p.calls, s.calls)
			}
		})
	}
	// Options are checked before any call.
	for _, o := range []linkcreate.Options{{Databases: []string{"shop"}, Mode: sqlink.ModeAsync}, {Name: "l", Mode: sqlink.ModeAsync},
		{Name: "l", Databases: []string{"shop"}, Mode: "fast"}, {Name: "l", Databases: []string{"shop", "shop"}, Mode: sqlink.ModeAsync}} {
		p, s, lc, steps := mustFakes(t)
		p.failInfo = fmt.Errorf("called")
		if _, err := lc.Create(context.Background(), o); sqlink.ErrorCode(err) != sqlink.EINVALID || len(*steps) != 0 || len(s.calls) != 0 {
			t.Fatalf("Create(%+v) = %v after %v", o, err, *steps)
		}
	}
}

func TestCreate_RefusesALoopbackEndpointForARemotePartner(t *testing.T) {
	p, s, lc, _ := mustFakes(t)
	p.info.EndpointAddr = "127.0.0.1:5022"
	lc.SecondaryURL = "http://beta.example:7080" // the partner is on another host
	_, err := lc.Create(context.Background(), opts("shop"))
	if err == nil || !strings.Contains(sqlink.ErrorHint(err), "--primary-endpoint") || !strings.Contains(sqlink.ErrorMessage(err), "step 2") {
		t.Fatalf("err = %v", err)
	}
	if len(s.trusted)+len(p.trusted) != 0 {
		t.Fatalf("validation failure changed something")
	}
	// The override is taken as given.
	o := opts("shop")
	o.PrimaryEndpoint = "alpha.example:5022"
	if _, err := lc.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got := s.links["l"].PartnerEndpoint; got != "alpha.example:5022" {
		t.Fatalf("secondary dials %q", got)
	}
}

func TestCreate_RefusesAnExpiredCertificate(t *testing.T) {
	p, s, lc, _ := mustFakes(t)
	s.cert.NotAfter = time.Now().Add(-time.Hour)
	_, err := lc.Create(context.Background(), opts("shop"))
	if err == nil || !strings.Contains(sqlink.ErrorMessage(err), "step 2") || !strings.Contains(sqlink.ErrorMessage(err), "expired") {
		t.Fatalf("err = %v", err)
	}
	if len(s.trusted)+len(p.trusted)+len(s.links)+len(p.links) != 0 {
		t.Fatalf("an expired certificate left changes behind")
	}
}

func TestLinkNames(t *testing.T) {
	if got := linkcreate.LinkNames("l", []string{"a"}); len(got) != 1 || got[0] != "l" {
		t.Fatalf("one database: %v", got)
	}
	if got := linkcreate.LinkNames("l", []string{"a", "b"}); len(got) != 2 || got[0] != "l_a" || got[1] != "l_b" {
		t.Fatalf("two databases: %v", got)
	}
}
