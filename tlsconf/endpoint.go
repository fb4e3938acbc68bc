package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/fsutil"
	"github.com/sqlink/sqlink/transport"
)

// Endpoint certificate rotation. The new certificate and key are written
// beside the current ones (".new"), synced, then renamed over them, key
// first; LoadEndpoint finishes a rotation a crash interrupted between the
// renames, and drops one interrupted before them. Handshakes from then on
// present the new certificate; links already connected go on with the old
// one until they reconnect, so peers must trust the new one soon (and
// before the old one expires).

// EndpointCertPath and EndpointKeyPath are the endpoint certificate's
// files in the data directory dir.
func EndpointCertPath(dir string) string { return filepath.Join(dir, "endpoint.crt") }
func EndpointKeyPath(dir string) string  { return filepath.Join(dir, "endpoint.key") }

// Endpoint holds the endpoint certificate. It is safe for concurrent use:
// mu guards cert and pem (a rotation replaces them), rotateMu lets one
// rotation run at a time.
type Endpoint struct {
	crt, key string

	mu   sync.Mutex
	cert tls.Certificate
	pem  []byte

	rotateMu sync.Mutex
}

// certExpiryWarning: a load this close to the endpoint certificate's
// expiry logs a warning.
const certExpiryWarning = 30 * 24 * time.Hour

// LoadEndpoint reads the endpoint certificate and key from the data
// directory dir, first finishing or dropping an interrupted rotation.
func LoadEndpoint(dir string, now time.Time, log *slog.Logger) (*Endpoint, error) {
	crt, key := EndpointCertPath(dir), EndpointKeyPath(dir)
	newCrt, newKey := crt+".new", key+".new"
	_, errCrt := os.Stat(newCrt)
	_, errKey := os.Stat(newKey)
	switch {
	case errCrt == nil && errKey == nil:
		// Both written: the rotation was committed to when the second was
		// synced, unless the pair is incomplete (a crash while writing).
		if _, err := tls.LoadX509KeyPair(newCrt, newKey); err == nil {
			if err := os.Rename(newKey, key); err != nil {
				return nil, fmt.Errorf("finish certificate rotation: %w", err)
			}
			if err := os.Rename(newCrt, crt); err != nil {
				return nil, fmt.Errorf("finish certificate rotation: %w", err)
			}
			log.Warn("finished an endpoint certificate rotation a crash interrupted")
		}
	case errCrt == nil:
		// The key was renamed already.
		if _, err := tls.LoadX509KeyPair(newCrt, key); err == nil {
			if err := os.Rename(newCrt, crt); err != nil {
				return nil, fmt.Errorf("finish certificate rotation: %w", err)
			}
			log.Warn("finished an endpoint certificate rotation a crash interrupted")
		}
	}
	os.Remove(newCrt)
	os.Remove(newKey)
	if err := fsutil.SyncDir(dir); err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(crt)
	if err != nil {
		return nil, fmt.Errorf("read endpoint certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(key)
	if err != nil {
		return nil, fmt.Errorf("read endpoint key: %w", err)
	}
	cert, err := keyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load endpoint certificate: %w", err)
	}
	if left := cert.Leaf.NotAfter.Sub(now); left < certExpiryWarning {
		log.Warn("the endpoint certificate expires soon: rotate it (sqlink cert rotate) and trust the new one on every partner",
			"not_after", cert.Leaf.NotAfter, "days_left", int(left.Hours()/24))
	}
	return &Endpoint{crt: crt, key: key, cert: cert, pem: certPEM}, nil
}

// Current returns the endpoint certificate and its PEM.
func (e *Endpoint) Current() (tls.Certificate, []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cert, e.pem
}

// Rotate replaces the endpoint certificate and key with new ones for name
// (valid for validity from now) and returns the new certificate and its
// PEM. written runs once the new files are written and synced, before
// they are renamed over the current ones (a crash test's failpoint).
func (e *Endpoint) Rotate(name string, validity time.Duration, now time.Time, written func()) (transport.CertInfo, []byte, error) {
	e.rotateMu.Lock()
	defer e.rotateMu.Unlock()
	crt, key := e.crt, e.key
	certPEM, keyPEM, err := NewEndpointCertificate(name, validity, now)
	if err != nil {
		return transport.CertInfo{}, nil, fmt.Errorf("create endpoint certificate: %w", err)
	}
	cert, err := keyPair(certPEM, keyPEM)
	if err != nil {
		return transport.CertInfo{}, nil, fmt.Errorf("create endpoint certificate: %w", err)
	}
	ci, err := transport.Info(certPEM)
	if err != nil {
		return transport.CertInfo{}, nil, err
	}
	fail := func(err error) (transport.CertInfo, []byte, error) {
		os.Remove(crt + ".new")
		os.Remove(key + ".new")
		return transport.CertInfo{}, nil, sqlink.Errorf(sqlink.EUNAVAILABLE, "check the data directory's free space and permissions; the current certificate stays in use",
			"rotate endpoint certificate: %v", err)
	}
	if err := fsutil.WriteFileSync(key+".new", keyPEM, 0o600); err != nil {
		return fail(err)
	}
	if err := fsutil.WriteFileSync(crt+".new", certPEM, 0o644); err != nil {
		return fail(err)
	}
	if err := fsutil.SyncDir(filepath.Dir(crt)); err != nil {
		return fail(err)
	}
	if written != nil {
		written()
	}
	if err := errors.Join(os.Rename(key+".new", key), os.Rename(crt+".new", crt)); err != nil {
		// Half renamed: the next start finishes it (LoadEndpoint).
		return transport.CertInfo{}, nil, sqlink.Errorf(sqlink.EINTERNAL, "restart the instance: it finishes the rotation", "rotate endpoint certificate: %v", err)
	}
	if err := fsutil.SyncDir(filepath.Dir(crt)); err != nil {
		return transport.CertInfo{}, nil, sqlink.Errorf(sqlink.EINTERNAL, "restart the instance", "rotate endpoint certificate: %v", err)
	}
	e.mu.Lock()
	e.cert, e.pem = cert, certPEM
	e.mu.Unlock()
	return ci, certPEM, nil
}

// NewEndpointCertificate creates an instance's endpoint certificate and
// key (init and rotation).
func NewEndpointCertificate(name string, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	return transport.NewCertificate(name, []string{name, "localhost"}, validity, now)
}

// keyPair parses a certificate and key, with the certificate's Leaf set.
func keyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err == nil && cert.Leaf == nil {
		cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0])
	}
	return cert, err
}
