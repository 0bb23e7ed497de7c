package cmd

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banco/banco/ca"
)

const testCAPassword = "test password 123"

// bancoRun runs banco in-process with its own streams and environment and
// returns stdout, stderr and the exit code.
func bancoRun(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{
		In: &bytes.Buffer{}, Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] },
		Now:    time.Now,
	}
	code := app.Run(args)
	return out.String(), errb.String(), code
}

func pwEnv() map[string]string { return map[string]string{"BANCO_PASSWORD": testCAPassword} }

// initHome makes a banco home with a CA in it.
func initHome(t *testing.T, args ...string) string {
	t.Helper()
	home := t.TempDir()
	_, stderr, code := bancoRun(t, pwEnv(), append([]string{"--home", home, "init"}, args...)...)
	if code != 0 {
		t.Fatalf("banco init: exit %d\n%s", code, stderr)
	}
	return home
}

func TestInitKeyTypes(t *testing.T) {
	for _, tc := range []struct {
		kty  string
		algo x509.PublicKeyAlgorithm
	}{
		{"EC", x509.ECDSA}, {"RSA", x509.RSA}, {"Ed25519", x509.Ed25519},
	} {
		t.Run(tc.kty, func(t *testing.T) {
			home := t.TempDir()
			stdout, stderr, code := bancoRun(t, pwEnv(), "--home", home, "init", "--kty", tc.kty)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			info, err := ca.Load(filepath.Join(home, "ca"))
			if err != nil {
				t.Fatal(err)
			}
			if info.Root.PublicKeyAlgorithm != tc.algo {
				t.Errorf("root key %v, want %v", info.Root.PublicKeyAlgorithm, tc.algo)
			}
			fp := info.Fingerprint()
			if strings.TrimSpace(stdout) != fp {
				t.Errorf("stdout %q, want the root fingerprint %s", stdout, fp)
			}
			for _, want := range []string{ca.GroupFingerprint(fp)[:19], info.RootCert,
				"intermediate_ca.key", "Next: banco enroll server"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			// The keys really need the password.
			_, err = ca.Open(info.Dir, []byte("not the password"))
			if !errors.Is(err, ca.ErrWrongPassword) {
				t.Errorf("open with a wrong password: %v", err)
			}
			a, err := ca.Open(info.Dir, []byte(testCAPassword))
			if err != nil {
				t.Fatalf("open with the password: %v", err)
			}
			a.Close()
		})
	}
}

func TestInitPasswordSources(t *testing.T) {
	t.Run("no source and no terminal", func(t *testing.T) {
		home := t.TempDir()
		_, stderr, code := bancoRun(t, nil, "--home", home, "init")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		for _, want := range []string{"--password-file", "BANCO_PASSWORD", "terminal"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if ca.Exists(filepath.Join(home, "ca")) {
			t.Error("a CA was created without a password")
		}
	})
	t.Run("password file", func(t *testing.T) {
		home := t.TempDir()
		pf := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(pf, []byte("from a file 42\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := bancoRun(t, nil, "--home", home, "init", "--password-file", pf)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		a, err := ca.Open(filepath.Join(home, "ca"), []byte("from a file 42"))
		if err != nil {
			t.Fatalf("open with the file's password, newline trimmed: %v", err)
		}
		a.Close()
	})
	t.Run("too short", func(t *testing.T) {
		_, stderr, code := bancoRun(t, map[string]string{"BANCO_PASSWORD": "short"},
			"--home", t.TempDir(), "init")
		if code != 1 || !strings.Contains(stderr, "shorter than 8") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		home := t.TempDir()
		_, stderr, code := bancoRun(t, nil, "--home", home, "init", "--insecure-no-password")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "NOT ENCRYPTED") {
			t.Errorf("no warning about unencrypted keys:\n%s", stderr)
		}
		_, stderr, code = bancoRun(t, nil, "--home", home, "enroll", "server")
		if code != 0 {
			t.Errorf("enroll from an insecure CA without a password: exit %d\n%s", code, stderr)
		}
	})
}

func TestInitRefusesOverwrite(t *testing.T) {
	home := initHome(t)
	before, err := ca.Load(filepath.Join(home, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code := bancoRun(t, pwEnv(), "--home", home, "init")
	if code != 1 || !strings.Contains(stderr, "already exists") ||
		!strings.Contains(stderr, "--force") {
		t.Errorf("second init: exit %d\n%s", code, stderr)
	}
	after, _ := ca.Load(filepath.Join(home, "ca"))
	if after.Fingerprint() != before.Fingerprint() {
		t.Fatal("a refused init replaced the CA")
	}
	_, stderr, code = bancoRun(t, pwEnv(), "--home", home, "init", "--force")
	if code != 0 || !strings.Contains(stderr, "Moved the old CA") {
		t.Fatalf("init --force: exit %d\n%s", code, stderr)
	}
	after, _ = ca.Load(filepath.Join(home, "ca"))
	if after.Fingerprint() == before.Fingerprint() {
		t.Error("init --force kept the old CA")
	}
}
