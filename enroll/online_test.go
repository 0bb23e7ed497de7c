package enroll

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/banco/banco/ca"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type online struct {
	a   *ca.Authority
	url string
	log *syncBuffer
}

func startCA(t *testing.T) *online {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	pw := []byte("online test password")
	if _, err := ca.Init(ca.InitOptions{Dir: dir, Password: pw}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	caURL := "https://" + ln.Addr().String()
	a, err := ca.Open(dir, pw, ca.WithCRLURL(ca.CRLURL(caURL)))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln, slog.New(slog.NewTextHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		a.Close()
	})
	return &online{a: a, url: caURL, log: logs}
}

func (o *online) enrollClient(t *testing.T, name string) (*Identity, Paths) {
	t.Helper()
	_, sans, err := Names(Request{Kind: ca.KindClient, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := o.a.Token(ca.TokenRequest{Kind: ca.KindClient, Subject: name, SANs: sans,
		URL: o.url})
	if err != nil {
		t.Fatal(err)
	}
	id, err := New(context.Background(), Remote{Token: tok},
		Request{Kind: ca.KindClient, Name: name})
	if err != nil {
		t.Fatalf("remote enroll: %v\nCA log:\n%s", err, o.log)
	}
	p := InDir(t.TempDir(), "client.crt", "client.key", "root_ca.crt")
	if err := id.Write(p, false); err != nil {
		t.Fatal(err)
	}
	return id, p
}

func TestRenewer(t *testing.T) {
	o := startCA(t)
	id, p := o.enrollClient(t, "alice")

	r, err := NewRenewer(p, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("NewRenewer (CA URL from the certificate): %v", err)
	}
	if err := r.RenewNow(context.Background()); err != nil {
		t.Fatalf("RenewNow: %v\nCA log:\n%s", err, o.log)
	}
	next := r.Current().Leaf()
	if next.SerialNumber.Cmp(id.Leaf().SerialNumber) == 0 {
		t.Fatal("renewal kept the serial")
	}
	if next.Subject.CommonName != "alice" || len(next.URIs) != 1 ||
		next.URIs[0].String() != id.Leaf().URIs[0].String() {
		t.Errorf("renewed certificate names %q %v", next.Subject.CommonName, next.URIs)
	}
	got, _ := r.GetCertificate(nil)
	if !got.Leaf.Equal(next) {
		t.Error("GetCertificate still hands out the old certificate")
	}
	onDisk, err := Load(p)
	if err != nil || !onDisk.Leaf().Equal(next) {
		t.Errorf("the renewed certificate was not written: %v", err)
	}
	if _, err := o.a.Certificate(next.SerialNumber.String()); err != nil {
		t.Errorf("renewal not recorded: %v", err)
	}

	_, err = Renew(context.Background(), onDisk, o.url, next.NotAfter.Add(time.Second))
	if !errors.Is(err, ErrExpired) {
		t.Errorf("renewing an expired certificate: %v, want ErrExpired", err)
	}
}

func TestRevocationAndCRL(t *testing.T) {
	o := startCA(t)
	alice, _ := o.enrollClient(t, "alice")
	bob, _ := o.enrollClient(t, "bob")

	checker, ok := CRLCheckerFor(alice)
	if !ok || checker.URL != ca.CRLURL(o.url) {
		t.Fatalf("CRLCheckerFor: %v %+v", ok, checker)
	}
	checker.Refresh = 0 // fetch on every call
	ctx := context.Background()
	if r, err := checker.IsRevoked(ctx, alice.Leaf().SerialNumber); err != nil || r {
		t.Fatalf("before revocation: %v, %v", r, err)
	}

	// Offline, against the CA database.
	if err := o.a.Revoke(ctx, alice.Leaf().SerialNumber.String(), 1, "lost laptop"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if r, err := checker.IsRevoked(ctx, alice.Leaf().SerialNumber); err != nil || !r {
		t.Errorf("after revocation: %v, %v; want revoked", r, err)
	}
	if err := o.a.Revoke(ctx, alice.Leaf().SerialNumber.String(), 1, ""); !errors.Is(err,
		ca.ErrAlreadyRevoked) {
		t.Errorf("second Revoke: %v", err)
	}

	// Through the online CA with a revocation token; the token works once.
	serial := bob.Leaf().SerialNumber.String()
	tok, err := o.a.RevokeToken(serial, o.url, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	fp := ca.Fingerprint(o.a.Root())
	if err := RevokeRemote(ctx, o.url, fp, tok, serial, 4, "superseded"); err != nil {
		t.Fatalf("RevokeRemote: %v\nCA log:\n%s", err, o.log)
	}
	if r, _ := o.a.IsRevoked(serial); !r {
		t.Error("the CA database does not mark bob revoked")
	}
	var re *RefusedError
	if err := RevokeRemote(ctx, o.url, fp, tok, serial, 4, ""); !errors.As(err, &re) {
		t.Errorf("reused revocation token: %v, want a refusal", err)
	}

	// Every record shows its state.
	recs, err := o.a.Certificates()
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]bool{}
	for _, r := range recs {
		states[r.Cert.Subject.CommonName] = r.Revoked
		if r.Kind != ca.KindClient {
			t.Errorf("%s: kind %q", r.Cert.Subject.CommonName, r.Kind)
		}
	}
	if !states["alice"] || !states["bob"] || len(recs) != 2 {
		t.Errorf("records: %v (%d)", states, len(recs))
	}
}

func TestVerifyConnectionRefusesRevokedClient(t *testing.T) {
	o := startCA(t)
	alice, _ := o.enrollClient(t, "alice")
	bob, _ := o.enrollClient(t, "bob")
	if err := o.a.Revoke(context.Background(), bob.Leaf().SerialNumber.String(), 1, ""); err != nil {
		t.Fatal(err)
	}
	checker := NewCRLChecker(ca.CRLURL(o.url), o.a.Root(), o.a.Intermediate())

	pool := x509.NewCertPool()
	pool.AddCert(o.a.Root())
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		VerifyConnection: checker.VerifyConnection,
	}
	srv.StartTLS()
	defer srv.Close()

	get := func(id *Identity) error {
		c := srv.Client()
		tr := c.Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = []tls.Certificate{*id.TLSCertificate()}
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(alice); err != nil {
		t.Errorf("valid client refused: %v", err)
	}
	if err := get(bob); err == nil {
		t.Error("revoked client accepted")
	}
}

func TestRenewRefusesAnotherCAsCertificate(t *testing.T) {
	o := startCA(t)
	stranger := startCA(t)
	id, _ := stranger.enrollClient(t, "mallory")
	// Pin o's root so that only the client certificate is foreign.
	id.Root = o.a.Root()
	if _, err := Renew(context.Background(), id, o.url, time.Now()); err == nil {
		t.Fatal("the CA renewed a certificate from another CA")
	}
	// The server logs a failed handshake after the client has seen it fail.
	for end := time.Now().Add(10 * time.Second); !bytes.Contains([]byte(o.log.String()),
		[]byte("unknown authority")); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the CA did not log why:\n%s", o.log)
		}
	}
}

func TestCRLCheckerFailsClosed(t *testing.T) {
	o := startCA(t)
	alice, _ := o.enrollClient(t, "alice")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "https://" + ln.Addr().String() + "/1.0/crl"
	ln.Close() // nothing listens there now
	c := NewCRLChecker(dead, o.a.Root(), o.a.Intermediate())
	if _, err := c.IsRevoked(context.Background(), alice.Leaf().SerialNumber); err == nil {
		t.Error("IsRevoked without any CRL did not fail")
	}
	err = c.VerifyConnection(tls.ConnectionState{PeerCertificates: alice.Chain})
	if err == nil {
		t.Error("VerifyConnection let a client in with no CRL")
	}

	// A CRL signed by another CA is refused.
	other := startCA(t)
	c = NewCRLChecker(ca.CRLURL(o.url), o.a.Root(), other.a.Intermediate())
	if _, err := c.IsRevoked(context.Background(), alice.Leaf().SerialNumber); err == nil {
		t.Error("a CRL not signed by the given issuer was accepted")
	}
}
