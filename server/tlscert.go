package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/transport"
)

// The client (PostgreSQL) and admin (HTTPS) listeners serve TLS with one
// certificate: the operator's (Config.TLSCertFile and TLSKeyFile), or else
// a self-signed one that Init makes in the data directory (tls.crt and
// tls.key), separate from the endpoint certificate so that rotating one
// never touches the other. Clients trust the self-signed one by pinning its
// SHA-256 fingerprint, which init prints.
//
// The certificate is read again on ReloadTLS (SIGHUP) and when its files
// change; handshakes from then on present the new one, sessions already
// established go on with the old one.

// DefaultTLSReloadInterval is how often the certificate files are checked
// for a change: soon enough after a renewal tool (certbot, cert-manager)
// writes them, cheap enough (reading two small files) to not matter.
const DefaultTLSReloadInterval = 10 * time.Second

func tlsCertPath(dir string) string { return filepath.Join(dir, "tls.crt") }
func tlsKeyPath(dir string) string  { return filepath.Join(dir, "tls.key") }

// listenerCertNames are the names the self-signed listener certificate is
// valid for: loopback in every spelling, and the host name, so that
// sslmode=verify-full works against it on this machine.
func listenerCertNames() []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	return names
}

// ensureListenerCert makes the self-signed listener certificate in dir if
// it has none, and returns its description and whether it was made now.
// Both files are written with mode 0600, the key first.
func ensureListenerCert(dir, name string, validity time.Duration, now time.Time) (transport.CertInfo, bool, error) {
	crt, key := tlsCertPath(dir), tlsKeyPath(dir)
	if b, err := os.ReadFile(crt); err == nil {
		if _, err := os.Stat(key); err == nil {
			ci, err := transport.Info(b)
			return ci, false, err
		}
	}
	certPEM, keyPEM, err := transport.NewCertificate(name, listenerCertNames(), validity, now)
	if err != nil {
		return transport.CertInfo{}, false, fmt.Errorf("create TLS certificate: %w", err)
	}
	if err := writeFileSync(key, keyPEM, dataFileMode); err != nil {
		return transport.CertInfo{}, false, err
	}
	if err := writeFileSync(crt, certPEM, dataFileMode); err != nil {
		return transport.CertInfo{}, false, err
	}
	ci, err := transport.Info(certPEM)
	return ci, true, err
}

// certSource holds the listeners' certificate and reloads it from its
// files. It is safe for concurrent use: handshakes read the current
// certificate atomically, reloads are serialised by mu.
type certSource struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
	info              atomic.Pointer[transport.CertInfo]

	mu     sync.Mutex // guards stamp and failed
	stamp  string     // the hash of the files' contents at the last load
	failed string     // the stamp of files that failed to load (logged once)
}

// newCertSource loads certFile and keyFile.
func newCertSource(certFile, keyFile string) (*certSource, error) {
	c := &certSource{certFile: certFile, keyFile: keyFile}
	if _, err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// fileStamp identifies the two files' contents: a hash, because
// modification times are too coarse (a few milliseconds on ext4) to tell
// apart a renewal that follows the last load closely. The files are a few
// KiB, read every DefaultTLSReloadInterval.
func (c *certSource) fileStamp() string {
	h := sha256.New()
	for _, f := range []string{c.certFile, c.keyFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			b = []byte("missing")
		}
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// reload reads the files and, if they hold a valid key pair, makes it the
// certificate of new handshakes. A bad pair leaves the current one in use.
func (c *certSource) reload() (transport.CertInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stamp := c.fileStamp()
	certPEM, err := os.ReadFile(c.certFile)
	if err != nil {
		return transport.CertInfo{}, sqlink.Errorf(sqlink.EINVALID, "check the --tls-cert path and its permissions", "read TLS certificate: %v", err)
	}
	keyPEM, err := os.ReadFile(c.keyFile)
	if err != nil {
		return transport.CertInfo{}, sqlink.Errorf(sqlink.EINVALID, "check the --tls-key path and its permissions", "read TLS key: %v", err)
	}
	pair, err := transport.KeyPair(certPEM, keyPEM)
	if err != nil {
		return transport.CertInfo{}, fmt.Errorf("TLS certificate %s: %w", c.certFile, err)
	}
	ci, err := transport.Info(certPEM)
	if err != nil {
		return transport.CertInfo{}, err
	}
	c.cur.Store(&pair)
	c.info.Store(&ci)
	c.stamp, c.failed = stamp, ""
	return ci, nil
}

// changed reports whether the files changed since the last load and were
// not already found bad in that state.
func (c *certSource) changed() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.fileStamp()
	return s, s != c.stamp && s != c.failed
}

func (c *certSource) markFailed(stamp string) {
	c.mu.Lock()
	c.failed = stamp
	c.mu.Unlock()
}

// getCertificate is tls.Config.GetCertificate.
func (c *certSource) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// tlsConfig returns the listeners' TLS configuration: TLS 1.2 or newer
// (libpq and most drivers speak 1.3; 1.2 is what older ones have), the
// current certificate at each handshake.
func (c *certSource) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.getCertificate}
}

