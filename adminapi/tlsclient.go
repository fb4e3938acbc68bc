package adminapi

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
)

// TLSOptions says which admin listener certificates a client trusts. An
// instance's certificate is either signed by a CA the operator runs
// (CAFile) or self-signed by `sqlink init`, and then pinned by its SHA-256
// fingerprint. A certificate is trusted when it has the pinned fingerprint
// or chains to a CA in CAFile (or, with neither given, to a system root)
// for the URL's host name.
type TLSOptions struct {
	// CAFile is a PEM file of CA certificates (a self-signed certificate
	// is its own CA). Empty: the system's roots.
	CAFile string
	// Fingerprint pins the leaf certificate: the SHA-256 of its DER as hex,
	// upper or lower case, colons allowed (openssl's spelling).
	Fingerprint string
	// FingerprintFlag and FingerprintEnv name the flag and environment
	// variable that set Fingerprint, for the hint of a refused certificate
	// (default --fingerprint and SQLINK_FINGERPRINT).
	FingerprintFlag, FingerprintEnv string
}

// NormalizeFingerprint returns fp as lower-case hex without separators,
// or an EINVALID error when it is not a SHA-256 fingerprint.
func NormalizeFingerprint(fp string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(fp))
	s = strings.TrimPrefix(s, "sha256:")
	s = strings.NewReplacer(":", "", " ", "", "-", "").Replace(s)
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return "", sqlink.Errorf(sqlink.EINVALID, "give the SHA-256 fingerprint `sqlink init` printed: 64 hex digits, colons allowed",
			"invalid certificate fingerprint %q", fp)
	}
	return s, nil
}

// CertFingerprint returns the SHA-256 of a certificate's DER as lower-case
// hex, as init prints it.
func CertFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// CertError is a certificate the client refused. The Client turns it into
// a *sqlink.Error that names the certificate and how to trust it.
type CertError struct {
	Host        string // the host:port that presented it
	Fingerprint string // SHA-256 of the presented leaf certificate
	Subject     string
	Pinned      string // the fingerprint expected, if one was pinned
	Reason      error  // why it does not chain to a trusted CA, if checked
	hint        string
}

func (e *CertError) Error() string {
	msg := fmt.Sprintf("the admin listener at %s presented certificate %s (subject %q)", e.Host, e.Fingerprint, e.Subject)
	switch {
	case e.Pinned != "" && e.Reason != nil:
		return fmt.Sprintf("%s, which is neither the pinned certificate %s nor trusted (%v)", msg, e.Pinned, e.Reason)
	case e.Pinned != "":
		return fmt.Sprintf("%s, not the pinned certificate %s", msg, e.Pinned)
	}
	return fmt.Sprintf("%s, which is not trusted: %v", msg, e.Reason)
}

// NewHTTPClient returns an HTTP client for the admin API at baseURL that
// trusts the certificates o allows. A plain http:// URL gets a client
// without TLS.
func NewHTTPClient(baseURL string, o TLSOptions) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	cfg, err := o.clientConfig(baseURL)
	if err != nil {
		return nil, err
	}
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr}, nil
}

// NewClientTLS is NewClient with an HTTP client from NewHTTPClient.
func NewClientTLS(baseURL, token string, o TLSOptions) (*Client, error) {
	hc, err := NewHTTPClient(baseURL, o)
	if err != nil {
		return nil, err
	}
	return NewClient(baseURL, token, hc), nil
}

// clientConfig returns the TLS configuration for baseURL.
func (o TLSOptions) clientConfig(baseURL string) (*tls.Config, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, sqlink.Errorf(sqlink.EINVALID, "give the admin URL as https://host:port", "bad admin URL %q", baseURL)
	}
	host := u.Hostname()
	hostPort := u.Host
	pinned := ""
	if o.Fingerprint != "" {
		if pinned, err = NormalizeFingerprint(o.Fingerprint); err != nil {
			return nil, err
		}
	}
	var roots *x509.CertPool
	if o.CAFile != "" {
		if roots, err = LoadCAFile(o.CAFile); err != nil {
			return nil, err
		}
	}
	fpFlag, fpEnv := o.FingerprintFlag, o.FingerprintEnv
	if fpFlag == "" {
		fpFlag, fpEnv = "--fingerprint", "SQLINK_FINGERPRINT"
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain is verified below, against the pin or the roots, so
		// that a refusal can name the certificate and how to trust it.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the admin listener presented no certificate")
			}
			leaf := cs.PeerCertificates[0]
			fp := CertFingerprint(leaf)
			if pinned != "" && fp == pinned {
				return nil
			}
			ce := &CertError{Host: hostPort, Fingerprint: fp, Subject: leaf.Subject.String(), Pinned: pinned}
			if pinned == "" || roots != nil {
				opts := x509.VerifyOptions{Roots: roots, DNSName: host, Intermediates: x509.NewCertPool(), CurrentTime: time.Now()}
				for _, c := range cs.PeerCertificates[1:] {
					opts.Intermediates.AddCert(c)
				}
				if _, err := leaf.Verify(opts); err == nil {
					return nil
				} else {
					ce.Reason = err
				}
			}
			ce.hint = fmt.Sprintf("if it is the instance's certificate (the TLS fingerprint `sqlink init` printed), pin it with %s %s (or %s=%s); or pass --ca-file (or SQLINK_CA_FILE) with the CA that signed it",
				fpFlag, fp, fpEnv, fp)
			return ce
		},
	}, nil
}

// LoadCAFile reads a PEM file of certificates into a pool.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, sqlink.Errorf(sqlink.EINVALID, "check the --ca-file path", "read CA file: %v", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, sqlink.Errorf(sqlink.EINVALID, "check that the CA file was copied whole", "CA file %s: %v", path, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, sqlink.Errorf(sqlink.EINVALID, "give a PEM file that holds -----BEGIN CERTIFICATE----- blocks", "CA file %s holds no certificate", path)
	}
	return pool, nil
}

// transportError turns the failure of a request that never got an answer
// because of TLS into a *sqlink.Error saying what to do, or returns nil.
func transportError(baseURL string, err error) error {
	var ce *CertError
	if errors.As(err, &ce) {
		return sqlink.Errorf(sqlink.EUNAVAILABLE, ce.hint, "%s", ce.Error())
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "the instance serves plain HTTP (--insecure-admin-http): use an http:// URL, or serve HTTPS (the default)",
			"%s answered in plain HTTP, not HTTPS", baseURL)
	}
	return nil
}

// plainToHTTPS reports whether a response is net/http's answer to a plain
// HTTP request sent to an HTTPS listener.
func plainToHTTPS(body string) bool {
	return strings.Contains(body, "HTTP request to an HTTPS server")
}

// IsLoopbackURL reports whether the URL's host is a loopback address or
// "localhost": traffic to it never crosses a network.
func IsLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
