package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/internal/identity"
	"github.com/banco/banco/ledger"
)

// Baseline is the yardstick of banco's speed goals: the smallest honest
// mTLS balance service Go's standard library gives, with nothing of banco's
// own. It requires and verifies a client certificate with the same roots,
// takes the customer from it, and answers GET /v1/balance with the same JSON
// from a map in memory. It has no ledger, no logging and no limits: what
// banco does on top of it is what the comparison measures. With a Store it
// reads the balance from the ledger instead, to tell the ledger's share of
// the difference from the rest of banco's.
type Baseline struct {
	Store ledger.Store // nil: balances from memory

	mu       sync.Mutex
	balances map[string]string
}

// NewBaselineServer returns an http.Server for the baseline, serving TLS
// with cert and client certificates verified against clientCAs, and reading
// balances from store if it is not nil. Start it with ServeTLS(ln, "", "").
func NewBaselineServer(cert *tls.Certificate, clientCAs *x509.CertPool,
	store ledger.Store) *http.Server {
	b := &Baseline{Store: store, balances: map[string]string{}}
	return &http.Server{
		Handler: b,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{*cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    clientCAs,
			NextProtos:   []string{"http/1.1"},
		},
	}
}

// ServeHTTP answers the balance request.
func (b *Baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != api.PathBalance || r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		http.NotFound(w, r)
		return
	}
	name, err := identity.Customer(r.TLS.VerifiedChains[0][0])
	if err != nil {
		http.Error(w, "no customer", http.StatusForbidden)
		return
	}
	bal, err := b.balance(name)
	if err != nil {
		http.Error(w, "no balance", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(api.Balance{Customer: name, Balance: bal})
}

func (b *Baseline) balance(name string) (string, error) {
	if b.Store != nil {
		a, err := b.Store.Balance(context.Background(), name)
		return a.String(), err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bal, ok := b.balances[name]
	if !ok {
		bal = "0.00"
		b.balances[name] = bal
	}
	return bal, nil
}
