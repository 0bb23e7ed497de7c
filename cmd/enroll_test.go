package cmd

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/banco/banco/ca"
	"github.com/banco/banco/enroll"
	"github.com/banco/banco/internal/identity"
)

// loadIdentity reads the files of an enrolled identity and verifies its
// chain against the CA's root for usage.
func loadIdentity(t *testing.T, home, dir, certFile, keyFile string,
	usage x509.ExtKeyUsage) *enroll.Identity {
	t.Helper()
	id, err := enroll.Load(enroll.InDir(dir, certFile, keyFile, RootCertFile))
	if err != nil {
		t.Fatalf("load identity: %v", err)
	}
	info, err := ca.Load(filepath.Join(home, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	if ca.Fingerprint(id.Root) != info.Fingerprint() {
		t.Error("the written root is not the CA's root")
	}
	if len(id.Chain) != 2 || !id.Chain[1].Equal(info.Intermediate) {
		t.Errorf("chain has %d certificates, want leaf + the intermediate", len(id.Chain))
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(info.Root)
	inters.AddCert(info.Intermediate)
	if _, err := id.Leaf().Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{usage},
	}); err != nil {
		t.Errorf("chain does not verify against the root: %v", err)
	}
	if diff := cmp.Diff([]x509.ExtKeyUsage{usage}, id.Leaf().ExtKeyUsage); diff != "" {
		t.Errorf("EKU (-want +got):\n%s", diff)
	}
	return id
}

// recorded reports whether the CA database holds cert.
func recorded(t *testing.T, home string, cert *x509.Certificate) bool {
	t.Helper()
	a, err := ca.Open(filepath.Join(home, "ca"), []byte(testCAPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got, err := a.Certificate(cert.SerialNumber.String())
	return err == nil && got.Equal(cert)
}

func TestEnrollServer(t *testing.T) {
	home := initHome(t)
	stdout, stderr, code := bancoRun(t, pwEnv(), "--home", home, "enroll", "server",
		"--san", "bank.example.org", "--san", "192.168.1.10")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	dir := filepath.Join(home, "server")
	if strings.TrimSpace(stdout) != filepath.Join(dir, ServerCertFile) {
		t.Errorf("stdout %q, want the certificate's path", stdout)
	}
	id := loadIdentity(t, home, dir, ServerCertFile, ServerKeyFile, x509.ExtKeyUsageServerAuth)
	leaf := id.Leaf()
	wantDNS := []string{"banco.local", "localhost", "bank.example.org"}
	if diff := cmp.Diff(wantDNS, leaf.DNSNames); diff != "" {
		t.Errorf("DNS SANs (-want +got):\n%s", diff)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if diff := cmp.Diff([]string{"127.0.0.1", "::1", "192.168.1.10"}, ips); diff != "" {
		t.Errorf("IP SANs (-want +got):\n%s", diff)
	}
	if leaf.Subject.CommonName != "banco.local" {
		t.Errorf("CN %q", leaf.Subject.CommonName)
	}
	days := leaf.NotAfter.Sub(leaf.NotBefore).Hours() / 24
	if days < 365 || days > 365.01 {
		t.Errorf("lasts %.3f days, want 365 (+1 minute backdate)", days)
	}
	for _, want := range []string{"banco.local, localhost, bank.example.org, 127.0.0.1, ::1, " +
		"192.168.1.10", "Next: banco serve", "unencrypted, 0600"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !recorded(t, home, leaf) {
		t.Error("the certificate is not recorded in the CA database")
	}
}

func TestEnrollClient(t *testing.T) {
	home := initHome(t)
	name := "Cliente Premium"
	_, stderr, code := bancoRun(t, pwEnv(), "--home", home, "enroll", "client", name)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	dir := filepath.Join(home, "clients", name)
	id := loadIdentity(t, home, dir, ClientCertFile, ClientKeyFile, x509.ExtKeyUsageClientAuth)
	leaf := id.Leaf()
	if len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) != 0 {
		t.Errorf("client certificate has DNS/IP/email SANs: %v %v %v", leaf.DNSNames,
			leaf.IPAddresses, leaf.EmailAddresses)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != identity.URI(name).String() {
		t.Errorf("URI SANs %v, want %s", leaf.URIs, identity.URI(name))
	}
	if leaf.Subject.CommonName != name {
		t.Errorf("CN %q, want %q", leaf.Subject.CommonName, name)
	}
	if got, err := identity.Customer(leaf); err != nil || got != name {
		t.Errorf("identity.Customer = %q, %v", got, err)
	}
	if !recorded(t, home, leaf) {
		t.Error("the certificate is not recorded in the CA database")
	}

	// --out puts the files elsewhere.
	out := filepath.Join(t.TempDir(), "bob")
	if _, stderr, code := bancoRun(t, pwEnv(), "--home", home, "enroll", "client", "bob",
		"--out", out); code != 0 {
		t.Fatalf("--out: exit %d\n%s", code, stderr)
	}
	loadIdentity(t, home, out, ClientCertFile, ClientKeyFile, x509.ExtKeyUsageClientAuth)
}

func TestEnrollDays(t *testing.T) {
	home := initHome(t)
	info, err := ca.Load(filepath.Join(home, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code := bancoRun(t, pwEnv(), "--home", home, "enroll", "client", "ana",
		"--days", "30")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	id := loadIdentity(t, home, filepath.Join(home, "clients", "ana"), ClientCertFile,
		ClientKeyFile, x509.ExtKeyUsageClientAuth)
	if d := id.Leaf().NotAfter.Sub(id.Leaf().NotBefore).Hours() / 24; d < 30 || d > 30.01 {
		t.Errorf("--days 30 gave %.3f days", d)
	}

	// Past the intermediate (5 years): capped, and said so.
	_, stderr, code = bancoRun(t, pwEnv(), "--home", home, "enroll", "client", "rui",
		"--days", "2500")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	id = loadIdentity(t, home, filepath.Join(home, "clients", "rui"), ClientCertFile,
		ClientKeyFile, x509.ExtKeyUsageClientAuth)
	if !id.Leaf().NotAfter.Equal(info.Intermediate.NotAfter) {
		t.Errorf("not after %v, want the intermediate's %v", id.Leaf().NotAfter,
			info.Intermediate.NotAfter)
	}
	if !strings.Contains(stderr, "past the intermediate CA") {
		t.Errorf("the cap is not reported:\n%s", stderr)
	}

	for _, days := range []string{"0", "-1", "3651", "ten"} {
		_, stderr, code := bancoRun(t, pwEnv(), "--home", home, "enroll", "client", "x",
			"--days", days)
		if code != 2 {
			t.Errorf("--days %s: exit %d, want 2\n%s", days, code, stderr)
		}
	}
}

func TestEnrollErrors(t *testing.T) {
	home := initHome(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"wrong password", map[string]string{"BANCO_PASSWORD": "not it at all"},
			[]string{"enroll", "server"}, []string{"wrong password", "banco init"}},
		{"no password", nil, []string{"enroll", "server"},
			[]string{"--password-file", "BANCO_PASSWORD"}},
		{"client name with a slash", pwEnv(), []string{"enroll", "client", "a/b"},
			[]string{`"a/b"`, "'/'"}},
		{"client name with a space at the end", pwEnv(), []string{"enroll", "client", "ana "},
			[]string{"space"}},
		{"bad SAN", pwEnv(), []string{"enroll", "server", "--san", "x_y"},
			[]string{`"x_y"`, "--san"}},
		{"wildcard name", pwEnv(), []string{"enroll", "server", "--name", "*.banco.local"},
			[]string{"wildcards"}},
		{"no CA", pwEnv(), []string{"--home", t.TempDir(), "enroll", "server"},
			[]string{"no CA in", "banco init"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--home", home}, tc.args...)
			_, stderr, code := bancoRun(t, tc.env, args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, bad := range []string{"pkcs8", "x509:", "decrypt"} {
				if strings.Contains(strings.ToLower(stderr), bad) {
					t.Errorf("stderr shows an internal error %q:\n%s", bad, stderr)
				}
			}
			if entries, _ := os.ReadDir(filepath.Join(home, "clients")); len(entries) > 0 {
				t.Errorf("files written despite the error: %v", entries)
			}
			if _, err := os.Stat(filepath.Join(home, "server")); err == nil {
				t.Error("server files written despite the error")
			}
		})
	}
}

func TestEnrollRefusesOverwrite(t *testing.T) {
	home := initHome(t)
	if _, stderr, code := bancoRun(t, pwEnv(), "--home", home, "enroll", "server"); code != 0 {
		t.Fatalf("enroll: %s", stderr)
	}
	certPath := filepath.Join(home, "server", ServerCertFile)
	before, _ := os.ReadFile(certPath)

	// One file missing is not enough: nothing is written while any exists.
	os.Remove(filepath.Join(home, "server", RootCertFile))
	_, stderr, code := bancoRun(t, pwEnv(), "--home", home, "enroll", "server")
	if code != 1 || !strings.Contains(stderr, "already exist") ||
		!strings.Contains(stderr, "--force") {
		t.Errorf("second enroll: exit %d\n%s", code, stderr)
	}
	if after, _ := os.ReadFile(certPath); !slices.Equal(before, after) {
		t.Error("a refused enroll changed server.crt")
	}
	if _, err := os.Stat(filepath.Join(home, "server", RootCertFile)); err == nil {
		t.Error("a refused enroll wrote root_ca.crt")
	}

	if _, stderr, code := bancoRun(t, pwEnv(), "--home", home, "enroll", "server",
		"--force"); code != 0 {
		t.Fatalf("enroll --force: %s", stderr)
	}
	if after, _ := os.ReadFile(certPath); slices.Equal(before, after) {
		t.Error("enroll --force did not replace server.crt")
	}
}

func TestEnrollRefusesReadableCAKey(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits do not apply on Windows")
	}
	home := initHome(t)
	key := filepath.Join(home, "ca", ca.IntermediateKeyFile)
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := bancoRun(t, pwEnv(), "--home", home, "enroll", "server")
	if code != 1 || !strings.Contains(stderr, "chmod 600 "+key) {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

// TestEnrollNameHints: a name in pieces was most likely split by the shell,
// so the hint shows it quoted; a bad name in one piece gets the rule for
// names instead. banco ca token reads names the same way.
func TestEnrollNameHints(t *testing.T) {
	home := initHome(t)
	rule := "banco: hint: a customer name is 1 to 64 bytes of letters, digits, spaces and " +
		". _ - @, such as alice or \"Ana Lima\"\n"
	long := strings.Repeat("a", 200)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"name in two pieces", []string{"enroll", "client", "Ana", "Lima"}, 2,
			"banco: error: banco enroll client takes exactly one NAME, got 2: Ana Lima\n" +
				"banco: hint: quote a name with spaces: banco enroll client \"Ana Lima\"\n" +
				"usage: banco enroll client NAME [flags]\n" +
				"run 'banco enroll client --help' for more\n"},
		{"token name in two pieces", []string{"ca", "token", "Ana", "Lima", "--client"}, 2,
			"banco: error: banco ca token takes exactly one NAME, got 2: Ana Lima\n" +
				"banco: hint: quote a name with spaces: banco ca token \"Ana Lima\"\n" +
				"usage: banco ca token NAME (--client | --server | --revoke) [flags]\n" +
				"run 'banco ca token --help' for more\n"},
		{"path", []string{"enroll", "client", "../x"}, 1,
			"banco: error: customer name \"../x\" has the character '/'; use letters, digits, " +
				"spaces and . _ - @\n" + rule},
		{"too long", []string{"enroll", "client", long}, 1,
			"banco: error: customer name \"" + long + "\" is longer than 64 bytes\n" + rule},
		{"distinguished name", []string{"ca", "token", "CN=evil,O=x", "--client"}, 1,
			"banco: error: customer name \"CN=evil,O=x\" has the character '='; use letters, " +
				"digits, spaces and . _ - @\n" + rule},
		{"dot dot", []string{"ca", "token", "..", "--client"}, 1,
			"banco: error: customer name \"..\" is not allowed\n" + rule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := bancoRun(t, pwEnv(), append([]string{"--home", home},
				tt.args...)...)
			if code != tt.code || out != "" || stderr != tt.stderr {
				t.Errorf("banco %s: exit %d (want %d), stdout %q, stderr:\n%s\nwant:\n%s",
					strings.Join(tt.args, " "), code, tt.code, out, stderr, tt.stderr)
			}
		})
	}
}
