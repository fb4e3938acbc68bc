package linkcreate_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
	"github.com/sqlink/sqlink/linkcreate"
	"github.com/sqlink/sqlink/transport"
)

// fakeInstance is an in-memory instance behind linkcreate.Client. Each
// fail* field, if set, is returned by that call; failAfterCreate is
// returned by CreateLink after the link was created (an instance that dies
// answering). calls logs every call that changes something.
type fakeInstance struct {
	mu              sync.Mutex
	info            adminapi.InstanceStatus
	dbs             map[string]adminapi.DatabaseInfo
	links           map[string]adminapi.CreateLinkRequest
	trusted         map[string]adminapi.CertificateInfo
	cert            adminapi.CertificateInfo
	failInfo        error
	failTrust       error
	failCreate      error
	failCreateAt    int // if set, failCreate is returned by that CreateLink call only (1 is the first)
	creates         int
	failAfterCreate error
	failDrop        error
	// appearsAtCreate is a link of the same name that someone else
	// creates between validation and CreateLink (which then conflicts).
	appearsAtCreate *adminapi.CreateLinkRequest
	calls           []string
}

var _ linkcreate.Client = (*fakeInstance)(nil)

func newFakeInstance(name string) *fakeInstance {
	return &fakeInstance{
		info:    adminapi.InstanceStatus{ID: name + "-id", Name: name, Version: "0.1.0", Collation: "binary", EndpointAddr: "0.0.0.0:5022"},
		dbs:     map[string]adminapi.DatabaseInfo{},
		links:   map[string]adminapi.CreateLinkRequest{},
		trusted: map[string]adminapi.CertificateInfo{},
		cert:    adminapi.CertificateInfo{Subject: name, Fingerprint: "fp-" + name, PEM: "pem-" + name},
	}
}

func (f *fakeInstance) log(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// state summarises what the instance holds, sorted, for comparisons.
func (f *fakeInstance) state() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n, l := range f.links {
		out = append(out, "link "+n+"="+l.LinkID)
	}
	for n := range f.trusted {
		out = append(out, "trust "+n)
	}
	for n, d := range f.dbs {
		out = append(out, "db "+n+"="+string(d.State))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func (f *fakeInstance) Info(ctx context.Context) (adminapi.InstanceStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info, f.failInfo
}

func (f *fakeInstance) GetDatabase(ctx context.Context, name string) (adminapi.DatabaseInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.dbs[name]
	if !ok {
		return d, sqlink.Errorf(sqlink.ENOTFOUND, "", "database %q does not exist", name)
	}
	return d, nil
}

func (f *fakeInstance) DropDatabase(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("drop database %s", name)
	if _, ok := f.dbs[name]; !ok {
		return sqlink.Errorf(sqlink.ENOTFOUND, "", "database %q does not exist", name)
	}
	delete(f.dbs, name)
	return nil
}

func (f *fakeInstance) EndpointCertificate(ctx context.Context) (adminapi.CertificateInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cert, nil
}

func (f *fakeInstance) ListTrustedCertificates(ctx context.Context) ([]adminapi.CertificateInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []adminapi.CertificateInfo{}
	for _, c := range f.trusted {
		out = append(out, c)
	}
	return out, nil
}

func (f *fakeInstance) TrustCertificate(ctx context.Context, name string, certPEM []byte) (adminapi.CertificateInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("trust %s", name)
	if f.failTrust != nil {
		return adminapi.CertificateInfo{}, f.failTrust
	}
	c := adminapi.CertificateInfo{Name: name, Fingerprint: "fp-" + strings.TrimPrefix(string(certPEM), "pem-"), PEM: string(certPEM)}
	f.trusted[name] = c
	return c, nil
}

func (f *fakeInstance) UntrustCertificate(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("untrust %s", name)
	delete(f.trusted, name)
	return nil
}

func (f *fakeInstance) ListLinks(ctx context.Context) ([]adminapi.LinkStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []adminapi.LinkStatus{}
	for _, l := range f.links {
		out = append(out, adminapi.LinkStatus{Name: l.Name, LinkID: l.LinkID, Database: l.Database, Local: adminapi.ReplicaStatus{Role: l.Role}})
	}
	return out, nil
}

func (f *fakeInstance) GetLink(ctx context.Context, name string) (adminapi.LinkStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ENOTFOUND, "", "no link %s", name)
	}
	return adminapi.LinkStatus{Name: l.Name, LinkID: l.LinkID, Database: l.Database, Local: adminapi.ReplicaStatus{Role: l.Role}}, nil
}

func (f *fakeInstance) CreateLink(ctx context.Context, req adminapi.CreateLinkRequest) (adminapi.LinkStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("create link %s %s", req.Name, req.Role)
	if l := f.appearsAtCreate; l != nil {
		f.links[l.Name] = *l
		return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, "", "link %q already exists", l.Name)
	}
	f.creates++
	if f.failCreate != nil && (f.failCreateAt == 0 || f.failCreateAt == f.creates) {
		return adminapi.LinkStatus{}, f.failCreate
	}
	f.links[req.Name] = req
	st := sqlink.DatabaseOnline
	if req.Role == sqlink.RoleSecondary && !req.SeedFromBackup {
		st = sqlink.DatabaseRestoring
		f.dbs[req.Database] = adminapi.DatabaseInfo{Name: req.Database, State: st}
	}
	if f.failAfterCreate != nil {
		return adminapi.LinkStatus{}, f.failAfterCreate
	}
	return adminapi.LinkStatus{Name: req.Name, LinkID: req.LinkID, Local: adminapi.ReplicaStatus{Instance: f.info.Name, Role: req.Role, DatabaseState: st}}, nil
}

func (f *fakeInstance) DropLink(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("drop link %s", name)
	if f.failDrop != nil {
		return f.failDrop
	}
	if _, ok := f.links[name]; !ok {
		return sqlink.Errorf(sqlink.ENOTFOUND, "", "no link %s", name)
	}
	delete(f.links, name)
	return nil
}

// ValidateLink runs the instance's half with the guide checks, as the
// server does (without the disk and log cap checks).
func (f *fakeInstance) ValidateLink(ctx context.Context, req adminapi.ValidateLinkRequest) (adminapi.ValidateLinkResponse, error) {
	links, _ := f.ListLinks(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	me := f.info.Name
	res := adminapi.ValidateLinkResponse{Instance: me}
	for _, it := range req.Links {
		res.Checks = append(res.Checks, guide.LinkName(me, string(req.Role), it.Name, links))
		d, found := f.dbs[it.Database]
		if req.Role == sqlink.RolePrimary {
			res.Checks = append(res.Checks, guide.PrimaryDatabase(me, it.Database, d, found))
			if found {
				res.Checks = append(res.Checks, guide.FullBackup(me, it.Database, d), guide.NotLinked(me, req.Role, it.Database, links))
			}
			continue
		}
		res.Checks = append(res.Checks, guide.SecondaryDatabase(me, it.Database, d, found, req.SeedFromBackup), guide.NotLinked(me, req.Role, it.Database, links))
	}
	return res, nil
}

// ProbeEndpoint answers every probe as reachable.
func (f *fakeInstance) ProbeEndpoint(ctx context.Context, req adminapi.ProbeRequest) (adminapi.ProbeResponse, error) {
	ok := transport.ProbeStep{OK: true}
	return adminapi.ProbeResponse{Instance: f.info.Name, ProbeResult: transport.ProbeResult{Addr: req.Address, Resolve: ok, Connect: ok, TLS: ok,
		Peer: &transport.CertInfo{Fingerprint: req.Fingerprint}, ClockSkewKnown: true}, Hello: ok}, nil
}
