package banksrv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/internal/testpki"
	"github.com/banco/banco/ledger"
)

// benchServer is a Server on a real SQLite ledger, driven without a network
// so that the benchmarks below measure request handling alone: routing,
// the ledger call, rendering and the request's log line (text, as banco
// serve writes it, into io.Discard).
func benchServer(b *testing.B) (*Server, context.Context, *tls.ConnectionState) {
	store, err := ledger.Open(context.Background(), filepath.Join(b.TempDir(), "bank.db"),
		ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	pki := testpki.New(b, "bench")
	cert := pki.Server(b).TLS()
	cfg, err := NewTLSConfig(TLSOptions{GetCertificate: NewCertHolder(&cert).GetCertificate,
		ClientCAs: pki.Pool()})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{Store: store, TLS: cfg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	leaf := pki.Client(b, "alice").TLS().Leaf
	cs := &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}}
	return s, connContext(context.Background(), nil), cs
}

func serveOne(b *testing.B, s *Server, ctx context.Context, cs *tls.ConnectionState,
	r *http.Request) {
	r = r.WithContext(ctx)
	r.TLS = cs
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("%s %s: %d %s", r.Method, r.URL, w.Code, w.Body)
	}
}

// sink is the cheapest http.ResponseWriter, so that a benchmark shows the
// handler's own cost rather than httptest's.
type sink struct {
	h      http.Header
	status int
	n      int
}

func (w *sink) Header() http.Header         { return w.h }
func (w *sink) WriteHeader(status int)      { w.status = status }
func (w *sink) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// BenchmarkHandleBalance is the server's side of a keep-alive balance read,
// less TLS and HTTP parsing: one request, answered again and again as
// net/http would on one connection.
func BenchmarkHandleBalance(b *testing.B) {
	s, ctx, cs := benchServer(b)
	r := httptest.NewRequest(http.MethodGet, api.PathBalance, nil).WithContext(ctx)
	r.TLS = cs
	h := s.Handler()
	w := &sink{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status, w.n = 0, 0
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK || w.n == 0 {
			b.Fatalf("balance: %d, %d bytes", w.status, w.n)
		}
	}
}

// BenchmarkHandleDeposit is the server's side of a durable deposit from one
// client: every op waits for its own commit.
func BenchmarkHandleDeposit(b *testing.B) {
	s, ctx, cs := benchServer(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		r := httptest.NewRequest(http.MethodPost, api.PathDeposit,
			strings.NewReader(`{"amount":"1.00"}`))
		r.Header.Set(api.HeaderIdempotencyKey, "k"+strconv.Itoa(i))
		serveOne(b, s, ctx, cs, r)
	}
}

// BenchmarkLedgerRead shows why handlers read the ledger with a context
// that the client's going away does not cancel (readContext): with a
// cancellable one, the SQLite driver starts a goroutine per query.
func BenchmarkLedgerRead(b *testing.B) {
	store, err := ledger.Open(context.Background(), filepath.Join(b.TempDir(), "bank.db"),
		ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Balance(context.Background(), "alice"); err != nil {
		b.Fatal(err)
	}
	read := func(b *testing.B, cancellable bool) {
		ctx, cancel := context.WithCancel(context.Background())
		rctx := context.WithoutCancel(ctx)
		if cancellable {
			rctx = ctx
		}
		if _, err := store.Balance(rctx, "alice"); err != nil {
			b.Error(err)
		}
		cancel()
	}
	for _, cancellable := range []bool{false, true} {
		name := "cancellable=" + strconv.FormatBool(cancellable)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				read(b, cancellable)
			}
		})
		b.Run(name+"/16-readers", func(b *testing.B) {
			b.SetParallelism(8) // 8 per CPU: about 16 on the 2-core machines here
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					read(b, cancellable)
				}
			})
		})
	}
}
