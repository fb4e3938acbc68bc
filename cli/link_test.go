package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// fakeInstance is an in-memory admin API with just the routes link
// creation uses. failPost, if set, is returned by POST /v1/links;
// failAfterPost is returned after the link is created (an instance that
// dies answering).
type fakeInstance struct {
	mu            sync.Mutex
	info          adminapi.InstanceStatus
	dbs           map[string]adminapi.DatabaseInfo
	links         map[string]adminapi.CreateLinkRequest
	trusted       map[string]adminapi.CertificateInfo
	cert          adminapi.CertificateInfo
	failPost      *sqlink.Error
	failAfterPost *sqlink.Error
	// appearsAtPost is a link of the same name that someone else creates
	// between validation and POST /v1/links (which then conflicts).
	appearsAtPost *adminapi.CreateLinkRequest
	failDelete    *sqlink.Error // returned by DELETE /v1/links/{name}
}

func newFakeInstance(name string) *fakeInstance {
	return &fakeInstance{
		info:    adminapi.InstanceStatus{ID: name + "-id", Name: name, Version: "0.1.0", Collation: "binary", EndpointAddr: "0.0.0.0:5022"},
		dbs:     map[string]adminapi.DatabaseInfo{},
		links:   map[string]adminapi.CreateLinkRequest{},
		trusted: map[string]adminapi.CertificateInfo{},
		cert:    adminapi.CertificateInfo{Subject: name, Fingerprint: "fp-" + name, PEM: "pem-" + name},
	}
}

