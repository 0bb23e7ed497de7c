package banksrv

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/banco/banco/internal/identity"
	"github.com/banco/banco/internal/secfile"
)

// TLSOptions are the parts of the server's TLS configuration that change from
// one deployment to another; everything else is fixed by NewTLSConfig.
type TLSOptions struct {
	// GetCertificate returns the server's certificate chain for a handshake.
	// A CertHolder's method fits, and lets a renewer swap the certificate
	// without a restart.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)

	// ClientCAs holds the roots that client certificates must chain to.
	ClientCAs *x509.CertPool

	// CheckClient, if set, is called with every verified client chain
	// (leaf first), on full handshakes and on resumed sessions alike, after
	// the signature, dates and key usage are checked. Returning an error
	// refuses the connection; it is the place for a revocation check.
	CheckClient func(chain []*x509.Certificate) error

	// Now is the clock used to check certificate dates; nil means time.Now.
	Now func() time.Time
}

// tls12Suites are the only TLS 1.2 cipher suites the server accepts: ECDHE for
// forward secrecy and AEAD ciphers (RFC 7525, section 4.2). TLS 1.3 suites are
// all AEAD with ephemeral key exchange and are not configurable in Go.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// NewTLSConfig returns the bank's TLS configuration: TLS 1.2 or 1.3 (Go
// picks 1.3 when the client offers it), a client certificate required and
// verified against o.ClientCAs, the clientAuth extended key usage present in
// it explicitly, and the certificate naming a customer.
func NewTLSConfig(o TLSOptions) (*tls.Config, error) {
	if o.GetCertificate == nil {
		return nil, errors.New("tls config: no server certificate")
	}
	if o.ClientCAs == nil {
		return nil, errors.New("tls config: no client CA")
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     tls12Suites,
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        o.ClientCAs,
		GetCertificate:   o.GetCertificate,
		NextProtos:       []string{"http/1.1"},
		Time:             o.Now,
		VerifyConnection: verifyClient(o.CheckClient),
	}, nil
}

// verifyClient adds banco's own rules to Go's chain verification. Go accepts
// a client leaf with no extended key usage at all (RFC 5280, section 4.2.1.12
// reads that as "any"); banco requires clientAuth to be named.
func verifyClient(check func([]*x509.Certificate) error) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
			return errors.New("client certificate not verified")
		}
		chain := cs.VerifiedChains[0]
		leaf := chain[0]
		if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
			return fmt.Errorf("client certificate %q (serial %s) lacks the clientAuth usage",
				leaf.Subject, serialText(leaf))
		}
		if _, err := identity.Customer(leaf); err != nil {
			return fmt.Errorf("client certificate %q (serial %s): %w",
				leaf.Subject, serialText(leaf), err)
		}
		if check != nil {
			return check(chain)
		}
		return nil
	}
}

// CertHolder holds the server's current certificate and hands it to every
// handshake; Set swaps it atomically, so a renewed certificate takes effect
// on the next handshake while open connections go on.
type CertHolder struct {
	p atomic.Pointer[tls.Certificate]
}

// NewCertHolder returns a CertHolder holding c.
func NewCertHolder(c *tls.Certificate) *CertHolder {
	h := &CertHolder{}
	h.Set(c)
	return h
}

// Set replaces the certificate for the handshakes that follow.
func (h *CertHolder) Set(c *tls.Certificate) { h.p.Store(c) }

// Certificate returns the current certificate.
func (h *CertHolder) Certificate() *tls.Certificate { return h.p.Load() }

// GetCertificate fits tls.Config.GetCertificate.
func (h *CertHolder) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := h.p.Load()
	if c == nil {
		return nil, errors.New("no server certificate loaded")
	}
	return c, nil
}

// LoadKeyPair reads a certificate chain (leaf first) and its private key,
// refusing a key file that others can read. Errors wrap the cause, so
// errors.Is(err, fs.ErrNotExist) tells a missing file.
func LoadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := secfile.ReadPrivate(keyFile)
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load key pair %s, %s: %w", certFile, keyFile, err)
	}
	return &c, nil // Go 1.23+ fills c.Leaf
}

// LoadRoots reads a PEM file of one or more CA certificates.
func LoadRoots(path string) (*x509.CertPool, []*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parse CA certificate %s: %w", path, err)
		}
		pool.AddCert(c)
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("read CA certificate %s: no PEM certificate in it", path)
	}
	return pool, certs, nil
}

// Fingerprint returns the lower-case hex SHA-256 of a certificate's DER, the
// form smallstep and banco init print.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// serialText gives a serial in decimal, the form banco enroll, banco certs
// and banco revoke use, so a serial from the log can be revoked as it is.
func serialText(c *x509.Certificate) string {
	if c.SerialNumber == nil {
		return ""
	}
	return c.SerialNumber.String()
}
