package enroll

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/banco/banco/ca"
)

func TestDBCheckerUsesCRLWhileCAServes(t *testing.T) {
	o := startCA(t) // holds the CA database, as banco ca serve does
	alice, _ := o.enrollClient(t, "alice")
	d := NewDBChecker(o.a.Info().Dir, nil)
	d.Refresh = 0
	d.NewCRL = func() *CRLChecker {
		return NewCRLChecker(ca.CRLURL(o.url), o.a.Root(), o.a.Intermediate())
	}
	ctx := context.Background()
	if r, err := d.IsRevoked(ctx, alice.Leaf().SerialNumber); err != nil || r {
		t.Fatalf("before revocation: %v, %v", r, err)
	}
	if d.CRLInUse() == nil {
		t.Error("the database is held, yet the checker does not use the CRL")
	}
	if err := o.a.Revoke(ctx, alice.Leaf().SerialNumber.String(), 1, ""); err != nil {
		t.Fatal(err)
	}
	if r, err := d.IsRevoked(ctx, alice.Leaf().SerialNumber); err != nil || !r {
		t.Errorf("after revocation: %v, %v; want revoked", r, err)
	}
}

func TestCRLCheckerCacheFile(t *testing.T) {
	o := startCA(t)
	alice, _ := o.enrollClient(t, "alice")
	ctx := context.Background()
	if err := o.a.Revoke(ctx, alice.Leaf().SerialNumber.String(), 1, ""); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "ca.crl")
	c := NewCRLChecker(ca.CRLURL(o.url), o.a.Root(), o.a.Intermediate())
	c.CacheFile = cache
	if err := c.Update(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("no copy kept: %v", err)
	}

	// A checker that cannot reach its CA answers from the copy.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "https://" + ln.Addr().String() + "/1.0/crl"
	ln.Close()
	down := NewCRLChecker(dead, o.a.Root(), o.a.Intermediate())
	down.CacheFile = cache
	if r, err := down.IsRevoked(ctx, alice.Leaf().SerialNumber); err != nil || !r {
		t.Errorf("from the copy: %v, %v; want revoked", r, err)
	}

	// A copy not signed by the issuer is not used.
	other := startCA(t)
	forged := NewCRLChecker(dead, other.a.Root(), other.a.Intermediate())
	forged.CacheFile = cache
	if _, err := forged.IsRevoked(ctx, alice.Leaf().SerialNumber); err == nil {
		t.Error("a copy signed by another CA was used")
	}
}
