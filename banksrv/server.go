// Package banksrv is banco's bank server: HTTPS and JSON over mutual TLS,
// where the customer is the one named in the verified client certificate.
//
// It keeps three layers apart: TLS setup (tls.go: versions, suites, client
// verification, certificate swapping), HTTP handlers that only decode, call
// and render (handlers.go), and the bank logic in front of the ledger
// (bank.go). errors.go holds the one mapping from errors to what a client
// sees. The package does not print: it logs through the *slog.Logger it is
// given, one line per request and one per failed handshake. Loading files,
// the start-up banner and signals are left to the caller (cmd/serve.go).
package banksrv

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/banco/banco/ledger"
)

// Config is what a Server needs.
type Config struct {
	Store  ledger.Store
	TLS    *tls.Config  // from NewTLSConfig
	Logger *slog.Logger // nil discards
	Now    func() time.Time

	// ShutdownTimeout bounds how long Serve waits for requests in flight
	// once its context is cancelled; 0 means 10 seconds.
	ShutdownTimeout time.Duration

	// RecheckClient is how often the client certificate of a connection
	// that stays open is verified again, with the TLS configuration's
	// VerifyConnection and so its revocation check, on the connection's
	// next request. A client that fails is answered 403 client_refused and
	// the connection is closed. 0 means at the handshake only.
	RecheckClient time.Duration
}

// Server is the bank over HTTPS. It is safe for concurrent use.
type Server struct {
	bank     bank
	tls      *tls.Config
	log      *slog.Logger
	now      func() time.Time
	shutdown time.Duration
	recheck  time.Duration
	handler  http.Handler

	idPrefix string
	seq      atomic.Uint64
}

// New returns a Server. Its TLS configuration must require and verify client
// certificates: the customer is taken from them.
func New(c Config) (*Server, error) {
	if c.Store == nil {
		return nil, errors.New("bank server: no ledger")
	}
	if c.TLS == nil || c.TLS.ClientAuth != tls.RequireAndVerifyClientCert {
		return nil, errors.New("bank server: TLS must require and verify client certificates")
	}
	s := &Server{
		bank:     bank{store: c.Store},
		tls:      c.TLS,
		log:      c.Logger,
		now:      c.Now,
		shutdown: c.ShutdownTimeout,
		recheck:  c.RecheckClient,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.shutdown == 0 {
		s.shutdown = 10 * time.Second
	}
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24+)
	s.idPrefix = hex.EncodeToString(b[:]) + "-"
	s.handler = s.routes()
	return s, nil
}

// Handler returns the bank's HTTP handler, with request logging. It expects
// requests that came over the server's TLS configuration.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts TLS connections on ln until ctx is cancelled, then stops
// taking new ones and waits for the requests in flight (at most
// Config.ShutdownTimeout). It returns nil after such a graceful stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(errorLog{log: s.log}, "", 0),
		ConnContext:       connContext,
		BaseContext: func(net.Listener) context.Context {
			return context.WithoutCancel(ctx) // requests in flight finish on Shutdown
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(tls.NewListener(ln, s.tls)) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	err := hs.Shutdown(stopCtx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		hs.Close()
		return err
	}
	return nil
}
