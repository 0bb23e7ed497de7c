package ca

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/banco/banco/internal/secfile"
)

// SnapshotFile, in the CA folder, is a copy of the inventory that banco ca
// serve writes when it starts and after every certificate it signs, renews
// or revokes. bbolt lets one process at a time open the database, so while
// the CA serves this copy is the only way for banco certs and banco revoke
// NAME, on the same host, to know what was issued. It holds certificates
// and their states, nothing secret; it is trusted only while the database
// is held.
const SnapshotFile = "inventory.json"

type snapshot struct {
	WrittenAt time.Time        `json:"written_at"`
	Certs     []snapshotRecord `json:"certificates"`
}

type snapshotRecord struct {
	DER        []byte    `json:"der"`
	Kind       Kind      `json:"kind,omitempty"`
	Revoked    bool      `json:"revoked,omitempty"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	ReasonCode int       `json:"reason_code,omitempty"`
	Reason     string    `json:"reason,omitempty"`
}

// WriteSnapshot writes the inventory to SnapshotFile in the CA folder.
func (a *Authority) WriteSnapshot() error {
	a.snapMu.Lock()
	defer a.snapMu.Unlock()
	recs, err := a.Certificates()
	if err != nil {
		return err
	}
	s := snapshot{WrittenAt: a.now().UTC(), Certs: make([]snapshotRecord, 0, len(recs))}
	for _, r := range recs {
		s.Certs = append(s.Certs, snapshotRecord{DER: r.Cert.Raw, Kind: r.Kind,
			Revoked: r.Revoked, RevokedAt: r.RevokedAt, ReasonCode: r.ReasonCode,
			Reason: r.Reason})
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode the inventory: %w", err)
	}
	path := filepath.Join(a.info.Dir, SnapshotFile)
	if err := secfile.Write(path, b, 0o600, true); err != nil {
		return fmt.Errorf("write the inventory: %w", err)
	}
	return nil
}

// ErrNoSnapshot is returned by ReadSnapshot when banco ca serve has not
// written one.
var ErrNoSnapshot = errors.New("no inventory snapshot from banco ca serve")

// ReadSnapshot returns the inventory that banco ca serve last wrote in the
// CA folder dir, oldest first, and when it wrote it.
func ReadSnapshot(dir string) ([]Record, time.Time, error) {
	path := filepath.Join(dir, SnapshotFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, time.Time{}, ErrNoSnapshot
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read the inventory: %w", err)
	}
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, time.Time{}, fmt.Errorf("read the inventory %s: %w", path, err)
	}
	recs := make([]Record, 0, len(s.Certs))
	for _, r := range s.Certs {
		c, err := x509.ParseCertificate(r.DER)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("read the inventory %s: %w", path, err)
		}
		recs = append(recs, Record{Cert: c, Kind: r.Kind, Revoked: r.Revoked,
			RevokedAt: r.RevokedAt, ReasonCode: r.ReasonCode, Reason: r.Reason})
	}
	return recs, s.WrittenAt, nil
}
