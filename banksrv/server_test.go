package banksrv_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banco/banco/banksrv"
	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/internal/testpki"
	"github.com/banco/banco/ledger"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to make test schemas
)

// logBuffer collects the server's log; the server writes from its own
// goroutines while the test reads.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor waits until the log holds a line with all of parts, and returns it.
// The wait has a generous bound only to end a test that would otherwise hang.
func (l *logBuffer) waitFor(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(l.String(), "\n") {
			if containsAll(line, parts) {
				return line
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line with %q in:\n%s", parts, l.String())
	return ""
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// bank is a real banksrv on loopback with a real SQLite ledger.
type bank struct {
	pki    *testpki.PKI
	addr   string
	log    *logBuffer
	store  ledger.Store
	holder *banksrv.CertHolder
}

func startBank(t testing.TB) *bank {
	t.Helper()
	return startBankOn(t, filepath.Join(t.TempDir(), "bank.db"))
}

// startBankOn starts a bank on the ledger at dsn.
func startBankOn(t testing.TB, dsn string) *bank {
	t.Helper()
	return startBankWith(t, dsn, nil)
}

// startBankWith starts a bank on the ledger at dsn, with its TLS options
// and configuration changed by configure, when not nil.
func startBankWith(t testing.TB, dsn string,
	configure func(*banksrv.TLSOptions, *banksrv.Config)) *bank {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &bank{pki: testpki.New(t, "banco test"), log: &logBuffer{}}
	store, err := ledger.Open(ctx, dsn, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.store = store
	cert := b.pki.Server(t).TLS()
	b.holder = banksrv.NewCertHolder(&cert)
	opts := banksrv.TLSOptions{
		GetCertificate: b.holder.GetCertificate,
		ClientCAs:      b.pki.Pool(),
	}
	conf := banksrv.Config{Store: store, Logger: slog.New(slog.NewTextHandler(b.log, nil))}
	if configure != nil {
		configure(&opts, &conf)
	}
	cfg, err := banksrv.NewTLSConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	conf.TLS = cfg
	srv, err := banksrv.New(conf)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
		store.Close()
	})
	return b
}

// tlsConfig is a client configuration offering cert (nil: none).
func (b *bank) tlsConfig(cert *testpki.Cert) *tls.Config {
	cfg := &tls.Config{RootCAs: b.pki.Pool(), ServerName: "banco.local"}
	if cert != nil {
		tc := cert.TLS()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &tc, nil
		}
	}
	return cfg
}

func (b *bank) client(cfg *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: cfg,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, b.addr)
		},
	}}
}

// call sends one request and decodes the answer into out (on 200) or
// returns the error body.
func call(t testing.TB, c *http.Client, method, path, key, body string, out any) (int,
	api.Error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "https://banco.local"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set(api.HeaderIdempotencyKey, key)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb api.ErrorBody
		if err := json.Unmarshal(data, &eb); err != nil {
			t.Fatalf("%s %s: %d with non-JSON body %q", method, path, resp.StatusCode, data)
		}
		return resp.StatusCode, eb.Error
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, api.Error{}
}

// forEachLedger runs fn with a bank on SQLite, then on PostgreSQL: the one on
// 127.0.0.1:5432 (database test, trust auth) unless BANCO_TEST_POSTGRES names
// another, each test in its own schema; BANCO_TEST_POSTGRES=skip skips it.
func forEachLedger(t *testing.T, fn func(t *testing.T, b *bank)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, startBank(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, startBankOn(t, postgresDSN(t))) })
}

func postgresDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv("BANCO_TEST_POSTGRES")
	switch base {
	case "skip":
		t.Skip("BANCO_TEST_POSTGRES=skip")
	case "":
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open PostgreSQL %s: %v", ledger.Redact(base), err)
	}
	defer admin.Close()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	schema := "banksrv_test_" + hex.EncodeToString(rnd[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("PostgreSQL %s: create schema (set BANCO_TEST_POSTGRES to another URL, "+
			"or to skip): %v", ledger.Redact(base), err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
