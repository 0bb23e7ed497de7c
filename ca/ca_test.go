package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testPassword = []byte("correct horse battery")

func newCA(t *testing.T, kt KeyType) *Info {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	info, err := Init(InitOptions{Dir: dir, KeyType: kt, Password: testPassword})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return info
}

func openCA(t *testing.T, dir string) *Authority {
	t.Helper()
	a, err := Open(dir, testPassword)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func csrFor(t *testing.T, cn string, dns []string, ips []net.IP,
	uris []*url.URL) *x509.CertificateRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn}, DNSNames: dns, IPAddresses: ips, URIs: uris,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func TestInitEachKeyType(t *testing.T) {
	for _, kt := range []KeyType{KeyEC, KeyRSA, KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			info := newCA(t, kt)
			if !info.Encrypted {
				t.Error("keys not encrypted")
			}
			root, inter := info.Root, info.Intermediate
			if err := inter.CheckSignatureFrom(root); err != nil {
				t.Errorf("intermediate not signed by root: %v", err)
			}
			years := func(c *x509.Certificate) int {
				return int(c.NotAfter.Sub(c.NotBefore).Hours()/24/365 + 0.5)
			}
			if y := years(root); y != RootYears {
				t.Errorf("root lasts %d years, want %d", y, RootYears)
			}
			if y := years(inter); y != IntermediateYears {
				t.Errorf("intermediate lasts %d years, want %d", y, IntermediateYears)
			}
			if !inter.IsCA || inter.MaxPathLen != 0 || !inter.MaxPathLenZero {
				t.Errorf("intermediate constraints: CA %v, path len %d", inter.IsCA, inter.MaxPathLen)
			}
			want := map[KeyType]x509.PublicKeyAlgorithm{
				KeyEC: x509.ECDSA, KeyRSA: x509.RSA, KeyEd25519: x509.Ed25519,
			}[kt]
			if root.PublicKeyAlgorithm != want || inter.PublicKeyAlgorithm != want {
				t.Errorf("key algorithms %v/%v, want %v", root.PublicKeyAlgorithm,
					inter.PublicKeyAlgorithm, want)
			}
			for _, p := range []string{info.RootKey, info.IntermediateKey} {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if block, _ := pem.Decode(b); block == nil || block.Type != "ENCRYPTED PRIVATE KEY" {
					t.Errorf("%s is not a PKCS#8 encrypted key", p)
				}
			}
			cfg, err := os.ReadFile(info.Config)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(cfg), string(testPassword)) {
				t.Error("the password is in ca.json")
			}

			// The intermediate can issue with this key type.
			a := openCA(t, info.Dir)
			chain, err := a.Issue(context.Background(), IssueRequest{
				Kind: KindServer, Subject: "banco.local", SANs: []string{"banco.local"},
				CSR: csrFor(t, "banco.local", []string{"banco.local"}, nil, nil),
			})
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if err := chain[0].CheckSignatureFrom(inter); err != nil {
				t.Errorf("leaf not signed by intermediate: %v", err)
			}
		})
	}
}

func TestOpenPasswords(t *testing.T) {
	info := newCA(t, KeyEC)
	if _, err := Open(info.Dir, nil); !errors.Is(err, ErrPasswordRequired) {
		t.Errorf("no password: %v, want ErrPasswordRequired", err)
	}
	if _, err := Open(info.Dir, []byte("wrong password")); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password: %v, want ErrWrongPassword", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none"), testPassword); !errors.Is(err, ErrNoCA) {
		t.Errorf("no CA: %v, want ErrNoCA", err)
	}
	a := openCA(t, info.Dir)
	a.Close()
}

func TestInsecureCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	info, err := Init(InitOptions{Dir: dir, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if info.Encrypted {
		t.Error("insecure CA reports encrypted keys")
	}
	b, _ := os.ReadFile(info.IntermediateKey)
	if block, _ := pem.Decode(b); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("insecure key is not plain PKCS#8")
	}
	need, err := NeedsPassword(dir)
	if err != nil || need {
		t.Errorf("NeedsPassword = %v, %v; want false", need, err)
	}
	a, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("Open insecure CA: %v", err)
	}
	defer a.Close()
	if _, err := a.Token(TokenRequest{Kind: KindClient, Subject: "alice"}); err != nil {
		t.Errorf("Token from insecure CA: %v", err)
	}
	if _, err := Init(InitOptions{Dir: t.TempDir() + "/x"}); !errors.Is(err, ErrPasswordRequired) {
		t.Errorf("Init without password or Insecure: %v", err)
	}
}

