package banksrv

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/internal/identity"
)

// peer is what the log and the handlers need to know about a client
// certificate. It is worked out once per connection, not once per request,
// and so is the connection's part of every request log line.
type peer struct {
	once     sync.Once
	remote   string
	customer string
	subject  string
	serial   string
	err      error
	checked  time.Time // when the certificate was last verified, for Config.RecheckClient

	// log is the server's log handler with the connection's attributes
	// (remote, customer, subject, serial) already added: slog formats
	// them once, and each request line only adds its own.
	log slog.Handler
}

type peerKey struct{}

// connContext gives every connection an empty peer, filled on its first request.
func connContext(ctx context.Context, c net.Conn) context.Context {
	p := &peer{}
	if c != nil {
		p.remote = c.RemoteAddr().String()
	}
	return context.WithValue(ctx, peerKey{}, p)
}

// peerOf returns the client behind r.
func (s *Server) peerOf(r *http.Request) *peer {
	p, ok := r.Context().Value(peerKey{}).(*peer)
	if !ok {
		p = &peer{} // Handler used outside Serve, e.g. under httptest
	}
	p.once.Do(func() {
		if p.remote == "" {
			p.remote = r.RemoteAddr
		}
		p.fill(r.TLS)
		p.checked = s.now() // the handshake has just verified it
		p.log = s.log.Handler().WithAttrs([]slog.Attr{
			slog.String("remote", p.remote),
			slog.String("customer", p.customer),
			slog.String("subject", p.subject),
			slog.String("serial", p.serial),
		})
	})
	return p
}

// recheckClient verifies the client certificate of r's connection again when
// Config.RecheckClient has passed since it was last verified: a client
// revoked while it keeps a connection open is refused there too, and the
// connection is closed. A connection serves one request at a time (HTTP/1.1
// only), so p needs no lock.
func (s *Server) recheckClient(w http.ResponseWriter, r *http.Request, p *peer, now time.Time) {
	if s.recheck <= 0 || p.err != nil || r.TLS == nil || s.tls.VerifyConnection == nil ||
		now.Sub(p.checked) < s.recheck {
		return
	}
	p.checked = now
	if err := s.tls.VerifyConnection(*r.TLS); err != nil {
		p.err = &publicError{status: http.StatusForbidden, code: api.CodeClientRefused,
			msg: "the client certificate is no longer accepted: it was revoked, or its " +
				"revocation cannot be checked now", err: err}
		w.Header().Set("Connection", "close")
	}
}

func (p *peer) fill(cs *tls.ConnectionState) {
	if cs == nil || len(cs.VerifiedChains) == 0 {
		p.err = publicErrorf(http.StatusUnauthorized, api.CodeNoCustomer,
			"a verified client certificate is required")
		return
	}
	leaf := cs.VerifiedChains[0][0]
	p.subject = clean(leaf.Subject.String())
	p.serial = serialText(leaf)
	name, err := identity.Customer(leaf)
	if err != nil {
		p.err = &publicError{status: http.StatusForbidden, code: api.CodeNoCustomer,
			msg: "the client certificate names no banco customer", err: err}
		return
	}
	p.customer = name
}

// recorder remembers what a handler answered, for the request's log line.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
	id     string
	err    error // the full error behind a failed request; logged, never sent
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// noteError records err for the log line of the request written to w.
func noteError(w http.ResponseWriter, err error) string {
	if rec, ok := w.(*recorder); ok {
		rec.err = err
		return rec.id
	}
	return ""
}

// logRequests writes one log line per request.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		if _, ok := r.Context().Value(peerKey{}).(*peer); !ok {
			// Handler used outside Serve, e.g. under httptest: one peer
			// for the request, shared with the handler.
			r = r.WithContext(connContext(r.Context(), nil))
		}
		p := s.peerOf(r)
		rec := &recorder{ResponseWriter: w, id: s.requestID()}
		w.Header()[api.HeaderRequestID] = []string{rec.id} // canonical already
		s.recheckClient(w, r, p, start)
		next.ServeHTTP(rec, r)

		level := slog.LevelInfo
		if rec.err != nil && rec.status >= 500 {
			level = slog.LevelError
		}
		h := p.log
		if !h.Enabled(r.Context(), level) {
			return
		}
		// The record is made here rather than by Logger.LogAttrs, which
		// would also look up its caller's program counter: nobody reads
		// it (no AddSource), and on a keep-alive read it costs more than
		// formatting the line.
		end := s.now()
		line := slog.NewRecord(end, level, "request", 0)
		line.AddAttrs(
			slog.String("id", rec.id),
			slog.String("method", r.Method),
			slog.String("path", clean(r.URL.Path)),
			slog.Int("status", rec.status),
			slog.Int("bytes", rec.bytes),
			slog.Duration("duration", end.Sub(start)),
		)
		if rec.err != nil {
			line.AddAttrs(slog.String("error", rec.err.Error()))
		}
		_ = h.Handle(r.Context(), line) // a log that fails cannot be logged to
	})
}

func (s *Server) requestID() string {
	var b [32]byte // a 7-byte prefix and at most 20 digits
	return string(strconv.AppendUint(append(b[:0], s.idPrefix...), s.seq.Add(1), 10))
}

// clean replaces control characters in a client-supplied string, so that
// nothing a client sends can forge or break a log line.
func clean(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return strings.Map(func(r rune) rune {
				if r < ' ' || r == 0x7f {
					return '?'
				}
				return r
			}, s)
		}
	}
	return s
}

// errorLog receives net/http's own log lines (failed handshakes, panics) and
// turns them into slog records.
type errorLog struct {
	log *slog.Logger
}

const handshakePrefix = "http: TLS handshake error from "

func (e errorLog) Write(b []byte) (int, error) {
	msg := strings.TrimSpace(string(b))
	if rest, ok := strings.CutPrefix(msg, handshakePrefix); ok {
		addr, reason, _ := strings.Cut(rest, ": ")
		e.log.Warn("tls handshake failed", "remote", addr, "reason", clean(reason))
		return len(b), nil
	}
	e.log.Error("http server", "msg", clean(msg))
	return len(b), nil
}
