package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/sqlink/sqlink"
)

// DefaultCertificateValidity is how long a certificate made by `sqlink init`
// is valid. Two years is long enough that rotation is a planned event, short
// enough that a leaked key does not stay useful forever.
const DefaultCertificateValidity = 2 * 365 * 24 * time.Hour

// clockSkewAllowance is subtracted from NotBefore so that a partner whose
// clock is slightly behind still accepts a certificate made just now.
const clockSkewAllowance = time.Minute

// NewCertificate returns a new self-signed ECDSA P-256 certificate and its
// private key, both PEM-encoded. The certificate is usable for both server
// and client authentication, so one certificate serves an instance's
// endpoint whether it accepts or dials a link. Entries of dnsNames that are
// IP addresses become IP SANs. The certificate is valid from now minus one
// minute (to tolerate small clock skew) for validity.
func NewCertificate(commonName string, dnsNames []string, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	if commonName == "" {
		return nil, nil, sqlink.Errorf(sqlink.EINVALID, "give the certificate a subject name, usually the instance name", "certificate common name is empty")
	}
	if validity <= 0 {
		return nil, nil, sqlink.Errorf(sqlink.EINVALID, "give a positive validity such as 8760h", "certificate validity %s is not positive", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"sqlink"}},
		NotBefore:             now.Add(-clockSkewAllowance).UTC(),
		NotAfter:              now.Add(validity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, name := range dnsNames {
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if name != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, name)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// ParseCertificatePEM parses the first CERTIFICATE block of b. It returns an
// EINVALID *sqlink.Error when b holds no PEM certificate or the certificate
// cannot be parsed.
func ParseCertificatePEM(b []byte) (*x509.Certificate, error) {
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, sqlink.Errorf(sqlink.EINVALID, "give a PEM file that starts with -----BEGIN CERTIFICATE-----", "no PEM certificate found")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, sqlink.Errorf(sqlink.EINVALID, "check that the file was copied whole and is an X.509 certificate", "invalid certificate: %v", err)
		}
		return cert, nil
	}
}

// Fingerprint returns the SHA-256 of cert's DER encoding as lower-case hex.
// Trust decisions compare fingerprints, never names.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// CertInfo describes a certificate for people: who it names, its
// fingerprint and when it is valid.
type CertInfo struct {
	Subject     string    `json:"subject"`
	Fingerprint string    `json:"fingerprint"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
}

// Info parses certPEM and describes it.
func Info(certPEM []byte) (CertInfo, error) {
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return CertInfo{}, err
	}
	return infoOf(cert), nil
}

func infoOf(cert *x509.Certificate) CertInfo {
	return CertInfo{
		Subject:     subjectOf(cert),
		Fingerprint: Fingerprint(cert),
		NotBefore:   cert.NotBefore,
		NotAfter:    cert.NotAfter,
	}
}

// subjectOf returns the common name, or the full subject when it has none.
func subjectOf(cert *x509.Certificate) string {
	if cert.Subject.CommonName != "" {
		return cert.Subject.CommonName
	}
	return cert.Subject.String()
}

// KeyPair parses a PEM certificate and private key into a tls.Certificate,
// returning an EINVALID *sqlink.Error when they are malformed or do not
// match.
func KeyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	if _, err := ParseCertificatePEM(certPEM); err != nil {
		return tls.Certificate{}, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, sqlink.Errorf(sqlink.EINVALID, "check that the key file belongs to the certificate", "invalid certificate key pair: %v", err)
	}
	return pair, nil
}
