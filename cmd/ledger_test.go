package cmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/banco/banco/ledger"
)

// runLedger runs banco in-process and returns stdout, stderr and exit code.
func runLedger(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{In: &bytes.Buffer{}, Out: &out, Err: &errb,
		Getenv: func(string) string { return "" }, Now: time.Now}
	code := app.Run(args)
	return out.String(), errb.String(), code
}

func TestLedgerVerify(t *testing.T) {
	home := t.TempDir()
	db := Home(home).LedgerDB()
	ctx := context.Background()
	s, err := ledger.Open(ctx, db, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []ledger.Request{
		{Customer: "alice", Kind: ledger.Deposit, Amount: 1000, Key: "k1"},
		{Customer: "alice", Kind: ledger.Withdraw, Amount: 250, Key: "k2"},
	} {
		if _, err := s.Apply(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	out, stderr, code := runLedger(t, "--home", home, "ledger", "verify")
	if code != 0 || !strings.Contains(out, "ok: every invariant holds") ||
		!strings.Contains(out, "entries:  2") {
		t.Fatalf("verify of a sound ledger: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}

	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE accounts SET balance = 99999 WHERE name = 'alice'`); err != nil {
		t.Fatal(err)
	}
	out, _, code = runLedger(t, "ledger", "verify", "--db", db)
	if code != 1 || !strings.Contains(out, "BROKEN: alice: stored balance 999.99") {
		t.Fatalf("verify of a broken ledger: exit %d\n%s", code, out)
	}
	out, _, code = runLedger(t, "ledger", "verify", "--db", db, "--json")
	var rep struct {
		Ledger   string
		Entries  int64
		Total    string
		OK       bool
		Problems []ledger.Problem
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.OK ||
		len(rep.Problems) == 0 || rep.Entries != 2 || rep.Total != "992.49" || rep.Ledger != db {
		t.Fatalf("verify --json: exit %d, %v\n%s", code, err, out)
	}
}

func TestLedgerVerifyMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.db")
	_, stderr, code := runLedger(t, "ledger", "verify", "--db", missing)
	if code != 1 || !strings.Contains(stderr, "banco: error: no ledger at") ||
		!strings.Contains(stderr, "banco: hint:") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, _, code := runLedger(t, "ledger", "verify", "extra"); code != 2 {
		t.Fatalf("verify with an argument: exit %d, want 2", code)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(missing), "*")); len(matches) != 0 {
		t.Fatalf("verify created files: %v", matches)
	}
}

// ledgerPostgres returns the URL of a new, empty schema on the test
// PostgreSQL (as in the ledger's own tests: 127.0.0.1:5432, database test,
// or BANCO_TEST_POSTGRES; "skip" skips), dropped at the end of the test.
func ledgerPostgres(t *testing.T) string {
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
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	schema := "cmd_ledger_test_" + hex.EncodeToString(rnd[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("PostgreSQL %s: create schema (set BANCO_TEST_POSTGRES to another URL, "+
			"or to skip): %v", ledger.Redact(base), err)
	}
	t.Cleanup(func() {
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

// fillLedger makes a ledger at dsn with a few entries.
func fillLedger(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	s, err := ledger.Open(ctx, dsn, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []ledger.Request{
		{Customer: "alice", Kind: ledger.Deposit, Amount: 1000, Key: "k1"},
		{Customer: "bob", Kind: ledger.Deposit, Amount: 500, Key: "k2"},
		{Customer: "alice", Kind: ledger.Transfer, To: "bob", Amount: 250, Key: "k3"},
	} {
		if _, err := s.Apply(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLedgerVerifyCorruptJournal tampers with the journal itself, as someone
// with the database's password could (the immutability trigger turned off
// first): verify must exit 1 and say which accounts no longer add up. On
// SQLite it works on a copy of the file, and the original still verifies.
func TestLedgerVerifyCorruptJournal(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "bank.db")
	fillLedger(t, orig)
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	copyDB := filepath.Join(dir, "copy.db")
	if err := os.WriteFile(copyDB, data, 0o600); err != nil {
		t.Fatal(err)
	}
	pg := ledgerPostgres(t)
	fillLedger(t, pg)

	for _, c := range []struct {
		name, dsn, driver string
		tamper            []string
	}{
		{"sqlite", copyDB, "sqlite", []string{`DROP TRIGGER entries_no_update`,
			`UPDATE entries SET amount = amount + 1 WHERE id = 3`}},
		{"postgres", pg, "pgx", []string{`ALTER TABLE entries DISABLE TRIGGER USER`,
			`UPDATE entries SET amount = amount + 1 WHERE id = 3`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, code := runLedger(t, "ledger", "verify", "--db", c.dsn)
			if code != 0 || !strings.Contains(out, "ok: every invariant holds") {
				t.Fatalf("before tampering: exit %d\n%s%s", code, out, stderr)
			}
			raw, err := sql.Open(c.driver, c.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			for _, stmt := range c.tamper {
				if _, err := raw.Exec(stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			out, stderr, code = runLedger(t, "ledger", "verify", "--db", c.dsn)
			for _, want := range []string{
				"BROKEN: alice: stored balance 7.50 differs from its journal entries' sum 7.49",
				"BROKEN: bob: stored balance 7.50 differs from its journal entries' sum 7.51",
				"idempotency records do not match",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("verify of the tampered ledger does not say %q", want)
				}
			}
			if code != 1 || !strings.Contains(stderr, "invariant(s) broken") {
				t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
			}
		})
	}
	if out, _, code := runLedger(t, "ledger", "verify", "--db", orig); code != 0 {
		t.Errorf("the original of the tampered copy: exit %d\n%s", code, out)
	}
}

// TestLedgerVerifyBadDB: every kind of wrong --db gets an error and a hint,
// exit 1, and is left as it was.
func TestLedgerVerifyBadDB(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a database\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "other.db")
	raw, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE accounts (owner TEXT)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	newer := filepath.Join(dir, "newer.db")
	fillLedger(t, newer)
	raw, err = sql.Open("sqlite", newer)
	if err != nil {
		t.Fatal(err)
	}
	_, err = raw.Exec(`INSERT INTO banco_schema (version, applied) VALUES (99, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()
	before, _ := filepath.Glob(filepath.Join(dir, "*"))

	for _, c := range []struct{ db, says, hint string }{
		{"mysql://root@localhost/bank", "scheme mysql://", "--db takes a SQLite file path"},
		{"sqlite:", "location is empty", "--db takes"},
		{"postgres://%zz", "not a PostgreSQL URL", "--db takes"},
		{"postgres://banco:pw@127.0.0.1:1/bank", "connect to ledger postgres://banco:xxxxx@",
			"check that PostgreSQL runs"},
		{dir, "is a folder", "check --db"},
		{text, "is not a SQLite database", "check --db"},
		{foreign, "holds other tables (accounts) but no banco ledger", "check --db"},
		{newer, "was written by a newer banco: its schema is version 99", "use the banco that"},
	} {
		_, stderr, code := runLedger(t, "ledger", "verify", "--db", c.db)
		if code != 1 || !strings.Contains(stderr, "banco: error: ") ||
			!strings.Contains(stderr, c.says) ||
			!strings.Contains(stderr, "banco: hint: "+c.hint) {
			t.Errorf("verify --db %s: exit %d, want 1, %q and a hint %q:\n%s", c.db, code,
				c.says, c.hint, stderr)
		}
	}
	if got, err := os.ReadFile(text); err != nil || string(got) != "not a database\n" {
		t.Errorf("verify changed %s: %q, %v", text, got, err)
	}
	after, _ := filepath.Glob(filepath.Join(dir, "*"))
	if !slices.Equal(before, after) {
		t.Errorf("verify left files behind: %v, before %v", after, before)
	}
}