func (f *fakeInstance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := func(v any) { json.NewEncoder(w).Encode(v) }
	fail := func(e *sqlink.Error) {
		w.WriteHeader(adminapi.StatusCode(e.Code))
		reply(adminapi.ErrorResponse{Error: adminapi.ErrorBody{Code: e.Code, Message: e.Message, Hint: e.Hint}})
	}
	path := r.URL.Path
	switch {
	case r.Method == "GET" && path == "/v1/instance":
		reply(f.info)
	case r.Method == "GET" && path == "/v1/links":
		out := []adminapi.LinkStatus{}
		for _, l := range f.links {
			out = append(out, adminapi.LinkStatus{Name: l.Name, Database: l.Database, Local: adminapi.ReplicaStatus{Role: l.Role}})
		}
		reply(out)
	case r.Method == "POST" && path == "/v1/links":
		if l := f.appearsAtPost; l != nil {
			f.links[l.Name] = *l
			fail(sqlink.Errorf(sqlink.ECONFLICT, "", "link %q already exists", l.Name))
			return
		}
		if f.failPost != nil {
			fail(f.failPost)
			return
		}
		var req adminapi.CreateLinkRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.links[req.Name] = req
		st := sqlink.DatabaseOnline
		if req.Role == sqlink.RoleSecondary {
			st = sqlink.DatabaseRestoring
			f.dbs[req.Database] = adminapi.DatabaseInfo{Name: req.Database, State: st}
		}
		if f.failAfterPost != nil {
			fail(f.failAfterPost)
			return
		}
		reply(adminapi.LinkStatus{Name: req.Name, LinkID: req.LinkID, Local: adminapi.ReplicaStatus{Role: req.Role, DatabaseState: st}})
	case strings.HasPrefix(path, "/v1/links/") && r.Method == "GET":
		l, ok := f.links[strings.TrimPrefix(path, "/v1/links/")]
		if !ok {
			fail(sqlink.Errorf(sqlink.ENOTFOUND, "", "no link %s", strings.TrimPrefix(path, "/v1/links/")))
			return
		}
		reply(adminapi.LinkStatus{Name: l.Name, LinkID: l.LinkID, Database: l.Database, Local: adminapi.ReplicaStatus{Role: l.Role}})
	case strings.HasPrefix(path, "/v1/links/") && r.Method == "DELETE":
		if f.failDelete != nil {
			fail(f.failDelete)
			return
		}
		n := strings.TrimPrefix(path, "/v1/links/")
		if _, ok := f.links[n]; !ok {
			fail(sqlink.Errorf(sqlink.ENOTFOUND, "", "no link %s", n))
			return
		}
		delete(f.links, n)
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(path, "/v1/databases/"):
		n := strings.TrimPrefix(path, "/v1/databases/")
		d, ok := f.dbs[n]
		if !ok {
			fail(sqlink.Errorf(sqlink.ENOTFOUND, "", "database %q does not exist", n))
			return
		}
		if r.Method == "DELETE" {
			delete(f.dbs, n)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		reply(d)
	case path == "/v1/endpoint-certificate":
		reply(f.cert)
	case r.Method == "GET" && path == "/v1/trust-certificates":
		out := []adminapi.CertificateInfo{}
		for _, c := range f.trusted {
			out = append(out, c)
		}
		reply(out)
	case r.Method == "POST" && path == "/v1/trust-certificates":
		var req adminapi.TrustCertificateRequest
		json.NewDecoder(r.Body).Decode(&req)
		c := adminapi.CertificateInfo{Name: req.Name, Fingerprint: "fp-" + strings.TrimPrefix(req.PEM, "pem-"), PEM: req.PEM}
		f.trusted[req.Name] = c
		reply(c)
	case r.Method == "DELETE" && strings.HasPrefix(path, "/v1/trust-certificates/"):
		delete(f.trusted, strings.TrimPrefix(path, "/v1/trust-certificates/"))
		w.WriteHeader(http.StatusNoContent)
	default:
		fail(sqlink.Errorf(sqlink.ENOTFOUND, "", "no API route %s %s", r.Method, path))
	}
}

func startFakes(t *testing.T) (p, s *fakeInstance, lc *LinkCreator) {
	t.Helper()
	p, s = newFakeInstance("alpha"), newFakeInstance("beta")
	p.dbs["shop"] = adminapi.DatabaseInfo{Name: "shop", State: sqlink.DatabaseOnline, ChainStarted: true}
	ps, ss := httptest.NewServer(p), httptest.NewServer(s)
	t.Cleanup(ps.Close)
	t.Cleanup(ss.Close)
	lc = &LinkCreator{
		Primary: adminapi.NewClient(ps.URL, "t", nil), Secondary: adminapi.NewClient(ss.URL, "t", nil),
		PrimaryURL: ps.URL, SecondaryURL: ss.URL,
		NewID: func() string { return "id1" },
	}
	return p, s, lc
}

func TestLinkCreator_CreatesBothHalves(t *testing.T) {
	p, s, lc := startFakes(t)
	var steps []string
	lc.Progress = func(st LinkStep) { steps = append(steps, st.Name+":"+st.Status) }
	links, err := lc.Create(context.Background(), LinkCreateOptions{Name: "l", Databases: []string{"shop"}, Mode: sqlink.ModeSync})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(steps, " "), "sign-in:running sign-in:ok validate:running validate:ok certificates:running certificates:ok create:running create:ok"; got != want {
		t.Fatalf("steps = %s, want %s", got, want)
	}
	if len(links) != 1 || links[0].Secondary.Local.DatabaseState != sqlink.DatabaseRestoring {
		t.Fatalf("links = %+v", links)
	}
	sreq, preq := s.links["l"], p.links["l"]
	if sreq.Role != sqlink.RoleSecondary || preq.Role != sqlink.RolePrimary || sreq.LinkID != "id1" || preq.LinkID != "id1" {
		t.Fatalf("requests: secondary %+v, primary %+v", sreq, preq)
	}
	// An unspecified endpoint host is dialled at the admin URL's host.
	if preq.PartnerEndpoint != "127.0.0.1:5022" || preq.PartnerCertFingerprint != "fp-beta" || sreq.PartnerName != "alpha" || sreq.Mode != sqlink.ModeSync {
		t.Fatalf("partner fields: primary %+v, secondary %+v", preq, sreq)
	}
	if _, ok := s.trusted["alpha"]; !ok {
		t.Fatalf("secondary does not trust alpha: %v", s.trusted)
	}
	if _, ok := p.trusted["beta"]; !ok {
		t.Fatalf("primary does not trust beta: %v", p.trusted)
	}

	// The same name again is refused at validation, before any change.
	_, err = lc.Create(context.Background(), LinkCreateOptions{Name: "l", Databases: []string{"shop"}, Mode: sqlink.ModeAsync})
	if sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(sqlink.ErrorMessage(err), "step 2") {
		t.Fatalf("second create: %v", err)
	}
}

func TestLinkCreator_UndoesWhatItDidWhenAStepFails(t *testing.T) {
	p, s, lc := startFakes(t)
	p.failPost = sqlink.Errorf(sqlink.EFORBIDDEN, "ask for links/write", "principal carol lacks permission links/write")
	_, err := lc.Create(context.Background(), LinkCreateOptions{Name: "l", Databases: []string{"shop"}, Mode: sqlink.ModeAsync})
	if sqlink.ErrorCode(err) != sqlink.EFORBIDDEN || ExitCode(err) != 4 {
		t.Fatalf("err = %v (code %s)", err, sqlink.ErrorCode(err))
	}
	msg := sqlink.ErrorMessage(err)
	for _, want := range []string{"step 4", "links/write", "dropped link l on beta", "untrusted alpha on beta", "untrusted beta on alpha", "removed the unseeded database shop on beta"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if sqlink.ErrorHint(err) != "ask for links/write" {
		t.Errorf("hint = %q", sqlink.ErrorHint(err))
	}
	if len(s.links) != 0 || len(s.trusted) != 0 || len(p.trusted) != 0 || len(s.dbs) != 0 {
		t.Fatalf("left behind: secondary links %v trusted %v dbs %v, primary trusted %v", s.links, s.trusted, s.dbs, p.trusted)
	}
}

// A half whose creation call failed may exist all the same (the instance
// created it, then died answering): undo drops it. A link of the same name
// that this run did not create is never dropped.
func TestLinkCreator_UndoesAHalfWhoseCallFailed(t *testing.T) {
	p, s, lc := startFakes(t)
	p.failAfterPost = sqlink.Errorf(sqlink.EUNAVAILABLE, "", "connection reset")
	_, err := lc.Create(context.Background(), LinkCreateOptions{Name: "l", Databases: []string{"shop"}, Mode: sqlink.ModeAsync})
	if err == nil || !strings.Contains(sqlink.ErrorMessage(err), "dropped link l on alpha") || !strings.Contains(sqlink.ErrorMessage(err), "dropped link l on beta") {
		t.Fatalf("err = %v", err)
	}
	if len(p.links) != 0 || len(s.links) != 0 || len(s.dbs) != 0 {
		t.Fatalf("left behind: primary links %v, secondary links %v dbs %v", p.links, s.links, s.dbs)
	}

	// Someone else creates a link named l on the primary just before this
	// run's POST, which is refused: undo leaves that link alone.
	p.failAfterPost = nil
	p.appearsAtPost = &adminapi.CreateLinkRequest{Name: "l", LinkID: "theirs", Database: "other", Role: sqlink.RolePrimary}
	if _, err := lc.Create(context.Background(), LinkCreateOptions{Name: "l", Databases: []string{"shop"}, Mode: sqlink.ModeAsync}); err == nil {
		t.Fatal("create over an existing link succeeded")
	}
	if l, ok := p.links["l"]; !ok || l.LinkID != "theirs" {
		t.Fatalf("undo touched a link it did not create: %+v", p.links)
	}

	// What undo cannot do is named, with what to do by hand.
	p.appearsAtPost = nil
	delete(p.links, "l")
	p.failPost = sqlink.Errorf(sqlink.EFORBIDDEN, "", "no links/write")
	s.failDelete = sqlink.Errorf(sqlink.EUNAVAILABLE, "", "beta is gone")
	_, err = lc.Create(context.Background(), LinkCreateOptions{Name: "l", Databases: []string{"shop"}, Mode: sqlink.ModeAsync})
	if want := "could not drop link l on beta (beta is gone): do it by hand"; err == nil || !strings.Contains(sqlink.ErrorMessage(err), want) {
		t.Fatalf("err = %v, want it to say %q", err, want)
	}
}

func TestLinkCreator_Validation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(p, s *fakeInstance)
		opts  LinkCreateOptions
		want  string
	}{
		{"no chain", func(p, s *fakeInstance) {
			p.dbs["shop"] = adminapi.DatabaseInfo{Name: "shop", State: sqlink.DatabaseOnline}
		}, LinkCreateOptions{}, "take a full backup: sqlink backup shop"},
		{"no database", func(p, s *fakeInstance) { delete(p.dbs, "shop") }, LinkCreateOptions{}, "create it there first"},
		{"exists on secondary", func(p, s *fakeInstance) { s.dbs["shop"] = adminapi.DatabaseInfo{State: sqlink.DatabaseOnline} }, LinkCreateOptions{}, "drop it there"},
		{"restoring without flag", func(p, s *fakeInstance) { s.dbs["shop"] = adminapi.DatabaseInfo{State: sqlink.DatabaseRestoring} }, LinkCreateOptions{}, "--seed-from-backup"},
		{"seed from missing backup", func(p, s *fakeInstance) {}, LinkCreateOptions{SeedFromBackup: true}, "restore a backup of shop"},
		{"collation", func(p, s *fakeInstance) { s.info.Collation = "nocase" }, LinkCreateOptions{}, "same --collation"},
		{"version", func(p, s *fakeInstance) { s.info.Version = "1.0.0" }, LinkCreateOptions{}, "same major version"},
		{"same instance", func(p, s *fakeInstance) { s.info.Name = "alpha" }, LinkCreateOptions{}, "two different instances"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, s, lc := startFakes(t)
			tc.setup(p, s)
			opts := tc.opts
			opts.Name, opts.Databases, opts.Mode = "l", []string{"shop"}, sqlink.ModeAsync
			_, err := lc.Create(context.Background(), opts)
			if err == nil || !strings.Contains(sqlink.ErrorHint(err), tc.want) {
				t.Fatalf("err = %v, want a hint with %q", err, tc.want)
			}
			if len(s.links)+len(p.links)+len(s.trusted)+len(p.trusted) != 0 {
				t.Fatalf("validation failure changed something")
			}
		})
	}
}

