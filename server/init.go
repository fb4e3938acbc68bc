package server

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/datadir"
	"github.com/sqlink/sqlink/internal/fsutil"
	"github.com/sqlink/sqlink/tlsconf"
	"github.com/sqlink/sqlink/transport"
)

// Built-in names created by Init.
const (
	AdminPrincipal = "sysadmin" // holds the first admin token
	AdminLogin     = "admin"    // the first SQL login
)

// InitOptions describes a new instance.
type InitOptions struct {
	DataDir   string
	Name      string // defaults to the host name
	Collation string // "binary" (default) or "nocase"

	// AdminToken and SQLPassword are the initial secrets; empty means
	// generate one. Generated secrets are returned once and stored hashed.
	AdminToken  string
	SQLPassword string

	CertValidity time.Duration // endpoint certificate lifetime
	Now          func() time.Time
}

// InitResult reports what Init created. Token and Password are set only when
// Init generated them: the caller prints them once, they are not stored.
type InitResult struct {
	InstanceID         string
	Name               string
	Token              string
	Password           string
	CertFingerprint    string
	CertNotAfter       time.Time
	AlreadyInitialized bool
	// TLSFingerprint is the SHA-256 of the self-signed certificate of the
	// client and admin listeners: clients pin it (--fingerprint).
	TLSFingerprint string
	TLSNotAfter    time.Time
}

// Init creates an instance in opts.DataDir: the catalog, an endpoint
// certificate and key, a sysadmin token and an admin SQL login. It refuses a
// directory that already holds an instance.
func Init(ctx context.Context, opts InitOptions) (InitResult, error) {
	if opts.DataDir == "" {
		return InitResult{}, sqlink.Errorf(sqlink.EINVALID, "pass --data-dir", "no data directory given")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Collation == "" {
		opts.Collation = "binary"
	}
	if opts.Collation != "binary" && opts.Collation != "nocase" {
		return InitResult{}, sqlink.Errorf(sqlink.EINVALID, "use binary or nocase", "invalid collation %q", opts.Collation)
	}
	if opts.Name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "sqlink"
		}
		opts.Name = h
	}
	if opts.CertValidity == 0 {
		opts.CertValidity = DefaultCertValidity
	}
	datadir.RestrictUmask()
	if err := os.MkdirAll(datadir.DatabasesDir(opts.DataDir), datadir.DirMode); err != nil {
		return InitResult{}, sqlink.Errorf(sqlink.EINVALID, "check the path and its permissions", "create data directory: %v", err)
	}
	// An existing directory (made by a package, or by hand with 0755) is
	// made private before anything is written into it.
	if err := datadir.Secure(opts.DataDir, slog.New(slog.DiscardHandler)); err != nil {
		return InitResult{}, err
	}
	if err := datadir.CreatePrivate(datadir.CatalogPath(opts.DataDir)); err != nil {
		return InitResult{}, err
	}

	cat, err := catalog.Open(ctx, datadir.CatalogPath(opts.DataDir))
	if err != nil {
		return InitResult{}, fmt.Errorf("open catalog: %w", err)
	}
	defer cat.Close()
	if ok, err := cat.Initialized(ctx); err != nil {
		return InitResult{}, err
	} else if ok {
		info, err := cat.Instance(ctx)
		if err != nil {
			return InitResult{}, err
		}
		return InitResult{InstanceID: info.ID, Name: info.Name, AlreadyInitialized: true},
			sqlink.Errorf(sqlink.ECONFLICT, "use another --data-dir, or run `sqlink serve` on this one", "%s already holds instance %q", opts.DataDir, info.Name)
	}

	res := InitResult{InstanceID: uuid.NewString(), Name: opts.Name}

	// The certificate and key are written before the catalog records the
	// instance, so a crash part-way leaves a directory Init can redo.
	certPEM, keyPEM, err := tlsconf.NewEndpointCertificate(opts.Name, opts.CertValidity, opts.Now())
	if err != nil {
		return InitResult{}, fmt.Errorf("create endpoint certificate: %w", err)
	}
	if err := fsutil.WriteFileSync(tlsconf.EndpointKeyPath(opts.DataDir), keyPEM, 0o600); err != nil {
		return InitResult{}, err
	}
	if err := fsutil.WriteFileSync(tlsconf.EndpointCertPath(opts.DataDir), certPEM, datadir.FileMode); err != nil {
		return InitResult{}, err
	}
	ci, err := transport.Info(certPEM)
	if err != nil {
		return InitResult{}, err
	}
	res.CertFingerprint, res.CertNotAfter = ci.Fingerprint, ci.NotAfter
	tci, _, err := tlsconf.EnsureListenerCert(opts.DataDir, opts.Name, opts.CertValidity, opts.Now())
	if err != nil {
		return InitResult{}, err
	}
	res.TLSFingerprint, res.TLSNotAfter = tci.Fingerprint, tci.NotAfter

	token, password := opts.AdminToken, opts.SQLPassword
	if token == "" {
		token = "sqlk_" + randomSecret()
		res.Token = token
	}
	if password == "" {
		password = randomSecret()
		res.Password = password
	}
	if _, err := datadir.AuthSecret(opts.DataDir); err != nil {
		return InitResult{}, fmt.Errorf("create auth key: %w", err)
	}
	if err := cat.CreatePrincipal(ctx, AdminPrincipal, []string{"sysadmin"}); err != nil {
		return InitResult{}, fmt.Errorf("create sysadmin principal: %w", err)
	}
	if _, err := cat.ImportToken(ctx, AdminPrincipal, token); err != nil {
		return InitResult{}, fmt.Errorf("store admin token: %w", err)
	}
	if err := cat.CreateLogin(ctx, AdminLogin, password); err != nil {
		return InitResult{}, fmt.Errorf("create admin login: %w", err)
	}
	if err := cat.GrantRight(ctx, AdminLogin, catalog.AllDatabases, catalog.RightWrite); err != nil {
		return InitResult{}, fmt.Errorf("grant the admin login write on all databases: %w", err)
	}
	// Recording the instance is the last step: it marks the directory done.
	if _, err := cat.Init(ctx, catalog.InstanceInfo{
		ID:        res.InstanceID,
		Name:      opts.Name,
		Collation: opts.Collation,
		Version:   sqlink.Version,
		CreatedAt: opts.Now().UTC(),
	}); err != nil {
		return InitResult{}, fmt.Errorf("record instance: %w", err)
	}
	return res, nil
}

// ReadSecretFile reads a secret from a file, trimming one trailing newline.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", sqlink.Errorf(sqlink.EINVALID, "check the file path", "read secret file: %v", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", sqlink.Errorf(sqlink.EINVALID, "put the secret in the file", "secret file %s is empty", path)
	}
	return s, nil
}

// randomSecret returns 160 random bits as lower-case base32.
func randomSecret() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
