package cmd

import (
	"os"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

func TestExportP12(t *testing.T) {
	home := initHome(t)
	mustRun(t, "--home", home, "enroll", "client", "alice")
	env := map[string]string{"BANCO_P12_PASSWORD": "p12 secret pass"}
	out, stderr, code := bancoRun(t, env, "--home", home, "export", "p12", "alice")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	p := strings.TrimSpace(out)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := pkcs12.DecodeChain(data, "wrong"); err == nil {
		t.Error("the PKCS#12 file opens with a wrong password")
	}
	key, leaf, cas, err := pkcs12.DecodeChain(data, "p12 secret pass")
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if leaf.Subject.CommonName != "alice" || len(cas) != 2 || key == nil {
		t.Errorf("p12 holds %q with %d CA certificates", leaf.Subject.CommonName, len(cas))
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o", fi.Mode().Perm())
	}
	_, stderr, code = bancoRun(t, env, "--home", home, "export", "p12", "alice")
	if code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("second export: exit %d\n%s", code, stderr)
	}
	_, stderr, code = bancoRun(t, env, "--home", home, "export", "p12", "nobody")
	if code != 1 || !strings.Contains(stderr, "banco enroll client nobody") {
		t.Errorf("unknown client: exit %d\n%s", code, stderr)
	}
}
