package cmd

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
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
	var rep ledger.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 ||
		len(rep.Problems) == 0 || rep.Entries != 2 {
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
