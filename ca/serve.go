package ca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/smallstep/certificates/api"
	apilog "github.com/smallstep/certificates/api/log"
	"github.com/smallstep/certificates/authority"
	"github.com/smallstep/certificates/db"
)

// Handler returns the online CA's HTTP API: the part of the engine's API
// that banco uses, under "/" and "/1.0". Enrollment with a token (POST
// /sign), renewal over mTLS (/renew), revocation (/revoke), the CRL (GET
// /crl, "?pem" for PEM), the root by fingerprint (/root/{sha}) and health.
// The engine's provisioner listing is left out on purpose: it hands out the
// encrypted provisioner keys, which are only as strong as the password.
//
// Every request is logged on logger in one line, with the engine's real
// reason when it refuses one; the client only gets the engine's short
// public message.
func (a *Authority) Handler(logger *slog.Logger) http.Handler {
	routes := func(r chi.Router) {
		r.Get("/health", api.Health)
		r.Get("/version", api.Version)
		r.Get("/root/{sha}", api.Root)
		r.Get("/roots", api.Roots)
		r.Get("/roots.pem", api.RootsPEM)
		r.Get("/intermediates", api.Intermediates)
		r.Get("/intermediates.pem", api.IntermediatesPEM)
		r.Get("/crl", api.CRL)
		r.Post("/sign", api.Sign)
		r.Post("/renew", api.Renew)
		r.Post("/revoke", api.Revoke)
	}
	mux := chi.NewRouter()
	routes(mux)
	mux.Route("/1.0", routes)

	base := authority.NewContext(context.Background(), a.auth)
	base = db.NewContext(base, a.db)
	base = apilog.WithErrorLogger(base, func(_ http.ResponseWriter, r *http.Request, err error) {
		if h, ok := r.Context().Value(reasonKey{}).(*reasonHolder); ok {
			h.set(err)
		}
	})
	return &logHandler{next: mux, base: base, log: logger, changed: func() {
		if err := a.WriteSnapshot(); err != nil {
			logger.Warn("inventory snapshot not written; banco certs on this host "+
				"shows an older one", "err", err)
		}
	}}
}

// changes reports whether a request that succeeded changed the inventory.
func changes(r *http.Request, status int) bool {
	if r.Method != http.MethodPost || status >= 400 {
		return false
	}
	switch strings.TrimPrefix(r.URL.Path, "/1.0") {
	case "/sign", "/renew", "/revoke":
		return true
	}
	return false
}

type reasonKey struct{}

// reasonHolder carries the engine's error for a request to its log line.
type reasonHolder struct {
	mu  sync.Mutex
	err error
}

func (h *reasonHolder) set(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		h.err = err
	}
}

type logHandler struct {
	next    http.Handler
	base    context.Context
	log     *slog.Logger
	changed func() // after a request that changed the inventory
}

func (h *logHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	holder := &reasonHolder{}
	ctx := context.WithValue(mergeContext(r.Context(), h.base), reasonKey{}, holder)
	// The snapshot is written before the status goes out (the engine has
	// stored the change by then), so that a client holding its answer finds
	// the change in banco certs on the CA host.
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK, before: func(status int) {
		if changes(r, status) {
			h.changed()
		}
	}}
	h.next.ServeHTTP(sw, r.WithContext(ctx))
	if !sw.wrote {
		sw.before(sw.status)
	}

	attrs := []any{
		"remote", r.RemoteAddr, "method", r.Method, "path", clean(r.URL.Path),
		"status", sw.status, "bytes", sw.bytes, "duration", time.Since(start).Round(time.Microsecond),
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		c := r.TLS.PeerCertificates[0]
		attrs = append(attrs, "client", clean(c.Subject.CommonName),
			"client_serial", c.SerialNumber.String())
	}
	if holder.err != nil {
		attrs = append(attrs, "reason", clean(holder.err.Error()))
	}
	level := slog.LevelInfo
	if sw.status >= 400 {
		level = slog.LevelWarn
	}
	h.log.Log(r.Context(), level, "request", attrs...)
}

// mergeContext keeps the request's own values (cancellation, the server's
// values) and adds the engine's from base.
func mergeContext(req, base context.Context) context.Context {
	return &valuesContext{Context: req, values: base}
}

type valuesContext struct {
	context.Context
	values context.Context
}

func (c *valuesContext) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.values.Value(key)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
	before func(status int) // once, before the status is sent
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
		w.before(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// clean strips control characters from strings a client controls before
// they reach the log.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// TLSConfig is the online CA's server TLS configuration: a certificate for
// the CA's DNS names made by the engine and replaced at two thirds of its
// 24-hour life, TLS 1.2 or later, and client certificates from this CA
// verified when offered (renewal is over mTLS). Client certificates are
// verified for any usage, not only clientAuth, because servers renew with
// their serverAuth-only certificates.
func (a *Authority) TLSConfig() (*tls.Config, error) {
	r := &tlsRenewer{get: a.auth.GetTLSCertificate}
	if _, err := r.GetCertificate(nil); err != nil {
		return nil, fmt.Errorf("make the CA's TLS certificate: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.info.Root)
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		// RequestClientCert leaves the check to VerifyPeerCertificate, which
		// crypto/tls still runs on every full handshake.
		ClientAuth: tls.RequestClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return a.verifyClient(raw, roots)
		},
	}, nil
}

func (a *Authority) verifyClient(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return nil // no certificate: enrollment with a token, CRL, root
	}
	inters := x509.NewCertPool()
	inters.AddCert(a.info.Intermediate)
	var leaf *x509.Certificate
	for i, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("client certificate %d: %w", i, err)
		}
		if i == 0 {
			leaf = c
		} else {
			inters.AddCert(c)
		}
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}

type tlsRenewer struct {
	mu   sync.Mutex
	cert *tls.Certificate
	get  func() (*tls.Certificate, error)
}

func (r *tlsRenewer) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cert != nil {
		leaf := r.cert.Leaf
		renewAt := leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) * 2 / 3)
		if time.Now().Before(renewAt) {
			return r.cert, nil
		}
	}
	c, err := r.get()
	if err != nil {
		if r.cert != nil && time.Now().Before(r.cert.Leaf.NotAfter) {
			return r.cert, nil // keep serving the old one; retried on the next handshake
		}
		return nil, err
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, err
		}
	}
	r.cert = c
	return c, nil
}

// Serve runs the online CA on ln until ctx is done, then stops gracefully.
// It keeps SnapshotFile up to date for the commands that list certificates
// on this host while it holds the database.
func (a *Authority) Serve(ctx context.Context, ln net.Listener, logger *slog.Logger) error {
	cfg, err := a.TLSConfig()
	if err != nil {
		return err
	}
	if err := a.WriteSnapshot(); err != nil {
		logger.Warn("inventory snapshot not written; banco certs on this host will not "+
			"work while the CA serves", "err", err)
	}
	srv := &http.Server{
		Handler:           a.Handler(logger),
		TLSConfig:         cfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(slogWriter{logger}, "", 0),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-done:
		return fmt.Errorf("serve CA: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("stop CA server: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve CA: %w", err)
	}
	return nil
}

// slogWriter sends net/http's own messages (failed handshakes) to slog.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn("tls", "msg", clean(strings.TrimSpace(string(p))))
	return len(p), nil
}
