package enroll

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/banco/banco/ca"
	"github.com/banco/banco/internal/secfile"
)

func TestServerSANs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  []string
		bad   bool
	}{
		{"", nil, []string{"banco.local", "localhost", "127.0.0.1", "::1"}, false},
		{"Bank.Example", []string{"LOCALHOST", "0:0::1", "10.0.0.1"},
			[]string{"bank.example", "localhost", "127.0.0.1", "::1", "10.0.0.1"}, false},
		{"*.banco.local", nil, nil, true},
		{"banco.local.", nil, nil, true},
		{"-x.local", nil, nil, true},
		{"banco.local", []string{"a b"}, nil, true},
		{"banco.local", []string{""}, nil, true},
	} {
		got, err := ServerSANs(tc.name, tc.extra)
		var ne *NameError
		if tc.bad {
			if !errors.As(err, &ne) {
				t.Errorf("ServerSANs(%q, %q): %v, want a *NameError", tc.name, tc.extra, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ServerSANs(%q, %q): %v", tc.name, tc.extra, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ServerSANs(%q, %q) (-want +got):\n%s", tc.name, tc.extra, diff)
		}
	}
}

func TestClientNames(t *testing.T) {
	subject, sans, err := Names(Request{Kind: ca.KindClient, Name: "Ana Lima", SANs: []string{"x.y"}})
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Ana Lima" || len(sans) != 1 || sans[0] != "urn:banco:customer:Ana%20Lima" {
		t.Errorf("Names = %q, %q", subject, sans)
	}
	var ne *NameError
	if _, _, err := Names(Request{Kind: ca.KindClient, Name: "../etc"}); !errors.As(err, &ne) {
		t.Errorf("a name with '/' : %v", err)
	}
}

func TestNewWriteLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	pw := []byte("enroll test password")
	if _, err := ca.Init(ca.InitOptions{Dir: dir, Password: pw}); err != nil {
		t.Fatal(err)
	}
	auth, err := ca.Open(dir, pw)
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()

	id, err := New(context.Background(), Local{CA: auth}, Request{Kind: ca.KindServer})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got := id.Leaf().ExtKeyUsage; len(got) != 1 || got[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("EKU %v", got)
	}

	out := filepath.Join(t.TempDir(), "srv")
	p := InDir(out, "server.crt", "server.key", "root_ca.crt")
	if err := id.Write(p, false); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := secfile.CheckPrivate(p.Key); err != nil {
		t.Errorf("key file: %v", err)
	}
	back, err := Load(p)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !back.Leaf().Equal(id.Leaf()) || !back.Root.Equal(auth.Root()) {
		t.Error("Load gave back other certificates")
	}
	var ee *ExistsError
	if err := id.Write(p, false); !errors.As(err, &ee) || !errors.Is(err, secfile.ErrExists) ||
		len(ee.Paths) != 3 {
		t.Errorf("second Write: %v, want an ExistsError naming 3 files", err)
	}
	if runtime.GOOS == "windows" {
		return // Unix permission bits do not apply on Windows
	}
	if err := os.Chmod(p.Key, 0o644); err != nil {
		t.Fatal(err)
	}
	var pe *secfile.PermError
	if _, err := Load(p); !errors.As(err, &pe) {
		t.Errorf("Load with a readable key: %v, want *secfile.PermError", err)
	}
}
