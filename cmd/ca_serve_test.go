package cmd

import (
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banco/banco/ca"
)

// lockedBuffer is an output stream shared by a serving command and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startCAServe runs 'banco ca serve' in-process on a loopback port until the
// test ends, and returns its URL and its stderr.
func startCAServe(t *testing.T, home string) (string, *lockedBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	caURL := "https://" + addr

	logs := &lockedBuffer{}
	env := pwEnv()
	app := &App{In: &bytes.Buffer{}, Out: &lockedBuffer{}, Err: logs,
		Getenv: func(k string) string { return env[k] }, Now: time.Now}
	root := app.newRootCmd()
	root.SetArgs([]string{"--home", home, "ca", "serve", "--addr", addr, "--url", caURL})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ca serve: %v\n%s", err, logs)
		}
	})
	for !strings.Contains(logs.String(), "banco CA serving") {
		select {
		case err := <-done:
			t.Fatalf("ca serve stopped: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return caURL, logs
}

func TestRemoteEnroll(t *testing.T) {
	caHome := initHome(t)
	caURL, caLog := startCAServe(t, caHome)

	token := func(args ...string) string {
		t.Helper()
		out, stderr, code := bancoRun(t, pwEnv(), append([]string{"--home", caHome, "ca",
			"token"}, args...)...)
		if code != 0 {
			t.Fatalf("ca token: exit %d\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "root fingerprint") {
			t.Errorf("ca token does not show the fingerprint:\n%s", stderr)
		}
		return strings.TrimSpace(out)
	}

	// A customer on another machine: no CA files, no password.
	other := t.TempDir()
	alice := token("alice", "--client")
	_, stderr, code := bancoRun(t, nil, "--home", other, "enroll", "client", "alice",
		"--token", alice)
	if code != 0 {
		t.Fatalf("remote enroll: exit %d\n%s\nCA log:\n%s", code, stderr, caLog)
	}
	id := loadIdentity(t, caHome, filepath.Join(other, "clients", "alice"), ClientCertFile,
		ClientKeyFile, x509.ExtKeyUsageClientAuth)
	if want := caURL + "/1.0/crl"; len(id.Leaf().CRLDistributionPoints) != 1 ||
		id.Leaf().CRLDistributionPoints[0] != want {
		t.Errorf("CRL distribution points %q, want %q", id.Leaf().CRLDistributionPoints, want)
	}
	if _, err := os.Stat(filepath.Join(other, "ca")); err == nil {
		t.Error("remote enrollment created CA files")
	}

	// The server, with its token.
	srv := token("banco.local", "--server", "--san", "10.1.2.3")
	_, stderr, code = bancoRun(t, nil, "--home", other, "enroll", "server", "--token", srv)
	if code != 0 {
		t.Fatalf("remote server enroll: exit %d\n%s", code, stderr)
	}
	sid := loadIdentity(t, caHome, filepath.Join(other, "server"), ServerCertFile,
		ServerKeyFile, x509.ExtKeyUsageServerAuth)
	if len(sid.Leaf().IPAddresses) != 3 || sid.Leaf().IPAddresses[2].String() != "10.1.2.3" {
		t.Errorf("server IPs %v", sid.Leaf().IPAddresses)
	}

	// Refusals.
	_, stderr, code = bancoRun(t, nil, "--home", t.TempDir(), "enroll", "client", "alice",
		"--token", alice)
	if code != 1 || !strings.Contains(stderr, "refused") {
		t.Errorf("reused token: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(caLog.String(), "token already used") {
		t.Errorf("the CA did not log why it refused the reused token:\n%s", caLog)
	}
	bob := token("bob", "--client")
	_, stderr, code = bancoRun(t, nil, "--home", t.TempDir(), "enroll", "server", "--token", bob)
	if code != 1 || !strings.Contains(stderr, "for a client certificate") {
		t.Errorf("client token for a server: exit %d\n%s", code, stderr)
	}
	_, stderr, code = bancoRun(t, nil, "--home", t.TempDir(), "enroll", "client", "mallory",
		"--token", bob)
	if code != 1 || !strings.Contains(stderr, `for "bob"`) {
		t.Errorf("token for another name: exit %d\n%s", code, stderr)
	}
	_, stderr, code = bancoRun(t, nil, "--home", t.TempDir(), "enroll", "client", "bob",
		"--token", bob, "--fingerprint", strings.Repeat("ab", 32))
	if code != 1 || !strings.Contains(stderr, "differs") {
		t.Errorf("wrong fingerprint: exit %d\n%s", code, stderr)
	}
}

// TestRemoteEnrollOnlineErrors: enroll --token explains a CA that lacks the
// pinned root, and a URL where nothing listens, like the other commands
// that talk to the online CA.
func TestRemoteEnrollOnlineErrors(t *testing.T) {
	caHome := initHome(t)
	caURL, caLog := startCAServe(t, caHome)

	// A token from another CA, pointed at this one: the root it pins is not here.
	otherCA := initHome(t)
	foreign := strings.TrimSpace(mustRun(t, "--home", otherCA, "ca", "token", "carol", "--client",
		"--ca-url", caURL))
	info, err := ca.Load(filepath.Join(otherCA, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{nil, {"--fingerprint", info.Fingerprint()}} {
		_, stderr, code := bancoRun(t, nil, append([]string{"--home", t.TempDir(), "enroll",
			"client", "carol", "--token", foreign}, args...)...)
		if code != 1 || !strings.Contains(stderr, "banco: error: connect to the CA at "+caURL+
			": root ") || !strings.Contains(stderr, "does not have the pinned root\n") ||
			!strings.Contains(stderr, "banco: hint: this CA is not the one the token (or "+
				"--fingerprint) names") {
			t.Errorf("foreign token %v: exit %d\n%s\nCA log:\n%s", args, code, stderr, caLog)
		}
	}

	// Nothing listens at --ca-url.
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "https://127.0.0.1:" + port
	tok := strings.TrimSpace(mustRun(t, "--home", caHome, "ca", "token", "dave", "--client"))
	_, stderr, code := bancoRun(t, nil, "--home", t.TempDir(), "enroll", "client", "dave",
		"--token", tok, "--ca-url", deadURL)
	if code != 1 || !strings.Contains(stderr, "banco: hint: nothing listens at "+deadURL) {
		t.Errorf("dead CA URL: exit %d\n%s", code, stderr)
	}
}
