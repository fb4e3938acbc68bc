package catalog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/sqlink/sqlink"
)

// TrustedCert is a peer instance's endpoint certificate that this instance
// trusts for replication.
type TrustedCert struct {
	Name        string
	Fingerprint string // hex SHA-256 of the DER certificate
	Subject     string
	NotBefore   time.Time
	NotAfter    time.Time
	PEM         []byte
	AddedAt     time.Time
}

// MaxCertificatePEMLen bounds the PEM given to TrustCertificate.
const MaxCertificatePEMLen = 64 << 10

// ParseCertificatePEM parses the first CERTIFICATE block of certPEM. Errors
// are EINVALID with a hint.
func ParseCertificatePEM(certPEM []byte) (*x509.Certificate, error) {
	const hint = "give the PEM file with a -----BEGIN CERTIFICATE----- block that the peer's endpoint-certificate command prints"
	if len(certPEM) > MaxCertificatePEMLen {
		return nil, sqlink.Errorf(sqlink.EINVALID, hint, "certificate PEM is %d bytes long", len(certPEM))
	}
	rest := certPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, sqlink.Errorf(sqlink.EINVALID, hint, "no PEM CERTIFICATE block found")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, sqlink.Errorf(sqlink.EINVALID, hint, "parse certificate: %v", err)
		}
		return cert, nil
	}
}

// Fingerprint returns the hex SHA-256 of the certificate's DER form.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// TrustCertificate parses certPEM and adds it to the trust store under
// name. It refuses an expired certificate (EINVALID), a name in use and a
// certificate already trusted under another name (ECONFLICT).
func (c *Catalog) TrustCertificate(ctx context.Context, name string, certPEM []byte) (TrustedCert, error) {
	if err := ValidateName("certificate", name); err != nil {
		return TrustedCert{}, err
	}
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return TrustedCert{}, err
	}
	now := c.now().UTC()
	if now.After(cert.NotAfter) {
		return TrustedCert{}, sqlink.Errorf(sqlink.EINVALID, "rotate the peer's endpoint certificate and trust the new one",
			"certificate %q expired at %s", cert.Subject.String(), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	tc := TrustedCert{
		Name:        name,
		Fingerprint: Fingerprint(cert),
		Subject:     cert.Subject.String(),
		NotBefore:   cert.NotBefore.UTC(),
		NotAfter:    cert.NotAfter.UTC(),
		PEM:         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		AddedAt:     now,
	}
	err = c.write(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM trusted_certificates WHERE name = ?", name)
		if err != nil {
			return err
		}
		if ok {
			return sqlink.Errorf(sqlink.ECONFLICT, "choose another name, or untrust the old certificate first",
				"a certificate named %q is already trusted", name)
		}
		var other string
		err = tx.QueryRowContext(ctx, "SELECT name FROM trusted_certificates WHERE fingerprint = ?", tc.Fingerprint).Scan(&other)
		if err == nil {
			return sqlink.Errorf(sqlink.ECONFLICT, "nothing to do: it is already trusted",
				"this certificate is already trusted as %q", other)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO trusted_certificates
			(name, fingerprint, subject, not_before, not_after, pem, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			tc.Name, tc.Fingerprint, tc.Subject, ts(tc.NotBefore), ts(tc.NotAfter), tc.PEM, ts(tc.AddedAt))
		return err
	})
	if err != nil {
		return TrustedCert{}, err
	}
	return tc, nil
}

// UntrustCertificate removes a certificate from the trust store. Links
// using it fail their next handshake.
func (c *Catalog) UntrustCertificate(ctx context.Context, name string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM trusted_certificates WHERE name = ?", name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("trusted certificate", name, "list trusted certificates to see their names")
		}
		return nil
	})
}

// ListTrustedCertificates returns the trust store sorted by name.
func (c *Catalog) ListTrustedCertificates(ctx context.Context) ([]TrustedCert, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT name, fingerprint, subject, not_before, not_after, pem, added_at
		FROM trusted_certificates ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list trusted certificates: %w", err)
	}
	defer rows.Close()
	out := []TrustedCert{}
	for rows.Next() {
		var tc TrustedCert
		var nb, na, added int64
		if err := rows.Scan(&tc.Name, &tc.Fingerprint, &tc.Subject, &nb, &na, &tc.PEM, &added); err != nil {
			return nil, err
		}
		tc.NotBefore, tc.NotAfter, tc.AddedAt = fromTS(nb), fromTS(na), fromTS(added)
		out = append(out, tc)
	}
	return out, rows.Err()
}

// IsTrusted reports whether a certificate with the given DER bytes is in
// the trust store, for the endpoint's TLS verification.
func (c *Catalog) IsTrusted(ctx context.Context, der []byte) (bool, error) {
	sum := sha256.Sum256(der)
	var stored []byte
	err := c.db.QueryRowContext(ctx, "SELECT pem FROM trusted_certificates WHERE fingerprint = ?",
		hex.EncodeToString(sum[:])).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	block, _ := pem.Decode(stored)
	return block != nil && bytes.Equal(block.Bytes, der), nil
}
