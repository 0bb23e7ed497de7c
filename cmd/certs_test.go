package cmd

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banco/banco/ca"
	"github.com/banco/banco/enroll"
)

// bancoRunAt runs banco with its clock set to now.
func bancoRunAt(t *testing.T, now time.Time, env map[string]string,
	args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{In: &bytes.Buffer{}, Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return now }}
	code := app.Run(args)
	return out.String(), errb.String(), code
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, code := bancoRun(t, pwEnv(), args...)
	if code != 0 {
		t.Fatalf("banco %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	return out
}

func TestRevokeAndCerts(t *testing.T) {
	home := initHome(t)
	mustRun(t, "--home", home, "enroll", "server")
	mustRun(t, "--home", home, "enroll", "client", "alice")
	mustRun(t, "--home", home, "enroll", "client", "bob")

	// By name: every valid certificate of alice.
	out := mustRun(t, "--home", home, "revoke", "alice", "--reason", "key-compromise")
	alice, err := enroll.Load(enroll.InDir(filepath.Join(home, "clients", "alice"),
		ClientCertFile, ClientKeyFile, RootCertFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != alice.Leaf().SerialNumber.String() {
		t.Errorf("revoke printed %q, want alice's serial", out)
	}
	_, stderr, code := bancoRun(t, pwEnv(), "--home", home, "revoke", "alice")
	if code != 1 || !strings.Contains(stderr, "no valid certificate") {
		t.Errorf("revoking alice again: exit %d\n%s", code, stderr)
	}
	_, stderr, code = bancoRun(t, pwEnv(), "--home", home, "revoke", "12345")
	if code != 1 || !strings.Contains(stderr, "no certificate with this serial") {
		t.Errorf("unknown serial: exit %d\n%s", code, stderr)
	}
	_, _, code = bancoRun(t, pwEnv(), "--home", home, "revoke", "bob", "--reason", "bored")
	if code != 2 {
		t.Errorf("bad reason: exit %d, want 2", code)
	}

	// The inventory shows it, as JSON and filtered.
	var rows []certRow
	raw := mustRun(t, "--home", home, "certs", "--json")
	if err := json.Unmarshal([]byte(raw), &rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.Kind+" "+r.Subject] = r.Status
	}
	want := map[string]string{"server banco.local": "valid", "client alice": "revoked",
		"client bob": "valid"}
	if len(got) != 3 || got["client alice"] != want["client alice"] ||
		got["client bob"] != "valid" || got["server banco.local"] != "valid" {
		t.Errorf("certs: %v, want %v", got, want)
	}
	out = mustRun(t, "--home", home, "certs", "--kind", "client", "--status", "valid")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], "bob") {
		t.Errorf("filtered certs:\n%s", out)
	}

	// Close to its end, a certificate is "expiring soon", with a warning.
	var bobRow certRow
	for _, r := range rows {
		if r.Subject == "bob" {
			bobRow = r
		}
	}
	out, stderr, code = bancoRunAt(t, bobRow.NotAfter.Add(-24*time.Hour), pwEnv(),
		"--home", home, "certs", "--name", "bob")
	if code != 0 || !strings.Contains(out, "expiring soon") ||
		!strings.Contains(stderr, "expire within 30 days") {
		t.Errorf("expiring: exit %d\n%s\n%s", code, out, stderr)
	}
}

