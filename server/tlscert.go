package server

import (
	"context"
	"crypto/tls"
	stdlog "log"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/tlsconf"
	"github.com/sqlink/sqlink/transport"
)

// The client and admin listeners' certificate and the endpoint
// certificate live in tlsconf; this file wires them to the instance.

// DefaultTLSReloadInterval is how often the listeners' certificate files
// are checked for a change (tlsconf.DefaultReloadInterval).
const DefaultTLSReloadInterval = tlsconf.DefaultReloadInterval

// fpCertRotateWritten: the new certificate and key are written and synced,
// not yet renamed over the current ones.
const fpCertRotateWritten = "cert/rotate-written"

// loadListenerCert sets up the listeners' certificate: the operator's
// files, or the self-signed one in the data directory, made now (and
// logged) for an instance initialised before it existed.
func (s *Server) loadListenerCert() error {
	crt, key := s.cfg.TLSCertFile, s.cfg.TLSKeyFile
	if crt == "" {
		ci, made, err := tlsconf.EnsureListenerCert(s.cfg.DataDir, s.info.Name, DefaultCertValidity, s.cfg.Now())
		if err != nil {
			return err
		}
		if made {
			s.log.Warn("generated a self-signed TLS certificate for the client and admin listeners; clients pin it with --fingerprint, or serve your own with --tls-cert and --tls-key",
				"fingerprint", ci.Fingerprint, "file", tlsconf.ListenerCertPath(s.cfg.DataDir))
		}
		crt, key = tlsconf.ListenerCertPath(s.cfg.DataDir), tlsconf.ListenerKeyPath(s.cfg.DataDir)
	}
	src, err := tlsconf.NewSource(crt, key)
	if err != nil {
		return err
	}
	s.tlsCert = src
	ci := src.Info()
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
	ci, err := s.tlsCert.Reload()
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
	return s.tlsCert.Info()
}

// endpointCert returns the endpoint certificate and its PEM.
func (s *Server) endpointCert() (tls.Certificate, []byte) { return s.endpoint.Current() }

// RotateEndpointCertificate replaces the endpoint certificate and key with
// new ones (same names, DefaultCertValidity) and returns the new
// certificate.
func (s *Server) RotateEndpointCertificate(ctx context.Context) (adminapi.CertificateInfo, error) {
	ci, certPEM, err := s.endpoint.Rotate(s.info.Name, DefaultCertValidity, s.cfg.Now(), func() { s.failpoint(fpCertRotateWritten) })
	if err != nil {
		return adminapi.CertificateInfo{}, err
	}
	s.log.Warn("endpoint certificate rotated: peers must trust the new one", "fingerprint", ci.Fingerprint, "not_after", ci.NotAfter)
	return adminapi.CertificateInfo{Subject: ci.Subject, Fingerprint: ci.Fingerprint, NotBefore: ci.NotBefore, NotAfter: ci.NotAfter, PEM: string(certPEM)}, nil
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
