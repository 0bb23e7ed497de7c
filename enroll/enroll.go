// Package enroll gets a banco identity: it makes the leaf key on the
// enrolling side (the key never leaves this process), builds the certificate
// request, has it signed through a Signer, and writes the certificate chain,
// key and root where the server or client will look for them.
//
// How the request gets signed is behind Signer: Local signs through a CA
// opened in this process; a remote signer talks to banco ca serve with a
// one-time token. Checking names, making keys and writing files are the same
// for both.
package enroll

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/x509util"

	"github.com/banco/banco/ca"
)

// Request says which identity to enroll.
type Request struct {
	Kind ca.Kind
	// Name is the server's main DNS name, or the customer's name.
	Name string
	// SANs are the server's names and addresses (see ServerSANs); for a client
	// they are made from Name and this field is ignored.
	SANs []string
	// NotAfter is the requested end of validity; zero lets the CA choose.
	NotAfter time.Time
}

// SignRequest is what a Signer gets: a certificate request and the exact
// subject and SANs it must carry.
type SignRequest struct {
	Kind     ca.Kind
	Subject  string
	SANs     []string
	CSR      *x509.CertificateRequest
	NotAfter time.Time
}

// Signed is a Signer's answer: the chain (leaf first, then intermediates)
// and the root it leads to.
type Signed struct {
	Chain []*x509.Certificate
	Root  *x509.Certificate
}

// Signer gets certificate requests signed.
type Signer interface {
	Sign(ctx context.Context, req *SignRequest) (*Signed, error)
}

// Identity is an enrolled certificate with its private key.
type Identity struct {
	Kind  ca.Kind
	Chain []*x509.Certificate // leaf first
	Root  *x509.Certificate
	Key   crypto.Signer
}

// Leaf is the identity's own certificate.
func (id *Identity) Leaf() *x509.Certificate { return id.Chain[0] }

// Local signs through a CA opened in this process, so that the certificate
// is recorded in the CA's database.
type Local struct {
	CA *ca.Authority
}

// Sign implements Signer.
func (l Local) Sign(ctx context.Context, req *SignRequest) (*Signed, error) {
	chain, err := l.CA.Issue(ctx, ca.IssueRequest{
		Kind: req.Kind, CSR: req.CSR, Subject: req.Subject, SANs: req.SANs,
		NotAfter: req.NotAfter,
	})
	if err != nil {
		return nil, err
	}
	return &Signed{Chain: chain, Root: l.CA.Root()}, nil
}

// New checks req, makes a fresh ECDSA P-256 key, and has a certificate for
// it signed by s.
func New(ctx context.Context, s Signer, req Request) (*Identity, error) {
	subject, sans, err := Names(req)
	if err != nil {
		return nil, err
	}
	key, err := keyutil.GenerateSigner("EC", "P-256", 0)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	csr, err := x509util.CreateCertificateRequest(subject, sans, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate request: %w", err)
	}
	signed, err := s.Sign(ctx, &SignRequest{
		Kind: req.Kind, Subject: subject, SANs: sans, CSR: csr, NotAfter: req.NotAfter,
	})
	if err != nil {
		return nil, err
	}
	if err := check(signed, key, req.Kind); err != nil {
		return nil, err
	}
	return &Identity{Kind: req.Kind, Chain: signed.Chain, Root: signed.Root, Key: key}, nil
}

// check makes sure the signer gave back a certificate for our key, of the
// kind asked for, that chains to the root it named.
func check(s *Signed, key crypto.Signer, kind ca.Kind) error {
	if s == nil || len(s.Chain) == 0 || s.Root == nil {
		return errors.New("the CA returned no certificate")
	}
	leaf := s.Chain[0]
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return errors.New("the CA returned a certificate for another key")
	}
	roots := x509.NewCertPool()
	roots.AddCert(s.Root)
	inters := x509.NewCertPool()
	for _, c := range s.Chain[1:] {
		inters.AddCert(c)
	}
	usage := x509.ExtKeyUsageServerAuth
	if kind == ca.KindClient {
		usage = x509.ExtKeyUsageClientAuth
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return fmt.Errorf("check the new certificate: %w", err)
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
