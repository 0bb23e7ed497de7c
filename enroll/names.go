package enroll

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/banco/banco/ca"
	"github.com/banco/banco/internal/identity"
)

// DefaultServerName is the bank server's name (issue 2).
const DefaultServerName = "banco.local"

// DefaultServerSANs are added to every server certificate, so that the bank
// can also be reached on the loopback interface while still verified.
var DefaultServerSANs = []string{"localhost", "127.0.0.1", "::1"}

// NameError reports a name or SAN that cannot go in a certificate.
type NameError struct{ msg string }

func (e *NameError) Error() string { return e.msg }

func nameErrorf(format string, args ...any) error {
	return &NameError{msg: fmt.Sprintf(format, args...)}
}

// Names returns the subject and the exact SANs of the certificate req asks
// for. A server gets Name plus DefaultServerSANs plus req.SANs; a client gets
// its customer name as subject and, as its only SAN, the URI from package
// identity (never a DNS name made from a customer's name).
func Names(req Request) (subject string, sans []string, err error) {
	switch req.Kind {
	case ca.KindServer:
		sans, err := ServerSANs(req.Name, req.SANs)
		if err != nil {
			return "", nil, err
		}
		return sans[0], sans, nil
	case ca.KindClient:
		if err := identity.CheckName(req.Name); err != nil {
			return "", nil, &NameError{msg: err.Error()}
		}
		return req.Name, []string{identity.URI(req.Name).String()}, nil
	}
	return "", nil, fmt.Errorf("enroll: unknown kind %q", req.Kind)
}

// ServerSANs returns a server certificate's SANs: name (default
// DefaultServerName) first, then DefaultServerSANs and extra, without
// duplicates. Each must be a host name or an IP address.
func ServerSANs(name string, extra []string) ([]string, error) {
	if name == "" {
		name = DefaultServerName
	}
	if err := CheckHost(name); err != nil {
		return nil, err
	}
	sans := []string{strings.ToLower(name)}
	for _, s := range slices.Concat(DefaultServerSANs, extra) {
		if err := CheckHost(s); err != nil {
			return nil, err
		}
		if ip := net.ParseIP(s); ip != nil {
			s = ip.String()
		}
		s = strings.ToLower(s)
		if !slices.Contains(sans, s) {
			sans = append(sans, s)
		}
	}
	return sans, nil
}

// CheckHost reports whether s can be a server SAN: an IP address or a DNS
// name of letters, digits and hyphens (RFC 1123, section 2.1). Wildcards are
// refused: a bank server has known names.
func CheckHost(s string) error {
	if net.ParseIP(s) != nil {
		return nil
	}
	switch {
	case s == "":
		return nameErrorf("empty host name")
	case strings.Contains(s, "*"):
		return nameErrorf("host name %q: wildcards are not allowed", s)
	case len(s) > 253:
		return nameErrorf("host name %q is longer than 253 characters", s)
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return nameErrorf("host name %q has an empty or too long part", s)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return nameErrorf("host name %q: a part starts or ends with '-'", s)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
				r == '-') {
				return nameErrorf("host name %q has the character %q; use letters, "+
					"digits, '-' and '.', or an IP address", s, r)
			}
		}
	}
	return nil
}
