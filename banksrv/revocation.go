package banksrv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"
)

// Revocation checking, the server's side of banco's PKI: crypto/tls never
// looks at a CRL, so the server asks a RevocationChecker on every handshake
// (TLSOptions.CheckClient runs in VerifyConnection, which Go calls on resumed
// sessions too). The policy is fail closed: when the checker has no current
// answer (no CRL yet, or the last one is past its NextUpdate) every client
// is refused, because nobody can be known not to be revoked. A CA that is
// briefly down does not stop the bank: the checkers keep using the last CRL
// until its NextUpdate (24 hours after the CA made it).

// ErrClientRevoked is the reason a handshake with a revoked client fails.
var ErrClientRevoked = errors.New("client certificate revoked")

// RevocationChecker tells whether the certificate with serial, from the
// server's own CA, is revoked. enroll.CRLChecker and enroll.DBChecker fit.
type RevocationChecker interface {
	IsRevoked(ctx context.Context, serial *big.Int) (bool, error)
}

// CheckRevocation returns a TLSOptions.CheckClient that refuses a client
// whose certificate rc reports revoked, and every client while rc cannot
// answer. The error, logged with the failed handshake, says which.
func CheckRevocation(rc RevocationChecker) func([]*x509.Certificate) error {
	return func(chain []*x509.Certificate) error {
		leaf := chain[0]
		revoked, err := rc.IsRevoked(context.Background(), leaf.SerialNumber)
		if err != nil {
			return fmt.Errorf("cannot check revocation of %q (serial %s), refusing it: %w",
				leaf.Subject, serialText(leaf), err)
		}
		if revoked {
			return fmt.Errorf("%w: %q (serial %s)", ErrClientRevoked, leaf.Subject,
				serialText(leaf))
		}
		return nil
	}
}

// Updater refreshes revocation data; enroll.CRLChecker and enroll.DBChecker
// fit.
type Updater interface {
	Update(ctx context.Context) error
}

// KeepFresh calls u.Update every interval until ctx is done, so that
// handshakes find current data and seldom wait on the CA. It logs when
// updates start failing and when they work again, once each, not on every
// try. An interval of 0 or less does nothing: the checker then updates on
// the handshakes themselves.
func KeepFresh(ctx context.Context, u Updater, every time.Duration, logger *slog.Logger) {
	if every <= 0 {
		return
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	failing := false
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := u.Update(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			failing = true
			logger.Warn("revocation update failed; using the last data while it is current",
				"err", err)
		case err == nil && failing:
			failing = false
			logger.Info("revocation update works again")
		}
	}
}