// watch reloads the certificate when its files change, until ctx ends.
func (c *certSource) watch(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stamp, ok := c.changed()
		if !ok {
			continue
		}
		if ci, err := c.reload(); err != nil {
			// Often a renewal caught between writing the two files: the
			// next change is tried again, this state is not logged twice.
			c.markFailed(stamp)
			log.Warn("TLS certificate files changed but cannot be loaded; still serving the previous certificate", "err", err)
		} else {
			log.Info("TLS certificate reloaded (files changed)", "fingerprint", ci.Fingerprint, "subject", ci.Subject, "not_after", ci.NotAfter)
		}
	}
}

// loadListenerCert sets up the listeners' certificate: the operator's
// files, or the self-signed one in the data directory, made now (and
// logged) for an instance initialised before it existed.
func (s *Server) loadListenerCert() error {
	crt, key := s.cfg.TLSCertFile, s.cfg.TLSKeyFile
	if crt == "" {
		ci, made, err := ensureListenerCert(s.cfg.DataDir, s.info.Name, DefaultCertValidity, s.cfg.Now())
		if err != nil {
			return err
		}
		if made {
			s.log.Warn("generated a self-signed TLS certificate for the client and admin listeners; clients pin it with --fingerprint, or serve your own with --tls-cert and --tls-key",
				"fingerprint", ci.Fingerprint, "file", tlsCertPath(s.cfg.DataDir))
		}
		crt, key = tlsCertPath(s.cfg.DataDir), tlsKeyPath(s.cfg.DataDir)
	}
	src, err := newCertSource(crt, key)
	if err != nil {
		return err
	}
	s.tlsCert = src
	ci := *src.info.Load()
	s.log.Info("client and admin listeners' TLS certificate", "fingerprint", ci.Fingerprint, "subject", ci.Subject, "not_after", ci.NotAfter, "file", crt)
	if left := ci.NotAfter.Sub(s.cfg.Now()); left < tlsExpiryWarning {
		s.log.Warn("the client and admin listeners' TLS certificate expires soon or has expired: clients will refuse it; replace the files and send SIGHUP",
			"not_after", ci.NotAfter, "file", crt)
	}
	return nil
}

// tlsExpiryWarning is how long before its expiry the listeners'
// certificate is warned about at start: a month leaves time to renew it.
const tlsExpiryWarning = 30 * 24 * time.Hour

// ReloadTLS reads the client and admin listeners' certificate files again
// (SIGHUP). New handshakes present the new certificate; established
// sessions are not affected. On error the previous certificate stays.
func (s *Server) ReloadTLS() (transport.CertInfo, error) {
	if s.tlsCert == nil {
		return transport.CertInfo{}, sqlink.Errorf(sqlink.EUNAVAILABLE, "start the instance first", "the instance has no TLS certificate loaded")
	}
	ci, err := s.tlsCert.reload()
	if err != nil {
		s.log.Warn("TLS certificate reload failed; still serving the previous certificate", "err", err)
		return ci, err
	}
	s.log.Info("TLS certificate reloaded", "fingerprint", ci.Fingerprint, "subject", ci.Subject, "not_after", ci.NotAfter)
	return ci, nil
}

// TLSCertificate describes the certificate the client and admin listeners
// present now.
func (s *Server) TLSCertificate() transport.CertInfo {
	if s.tlsCert == nil {
		return transport.CertInfo{}
	}
	return *s.tlsCert.info.Load()
}

// serveAdmin serves the admin API on its listener: HTTPS, or plain HTTP
// with InsecureAdminHTTP. A plain HTTP request to the HTTPS listener gets
// net/http's "400 Client sent an HTTP request to an HTTPS server", never
// an API answer.
func (s *Server) serveAdmin() error {
	if s.cfg.InsecureAdminHTTP {
		return s.admin.Serve(s.adminLn)
	}
	return s.admin.ServeTLS(s.adminLn, "", "")
}

// warnInsecureAdmin logs that the admin API serves plain HTTP, as a
// warning when its address is not loopback: tokens then cross the network
// in clear.
func (s *Server) warnInsecureAdmin() {
	if !s.cfg.InsecureAdminHTTP {
		return
	}
	host, _, _ := net.SplitHostPort(s.AdminAddr())
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
		s.log.Info("admin API serves plain HTTP (--insecure-admin-http) on loopback")
		return
	}
	s.log.Warn("admin API serves plain HTTP (--insecure-admin-http) on a non-loopback address: admin tokens cross the network in clear", "addr", s.AdminAddr())
}

// AdminURL returns the admin API's base URL: https:// unless the listener
// serves plain HTTP.
func (s *Server) AdminURL() string {
	if s.cfg.InsecureAdminHTTP {
		return "http://" + s.AdminAddr()
	}
	return "https://" + s.AdminAddr()
}

// adminErrorLog is the admin http.Server's error log: failed TLS handshakes
// (a scanner, a client that does not trust the certificate, plain HTTP to
// the HTTPS port) are logged at debug level, other errors as warnings.
func adminErrorLog(log *slog.Logger) *stdlog.Logger {
	return stdlog.New(adminErrorWriter{log.With("component", "adminapi")}, "", 0)
}

type adminErrorWriter struct{ log *slog.Logger }

func (w adminErrorWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") {
		w.log.Debug(msg)
	} else {
		w.log.Warn(msg)
	}
	return len(p), nil
}
