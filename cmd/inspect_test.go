package cmd

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banco/banco/ca"
)

func TestInspect(t *testing.T) {
	home := initHome(t)
	mustRun(t, "--home", home, "enroll", "server")
	crt := filepath.Join(home, "server", ServerCertFile)
	out := mustRun(t, "--home", home, "inspect", crt)
	for _, want := range []string{"Certificate 1 of 2 (leaf)", "CN=banco.local",
		"TLS server (serverAuth)", "banco.local, localhost, 127.0.0.1, ::1"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "warning") {
		t.Errorf("warnings on a fresh server certificate:\n%s", out)
	}

	// Against another CA's root, and a year later.
	other := initHome(t)
	out = mustRun(t, "--home", home, "inspect", crt, "--root",
		filepath.Join(other, "ca", ca.RootCertFile))
	if !strings.Contains(out, "not from this CA") {
		t.Errorf("no warning for another CA:\n%s", out)
	}
	out, _, _ = bancoRunAt(t, time.Now().AddDate(1, 0, 1), nil, "--home", home, "inspect", crt)
	if !strings.Contains(out, "EXPIRED") {
		t.Errorf("no warning for an expired certificate:\n%s", out)
	}

	key := filepath.Join(home, "server", ServerKeyFile)
	_, stderr, code := bancoRun(t, nil, "--home", home, "inspect", key)
	for _, want := range []string{
		"banco: error: " + key + " holds a private key (keep it secret), not a certificate\n",
		"banco: hint: inspect the certificate instead, such as server.crt",
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("inspect a key: exit %d, want 1 and %q in\n%s", code, want, stderr)
		}
	}
}
