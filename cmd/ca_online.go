package cmd

// Advice for the errors of talking to banco ca serve, shared by the
// commands that do (renew, revoke; enroll --token).

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/banco/banco/ca"
	"github.com/banco/banco/enroll"
)

// onlineOp says which command talked to the online CA, for the hint that
// follows a refusal.
type onlineOp int

const (
	opEnroll onlineOp = iota
	opRenew
	opRevoke
)

// onlineError adds what to do next to an error from the online CA at caURL.
func onlineError(err error, caURL string, op onlineOp) error {
	var (
		re   *enroll.RefusedError
		dns  *net.DNSError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
	)
	switch {
	case errors.As(err, &re):
		return withHint(err, refusedHint(re, op))
	case errors.Is(err, enroll.ErrUnknownRoot):
		return withHint(err, "this CA is not the one the token (or --fingerprint) names: "+
			"check --ca-url, and compare the fingerprint with the one 'banco ca serve' shows")
	case errors.As(err, &dns):
		return withHint(err, fmt.Sprintf("make %s resolve here (sudo banco hosts add %s --ip "+
			"CA_ADDRESS), or pass --ca-url https://CA_ADDRESS:PORT", dns.Name, dns.Name))
	case errors.Is(err, syscall.ECONNREFUSED):
		return withHint(err, "nothing listens at "+caURL+": start 'banco ca serve' there, or "+
			"pass --ca-url with its address")
	case errors.As(err, &uerr), errors.As(err, &herr):
		return withHint(err, "the server at "+caURL+" is not this banco CA: check --ca-url")
	}
	return withHint(err, "check that 'banco ca serve' runs at "+caURL+", or pass --ca-url")
}

func refusedHint(re *enroll.RefusedError, op onlineOp) string {
	switch op {
	case opRenew:
		return "the certificate may be revoked, or unknown to this CA; the CA's log says " +
			"which. Enroll again with a new token (banco ca token NAME on the CA host)"
	case opRevoke:
		return "the token may be used already, expired, or for another serial; the CA's log " +
			"says which. Ask for a new one: banco ca token SERIAL --revoke"
	}
	if re.Status >= 500 {
		return "the CA failed; its log says why"
	}
	return "the token may be used already, expired, or for another name or kind; the CA's " +
		"log says which. Ask for a new token: banco ca token NAME --client (or --server)"
}

// localCAURL is the URL that reaches banco ca serve from this host when the
// CA in this banco home issued root; "" when it did not, or when the CA has
// never served.
func (a *App) localCAURL(root *x509.Certificate) string {
	dir := a.besideCA(root)
	if dir == "" {
		return ""
	}
	return ca.LocalURL(dir)
}
