package ca

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/smallstep/certificates/authority"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/db"
	"github.com/smallstep/nosql/database"
)

// Tables of the engine's database that the inventory reads.
var (
	certsTable     = []byte("x509_certs")
	certsDataTable = []byte("x509_certs_data")
	revokedTable   = []byte("revoked_x509_certs")
)

var (
	// ErrUnknownSerial is returned for a serial this CA never issued.
	ErrUnknownSerial = errors.New("no certificate with this serial in the CA database")
	// ErrAlreadyRevoked is returned when revoking a revoked certificate.
	ErrAlreadyRevoked = errors.New("the certificate is already revoked")
)

// Reason codes of RFC 5280, section 5.3.1, that banco offers.
var ReasonCodes = map[string]int{
	"unspecified":            0,
	"key-compromise":         1,
	"affiliation-changed":    3,
	"superseded":             4,
	"cessation-of-operation": 5,
}

// Record is one certificate in the CA database.
type Record struct {
	Cert       *x509.Certificate
	Kind       Kind // "" when the engine did not record the provisioner
	Revoked    bool
	RevokedAt  time.Time
	ReasonCode int
	Reason     string
}

type lister interface {
	List(bucket []byte) ([]*database.Entry, error)
}

// Certificates lists every certificate the CA issued, oldest first.
func (a *Authority) Certificates() ([]Record, error) {
	return records(a.db)
}

// Inventory lists every certificate the CA in dir issued, oldest first,
// without the CA's password: the inventory holds no secret, so it can be
// read on the CA host by anyone who can read the CA folder. It fails with
// ErrLocked while banco ca serve holds the database.
func Inventory(dir string) ([]Record, error) {
	info, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if err := probeLock(info.DB); err != nil {
		return nil, fmt.Errorf("open CA database %s: %w", info.DB, err)
	}
	d, err := db.New(&db.Config{Type: "bbolt", DataSource: info.DB})
	if err != nil {
		return nil, fmt.Errorf("open CA database %s: %w", info.DB, err)
	}
	defer d.Shutdown()
	return records(d)
}

func records(d any) ([]Record, error) {
	l, ok := d.(lister)
	if !ok {
		return nil, errors.New("list certificates: the CA database cannot list")
	}
	certs, err := l.List(certsTable)
	if err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}
	kinds := map[string]Kind{}
	if entries, err := l.List(certsDataTable); err == nil {
		for _, e := range entries {
			var d db.CertificateData
			if json.Unmarshal(e.Value, &d) == nil && d.Provisioner != nil {
				kinds[string(e.Key)] = kindOf(d.Provisioner.Name)
			}
		}
	}
	revoked := map[string]db.RevokedCertificateInfo{}
	if entries, err := l.List(revokedTable); err == nil {
		for _, e := range entries {
			var r db.RevokedCertificateInfo
			if json.Unmarshal(e.Value, &r) == nil {
				revoked[string(e.Key)] = r
			}
		}
	}
	var out []Record
	for _, e := range certs {
		c, err := x509.ParseCertificate(e.Value)
		if err != nil {
			return nil, fmt.Errorf("list certificates: serial %s: %w", e.Key, err)
		}
		rec := Record{Cert: c, Kind: kinds[string(e.Key)]}
		if rec.Kind == "" {
			rec.Kind = guessKind(c)
		}
		if r, ok := revoked[string(e.Key)]; ok {
			rec.Revoked, rec.RevokedAt = true, r.RevokedAt
			rec.ReasonCode, rec.Reason = r.ReasonCode, r.Reason
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cert.NotBefore.Before(out[j].Cert.NotBefore) })
	return out, nil
}

func kindOf(provisionerName string) Kind {
	switch provisionerName {
	case ServerProvisioner:
		return KindServer
	case ClientProvisioner:
		return KindClient
	}
	return ""
}

// guessKind reads the kind from the extended key usage, for certificates
// whose provisioner was not recorded (renewals keep the usage).
func guessKind(c *x509.Certificate) Kind {
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			return KindServer
		case x509.ExtKeyUsageClientAuth:
			return KindClient
		}
	}
	return ""
}

// ParseSerial accepts a serial in decimal, or in hex with a 0x prefix or
// colons (as openssl prints it), and returns it in decimal, the engine's form.
func ParseSerial(s string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(s))
	base := 10
	switch {
	case strings.HasPrefix(t, "0x"):
		t, base = t[2:], 16
	case strings.Contains(t, ":"):
		t, base = strings.ReplaceAll(t, ":", ""), 16
	}
	n, ok := new(big.Int).SetString(t, base)
	if !ok || n.Sign() <= 0 {
		return "", false
	}
	return n.String(), true
}

// Revoke revokes the certificate with the given decimal serial, the way
// the online CA does: with a one-time revocation token minted here, so that
// the engine records it and regenerates the CRL at once.
func (a *Authority) Revoke(ctx context.Context, serial string, reasonCode int,
	reason string) error {
	if _, err := a.db.GetCertificate(serial); err != nil {
		return fmt.Errorf("revoke %s: %w", serial, ErrUnknownSerial)
	}
	if r, err := a.db.IsRevoked(serial); err == nil && r {
		return fmt.Errorf("revoke %s: %w", serial, ErrAlreadyRevoked)
	}
	tok, err := a.RevokeToken(serial, "", time.Minute)
	if err != nil {
		return err
	}
	ctx = provisioner.NewContextWithMethod(ctx, provisioner.RevokeMethod)
	if _, err := a.auth.Authorize(ctx, tok); err != nil {
		return fmt.Errorf("authorize revocation of %s: %w", serial, err)
	}
	err = a.auth.Revoke(ctx, &authority.RevokeOptions{
		Serial: serial, Reason: reason, ReasonCode: reasonCode, PassiveOnly: true, OTT: tok,
	})
	if err != nil {
		return fmt.Errorf("revoke %s: %w", serial, err)
	}
	return nil
}

// IsRevoked reports whether the CA database marks serial (decimal) revoked.
func (a *Authority) IsRevoked(serial string) (bool, error) {
	return a.auth.IsRevoked(serial)
}
