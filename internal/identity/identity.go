// Package identity defines how a bank customer is named inside a client
// certificate, so that the CA that issues it and the server that reads it
// agree. The name is in the subject's common name and, authoritatively, in a
// URI SAN "urn:banco:customer:NAME" (path-escaped). A DNS SAN is never made
// from a customer name: a name such as "Cliente Premium" is not a host name.
package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// URIPrefix starts the URI SAN that carries a customer's name.
const URIPrefix = "urn:banco:customer:"

// MaxNameLen is the longest customer name, in bytes.
const MaxNameLen = 64

// ErrNoCustomer is returned for a certificate that names no customer.
var ErrNoCustomer = errors.New("certificate names no banco customer")

// CheckName reports whether name can be a customer name: 1 to 64 bytes of
// printable UTF-8 letters, digits, spaces and . _ - @, not starting or ending
// with a space, and not "." or "..", so it is also safe as a folder name.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("customer name is empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("customer name %q is longer than %d bytes", name, MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("customer name %q is not valid UTF-8", name)
	case name == "." || name == "..":
		return fmt.Errorf("customer name %q is not allowed", name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("customer name %q starts or ends with a space", name)
	}
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" ._-@", r) {
			continue
		}
		return fmt.Errorf("customer name %q has the character %q; use letters, digits, "+
			"spaces and . _ - @", name, r)
	}
	return nil
}

// URI returns the URI SAN that names customer name.
func URI(name string) *url.URL {
	return &url.URL{Scheme: "urn", Opaque: "banco:customer:" + url.PathEscape(name)}
}

// Customer returns the customer named by a verified client certificate: the
// URI SAN if there is one, else the subject's common name.
func Customer(cert *x509.Certificate) (string, error) {
	for _, u := range cert.URIs {
		s := u.String()
		if !strings.HasPrefix(s, URIPrefix) {
			continue
		}
		name, err := url.PathUnescape(strings.TrimPrefix(s, URIPrefix))
		if err != nil {
			return "", fmt.Errorf("certificate URI %q: %w", s, err)
		}
		if err := CheckName(name); err != nil {
			return "", err
		}
		return name, nil
	}
	if cn := cert.Subject.CommonName; cn != "" {
		if err := CheckName(cn); err != nil {
			return "", err
		}
		return cn, nil
	}
	return "", ErrNoCustomer
}
