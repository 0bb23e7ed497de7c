package enroll

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/banco/banco/ca"
)

// DefaultDBMaxAge is how long a DBChecker goes on answering from its last
// read of the CA database when the database cannot be read again (held for
// writing by an offline command, or gone) and no CRL stands in for it.
const DefaultDBMaxAge = time.Hour

// DBChecker answers "is this certificate revoked?" for a bank server that
// runs beside the CA, in the same banco folder: it reads the revocations
// straight from the CA database (ca.ReadRevoked), so that an offline banco
// revoke takes effect without any online CA. While banco ca serve holds the
// database, which bbolt locks, it uses the CA's CRL instead, when CRL is
// set. It reads the database again after Refresh, at most.
type DBChecker struct {
	Dir     string        // the CA folder
	CRL     *CRLChecker   // the online CA's CRL, for when the database is held; may be nil
	Refresh time.Duration // default DefaultCRLRefresh
	MaxAge  time.Duration // default DefaultDBMaxAge
	Now     func() time.Time

	// NewCRL, if set, is asked for a CRL checker when the database is held
	// and CRL is nil: banco ca serve records its URL when it starts, which
	// may be after the bank started.
	NewCRL func() *CRLChecker

	mu       sync.Mutex
	revoked  map[string]bool
	readAt   time.Time // last successful read of the database
	tried    time.Time
	lastErr  error
	viaCRL   bool // the database was held by banco ca serve at the last try
	updating bool
}

// NewDBChecker returns a checker for the CA database in dir, falling back
// on crl (which may be nil) while banco ca serve holds the database.
func NewDBChecker(dir string, crl *CRLChecker) *DBChecker {
	return &DBChecker{Dir: dir, CRL: crl, Refresh: DefaultCRLRefresh, MaxAge: DefaultDBMaxAge,
		Now: time.Now}
}

// Update reads the CA database now; when banco ca serve holds it, it
// fetches the CA's CRL instead.
func (d *DBChecker) Update(ctx context.Context) error {
	d.mu.Lock()
	if d.updating {
		d.mu.Unlock()
		return nil
	}
	d.updating, d.tried = true, d.Now()
	d.mu.Unlock()

	revoked, err := ca.ReadRevoked(d.Dir)
	locked := errors.Is(err, ca.ErrLocked)
	crl := d.fallback(locked)
	var crlErr error
	if crl != nil {
		crlErr = crl.Update(ctx)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.updating = false
	d.viaCRL = crl != nil
	switch {
	case err == nil:
		d.revoked, d.readAt, d.lastErr = revoked, d.Now(), nil
		return nil
	case d.viaCRL:
		d.lastErr = crlErr
		return crlErr
	}
	d.lastErr = err
	return err
}

// fallback returns the CRL checker to use when the database is locked.
func (d *DBChecker) fallback(locked bool) *CRLChecker {
	if !locked {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.CRL == nil && d.NewCRL != nil {
		d.CRL = d.NewCRL()
	}
	return d.CRL
}

// IsRevoked reports whether the CA database (or, while banco ca serve holds
// it, the CA's CRL) marks serial revoked. It fails closed when it has no
// current answer.
func (d *DBChecker) IsRevoked(ctx context.Context, serial *big.Int) (bool, error) {
	d.mu.Lock()
	due := !d.updating && (d.tried.IsZero() || d.Now().Sub(d.tried) >= d.Refresh)
	d.mu.Unlock()
	if due {
		_ = d.Update(ctx) // its error is kept in lastErr
	}

	d.mu.Lock()
	viaCRL, crl, revoked, lastErr := d.viaCRL, d.CRL, d.revoked, d.lastErr
	fresh := revoked != nil && d.Now().Sub(d.readAt) < d.MaxAge
	d.mu.Unlock()
	if viaCRL {
		r, err := crl.IsRevoked(ctx, serial)
		if err == nil || !fresh {
			return r, err
		}
		// The CA is out of reach: the last read of the database still holds.
	}
	if !fresh {
		if lastErr != nil {
			return false, lastErr
		}
		return false, fmt.Errorf("no current read of the CA database in %s", d.Dir)
	}
	return revoked[serial.String()], nil
}

// CRLInUse returns the CRL checker that the last update turned to because
// banco ca serve held the database, or nil when it read the database.
func (d *DBChecker) CRLInUse() *CRLChecker {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.viaCRL {
		return nil
	}
	return d.CRL
}
