package etcdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
)

// TLSFiles are the PEM files of a TLS cluster: the CA that signed the
// members' and the client's certificates, and the client's certificate
// and key.
type TLSFiles struct {
	CA, ClientCert, ClientKey string
}

// StartTLS runs an n-member cluster on loopback whose client listeners
// serve TLS and require a client certificate signed by the same CA.
func StartTLS(tb testing.TB, n int) (*Cluster, TLSFiles) {
	tb.Helper()
	dir := tb.TempDir()
	ca, caKey := newCert(tb, nil, nil, "sqlink test etcd CA", true)
	files := TLSFiles{CA: filepath.Join(dir, "ca.pem"), ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem")}
	writePEM(tb, files.CA, "CERTIFICATE", ca.Raw)
	client, clientKey := newCert(tb, ca, caKey, "sqlink", false)
	writePEM(tb, files.ClientCert, "CERTIFICATE", client.Raw)
	writeKey(tb, files.ClientKey, clientKey)
	server, serverKey := newCert(tb, ca, caKey, "etcd", false)
	serverCert, serverKeyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	writePEM(tb, serverCert, "CERTIFICATE", server.Raw)
	writeKey(tb, serverKeyFile, serverKey)
	c := start(tb, n, "", func(m *Member) {
		m.ClientURL = "https://" + m.ClientURL[len("http://"):]
	}, func(m *Member) {
		m.cfg.ClientTLSInfo = transport.TLSInfo{CertFile: serverCert, KeyFile: serverKeyFile, TrustedCAFile: files.CA, ClientCertAuth: true}
	})
	return c, files
}

// newCert makes a certificate for 127.0.0.1 (a CA when isCA), signed by
// parent (self-signed when nil).
func newCert(tb testing.TB, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, key
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func writeKey(tb testing.TB, path string, key *ecdsa.PrivateKey) {
	tb.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	writePEM(tb, path, "EC PRIVATE KEY", der)
}
