package identity

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"testing"
)

func TestURIRoundTrip(t *testing.T) {
	for _, name := range []string{"alice", "Cliente Premium", "josé.ñ-1@x", "a_b"} {
		u, err := url.Parse(URI(name).String())
		if err != nil {
			t.Fatalf("%q: parse %s: %v", name, URI(name), err)
		}
		got, err := Customer(&x509.Certificate{URIs: []*url.URL{u}})
		if err != nil || got != name {
			t.Errorf("Customer(URI(%q)) = %q, %v", name, got, err)
		}
	}
}

func TestCustomerPrefersURIOverCommonName(t *testing.T) {
	cert := &x509.Certificate{
		Subject: pkix.Name{CommonName: "mallory"},
		URIs:    []*url.URL{URI("alice")},
	}
	if got, err := Customer(cert); err != nil || got != "alice" {
		t.Fatalf("Customer = %q, %v; want alice", got, err)
	}
}

func TestCustomerWithoutName(t *testing.T) {
	if _, err := Customer(&x509.Certificate{}); err != ErrNoCustomer {
		t.Fatalf("err = %v, want ErrNoCustomer", err)
	}
}

func TestCheckName(t *testing.T) {
	for _, bad := range []string{"", " a", "a ", "a/b", `a\b`, "..", ".", "a\x00", "a\nb",
		"0123456789012345678901234567890123456789012345678901234567890123456789"} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"alice", "Cliente Premium", "bob.smith@x", "ñandú-2"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
}
