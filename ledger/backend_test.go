package ledger

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Every ledger test runs against each backend. PostgreSQL is the one on
// 127.0.0.1:5432 (database test, trust auth) unless BANCO_TEST_POSTGRES
// names another; BANCO_TEST_POSTGRES=skip skips it. An unreachable server
// fails the test: CI has one. Each test gets its own schema, dropped at the
// end, so runs cannot interfere.

const defaultTestPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// backend makes fresh databases of one kind.
type backend struct {
	name string
	// dsn returns the DSN of a new, empty database for t.
	dsn func(t testing.TB) string
	// raw opens the database behind dsn directly, to inspect or tamper.
	raw func(t testing.TB, dsn string) *sql.DB
}

var backends = []backend{
	{name: "sqlite", dsn: sqliteDSN, raw: sqliteRaw},
	{name: "postgres", dsn: postgresDSN, raw: postgresRaw},
}

func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

func sqliteDSN(t testing.TB) string {
	return filepath.Join(t.TempDir(), "ledger", "bank.db")
}

func sqliteRaw(t testing.TB, dsn string) *sql.DB {
	db, err := sql.Open("sqlite", dsn+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func postgresBase(t testing.TB) string {
	base := os.Getenv("BANCO_TEST_POSTGRES")
	if base == "skip" {
		t.Skip("BANCO_TEST_POSTGRES=skip")
	}
	if base == "" {
		base = defaultTestPostgres
	}
	return base
}

func postgresDSN(t testing.TB) string {
	base := postgresBase(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open PostgreSQL %s: %v", Redact(base), err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		t.Fatalf("PostgreSQL %s is unreachable (set BANCO_TEST_POSTGRES to another URL, "+
			"or to skip): %v", Redact(base), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "banco_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
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

func postgresRaw(t testing.TB, dsn string) *sql.DB {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// open opens a Store on dsn, closed at the end of the test.
func open(t testing.TB, dsn string) Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// newStore opens a Store on a fresh database of backend b.
func newStore(t testing.TB, b backend) (Store, string) {
	t.Helper()
	dsn := b.dsn(t)
	return open(t, dsn), dsn
}

// mustVerify fails t unless every invariant holds.
func mustVerify(t testing.TB, s Store) Report {
	t.Helper()
	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(rep.Problems) > 0 || rep.Total != 0 {
		t.Fatalf("Verify found problems: %+v", rep)
	}
	// On SQLite, a batch falls back to the careful path only when the
	// database fails a write; if ordinary requests did, the fast path's
	// idea of the balances was wrong.
	if ss, ok := s.(*sqliteStore); ok && ss.redone.Load() != 0 {
		t.Fatalf("%d SQLite batches fell back to the careful path", ss.redone.Load())
	}
	return rep
}
