package testpki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/banco/banco/internal/identity"
)

func TestLeavesVerify(t *testing.T) {
	p := New(t, "test")
	inter := x509.NewCertPool()
	inter.AddCert(p.Intermediate.Cert)
	verify := func(c *Cert, usage x509.ExtKeyUsage) error {
		_, err := c.Cert.Verify(x509.VerifyOptions{
			Roots: p.Pool(), Intermediates: inter, CurrentTime: p.Now,
			KeyUsages: []x509.ExtKeyUsage{usage},
		})
		return err
	}
	srv := p.Server(t)
	if err := verify(srv, x509.ExtKeyUsageServerAuth); err != nil {
		t.Errorf("server: %v", err)
	}
	if err := srv.Cert.VerifyHostname("banco.local"); err != nil {
		t.Errorf("server name: %v", err)
	}
	if err := verify(srv, x509.ExtKeyUsageClientAuth); err == nil {
		t.Errorf("server certificate verified for clientAuth")
	}
	cli := p.Client(t, "alice")
	if err := verify(cli, x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("client: %v", err)
	}
	if name, err := identity.Customer(cli.Cert); err != nil || name != "alice" {
		t.Errorf("client customer = %q, %v", name, err)
	}
	if err := verify(p.ExpiredClient(t, "old"), x509.ExtKeyUsageClientAuth); err == nil {
		t.Errorf("expired client verified")
	}
	if len(cli.Chain) != 2 || len(p.Intermediate.Chain) != 1 || len(p.Root.Chain) != 1 {
		t.Errorf("chain lengths: leaf %d, intermediate %d, root %d",
			len(cli.Chain), len(p.Intermediate.Chain), len(p.Root.Chain))
	}
	other := New(t, "other")
	if _, err := other.Client(t, "eve").Cert.Verify(x509.VerifyOptions{Roots: p.Pool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Errorf("other CA's client verified")
	}
}

func TestWriteClient(t *testing.T) {
	p := New(t, "test")
	dir := filepath.Join(t.TempDir(), "clients", "alice")
	p.WriteClient(t, dir, p.Client(t, "alice"))
	for _, f := range []string{ClientCertFile, ClientKeyFile, RootCertFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := p.Client(t, "bob").TLS().Leaf.Verify(x509.VerifyOptions{}); err == nil {
		t.Errorf("verified without roots")
	}
}
