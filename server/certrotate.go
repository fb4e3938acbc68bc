package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/fsutil"
	"github.com/sqlink/sqlink/transport"
)

// Endpoint certificate rotation. The new certificate and key are written
// beside the current ones (".new"), synced, then renamed over them, key
// first; loadEndpointCert finishes a rotation a crash interrupted between
// the renames, and drops one interrupted before them. Handshakes from then
// on present the new certificate; links already connected go on with the
// old one until they reconnect, so peers must trust the new one soon (and
// before the old one expires).

// fpCertRotateWritten: the new certificate and key are written and synced,
// not yet renamed over the current ones.
const fpCertRotateWritten = "cert/rotate-written"

// endpointCert returns the endpoint certificate and its PEM.
func (s *Server) endpointCert() (tls.Certificate, []byte) {
	s.certMu.Lock()
	defer s.certMu.Unlock()
	return s.cert, s.certPEM
}

// loadEndpointCert reads the endpoint certificate and key, first finishing
// or dropping an interrupted rotation.
func (s *Server) loadEndpointCert() error {
	dir := s.cfg.DataDir
	crt, key := certPath(dir), keyPath(dir)
	newCrt, newKey := crt+".new", key+".new"
	_, errCrt := os.Stat(newCrt)
	_, errKey := os.Stat(newKey)
	switch {
	case errCrt == nil && errKey == nil:
		// Both written: the rotation was committed to when the second was
		// synced, unless the pair is incomplete (a crash while writing).
		if _, err := tls.LoadX509KeyPair(newCrt, newKey); err == nil {
			if err := os.Rename(newKey, key); err != nil {
				return fmt.Errorf("finish certificate rotation: %w", err)
			}
			if err := os.Rename(newCrt, crt); err != nil {
				return fmt.Errorf("finish certificate rotation: %w", err)
			}
			s.log.Warn("finished an endpoint certificate rotation a crash interrupted")
		}
	case errCrt == nil:
		// The key was renamed already.
		if _, err := tls.LoadX509KeyPair(newCrt, key); err == nil {
			if err := os.Rename(newCrt, crt); err != nil {
				return fmt.Errorf("finish certificate rotation: %w", err)
			}
			s.log.Warn("finished an endpoint certificate rotation a crash interrupted")
		}
	}
	os.Remove(newCrt)
	os.Remove(newKey)
	if err := syncDirOf(crt); err != nil {
		return err
	}
	certPEM, err := os.ReadFile(crt)
	if err != nil {
		return fmt.Errorf("read endpoint certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(key)
	if err != nil {
		return fmt.Errorf("read endpoint key: %w", err)
	}
	cert, err := keyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("load endpoint certificate: %w", err)
	}
	s.certMu.Lock()
	s.cert, s.certPEM = cert, certPEM
	s.certMu.Unlock()
	if left := cert.Leaf.NotAfter.Sub(s.cfg.Now()); left < certExpiryWarning {
		s.log.Warn("the endpoint certificate expires soon: rotate it (sqlink cert rotate) and trust the new one on every partner",
			"not_after", cert.Leaf.NotAfter, "days_left", int(left.Hours()/24))
	}
	return nil
}

// certExpiryWarning: a start this close to the endpoint certificate's
// expiry logs a warning.
const certExpiryWarning = 30 * 24 * time.Hour

// RotateEndpointCertificate replaces the endpoint certificate and key with
// new ones (same names, DefaultCertValidity) and returns the new
// certificate.
func (s *Server) RotateEndpointCertificate(ctx context.Context) (adminapi.CertificateInfo, error) {
	s.rotateMu.Lock()
	defer s.rotateMu.Unlock()
	dir := s.cfg.DataDir
	crt, key := certPath(dir), keyPath(dir)
	certPEM, keyPEM, err := newEndpointCertificate(s.info.Name, DefaultCertValidity, s.cfg.Now())
	if err != nil {
		return adminapi.CertificateInfo{}, fmt.Errorf("create endpoint certificate: %w", err)
	}
	cert, err := keyPair(certPEM, keyPEM)
	if err != nil {
		return adminapi.CertificateInfo{}, fmt.Errorf("create endpoint certificate: %w", err)
	}
	ci, err := transport.Info(certPEM)
	if err != nil {
		return adminapi.CertificateInfo{}, err
	}
	fail := func(err error) (adminapi.CertificateInfo, error) {
		os.Remove(crt + ".new")
		os.Remove(key + ".new")
		return adminapi.CertificateInfo{}, sqlink.Errorf(sqlink.EUNAVAILABLE, "check the data directory's free space and permissions; the current certificate stays in use",
			"rotate endpoint certificate: %v", err)
	}
	if err := writeFileSync(key+".new", keyPEM, 0o600); err != nil {
		return fail(err)
	}
	if err := writeFileSync(crt+".new", certPEM, 0o644); err != nil {
		return fail(err)
	}
	if err := syncDirOf(crt); err != nil {
		return fail(err)
	}
	s.failpoint(fpCertRotateWritten)
	if err := errors.Join(os.Rename(key+".new", key), os.Rename(crt+".new", crt)); err != nil {
		// Half renamed: the next start finishes it (loadEndpointCert).
		return adminapi.CertificateInfo{}, sqlink.Errorf(sqlink.EINTERNAL, "restart the instance: it finishes the rotation", "rotate endpoint certificate: %v", err)
	}
	if err := syncDirOf(crt); err != nil {
		return adminapi.CertificateInfo{}, sqlink.Errorf(sqlink.EINTERNAL, "restart the instance", "rotate endpoint certificate: %v", err)
	}
	s.certMu.Lock()
	s.cert, s.certPEM = cert, certPEM
	s.certMu.Unlock()
	s.log.Warn("endpoint certificate rotated: peers must trust the new one", "fingerprint", ci.Fingerprint, "not_after", ci.NotAfter)
	return adminapi.CertificateInfo{Subject: ci.Subject, Fingerprint: ci.Fingerprint, NotBefore: ci.NotBefore, NotAfter: ci.NotAfter, PEM: string(certPEM)}, nil
}

// newEndpointCertificate creates an instance's endpoint certificate and
// key (init and rotation).
func newEndpointCertificate(name string, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
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

// syncDirOf fsyncs the directory holding path.
func syncDirOf(path string) error { return fsutil.SyncDir(filepath.Dir(path)) }
