// Package tlsconf holds an instance's two certificates and their files:
// the listeners' certificate (client and admin, reloaded when its files
// change) and the endpoint certificate (links, rotated on demand, a
// rotation a crash interrupted finished at the next load). The server
// wires them; nothing here knows of the server.
package tlsconf

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/fsutil"
	"github.com/sqlink/sqlink/transport"
)

// The client (PostgreSQL) and admin (HTTPS) listeners serve TLS with one
// certificate: the operator's (the server's --tls-cert and --tls-key), or
// else a self-signed one that init makes in the data directory (tls.crt
// and tls.key), separate from the endpoint certificate so that rotating
// one never touches the other. Clients trust the self-signed one by
// pinning its SHA-256 fingerprint, which init prints.
//
// The certificate is read again on Source.Reload (SIGHUP) and when its
// files change (Source.Watch); handshakes from then on present the new
// one, sessions already established go on with the old one.

// DefaultReloadInterval is how often the certificate files are checked
// for a change: soon enough after a renewal tool (certbot, cert-manager)
// writes them, cheap enough (reading two small files) to not matter.
const DefaultReloadInterval = 10 * time.Second

// ListenerCertPath and ListenerKeyPath are the self-signed listener
// certificate's files in the data directory dir.
func ListenerCertPath(dir string) string { return filepath.Join(dir, "tls.crt") }
func ListenerKeyPath(dir string) string  { return filepath.Join(dir, "tls.key") }

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

// EnsureListenerCert makes the self-signed listener certificate in dir if
// it has none, and returns its description and whether it was made now.
// Both files are written with mode 0600, the key first.
func EnsureListenerCert(dir, name string, validity time.Duration, now time.Time) (transport.CertInfo, bool, error) {
	crt, key := ListenerCertPath(dir), ListenerKeyPath(dir)
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
	if err := fsutil.WriteFileSync(key, keyPEM, 0o600); err != nil {
		return transport.CertInfo{}, false, err
	}
	if err := fsutil.WriteFileSync(crt, certPEM, 0o600); err != nil {
		return transport.CertInfo{}, false, err
	}
	ci, err := transport.Info(certPEM)
	return ci, true, err
}

// Source holds the listeners' certificate and reloads it from its files.
// It is safe for concurrent use: handshakes read the current certificate
// atomically, reloads are serialised by mu.
type Source struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
	info              atomic.Pointer[transport.CertInfo]

	mu     sync.Mutex // guards stamp and failed
	stamp  string     // the hash of the files' contents at the last load
	failed string     // the stamp of files that failed to load (logged once)
}

// NewSource loads certFile and keyFile.
func NewSource(certFile, keyFile string) (*Source, error) {
	c := &Source{certFile: certFile, keyFile: keyFile}
	if _, err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// fileStamp identifies the two files' contents: a hash, because
// modification times are too coarse (a few milliseconds on ext4) to tell
// apart a renewal that follows the last load closely. The files are a few
// KiB, read every DefaultReloadInterval.
func (c *Source) fileStamp() string {
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

// Reload reads the files and, if they hold a valid key pair, makes it the
// certificate of new handshakes. A bad pair leaves the current one in use.
func (c *Source) Reload() (transport.CertInfo, error) {
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

// Info describes the certificate new handshakes present.
func (c *Source) Info() transport.CertInfo { return *c.info.Load() }

// changed reports whether the files changed since the last load and were
// not already found bad in that state.
func (c *Source) changed() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.fileStamp()
	return s, s != c.stamp && s != c.failed
}

func (c *Source) markFailed(stamp string) {
	c.mu.Lock()
	c.failed = stamp
	c.mu.Unlock()
}

// getCertificate is tls.Config.GetCertificate.
func (c *Source) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// Config returns the listeners' TLS configuration: TLS 1.2 or newer
// (libpq and most drivers speak 1.3; 1.2 is what older ones have), the
// current certificate at each handshake.
func (c *Source) Config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.getCertificate}
}

// Watch reloads the certificate when its files change, until ctx ends.
func (c *Source) Watch(ctx context.Context, every time.Duration, log *slog.Logger) {
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
		if ci, err := c.Reload(); err != nil {
			// Often a renewal caught between writing the two files: the
			// next change is tried again, this state is not logged twice.
			c.markFailed(stamp)
			log.Warn("TLS certificate files changed but cannot be loaded; still serving the previous certificate", "err", err)
		} else {
			log.Info("TLS certificate reloaded (files changed)", "fingerprint", ci.Fingerprint, "subject", ci.Subject, "not_after", ci.NotAfter)
		}
	}
}
