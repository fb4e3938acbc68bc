package transport_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/transport"
)

func TestNewCertificate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	certPEM, keyPEM, err := transport.NewCertificate("alpha", []string{"alpha.example", "127.0.0.1"}, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := transport.ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cert.Subject.CommonName, "alpha"; got != want {
		t.Fatalf("CommonName = %q, want %q", got, want)
	}
	if got, want := cert.NotBefore, now.Add(-time.Minute); !got.Equal(want) {
		t.Fatalf("NotBefore = %s, want %s", got, want)
	}
	if got, want := cert.NotAfter, now.Add(24*time.Hour); !got.Equal(want) {
		t.Fatalf("NotAfter = %s, want %s", got, want)
	}
	if got, want := len(cert.DNSNames), 1; got != want {
		t.Fatalf("len(DNSNames) = %d, want %d", got, want)
	}
	if got, want := len(cert.IPAddresses), 1; got != want {
		t.Fatalf("len(IPAddresses) = %d, want %d", got, want)
	}
	if _, err := transport.KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}

	info, err := transport.Info(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Fingerprint, transport.Fingerprint(cert); got != want {
		t.Fatalf("Fingerprint = %q, want %q", got, want)
	}
	if got, want := len(info.Fingerprint), 64; got != want {
		t.Fatalf("len(Fingerprint) = %d, want %d", got, want)
	}
	if got, want := info.Subject, "alpha"; got != want {
		t.Fatalf("Subject = %q, want %q", got, want)
	}

	// Two certificates never share a serial or a fingerprint.
	other, _, err := transport.NewCertificate("alpha", nil, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	info2, err := transport.Info(other)
	if err != nil {
		t.Fatal(err)
	}
	if info.Fingerprint == info2.Fingerprint {
		t.Fatal("two certificates have the same fingerprint")
	}
}

func TestNewCertificate_Invalid(t *testing.T) {
	if _, _, err := transport.NewCertificate("", nil, time.Hour, time.Now()); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("empty name: err = %v", err)
	}
	if _, _, err := transport.NewCertificate("x", nil, 0, time.Now()); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("zero validity: err = %v", err)
	}
}

func TestParseCertificatePEM_Bad(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "no PEM certificate"},
		{"garbage", "hello", "no PEM certificate"},
		{"key only", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "no PEM certificate"},
		{"bad der", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "invalid certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := transport.ParseCertificatePEM([]byte(tc.in))
			if got, want := sqlink.ErrorCode(err), sqlink.EINVALID; got != want {
				t.Fatalf("code = %q, want %q (err %v)", got, want, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if _, err := transport.Info([]byte(tc.in)); err == nil {
				t.Fatal("Info accepted bad PEM")
			}
		})
	}
}

func TestKeyPair_Mismatch(t *testing.T) {
	now := time.Now()
	certA, _, err := transport.NewCertificate("a", nil, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	_, keyB, err := transport.NewCertificate("b", nil, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transport.KeyPair(certA, keyB); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
}
