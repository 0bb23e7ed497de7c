package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banco/banco/bench"
)

// TestBench runs banco bench against an in-process banco serve with a real
// CA: the first run issues the bench customers (and needs the password),
// the second reuses them (and does not).
func TestBench(t *testing.T) {
	home := initHome(t)
	env := pwEnv()
	env["BANCO_HOME"] = home
	if _, stderr, code := bancoRun(t, env, "enroll", "server"); code != 0 {
		t.Fatalf("enroll server: exit %d\n%s", code, stderr)
	}
	h := &bankHome{home: Home(home), env: env}
	h.serve(t, "text")

	out, stderr, code := h.run("bench", "-c", "3", "-n", "60", "--json")
	if code != 0 {
		t.Fatalf("bench: exit %d\n%s", code, stderr)
	}
	var res bench.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	if res.Check == nil || !res.Check.OK() || res.Customers != 3 {
		t.Errorf("check %+v with %d customers, want ok with 3", res.Check, res.Customers)
	}
	if !strings.Contains(stderr, "issuing 3 bench customer certificates") {
		t.Errorf("first run did not issue the customers:\n%s", stderr)
	}
	if !strings.Contains(out, `"ok": true`) {
		t.Errorf("bench --json does not say the check passed:\n%s", out)
	}

	// Another bench as the same customers at the same time is refused:
	// both checks would count the other's entries as problems.
	unlock, err := (&App{Getenv: func(k string) string { return env[k] }}).lockBench()
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code = h.run("bench", "-c", "2", "-n", "10", "--customers", "3")
	unlock()
	if code != 1 || !strings.Contains(stderr, "another banco bench is running") {
		t.Errorf("bench beside another: exit %d, want 1 and the reason\n%s", code, stderr)
	}

	delete(env, "BANCO_PASSWORD")
	out, stderr, code = h.run("bench", "-c", "2", "-n", "20", "--customers", "3",
		"--mode", "handshake", "--group", "x25519", "--mix", "balance=1,deposit=1")
	if code != 0 {
		t.Fatalf("second bench: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"balance\t", "deposit\t", "total\t"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"X25519 ", "ledger check: ok"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--mix", "loan=1"}, "--mix"},
		{[]string{"bench", "--mix", "balance=1,balance=2"}, "balance is given twice"},
		{[]string{"bench", "--mode", "fast"}, "--mode"},
		{[]string{"bench", "--group", "P-384"}, "--group"},
		{[]string{"bench", "-c", "0"}, "--clients"},
		{[]string{"bench", "-d", "1s", "-n", "5"}, "not both"},
		{[]string{"bench", "-n", "0"}, "--ops 0"},
		{[]string{"bench", "--idle", "-1"}, "--idle -1"},
		{[]string{"bench", "-d", "0s"}, "--duration 0s"},
		{[]string{"bench", "--customers", "1", "--mix", "transfer=1"}, "transfers need"},
	} {
		_, stderr, code := bancoRun(t, map[string]string{"BANCO_HOME": t.TempDir()},
			tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, want 2 and %q\n%s", tc.args, code, tc.want, stderr)
		}
	}
}

// TestBenchIssuingInterrupted: Ctrl-C while the bench customers are being
// issued stops the issuing rather than waiting for all of them.
func TestBenchIssuingInterrupted(t *testing.T) {
	home := initHome(t)
	env := pwEnv()
	env["BANCO_HOME"] = home
	a := &App{Out: &syncBuffer{}, Err: &syncBuffer{}, Now: time.Now,
		Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := a.benchCustomers(ctx, 3, "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("issuing with Ctrl-C pressed: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(home, "bench", benchName(1))); err == nil {
		t.Error("a bench customer was issued after Ctrl-C")
	}
}
