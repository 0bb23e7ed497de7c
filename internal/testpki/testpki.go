// Package testpki makes throw-away certificate authorities for tests: a root,
// an intermediate and leaf certificates (server, client, expired, wrong key
// usage), all ECDSA P-256 and held in memory, with helpers that write them as
// PEM files in banco's file layout. It is for tests only: keys are not
// protected and nothing is recorded in a CA database.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/banco/banco/internal/identity"
)

// File names of banco's identity folders; they match those in cmd/home.go,
// which a library cannot import.
const (
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
	ClientCertFile = "client.crt"
	ClientKeyFile  = "client.key"
	RootCertFile   = "root_ca.crt"
)

// Cert is a certificate with its private key and the chain up to, but not
// including, the root.
type Cert struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate // Cert first, then the intermediate (for leaves)
}

// CertPEM returns the chain as PEM blocks, leaf first.
func (c *Cert) CertPEM() []byte {
	var out []byte
	for _, x := range c.Chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})...)
	}
	return out
}

// KeyPEM returns the private key as an unencrypted PKCS#8 PEM block.
func (c *Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic("testpki: marshal key: " + err.Error()) // cannot happen for ECDSA keys
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TLS returns the certificate as a tls.Certificate with its chain.
func (c *Cert) TLS() tls.Certificate {
	tc := tls.Certificate{PrivateKey: c.Key, Leaf: c.Cert}
	for _, x := range c.Chain {
		tc.Certificate = append(tc.Certificate, x.Raw)
	}
	return tc
}

// WriteFiles writes the chain to certPath (0644) and the key to keyPath
// (0600), creating their folders.
func (c *Cert) WriteFiles(tb testing.TB, certPath, keyPath string) {
	tb.Helper()
	writeFile(tb, certPath, c.CertPEM(), 0o644)
	writeFile(tb, keyPath, c.KeyPEM(), 0o600)
}

// PKI is a two-tier test CA.
type PKI struct {
	Root         *Cert
	Intermediate *Cert
	Now          time.Time // the moment leaves are issued around
}

// New makes a root and an intermediate named after name ("banco test"), valid
// from an hour ago for ten years.
func New(tb testing.TB, name string) *PKI {
	tb.Helper()
	now := time.Now()
	root := sign(tb, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " Root CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}, nil)
	inter := sign(tb, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " Intermediate CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}, root)
	return &PKI{Root: root, Intermediate: inter, Now: now}
}

// Pool returns a pool holding only the root.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Root.Cert)
	return pool
}

// RootPEM returns the root certificate as PEM.
func (p *PKI) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Cert.Raw})
}

// Leaf describes a leaf certificate to issue.
type Leaf struct {
	CommonName  string
	DNSNames    []string
	IPs         []net.IP
	Customer    string // if set, the identity URI SAN of that customer
	ExtKeyUsage []x509.ExtKeyUsage
	NotBefore   time.Time // zero: an hour before p.Now
	NotAfter    time.Time // zero: 30 days after p.Now
}

// Issue signs a leaf with the intermediate.
func (p *PKI) Issue(tb testing.TB, l Leaf) *Cert {
	tb.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: l.CommonName},
		DNSNames:    l.DNSNames,
		IPAddresses: l.IPs,
		NotBefore:   l.NotBefore,
		NotAfter:    l.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: l.ExtKeyUsage,
	}
	if l.Customer != "" {
		tmpl.URIs = append(tmpl.URIs, identity.URI(l.Customer))
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = p.Now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = p.Now.AddDate(0, 0, 30)
	}
	// A chain stops below the root: servers and clients send leaf and
	// intermediate, and the peer holds the root.
	c := sign(tb, tmpl, p.Intermediate)
	c.Chain = append(c.Chain, p.Intermediate.Cert)
	return c
}

// Server issues a serverAuth certificate for names (host names or IP
// addresses); with no names, for banco.local, localhost, 127.0.0.1 and ::1.
func (p *PKI) Server(tb testing.TB, names ...string) *Cert {
	tb.Helper()
	if len(names) == 0 {
		names = []string{"banco.local", "localhost", "127.0.0.1", "::1"}
	}
	l := Leaf{CommonName: names[0], ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			l.IPs = append(l.IPs, ip)
		} else {
			l.DNSNames = append(l.DNSNames, n)
		}
	}
	return p.Issue(tb, l)
}

// Client issues a clientAuth certificate for customer name, named as banco's
// CA names customers (common name and identity URI SAN).
func (p *PKI) Client(tb testing.TB, name string) *Cert {
	tb.Helper()
	return p.Issue(tb, Leaf{
		CommonName:  name,
		Customer:    name,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// ExpiredClient issues a client certificate for name that expired a day
// before p.Now.
func (p *PKI) ExpiredClient(tb testing.TB, name string) *Cert {
	tb.Helper()
	return p.Issue(tb, Leaf{
		CommonName:  name,
		Customer:    name,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore:   p.Now.AddDate(0, 0, -30),
		NotAfter:    p.Now.AddDate(0, 0, -1),
	})
}

// WriteServer writes c, its key and the root into dir as banco serve expects
// them (server.crt, server.key, root_ca.crt).
func (p *PKI) WriteServer(tb testing.TB, dir string, c *Cert) {
	tb.Helper()
	c.WriteFiles(tb, filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFile))
	writeFile(tb, filepath.Join(dir, RootCertFile), p.RootPEM(), 0o644)
}

// WriteClient writes c, its key and the root into dir as the bank client
// expects them (client.crt, client.key, root_ca.crt).
func (p *PKI) WriteClient(tb testing.TB, dir string, c *Cert) {
	tb.Helper()
	c.WriteFiles(tb, filepath.Join(dir, ClientCertFile), filepath.Join(dir, ClientKeyFile))
	writeFile(tb, filepath.Join(dir, RootCertFile), p.RootPEM(), 0o644)
}

// sign makes a key for tmpl and signs it with parent, or self-signs when
// parent is nil.
func sign(tb testing.TB, tmpl *x509.Certificate, parent *Cert) *Cert {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("testpki: generate key: %v", err)
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		tb.Fatalf("testpki: serial: %v", err)
	}
	tmpl.SerialNumber = sn.Add(sn, big.NewInt(1))
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		tb.Fatalf("testpki: sign %s: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("testpki: parse %s: %v", tmpl.Subject.CommonName, err)
	}
	c := &Cert{Cert: cert, Key: key, Chain: []*x509.Certificate{cert}}
	return c
}

func writeFile(tb testing.TB, path string, data []byte, perm os.FileMode) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		tb.Fatal(err)
	}
}
