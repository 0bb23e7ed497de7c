package cmd

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveOnce runs banco serve --db db until it listens, then stops it, and
// returns its stderr and exit code.
func (h *bankHome) serveOnce(t *testing.T, db string) (string, int) {
	t.Helper()
	var stderr bytes.Buffer
	a := &App{Out: &bytes.Buffer{}, Err: &stderr, Now: time.Now,
		Getenv: func(k string) string { return h.env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := &serveOptions{addr: "127.0.0.1:0", db: db, logFormat: "text", logLevel: "info",
		ready: func(string) { cancel() }}
	code := 0
	if err := a.runServe(ctx, o); err != nil {
		code = a.report(nil, err)
	}
	return stderr.String(), code
}

// TestServeExplicitDB: a --db in a folder that does not exist is refused as
// the typo it most likely is, and nothing is created; a new ledger in a
// folder that exists is created, and the banner says it is new.
func TestServeExplicitDB(t *testing.T) {
	h := newBankHome(t)
	missing := filepath.Join(t.TempDir(), "no", "such")
	for _, db := range []string{filepath.Join(missing, "bank.db"),
		"sqlite:" + filepath.Join(missing, "bank.db")} {
		errOut, code := h.serveOnce(t, db)
		want := "banco: error: ledger " + filepath.Join(missing, "bank.db") + ": the folder " +
			missing + " does not exist\n" +
			"banco: hint: check the path given to --db, or create the folder first\n"
		if code != 1 || errOut != want {
			t.Errorf("serve --db %s: exit %d\n%s\nwant\n%s", db, code, errOut, want)
		}
		if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("serve --db %s created %s: %v", db, filepath.Dir(missing), err)
		}
	}

	db := filepath.Join(t.TempDir(), "bank.db")
	for i, suffix := range []string{" (new, empty)\n", "\n"} {
		errOut, code := h.serveOnce(t, db)
		want := "\n  ledger:             " + db + suffix
		if code != 0 || !strings.Contains(errOut, want) {
			t.Errorf("serve --db %s, run %d: exit %d\n%s\nwant a line %q", db, i+1, code,
				errOut, want)
		}
	}
}