func TestCAHealth(t *testing.T) {
	home := initHome(t)
	info, err := ca.Load(filepath.Join(home, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	end := info.Intermediate.NotAfter
	_, stderr, code := bancoRunAt(t, end.Add(-30*24*time.Hour), pwEnv(), "--home", home, "certs")
	if code != 0 || !strings.Contains(stderr, "warning: the CA's intermediate certificate expires") {
		t.Errorf("30 days before the end: exit %d\n%s", code, stderr)
	}
	_, stderr, code = bancoRunAt(t, end.Add(time.Hour), pwEnv(), "--home", home, "enroll", "server")
	if code != 1 || !strings.Contains(stderr, "intermediate certificate expired") {
		t.Errorf("after the end: exit %d\n%s", code, stderr)
	}
}

func TestRenewAndRemoteRevoke(t *testing.T) {
	caHome := initHome(t)
	caURL, caLog := startCAServe(t, caHome)
	other := t.TempDir()
	tok := strings.TrimSpace(mustRun(t, "--home", caHome, "ca", "token", "banco.local", "--server"))
	if _, stderr, code := bancoRun(t, nil, "--home", other, "enroll", "server", "--token",
		tok); code != 0 {
		t.Fatalf("enroll: %s", stderr)
	}
	before, err := enroll.Load(enroll.InDir(filepath.Join(other, "server"), ServerCertFile,
		ServerKeyFile, RootCertFile))
	if err != nil {
		t.Fatal(err)
	}

	_, stderr, code := bancoRun(t, nil, "--home", other, "renew")
	if code != 0 {
		t.Fatalf("renew: exit %d\n%s\nCA log:\n%s", code, stderr, caLog)
	}
	after := loadIdentity(t, caHome, filepath.Join(other, "server"), ServerCertFile,
		ServerKeyFile, x509.ExtKeyUsageServerAuth)
	if after.Leaf().SerialNumber.Cmp(before.Leaf().SerialNumber) == 0 {
		t.Error("renew kept the certificate")
	}

	// An expired certificate gets told to enroll again.
	_, stderr, code = bancoRunAt(t, after.Leaf().NotAfter.Add(time.Hour), nil,
		"--home", other, "renew")
	if code != 1 || !strings.Contains(stderr, "enroll again") ||
		!strings.Contains(stderr, "banco ca token banco.local --server") {
		t.Errorf("renew expired: exit %d\n%s", code, stderr)
	}

	// Revocation through the CA with a token made on the CA host.
	serial := after.Leaf().SerialNumber.String()
	rtok := strings.TrimSpace(mustRun(t, "--home", caHome, "ca", "token", serial, "--revoke"))
	out, stderr, code := bancoRun(t, nil, "--home", other, "revoke", serial, "--token", rtok)
	if code != 0 || strings.TrimSpace(out) != serial {
		t.Fatalf("remote revoke: exit %d\n%s\nCA log:\n%s", code, stderr, caLog)
	}
	checker := enroll.NewCRLChecker(ca.CRLURL(caURL), after.Root, after.Chain[1])
	if r, err := checker.IsRevoked(context.Background(), after.Leaf().SerialNumber); err != nil || !r {
		t.Errorf("CRL after remote revoke: %v, %v", r, err)
	}
	_, stderr, code = bancoRun(t, nil, "--home", other, "renew")
	if code != 1 {
		t.Errorf("renewing a revoked certificate: exit %d\n%s", code, stderr)
	}
}

func serialOf(t *testing.T, home, client string) string {
	t.Helper()
	id, err := enroll.Load(enroll.InDir(filepath.Join(home, "clients", client), ClientCertFile,
		ClientKeyFile, RootCertFile))
	if err != nil {
		t.Fatal(err)
	}
	return id.Leaf().SerialNumber.String()
}

// TestRevokeChecksSerialFirst: a serial the CA never issued, or one revoked
// already, is refused before any revocation token is made or sent, whether
// the CA's database is free or held by banco ca serve (then its inventory
// copy is read).
func TestRevokeChecksSerialFirst(t *testing.T) {
	home := initHome(t)
	mustRun(t, "--home", home, "enroll", "client", "alice")
	mustRun(t, "--home", home, "enroll", "client", "bob")
	alice, bob := serialOf(t, home, "alice"), serialOf(t, home, "bob")
	mustRun(t, "--home", home, "revoke", alice)

	refused := func(when, want string, args ...string) {
		t.Helper()
		out, stderr, code := bancoRun(t, pwEnv(), append([]string{"--home", home}, args...)...)
		if code != 1 || out != "" || !strings.Contains(stderr, want) {
			t.Errorf("%s, banco %s: exit %d, stdout %q, want 1, none and %q in\n%s", when,
				strings.Join(args, " "), code, out, want, stderr)
		}
	}
	unknown := "banco: error: revoke 12345: no certificate with this serial in the CA " +
		"database\nbanco: hint: list the certificates: banco certs\n"
	revoked := "banco: error: serial " + alice + " is revoked already: no token is needed\n"
	refused("CA stopped", unknown, "ca", "token", "12345", "--revoke", "--ca-url",
		"https://127.0.0.1:9")
	refused("CA stopped", revoked, "ca", "token", alice, "--revoke", "--ca-url",
		"https://127.0.0.1:9")

	_, caLog := startCAServe(t, home)
	refused("CA serving", unknown, "ca", "token", "12345", "--revoke")
	refused("CA serving", revoked, "ca", "token", alice, "--revoke")
	refused("CA serving", unknown, "revoke", "12345")
	out, stderr, code := bancoRun(t, pwEnv(), "--home", home, "revoke", alice)
	if code != 0 || out != "" || !strings.Contains(stderr, "Serial "+alice+" was already revoked") {
		t.Errorf("revoking alice again while serving: exit %d, stdout %q\n%s", code, out, stderr)
	}
	if strings.Contains(caLog.String(), "/revoke") {
		t.Errorf("a refused revocation reached the CA:\n%s", caLog)
	}

	// A serial it has goes through the running CA, and its inventory copy
	// shows the change as soon as the command returns.
	out = mustRun(t, "--home", home, "revoke", bob)
	if strings.TrimSpace(out) != bob ||
		!strings.Contains(caLog.String(), "path=/revoke status=200") {
		t.Errorf("revoke bob while serving: stdout %q\nCA log:\n%s", out, caLog)
	}
	out, stderr, code = bancoRun(t, nil, "--home", home, "certs", "--status", "revoked")
	if code != 0 || strings.Count(out, "\trevoked\n") != 2 ||
		!strings.Contains(stderr, "this is the inventory it wrote at") {
		t.Errorf("certs while serving: exit %d\n%s\n%s", code, out, stderr)
	}

	// A damaged copy is reported, not taken for a locked database.
	if err := os.WriteFile(filepath.Join(home, "ca", ca.SnapshotFile), []byte("{"),
		0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = bancoRun(t, nil, "--home", home, "certs")
	if code != 1 || out != "" || !strings.Contains(stderr, "the copy of the inventory that "+
		"'banco ca serve' keeps cannot be used: read the inventory ") ||
		!strings.Contains(stderr, "banco: hint: stop 'banco ca serve'") {
		t.Errorf("certs with a damaged snapshot: exit %d, stdout %q\n%s", code, out, stderr)
	}
}
