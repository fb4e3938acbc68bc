package server

import (
	"context"
	"io"
	"sort"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/transport"
)

// instance adapts the server to adminapi.Instance; its links are the
// replication engine's (adminapi.LinkManager).
type instance struct {
	s *Server
	adminapi.LinkManager
}

var _ adminapi.Instance = instance{}

func (i instance) Info(ctx context.Context) (adminapi.InstanceStatus, error) {
	s := i.s
	return adminapi.InstanceStatus{
		ID:            s.info.ID,
		Name:          s.info.Name,
		Version:       s.info.Version,
		Collation:     s.info.Collation,
		ClientAddr:    s.ClientAddr(),
		AdminAddr:     s.AdminAddr(),
		EndpointAddr:  s.EndpointAddr(),
		StartedAt:     s.started,
		UptimeSeconds: s.cfg.Now().Sub(s.started).Seconds(),
	}, nil
}

func (i instance) ListDatabases(ctx context.Context) ([]adminapi.DatabaseInfo, error) {
	dbs, err := i.s.cat.ListDatabases(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]adminapi.DatabaseInfo, 0, len(dbs))
	for _, d := range dbs {
		out = append(out, i.databaseInfo(d))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

func (i instance) GetDatabase(ctx context.Context, name string) (adminapi.DatabaseInfo, error) {
	d, err := i.s.cat.GetDatabase(ctx, name)
	if err != nil {
		return adminapi.DatabaseInfo{}, err
	}
	info := i.databaseInfo(d)
	backups, err := i.s.cat.ListBackups(ctx, name)
	if err != nil {
		return info, err
	}
	for _, b := range backups {
		info.Backups = append(info.Backups, adminapi.BackupInfoFromRecord(b))
	}
	var since sqlink.LSN
	if info.Gap != nil {
		since = info.Gap.LSN
	}
	info.ChainStarted, err = i.s.cat.ChainStarted(ctx, name, since)
	return info, err
}

// databaseInfo describes a registered database, with live figures when it
// is open.
func (i instance) databaseInfo(d catalog.Database) adminapi.DatabaseInfo {
	info := adminapi.DatabaseInfo{Name: d.Name, ID: d.ID, State: d.State, CreatedAt: d.CreatedAt}
	i.s.mu.Lock()
	db := i.s.dbs[d.Name]
	i.s.mu.Unlock()
	if db != nil {
		st := db.Stats()
		info.Pos, info.Epoch = st.Pos, st.Epoch
		info.PageSize, info.PageCount, info.SizeBytes = int(st.PageSize), st.PageCount, st.SizeBytes
		info.LogBytes, info.LogFirstLSN = st.LogBytes, st.LogFirstLSN
		if st.ReadOnly {
			info.ReadOnly = true
			info.ReadOnlyReason = "secondary replica of instance " + st.Primary
			if st.Primary == "" && st.ReadOnlyWhy != "" {
				info.ReadOnlyReason = st.ReadOnlyWhy
			}
		}
		info.CaptureError = st.CaptureError
		if g := st.Gap; g != nil {
			info.Gap = &adminapi.HistoryGap{LSN: g.LSN, Time: g.Time, Why: g.Why}
		}
		if d := st.Diverged; d != nil {
			info.Diverged = &adminapi.HistoryGap{LSN: d.LSN, Time: d.Time, Why: d.Why}
		}
	}
	return info
}

func (i instance) CreateDatabase(ctx context.Context, name string) (adminapi.DatabaseInfo, error) {
	if err := i.s.CreateDatabase(ctx, name); err != nil {
		return adminapi.DatabaseInfo{}, err
	}
	return i.GetDatabase(ctx, name)
}

func (i instance) DropDatabase(ctx context.Context, name string) error {
	return i.s.DropDatabase(ctx, name)
}

func (i instance) Backup(ctx context.Context, name string, copyOnly bool, w io.Writer) (adminapi.BackupInfo, error) {
	rec, err := i.s.Backup(ctx, name, copyOnly, w)
	if err != nil {
		return adminapi.BackupInfo{}, err
	}
	return adminapi.BackupInfoFromRecord(rec), nil
}

func (i instance) Restore(ctx context.Context, name string, restoring bool, r io.Reader) (adminapi.DatabaseInfo, error) {
	m, err := i.s.Restore(ctx, name, restoring, r)
	if err != nil {
		return adminapi.DatabaseInfo{}, err
	}
	info, err := i.GetDatabase(ctx, name)
	if err != nil {
		return info, err
	}
	info.RestoredFrom = &adminapi.BackupInfo{ID: m.ID, Database: m.Database, LSN: m.Pos.LSN, Epoch: m.Epoch,
		PageCount: m.PageCount, CopyOnly: m.CopyOnly, CreatedAt: m.Created}
	if restoring {
		info.Pos = m.Pos
	}
	return info, nil
}

func (i instance) CompleteRestore(ctx context.Context, name string) (adminapi.DatabaseInfo, error) {
	if err := i.s.CompleteRestore(ctx, name); err != nil {
		return adminapi.DatabaseInfo{}, err
	}
	return i.GetDatabase(ctx, name)
}

func (i instance) EndpointCertificate(ctx context.Context) (adminapi.CertificateInfo, error) {
	_, certPEM := i.s.endpointCert()
	ci, err := transport.Info(certPEM)
	if err != nil {
		return adminapi.CertificateInfo{}, sqlink.Errorf(sqlink.EINTERNAL, "check endpoint.crt in the data directory", "read endpoint certificate: %v", err)
	}
	return adminapi.CertificateInfo{Subject: ci.Subject, Fingerprint: ci.Fingerprint, NotBefore: ci.NotBefore, NotAfter: ci.NotAfter, PEM: string(certPEM)}, nil
}

func (i instance) RotateEndpointCertificate(ctx context.Context) (adminapi.CertificateInfo, error) {
	return i.s.RotateEndpointCertificate(ctx)
}

var _ adminapi.LinkManager = instance{}
