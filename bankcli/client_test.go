package bankcli_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banco/banco/bankcli"
	"github.com/banco/banco/banksrv"
	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/internal/testpki"
	"github.com/banco/banco/ledger"
)

// bank is a real banksrv on loopback with a real SQLite ledger.
type bank struct {
	pki   *testpki.PKI
	addr  string
	store ledger.Store
}

func startBank(t *testing.T, pki *testpki.PKI, serverCert *testpki.Cert) *bank {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := ledger.Open(ctx, filepath.Join(t.TempDir(), "bank.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cert := serverCert.TLS()
	cfg, err := banksrv.NewTLSConfig(banksrv.TLSOptions{
		GetCertificate: banksrv.NewCertHolder(&cert).GetCertificate,
		ClientCAs:      pki.Pool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := banksrv.New(banksrv.Config{Store: store, TLS: cfg,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		store.Close()
	})
	return &bank{pki: pki, addr: ln.Addr().String(), store: store}
}

// files writes a client identity and returns a Config that uses it.
func (b *bank) files(t *testing.T, c *testpki.Cert) bankcli.Config {
	t.Helper()
	dir := t.TempDir()
	b.pki.WriteClient(t, dir, c)
	return bankcli.Config{
		Server:    "https://banco.local:8443",
		ConnectTo: b.addr,
		CertFile:  filepath.Join(dir, testpki.ClientCertFile),
		KeyFile:   filepath.Join(dir, testpki.ClientKeyFile),
		CAFile:    filepath.Join(dir, testpki.RootCertFile),
		Retries:   -1,
	}
}

func newClient(t *testing.T, cfg bankcli.Config) *bankcli.Client {
	t.Helper()
	cl, err := bankcli.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func amount(t *testing.T, s string) ledger.Amount {
	t.Helper()
	a, err := ledger.ParseAmount(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestClientHappyPath(t *testing.T) {
	pki := testpki.New(t, "banco test")
	b := startBank(t, pki, pki.Server(t))
	ctx := context.Background()
	alice := newClient(t, b.files(t, pki.Client(t, "alice")))
	bob := newClient(t, b.files(t, pki.Client(t, "bob")))

	if bal, err := bob.Balance(ctx); err != nil || bal.Balance != "0.00" {
		t.Fatalf("bob's balance: %+v %v", bal, err)
	}
	if m, err := alice.Deposit(ctx, amount(t, "100"), ""); err != nil || m.Balance != "100.00" {
		t.Fatalf("deposit: %+v %v", m, err)
	}
	if m, err := alice.Withdraw(ctx, amount(t, "0.5"), ""); err != nil || m.Balance != "99.50" {
		t.Fatalf("withdraw: %+v %v", m, err)
	}
	m, err := alice.Transfer(ctx, amount(t, "9.50"), "bob", "")
	if err != nil || m.Balance != "90.00" || m.To != "bob" || m.From != "alice" {
		t.Fatalf("transfer: %+v %v", m, err)
	}
	if bal, err := alice.Balance(ctx); err != nil || bal.Balance != "90.00" {
		t.Fatalf("alice's balance: %+v %v", bal, err)
	}
	h, err := alice.History(ctx, 0, 0)
	if err != nil || len(h.Lines) != 3 || h.Lines[0].Kind != "transfer" ||
		h.Lines[2].Balance != "100.00" {
		t.Fatalf("history: %+v %v", h, err)
	}

	_, err = alice.Withdraw(ctx, amount(t, "90.01"), "")
	var ae *bankcli.APIError
	if !errors.As(err, &ae) || ae.Code != api.CodeInsufficientFunds ||
		err.Error() != "insufficient funds" {
		t.Errorf("overdraft: %v", err)
	}
	_, err = alice.Transfer(ctx, amount(t, "1"), "nobody", "")
	if !errors.As(err, &ae) || ae.Code != api.CodeNoSuchAccount ||
		err.Error() != `no customer named "nobody" has an account` {
		t.Errorf("transfer to nobody: %v", err)
	}
}

func TestClientSameKeyAppliedOnce(t *testing.T) {
	pki := testpki.New(t, "banco test")
	b := startBank(t, pki, pki.Server(t))
	ctx := context.Background()
	alice := newClient(t, b.files(t, pki.Client(t, "alice")))
	key := bankcli.NewKey()
	first, err := alice.Deposit(ctx, amount(t, "5"), key)
	if err != nil {
		t.Fatal(err)
	}
	again, err := alice.Deposit(ctx, amount(t, "5"), key)
	if err != nil || !again.Replayed || again.ID != first.ID || again.Balance != "5.00" {
		t.Fatalf("second send: %+v %v", again, err)
	}
	if bal, _ := alice.Balance(ctx); bal.Balance != "5.00" {
		t.Errorf("balance %s, want 5.00", bal.Balance)
	}
}

// TestRefusedAtHandshake pins the message a user sees for each certificate
// the server refuses. The local checks are passed with a good certificate;
// the TLS hook then offers the bad one, as a tampered or foreign client would.
func TestRefusedAtHandshake(t *testing.T) {
	pki := testpki.New(t, "banco test")
	b := startBank(t, pki, pki.Server(t))
	other := testpki.New(t, "other")
	offer := func(c *testpki.Cert) func(*tls.Config) {
		return func(cfg *tls.Config) {
			tc := &tls.Certificate{}
			if c != nil {
				x := c.TLS()
				tc = &x
			}
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate,
				error) {
				return tc, nil
			}
		}
	}
	tests := []struct {
		name string
		hook func(*tls.Config)
		want string
	}{
		{"no client certificate", offer(nil),
			"the server refused the client certificate: no certificate was sent"},
		{"certificate from another CA", offer(other.Client(t, "alice")),
			"the server refused the client certificate: it is not issued by the bank's CA"},
		{"server certificate as client certificate", offer(pki.Server(t)),
			"the server refused the client certificate: it is not acceptable " +
				"(wrong key usage, no customer in it, or revoked)"},
		{"expired client certificate", offer(pki.ExpiredClient(t, "alice")),
			"the server refused the client certificate: it has expired"},
		{"client offering only TLS 1.1", func(cfg *tls.Config) {
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		}, "the server ended the TLS handshake: protocol version not supported " +
			"(banco needs TLS 1.2 or 1.3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := b.files(t, pki.Client(t, "alice"))
			cfg.TLS = tt.hook
			_, err := newClient(t, cfg).Balance(context.Background())
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v\nwant    %s", err, tt.want)
			}
		})
	}
}

func TestLocalChecks(t *testing.T) {
	pki := testpki.New(t, "banco test")
	b := startBank(t, pki, pki.Server(t))

	expired := pki.ExpiredClient(t, "alice")
	_, err := bankcli.New(b.files(t, expired))
	want := `the client certificate "alice" expired on ` +
		expired.Cert.NotAfter.UTC().Format("2006-01-02 15:04 MST") + " (valid from " +
		expired.Cert.NotBefore.UTC().Format("2006-01-02 15:04 MST") + ")"
	var ee *bankcli.ExpiredError
	if !errors.As(err, &ee) || err.Error() != want {
		t.Errorf("expired: %v\nwant %s", err, want)
	}

	cfg := b.files(t, pki.Server(t))
	_, err = bankcli.New(cfg)
	if err == nil || err.Error() != cfg.CertFile+
		" is not a client certificate (it lacks the clientAuth usage)" {
		t.Errorf("server certificate as client: %v", err)
	}

	cfg = b.files(t, pki.Client(t, "alice"))
	cfg.CertFile = filepath.Join(t.TempDir(), "missing.crt")
	_, err = bankcli.New(cfg)
	if err == nil || err.Error() != "client certificate "+cfg.CertFile+" does not exist" {
		t.Errorf("missing certificate: %v", err)
	}

	cfg = b.files(t, pki.Client(t, "alice"))
	if err := os.Chmod(cfg.KeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = bankcli.New(cfg)
	if err == nil || err.Error() != "client key "+cfg.KeyFile+": private key "+cfg.KeyFile+
		" is accessible by others (mode 0644)" {
		t.Errorf("readable key: %v", err)
	}
}

func TestServerProblems(t *testing.T) {
	pki := testpki.New(t, "banco test")
	b := startBank(t, pki, pki.Server(t))
	ctx := context.Background()
	good := b.files(t, pki.Client(t, "alice"))

	other := testpki.New(t, "other")
	cfg := good
	cfg.CAFile = filepath.Join(t.TempDir(), "other_root.crt")
	if err := os.WriteFile(cfg.CAFile, other.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := newClient(t, cfg).Balance(ctx)
	if err == nil || err.Error() != "the server's certificate is not accepted for banco.local: "+
		"it is not signed by the bank's CA (the root in the CA certificate file)" {
		t.Errorf("untrusted server: %v", err)
	}

	cfg = good
	cfg.Server = "https://bank.example:8443"
	_, err = newClient(t, cfg).Balance(ctx)
	if err == nil || err.Error() != "the server's certificate is not accepted for "+
		"bank.example: it is for banco.local, localhost, 127.0.0.1, ::1" {
		t.Errorf("wrong name: %v", err)
	}

	oldSrv := pki.Issue(t, testpki.Leaf{
		CommonName: "banco.local", DNSNames: []string{"banco.local"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore:   pki.Now.AddDate(0, 0, -10), NotAfter: pki.Now.AddDate(0, 0, -2)})
	expiredBank := startBank(t, pki, oldSrv)
	cfg = good
	cfg.ConnectTo = expiredBank.addr
	_, err = newClient(t, cfg).Balance(ctx)
	want := `the server certificate "banco.local" expired on ` +
		oldSrv.Cert.NotAfter.UTC().Format("2006-01-02 15:04 MST") + " (valid from " +
		oldSrv.Cert.NotBefore.UTC().Format("2006-01-02 15:04 MST") + ")"
	if err == nil || err.Error() != want {
		t.Errorf("expired server certificate: %v\nwant %s", err, want)
	}
}

func TestUnreachable(t *testing.T) {
	pki := testpki.New(t, "banco test")
	b := &bank{pki: pki}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	ln.Close() // nothing listens there now

	cfg := b.files(t, pki.Client(t, "alice"))
	cfg.Retries, cfg.Backoff = 2, 1
	_, err = newClient(t, cfg).Balance(context.Background())
	var ue *bankcli.UnreachableError
	if !errors.As(err, &ue) ||
		err.Error() != "cannot reach the server at "+b.addr+": connection refused" {
		t.Errorf("unreachable: %v", err)
	}

	cfg.ConnectTo = ""
	cfg.Server = "https://banco.invalid:8443" // RFC 6761: never resolves
	_, err = newClient(t, cfg).Balance(context.Background())
	var re *bankcli.ResolveError
	if !errors.As(err, &re) || err.Error() != "cannot find the address of banco.invalid" {
		t.Errorf("unresolvable: %v", err)
	}
}

// TestClosedAfterHandshake: a peer that completes a TLS 1.3 handshake and then
// drops the TCP connection, with no alert and no answer, as a server that
// crashes at that moment does, or one whose refusal alert was lost to a reset.
// The client cannot tell the two apart, so the message names both and never
// shows the EOF underneath; it retries, since a stopped server may come back.
func TestClosedAfterHandshake(t *testing.T) {
	pki := testpki.New(t, "banco test")
	server := pki.Server(t).TLS()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	handshakes := make(chan uint16, 8)
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			conn := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{server},
				ClientAuth: tls.RequireAnyClientCert})
			if conn.Handshake() == nil {
				handshakes <- conn.ConnectionState().Version
			}
			raw.Close() // not conn.Close, which would send a close_notify alert
		}
	}()

	b := &bank{pki: pki, addr: ln.Addr().String()}
	cfg := b.files(t, pki.Client(t, "alice"))
	cfg.Retries, cfg.Backoff = 2, time.Millisecond
	_, err = newClient(t, cfg).Balance(context.Background())

	want := "the server closed the connection right after the TLS handshake: " +
		"it refused the client certificate, or it stopped"
	var cre *bankcli.CertRefusedError
	if !errors.As(err, &cre) || !cre.Unsure || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "EOF") {
		t.Errorf("the message shows the EOF: %v", err)
	}
	if n := len(handshakes); n != 3 {
		t.Errorf("%d handshakes, want 3 (the first try and 2 retries)", n)
	}
	for range len(handshakes) {
		if v := <-handshakes; v != tls.VersionTLS13 {
			t.Errorf("handshake over %s, want TLS 1.3", tls.VersionName(v))
		}
	}
}

// TestRevokedRefusedAtHandshake: Go's server refuses a certificate its
// revocation check rejects with the same alert as one of the wrong usage,
// so the message names revocation among the causes and marks it.
func TestRevokedRefusedAtHandshake(t *testing.T) {
	pki := testpki.New(t, "banco test")
	cert := pki.Server(t).TLS()
	cfg, err := banksrv.NewTLSConfig(banksrv.TLSOptions{
		GetCertificate: banksrv.NewCertHolder(&cert).GetCertificate,
		ClientCAs:      pki.Pool(),
		CheckClient:    func([]*x509.Certificate) error { return banksrv.ErrClientRevoked },
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()

	b := &bank{pki: pki, addr: ln.Addr().String()}
	_, err = newClient(t, b.files(t, pki.Client(t, "alice"))).Deposit(context.Background(),
		amount(t, "5"), bankcli.NewKey())
	want := "the server refused the client certificate: it is not acceptable " +
		"(wrong key usage, no customer in it, or revoked)"
	var cre *bankcli.CertRefusedError
	if !errors.As(err, &cre) || !cre.MaybeRevoked || err.Error() != want {
		t.Errorf("error = %v (%#v)\nwant    %s", err, cre, want)
	}
	var ue *bankcli.UncertainError
	if errors.As(err, &ue) {
		t.Errorf("a refused handshake is reported as maybe applied: %v", err)
	}
}