func TestInitRefusesOverwrite(t *testing.T) {
	info := newCA(t, KeyEC)
	_, err := Init(InitOptions{Dir: info.Dir, Password: testPassword})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second Init: %v, want ErrExists", err)
	}
	again, err := Load(info.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(again.Root) != info.Fingerprint() {
		t.Fatal("refused Init changed the root")
	}
	forced, err := Init(InitOptions{Dir: info.Dir, Password: testPassword, Force: true})
	if err != nil {
		t.Fatalf("forced Init: %v", err)
	}
	if forced.Fingerprint() == info.Fingerprint() {
		t.Error("forced Init kept the old root")
	}
	old, err := Load(forced.Replaced)
	if err != nil {
		t.Fatalf("the replaced CA is not kept in %s: %v", forced.Replaced, err)
	}
	if Fingerprint(old.Root) != info.Fingerprint() {
		t.Error("the kept CA is not the old one")
	}
}

func TestIssueRecordsAndCaps(t *testing.T) {
	info := newCA(t, KeyEC)
	a := openCA(t, info.Dir)
	uri, _ := url.Parse("urn:banco:customer:Cliente%20Premium")
	chain, err := a.Issue(context.Background(), IssueRequest{
		Kind: KindClient, Subject: "Cliente Premium", SANs: []string{uri.String()},
		CSR:      csrFor(t, "Cliente Premium", nil, nil, []*url.URL{uri}),
		NotAfter: time.Now().AddDate(20, 0, 0),
	})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	leaf := chain[0]
	if !leaf.NotAfter.Equal(info.Intermediate.NotAfter) {
		t.Errorf("leaf ends %v, want capped at the intermediate's %v", leaf.NotAfter,
			info.Intermediate.NotAfter)
	}
	if diff := cmp.Diff([]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage); diff != "" {
		t.Errorf("EKU (-want +got):\n%s", diff)
	}
	if len(leaf.DNSNames) != 0 || len(leaf.URIs) != 1 || leaf.URIs[0].String() != uri.String() {
		t.Errorf("SANs: DNS %q, URIs %v", leaf.DNSNames, leaf.URIs)
	}
	if back := time.Since(leaf.NotBefore); back < 30*time.Second {
		t.Errorf("not-before is not backdated: %v", leaf.NotBefore)
	}
	got, err := a.db.GetCertificate(leaf.SerialNumber.String())
	if err != nil || !got.Equal(leaf) {
		t.Errorf("certificate not in the CA database: %v", err)
	}
}

func TestIssueRefusesMismatchedCSR(t *testing.T) {
	info := newCA(t, KeyEC)
	a := openCA(t, info.Dir)
	_, err := a.Issue(context.Background(), IssueRequest{
		Kind: KindServer, Subject: "banco.local", SANs: []string{"banco.local"},
		CSR: csrFor(t, "banco.local", []string{"banco.local", "evil.example"}, nil, nil),
	})
	if err == nil {
		t.Fatal("a CSR with more SANs than asked for was signed")
	}
}

func TestGroupFingerprint(t *testing.T) {
	fp := strings.Repeat("0123456789abcdef", 4)
	want := "0123 4567 89ab cdef 0123 4567 89ab cdef\n" +
		"0123 4567 89ab cdef 0123 4567 89ab cdef"
	if got := GroupFingerprint(fp); got != want {
		t.Errorf("GroupFingerprint:\n%s\nwant\n%s", got, want)
	}
}

func TestRecordedURLGivesCRLDistributionPoint(t *testing.T) {
	info := newCA(t, KeyEC)
	if err := SaveURL(info.Dir, "https://ca.banco.local:9000", ":9000"); err != nil {
		t.Fatal(err)
	}
	a := openCA(t, info.Dir)
	chain, err := a.Issue(context.Background(), IssueRequest{
		Kind: KindServer, Subject: "banco.local", SANs: []string{"banco.local"},
		CSR: csrFor(t, "banco.local", []string{"banco.local"}, nil, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://ca.banco.local:9000/1.0/crl"}
	if diff := cmp.Diff(want, chain[0].CRLDistributionPoints); diff != "" {
		t.Errorf("CRL distribution points (-want +got):\n%s", diff)
	}
}

func TestOpenWhileOpenIsLocked(t *testing.T) {
	info := newCA(t, KeyEC)
	openCA(t, info.Dir)
	if _, err := Open(info.Dir, testPassword); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	// Tokens need no database.
	m, err := NewMinter(info.Dir, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Token(TokenRequest{Kind: KindClient, Subject: "ana",
		SANs: []string{"urn:banco:customer:ana"}}); err != nil {
		t.Errorf("Token while the CA is open elsewhere: %v", err)
	}
	bad, err := NewMinter(info.Dir, []byte("wrong password"))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Token(TokenRequest{Kind: KindClient, Subject: "ana"}); !errors.Is(err,
		ErrWrongPassword) {
		t.Errorf("Token with a wrong password: %v, want ErrWrongPassword", err)
	}
}
