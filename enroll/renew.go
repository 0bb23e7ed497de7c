package enroll

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/banco/banco/ca"
)

// ErrExpired is returned when renewing a certificate that has already
// ended: the CA renews only live certificates, so the holder must enroll
// again with a new token.
var ErrExpired = errors.New("the certificate has expired")

// TLSCertificate returns the identity as a tls.Certificate with its chain.
func (id *Identity) TLSCertificate() *tls.Certificate {
	c := &tls.Certificate{PrivateKey: id.Key, Leaf: id.Leaf()}
	for _, x := range id.Chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// CAURL returns the online CA's base URL named in the leaf's CRL
// distribution point, or "" when it names none.
func CAURL(leaf *x509.Certificate) string {
	for _, dp := range leaf.CRLDistributionPoints {
		if u, ok := strings.CutSuffix(dp, "/1.0/crl"); ok && strings.HasPrefix(u, "https://") {
			return u
		}
	}
	return ""
}

// TODO(renewal): renewing a certificate leaves the previous one valid until
// it ends, as step-ca does; revoking it as "superseded" would shrink the
// window in which a stolen old key still works.

// Renew gets a new certificate for id's key from the online CA at caURL,
// authenticating with id itself over mTLS and trusting only id.Root. The
// new certificate has the same names and lifetime as the old one.
func Renew(ctx context.Context, id *Identity, caURL string, now time.Time) (*Identity, error) {
	if !now.Before(id.Leaf().NotAfter) {
		return nil, fmt.Errorf("renew certificate %s (ended %s): %w", id.Leaf().SerialNumber,
			id.Leaf().NotAfter.UTC().Format(time.RFC3339), ErrExpired)
	}
	c, err := NewClientWithRoot(caURL, id.Root)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(id.Root)
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12, RootCAs: pool,
		Certificates: []tls.Certificate{*id.TLSCertificate()},
	}}
	defer tr.CloseIdleConnections()
	resp, err := c.RenewWithContext(ctx, tr)
	if err != nil {
		return nil, caError("renew", caURL, err)
	}
	next := &Identity{Kind: id.Kind, Chain: chainOf(resp), Root: id.Root, Key: id.Key}
	kind := kindFromEKU(next.Leaf())
	if err := check(&Signed{Chain: next.Chain, Root: id.Root}, id.Key, kind); err != nil {
		return nil, err
	}
	return next, nil
}

func kindFromEKU(c *x509.Certificate) ca.Kind {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth {
			return ca.KindClient
		}
	}
	return ca.KindServer
}

// Renewer keeps a server's or client's certificate fresh: it renews it at
// about two thirds of its life through the online CA, writes the new chain
// to the identity's files, and hands the current one to crypto/tls, so a
// running server swaps certificates without a restart or a dropped
// connection (handshakes in progress keep the certificate they got).
type Renewer struct {
	paths Paths
	caURL string
	log   *slog.Logger
	now   func() time.Time

	mu  sync.RWMutex
	id  *Identity
	tls *tls.Certificate
}

// NewRenewer loads the identity in p. caURL may be empty when the
// certificate names the CA in its CRL distribution point.
func NewRenewer(p Paths, caURL string, logger *slog.Logger) (*Renewer, error) {
	id, err := Load(p)
	if err != nil {
		return nil, err
	}
	if caURL == "" {
		caURL = CAURL(id.Leaf())
	}
	if caURL == "" {
		return nil, fmt.Errorf("renew %s: the CA's URL is not known (not in the certificate)",
			p.Cert)
	}
	return &Renewer{paths: p, caURL: caURL, log: logger, now: time.Now, id: id,
		tls: id.TLSCertificate()}, nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *Renewer) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tls, nil
}

// GetClientCertificate is for tls.Config.GetClientCertificate.
func (r *Renewer) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.GetCertificate(nil)
}

// Current returns the identity in use.
func (r *Renewer) Current() *Identity {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.id
}

// NextRenewal is when Run will renew: two thirds into the certificate's life.
func (r *Renewer) NextRenewal() time.Time {
	leaf := r.Current().Leaf()
	return leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) * 2 / 3)
}

// RenewNow renews at once, writes the files and swaps the certificate in.
func (r *Renewer) RenewNow(ctx context.Context) error {
	next, err := Renew(ctx, r.Current(), r.caURL, r.now())
	if err != nil {
		return err
	}
	if err := next.Write(r.paths, true); err != nil {
		return err
	}
	r.mu.Lock()
	r.id, r.tls = next, next.TLSCertificate()
	r.mu.Unlock()
	r.log.Info("certificate renewed", "serial", next.Leaf().SerialNumber.String(),
		"not_after", next.Leaf().NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// Run renews the certificate whenever NextRenewal comes, until ctx is done.
// A failed renewal is logged and retried after a minute, growing to ten;
// once the certificate has expired Run logs that it must be enrolled again
// and stops.
func (r *Renewer) Run(ctx context.Context) {
	retry := time.Minute
	for {
		wait := time.Until(r.NextRenewal())
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(wait, 0)):
		}
		err := r.RenewNow(ctx)
		switch {
		case err == nil:
			retry = time.Minute
			continue
		case errors.Is(err, ErrExpired):
			r.log.Error("certificate expired; enroll again with a new token", "err", err)
			return
		case ctx.Err() != nil:
			return
		}
		r.log.Warn("certificate renewal failed; will retry", "err", err, "in", retry)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(retry*2, 10*time.Minute)
	}
}
