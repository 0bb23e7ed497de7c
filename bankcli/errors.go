package bankcli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"time"
)

// The errors below are what a user of the client can meet. Each says what
// went wrong in one line; the caller adds advice on what to do.

// FileError is a file the client needs that is missing or unusable.
type FileError struct {
	What string // "client certificate", "client key", "CA certificate"
	Path string
	Err  error
}

func (e *FileError) Error() string {
	if errors.Is(e.Err, fs.ErrNotExist) {
		return fmt.Sprintf("%s %s does not exist", e.What, e.Path)
	}
	return fmt.Sprintf("%s %s: %v", e.What, e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// ExpiredError is a certificate used outside its validity dates.
type ExpiredError struct {
	Whose     string // "client" or "server"
	Subject   string
	NotBefore time.Time
	NotAfter  time.Time
	Now       time.Time
}

const dateFormat = "2006-01-02 15:04 MST"

func (e *ExpiredError) Error() string {
	if e.Now.Before(e.NotBefore) {
		return fmt.Sprintf("the %s certificate %q is not valid yet: valid from %s to %s",
			e.Whose, e.Subject, e.NotBefore.UTC().Format(dateFormat),
			e.NotAfter.UTC().Format(dateFormat))
	}
	return fmt.Sprintf("the %s certificate %q expired on %s (valid from %s)", e.Whose,
		e.Subject, e.NotAfter.UTC().Format(dateFormat), e.NotBefore.UTC().Format(dateFormat))
}

// UsageError is a client certificate that cannot serve as one.
type UsageError struct {
	Path string
}

func (e *UsageError) Error() string {
	return fmt.Sprintf("%s is not a client certificate (it lacks the clientAuth usage)", e.Path)
}

// UnreachableError is a server that did not accept a connection.
type UnreachableError struct {
	Addr string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the server at %s: %s", e.Addr, causeText(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ResolveError is a server name that does not resolve to an address.
type ResolveError struct {
	Host string
	Err  error
}

func (e *ResolveError) Error() string {
	return fmt.Sprintf("cannot find the address of %s", e.Host)
}

func (e *ResolveError) Unwrap() error { return e.Err }

// ServerCertError is a server certificate the client does not accept.
type ServerCertError struct {
	Host   string
	Reason string
	Err    error
}

func (e *ServerCertError) Error() string {
	return fmt.Sprintf("the server's certificate is not accepted for %s: %s", e.Host, e.Reason)
}

func (e *ServerCertError) Unwrap() error { return e.Err }

// CertRefusedError is the server refusing the client's certificate. With
// TLS 1.3 the server says so only after the client has finished its side of
// the handshake, so it shows up on the first read of the answer.
//
// Unsure marks a connection closed right after a TLS 1.3 handshake with no
// alert: a refused certificate whose alert was lost to a reset looks the
// same as a server that stopped at that moment, so the message names both.
//
// MaybeRevoked marks the generic alert that Go's server sends whenever its
// own checks refuse a certificate, revocation among them: the server cannot
// choose a more precise alert, so the client cannot tell which check failed.
type CertRefusedError struct {
	Reason       string // from the server's TLS alert
	Unsure       bool
	MaybeRevoked bool
}

func (e *CertRefusedError) Error() string {
	if e.Unsure {
		return "the server closed the connection right after the TLS handshake: " +
			"it refused the client certificate, or it stopped"
	}
	return "the server refused the client certificate: " + e.Reason
}

// TLSError is any other TLS handshake refused by the server, such as a TLS
// version it does not accept.
type TLSError struct {
	Alert string
}

func (e *TLSError) Error() string {
	return "the server ended the TLS handshake: " + e.Alert
}

// HandshakeError is a connection that broke, or timed out, before its TLS
// handshake completed, for a reason the server did not give in an alert:
// a server that closed the connection, does not speak TLS, or did not
// answer. The request was not sent, so the bank cannot have applied it.
type HandshakeError struct {
	Addr string
	Err  error
}

func (e *HandshakeError) Error() string {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return fmt.Sprintf("no TLS connection with the server at %s: the handshake did not "+
			"finish in time", e.Addr)
	}
	return fmt.Sprintf("no TLS connection with the server at %s: %s", e.Addr, causeText(e.Err))
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// UncertainError is a money request that may have reached the bank and been
// applied, though no answer came back: on the last try or an earlier one,
// the connection broke after it was sent, the answer was late, or the server
// failed. Err is the last try's error. Sending it again under
// Key is safe: the bank applies one key once and replays its first answer.
type UncertainError struct {
	Key string
	Err error
}

func (e *UncertainError) Error() string { return e.Err.Error() }

func (e *UncertainError) Unwrap() error { return e.Err }

// uncertain reports whether a request that ended in err may still have been
// applied, if it was sent at all (see attempt.sent). Failures before the
// request could be sent (files, names, certificates, TLS refusals, broken
// handshakes) and the bank's own refusals are certain.
func uncertain(err error) bool {
	var (
		cre  *CertRefusedError
		apie *APIError
		fe   *FileError
		ee   *ExpiredError
		ue   *UsageError
		unr  *UnreachableError
		res  *ResolveError
		sce  *ServerCertError
		tlse *TLSError
		hse  *HandshakeError
	)
	switch {
	case errors.As(err, &cre):
		return cre.Unsure
	case errors.As(err, &apie):
		return apie.Status >= 500
	case errors.As(err, &fe), errors.As(err, &ee), errors.As(err, &ue), errors.As(err, &unr),
		errors.As(err, &res), errors.As(err, &sce), errors.As(err, &tlse),
		errors.As(err, &hse):
		return false
	}
	return true
}

// APIError is the bank's answer to a request it refused.
type APIError struct {
	Status    int
	Code      string // one of the api.Code constants
	Message   string
	RequestID string
}

func (e *APIError) Error() string { return e.Message }

// certAlerts explains the TLS alerts a server sends about a client certificate
// (RFC 8446, section 6.2; Go sends these from its handshake code).
var certAlerts = map[string]string{
	tls.AlertError(116).Error(): "no certificate was sent",
	tls.AlertError(48).Error():  "it is not issued by the bank's CA",
	tls.AlertError(45).Error():  "it has expired",
	tls.AlertError(44).Error():  "it has been revoked",
	alertBadCertificate: "it is not acceptable " +
		"(wrong key usage, no customer in it, or revoked)",
	tls.AlertError(46).Error(): "it is not acceptable (certificate unknown)",
}

// alertBadCertificate is the alert Go's server sends for any certificate its
// own checks refuse (key usage, customer name, revocation in VerifyConnection).
var alertBadCertificate = tls.AlertError(42).Error()

// classify turns an error from a request into one of the errors above.
// retry reports a connection-level failure worth another attempt.
func classify(err error, st *attempt, host, addr string) (_ error, retry bool) {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var verr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &verr):
		return serverCertError(verr, host, st.now), false
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		alert := opErr.Err.Error()
		if why, ok := certAlerts[alert]; ok {
			return &CertRefusedError{Reason: why, MaybeRevoked: alert == alertBadCertificate},
				false
		}
		text := strings.TrimPrefix(alert, "tls: ")
		if alert == tls.AlertError(70).Error() {
			return &TLSError{Alert: text + " (banco needs TLS 1.2 or 1.3)"}, false
		}
		return &TLSError{Alert: text}, false
	case errors.As(err, &dnsErr):
		return &ResolveError{Host: dnsErr.Name, Err: err}, false
	case !st.handshake && errors.As(err, &opErr) && opErr.Op == "dial":
		return &UnreachableError{Addr: addr, Err: err}, true
	case st.handshake && st.version == tls.VersionTLS13 && st.fresh &&
		(closed(err) || st.peerClosed.Load()):
		// The server closed a fresh connection before answering: in TLS 1.3
		// that is how a refused client certificate looks when the alert
		// was lost to a reset, and also a server that crashed just then.
		return &CertRefusedError{Unsure: true}, true
	case !st.sent:
		// No connection was handed to net/http: the dial or the handshake
		// failed, so the request never left (the dial's own failure is
		// above; here the handshake broke or timed out).
		return &HandshakeError{Addr: addr, Err: err}, false
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no answer from the server at %s in time: %w", addr, err), false
	}
	return fmt.Errorf("request to %s: %w", addr, err), false
}

func serverCertError(verr *tls.CertificateVerificationError, host string,
	now time.Time) error {
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(verr.Err, &unknown):
		return &ServerCertError{Host: host, Err: verr,
			Reason: "it is not signed by the bank's CA (the root in the CA certificate file)"}
	case errors.As(verr.Err, &hostErr):
		c := hostErr.Certificate
		names := append(append([]string{}, c.DNSNames...), ipStrings(c)...)
		return &ServerCertError{Host: host, Err: verr,
			Reason: fmt.Sprintf("it is for %s", strings.Join(names, ", "))}
	case errors.As(verr.Err, &invalid) && invalid.Reason == x509.Expired:
		c := invalid.Cert
		return &ExpiredError{Whose: "server", Subject: c.Subject.CommonName,
			NotBefore: c.NotBefore, NotAfter: c.NotAfter, Now: now}
	}
	return &ServerCertError{Host: host, Reason: causeText(verr.Err), Err: verr}
}

func ipStrings(c *x509.Certificate) []string {
	out := make([]string, len(c.IPAddresses))
	for i, ip := range c.IPAddresses {
		out[i] = ip.String()
	}
	return out
}

// closed reports a connection the peer closed or reset.
//
// TODO(windows): Winsock reports a reset as WSAECONNRESET, which is not
// syscall.ECONNRESET; there a reset after the handshake is reported as a
// plain request error, not as a refused certificate.
func closed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// causeText keeps the innermost part of an error chain: "connection refused"
// rather than "dial tcp 127.0.0.1:8443: connect: connection refused".
func causeText(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
