package enroll

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/smallstep/certificates/api"
	stepca "github.com/smallstep/certificates/ca"
	"github.com/smallstep/certificates/errs"
	"go.step.sm/crypto/jose"

	"github.com/banco/banco/ca"
)

// Token is what the enrolling side can read in a one-time token without
// the CA's key: whom it is for and where the CA is. Nothing here is trusted
// until the CA accepts the token.
type Token struct {
	Kind        ca.Kind
	Subject     string
	SANs        []string
	URL         string // the CA's base URL, from the audience
	Fingerprint string // the root's SHA-256, to pin
	Expiry      time.Time
}

// ErrBadToken is wrapped by ParseToken's errors.
var ErrBadToken = errors.New("not a banco enrollment token")

// ParseToken reads tok's claims without checking its signature (only the CA
// can); it checks that it looks like a banco enrollment token.
func ParseToken(tok string) (*Token, error) {
	t, iss, err := parseToken(tok, "/1.0/sign")
	if err != nil {
		return nil, err
	}
	switch iss {
	case ca.ServerProvisioner:
		t.Kind = ca.KindServer
	case ca.ClientProvisioner:
		t.Kind = ca.KindClient
	default:
		return nil, fmt.Errorf("read token: issuer %q: %w", iss, ErrBadToken)
	}
	return t, nil
}

// ParseRevokeToken reads a revocation token like ParseToken; its Subject is
// the decimal serial it may revoke.
func ParseRevokeToken(tok string) (*Token, error) {
	t, _, err := parseToken(tok, "/1.0/revoke")
	return t, err
}

func parseToken(tok, path string) (*Token, string, error) {
	jwt, err := jose.ParseSigned(strings.TrimSpace(tok))
	if err != nil {
		return nil, "", fmt.Errorf("read token: %w", ErrBadToken)
	}
	var c struct {
		jose.Claims
		SANs []string `json:"sans"`
		SHA  string   `json:"sha"`
	}
	if err := jwt.UnsafeClaimsWithoutVerification(&c); err != nil {
		return nil, "", fmt.Errorf("read token: %w", ErrBadToken)
	}
	t := &Token{Subject: c.Subject, SANs: c.SANs, Fingerprint: strings.ToLower(c.SHA)}
	if c.Expiry != nil {
		t.Expiry = c.Expiry.Time()
	}
	if len(c.Audience) != 1 || !strings.HasSuffix(c.Audience[0], path) {
		return nil, "", fmt.Errorf("read token: audience %q: %w", c.Audience, ErrBadToken)
	}
	t.URL = strings.TrimSuffix(c.Audience[0], path)
	return t, c.Issuer, nil
}

// RefusedError is the CA's refusal of a request, with its public message.
// The real reason is in the CA's log.
type RefusedError struct {
	Status int
	Msg    string
}

func (e *RefusedError) Error() string {
	msg := strings.TrimSpace(strings.TrimSuffix(e.Msg, stepLogsHint))
	msg = strings.TrimSuffix(msg, ".")
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.Status))
	} else if r := []rune(msg); len(r) > 1 && unicode.IsUpper(r[0]) && !unicode.IsUpper(r[1]) {
		msg = string(unicode.ToLower(r[0])) + string(r[1:])
	}
	return fmt.Sprintf("the CA refused the request (HTTP %d): %s", e.Status, msg)
}

// stepLogsHint ends the engine's public messages; banco's hints say it
// in their own words.
const stepLogsHint = "Please see the certificate authority logs for more info."

// ErrUnknownRoot is returned when the CA at the URL does not have the root
// whose fingerprint is pinned: the URL leads to another CA, or the token
// or --fingerprint comes from another CA.
var ErrUnknownRoot = errors.New("the CA there does not have the pinned root")

// caError turns the step client's errors into *RefusedError where the CA
// answered, and names the CA otherwise.
func caError(op, caURL string, err error) error {
	var ee *errs.Error
	if errors.As(err, &ee) {
		return fmt.Errorf("%s: %w", op, &RefusedError{Status: ee.StatusCode(), Msg: ee.Message()})
	}
	return fmt.Errorf("%s at %s: %w", op, caURL, err)
}

// CheckFingerprint reports whether fp is a SHA-256 fingerprint in hex
// (spaces and colons allowed) and returns it in banco's form.
func CheckFingerprint(fp string) (string, error) {
	s := strings.ToLower(strings.NewReplacer(" ", "", ":", "", "\n", "").Replace(fp))
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return "", fmt.Errorf("fingerprint %q is not a SHA-256 in hex (64 characters)", fp)
	}
	return s, nil
}

