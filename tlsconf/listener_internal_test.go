package tlsconf

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/transport"
)

func TestListenerCert_MadeOnceAndPrivate(t *testing.T) {
	dir := t.TempDir()
	ci, made, err := EnsureListenerCert(dir, "inst", time.Hour, time.Now())
	if err != nil || !made {
		t.Fatalf("first call: made %v, %v", made, err)
	}
	for _, f := range []string{ListenerCertPath(dir), ListenerKeyPath(dir)} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v", f, err, fi.Mode())
		}
	}
	b, _ := os.ReadFile(ListenerCertPath(dir))
	block, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("key %T, want ECDSA P-256", cert.PublicKey)
	}
	if !slices.Contains(cert.DNSNames, "localhost") || len(cert.IPAddresses) != 2 {
		t.Fatalf("SANs: %v %v", cert.DNSNames, cert.IPAddresses)
	}
	if err := cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	ci2, made, err := EnsureListenerCert(dir, "inst", time.Hour, time.Now())
	if err != nil || made || ci2.Fingerprint != ci.Fingerprint {
		t.Fatalf("second call: made %v, fingerprint %s (was %s), %v", made, ci2.Fingerprint, ci.Fingerprint, err)
	}
}

func TestSource_ReloadKeepsTheOldOnABadPair(t *testing.T) {
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	write := func(name string) string {
		c, k, err := transport.NewCertificate(name, []string{"localhost"}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(key, k, 0o600)
		os.WriteFile(crt, c, 0o600)
		ci, _ := transport.Info(c)
		return ci.Fingerprint
	}
	fp1 := write("one")
	src, err := NewSource(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, changed := src.changed(); changed {
		t.Fatal("changed right after loading")
	}
	// A certificate whose key is not (yet) beside it: refused, the old
	// one stays.
	c2, _, _ := transport.NewCertificate("two", nil, time.Hour, time.Now())
	os.WriteFile(crt, c2, 0o600)
	if _, err := src.Reload(); err == nil {
		t.Fatal("reload of a mismatched pair succeeded")
	}
	if got := src.info.Load().Fingerprint; got != fp1 {
		t.Fatalf("after a failed reload: %s, want the old %s", got, fp1)
	}
	cur, _ := src.getCertificate(nil)
	if cur == nil || transport.Fingerprint(cur.Leaf) != fp1 {
		t.Fatalf("serving %v after a failed reload", cur)
	}
	fp3 := write("three")
	if _, changed := src.changed(); !changed {
		t.Fatal("new files not noticed")
	}
	if ci, err := src.Reload(); err != nil || ci.Fingerprint != fp3 {
		t.Fatalf("reload: %v, %v", ci, err)
	}
	if cur, _ := src.getCertificate(nil); transport.Fingerprint(cur.Leaf) != fp3 {
		t.Fatal("not serving the new certificate")
	}
}

func TestSource_WatchReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	write := func(name string) string {
		c, k, err := transport.NewCertificate(name, []string{"localhost"}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(key+".tmp", k, 0o600)
		os.WriteFile(crt+".tmp", c, 0o600)
		os.Rename(key+".tmp", key)
		os.Rename(crt+".tmp", crt)
		ci, _ := transport.Info(c)
		return ci.Fingerprint
	}
	write("one")
	src, err := NewSource(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { src.Watch(ctx, time.Millisecond, slog.New(slog.DiscardHandler)); close(done) }()
	defer func() { cancel(); <-done }()
	fp2 := write("two")
	testutil.RetryUntil(t, 10*time.Second, func() error {
		if got := src.info.Load().Fingerprint; got != fp2 {
			return fmt.Errorf("serving %s, want %s", got, fp2)
		}
		return nil
	})
}