func TestCompareDigests(t *testing.T) {
	a := adminapi.PageDigest{LSN: 7, PageSize: 4096, PageCount: 3, Pages: []uint64{1, 2, 3}}
	if r := compareDigests("l", a, a); !r.Equal || r.Pages != 3 {
		t.Fatalf("equal digests: %+v", r)
	}
	b := adminapi.PageDigest{LSN: 7, PageSize: 4096, PageCount: 4, Pages: []uint64{1, 9, 3, 4}}
	r := compareDigests("l", a, b)
	if r.Equal || r.DifferingCount != 2 || len(r.DifferingPages) != 2 || r.DifferingPages[0] != 2 || r.DifferingPages[1] != 4 {
		t.Fatalf("differing digests: %+v", r)
	}
}

func TestLinkNames(t *testing.T) {
	if got := linkNames("l", []string{"a"}); len(got) != 1 || got[0] != "l" {
		t.Fatalf("one database: %v", got)
	}
	if got := linkNames("l", []string{"a", "b"}); len(got) != 2 || got[0] != "l_a" || got[1] != "l_b" {
		t.Fatalf("two databases: %v", got)
	}
}

func TestLinkCreator_RefusesALoopbackEndpointForARemotePartner(t *testing.T) {
	p, s, lc := startFakes(t)
	p.info.EndpointAddr = "127.0.0.1:5022"
	lc.SecondaryURL = "http://beta.example:7080" // the partner is on another host
	_, err := lc.Create(context.Background(), LinkCreateOptions{Name: "l", Databases: []string{"shop"}, Mode: sqlink.ModeAsync})
	if err == nil || !strings.Contains(sqlink.ErrorHint(err), "--primary-endpoint") || !strings.Contains(sqlink.ErrorMessage(err), "step 2") {
		t.Fatalf("err = %v", err)
	}
	if len(s.trusted)+len(p.trusted) != 0 {
		t.Fatalf("validation failure changed something")
	}
	// The override is taken as given.
	_, err = lc.Create(context.Background(), LinkCreateOptions{Name: "l", Databases: []string{"shop"}, Mode: sqlink.ModeAsync, PrimaryEndpoint: "alpha.example:5022"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.links["l"].PartnerEndpoint; got != "alpha.example:5022" {
		t.Fatalf("secondary dials %q", got)
	}
}

func TestLinkCreator_RefusesAnExpiredCertificate(t *testing.T) {
	p, s, lc := startFakes(t)
	s.cert.NotAfter = time.Now().Add(-time.Hour)
	_, err := lc.Create(context.Background(), LinkCreateOptions{Name: "l", Databases: []string{"shop"}, Mode: sqlink.ModeAsync})
	if err == nil || !strings.Contains(sqlink.ErrorMessage(err), "step 3") || !strings.Contains(sqlink.ErrorMessage(err), "expired") {
		t.Fatalf("err = %v", err)
	}
	if len(s.trusted)+len(p.trusted)+len(s.links)+len(p.links) != 0 {
		t.Fatalf("an expired certificate left changes behind")
	}
}

func TestCertExpiryText(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(200 * 24 * time.Hour), ""},
		{now.Add(10*24*time.Hour + time.Hour), "in 10 days"},
		{now.Add(-time.Hour), "EXPIRED"},
	} {
		got := certExpiryText(tc.at, now)
		if tc.want == "" && strings.Contains(got, "(") || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("certExpiryText(%s) = %q, want %q", tc.at, got, tc.want)
		}
	}
}
