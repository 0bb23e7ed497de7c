package crashtest

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

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to make test schemas

	"github.com/banco/banco/ledger"
)

// Like the ledger's own tests, these use the PostgreSQL on 127.0.0.1:5432
// (database test, trust auth) unless BANCO_TEST_POSTGRES names another;
// BANCO_TEST_POSTGRES=skip skips it. Each test gets its own schema, created
// here and dropped at the end, and reaches it through the search_path
// parameter of the URL, which pgx sends to the server at connect time.

const defaultTestPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// backends are the ledgers every test runs on; dsn returns a new, empty one.
var backends = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "bank.db") }},
	{"postgres", postgresDSN},
}

func postgresDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv("BANCO_TEST_POSTGRES")
	switch base {
	case "skip":
		t.Skip("BANCO_TEST_POSTGRES=skip")
	case "":
		base = defaultTestPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open PostgreSQL %s: %v", ledger.Redact(base), err)
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		t.Fatalf("PostgreSQL %s is unreachable (set BANCO_TEST_POSTGRES to another URL, "+
			"or to skip): %v", ledger.Redact(base), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "banco_crash_" + hex.EncodeToString(b[:])
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
		t.Fatalf("parse BANCO_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openStore opens the ledger at dsn for the test's own checks.
func openStore(t *testing.T, dsn string) ledger.Store {
	t.Helper()
	s, err := ledger.Open(context.Background(), dsn, ledger.Options{})
	if err != nil {
		t.Fatalf("open ledger %s: %v", ledger.Redact(dsn), err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close ledger: %v", err)
		}
	})
	return s
}