// NewClient returns a client for the online CA at caURL that trusts only
// the root with SHA-256 fingerprint fp (fetched from the CA and checked).
func NewClient(caURL, fp string) (*stepca.Client, error) {
	// Without this the step client looks for identity files under $STEPPATH.
	stepca.DisableIdentity = true
	u, err := url.Parse(caURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("CA URL %q: want https://HOST[:PORT]", caURL)
	}
	c, err := stepca.NewClient(caURL, stepca.WithRootSHA256(fp), stepca.WithTimeout(30*time.Second))
	// The client fetches the root first: 404 when the CA has no such root,
	// 400 when what it sent does not match the fingerprint.
	var ee *errs.Error
	if errors.As(err, &ee) && (ee.StatusCode() == http.StatusNotFound ||
		ee.StatusCode() == http.StatusBadRequest) {
		return nil, fmt.Errorf("connect to the CA at %s: root %s: %w", caURL, fp, ErrUnknownRoot)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to the CA at %s: %w", caURL, err)
	}
	return c, nil
}

// NewClientWithRoot returns a client for the online CA at caURL that trusts
// only root.
func NewClientWithRoot(caURL string, root *x509.Certificate) (*stepca.Client, error) {
	stepca.DisableIdentity = true
	c, err := stepca.NewClient(caURL, stepca.WithCABundle(EncodeCerts(root)),
		stepca.WithTimeout(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to the CA at %s: %w", caURL, err)
	}
	return c, nil
}

// Remote signs through banco ca serve with a one-time token. The key stays
// here: only the certificate request is sent.
type Remote struct {
	Token string
	// URL is the CA's base URL; empty means the one in the token.
	URL string
	// Fingerprint pins the root; empty means the one in the token.
	Fingerprint string
}

// Sign implements Signer.
func (r Remote) Sign(ctx context.Context, req *SignRequest) (*Signed, error) {
	t, err := ParseToken(r.Token)
	if err != nil {
		return nil, err
	}
	caURL := r.URL
	if caURL == "" {
		caURL = t.URL
	}
	fp := r.Fingerprint
	if fp == "" {
		fp = t.Fingerprint
	}
	if fp, err = CheckFingerprint(fp); err != nil {
		return nil, err
	}
	c, err := NewClient(caURL, fp)
	if err != nil {
		return nil, err
	}
	sr := &api.SignRequest{CsrPEM: api.NewCertificateRequest(req.CSR), OTT: r.Token}
	if !req.NotAfter.IsZero() {
		sr.NotAfter = api.NewTimeDuration(req.NotAfter)
	}
	resp, err := c.SignWithContext(ctx, sr)
	if err != nil {
		return nil, caError("enroll", caURL, err)
	}
	root, err := c.RootWithContext(ctx, fp)
	if err != nil {
		return nil, caError("fetch the root", caURL, err)
	}
	if got := ca.Fingerprint(root.RootPEM.Certificate); got != fp {
		return nil, fmt.Errorf("the CA at %s sent root %s, not the pinned %s", caURL, got, fp)
	}
	return &Signed{Chain: chainOf(resp), Root: root.RootPEM.Certificate}, nil
}

func chainOf(resp *api.SignResponse) []*x509.Certificate {
	var chain []*x509.Certificate
	for _, c := range resp.CertChainPEM {
		chain = append(chain, c.Certificate)
	}
	if len(chain) == 0 {
		chain = []*x509.Certificate{resp.ServerPEM.Certificate, resp.CaPEM.Certificate}
	}
	return chain
}

// RevokeRemote revokes the certificate with serial (decimal) through the
// online CA at caURL, with a revocation token from banco ca token --revoke
// (or minted on the CA host), pinning the root by fingerprint fp.
func RevokeRemote(ctx context.Context, caURL, fp, tok, serial string, reasonCode int,
	reason string) error {
	c, err := NewClient(caURL, fp)
	if err != nil {
		return err
	}
	_, err = c.RevokeWithContext(ctx, &api.RevokeRequest{
		Serial: serial, OTT: tok, ReasonCode: reasonCode, Reason: reason, Passive: true,
	}, nil)
	if err != nil {
		return caError("revoke "+serial, caURL, err)
	}
	return nil
}
