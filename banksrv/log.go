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

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/internal/identity"
)

// peer is what the log and the handlers need to know about a client
// certificate. It is worked out once per connection, not once per request.
type peer struct {
	once     sync.Once
	customer string
	subject  string
	serial   string
	err      error
}

type peerKey struct{}

// connContext gives every connection an empty peer, filled on its first request.
func connContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, peerKey{}, &peer{})
}

// peerOf returns the client behind r.
func peerOf(r *http.Request) *peer {
	p, ok := r.Context().Value(peerKey{}).(*peer)
	if !ok {
		p = &peer{} // Handler used outside Serve, e.g. under httptest
	}
	p.once.Do(func() { p.fill(r.TLS) })
	return p
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
		rec := &recorder{ResponseWriter: w, id: s.requestID()}
		w.Header().Set(api.HeaderRequestID, rec.id)
		next.ServeHTTP(rec, r)

		p := peerOf(r)
		level := slog.LevelInfo
		attrs := make([]slog.Attr, 0, 11)
		attrs = append(attrs,
			slog.String("id", rec.id),
			slog.String("remote", r.RemoteAddr),
			slog.String("customer", p.customer),
			slog.String("subject", p.subject),
			slog.String("serial", p.serial),
			slog.String("method", r.Method),
			slog.String("path", clean(r.URL.Path)),
			slog.Int("status", rec.status),
			slog.Int("bytes", rec.bytes),
			slog.Duration("duration", s.now().Sub(start)),
		)
		if rec.err != nil {
			if rec.status >= 500 {
				level = slog.LevelError
			}
			attrs = append(attrs, slog.String("error", rec.err.Error()))
		}
		// TODO(log): this line costs about 5 µs of a 27 µs keep-alive read
		// (BENCHMARKS.md), most of what keeps reads under 0.8 of a minimal
		// server; a handler that formats this one record shape directly
		// would cost a fraction of slog's generic text handler.
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

func (s *Server) requestID() string {
	return s.idPrefix + strconv.FormatUint(s.seq.Add(1), 10)
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
