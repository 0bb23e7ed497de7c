package bankcli_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banco/banco/bankcli"
	"github.com/banco/banco/internal/testpki"
)

// lossyProxy forwards TCP connections to a bank, but on the first one it cuts
// the connection instead of passing on the server's answer once the deposit
// is in the ledger: the answer is lost after the money moved, as when a
// network fails at the worst moment.
type lossyProxy struct {
	ln    net.Listener
	bank  *bank
	mu    sync.Mutex
	conns int
}

func (p *lossyProxy) serve(t *testing.T) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns++
		lossy := p.conns == 1
		p.mu.Unlock()
		go p.forward(t, c, lossy)
	}
}

func (p *lossyProxy) forward(t *testing.T, c net.Conn, lossy bool) {
	defer c.Close()
	s, err := net.Dial("tcp", p.bank.addr)
	if err != nil {
		t.Errorf("proxy dial: %v", err)
		return
	}
	defer s.Close()
	go func() { _, _ = io.Copy(s, c) }()
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 && lossy && p.deposited() {
			return // drop the answer and both connections
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *lossyProxy) deposited() bool {
	bal, err := p.bank.store.Balance(context.Background(), "alice")
	return err == nil && bal > 0
}

// TestRetryKeepsKey loses the answer to a deposit: the client retries on a
// new connection with the same idempotency key, and the money moves once.
func TestRetryKeepsKey(t *testing.T) {
	pki := testpki.New(t, "banco test")
	b := startBank(t, pki, pki.Server(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &lossyProxy{ln: ln, bank: b}
	go p.serve(t)

	cfg := b.files(t, pki.Client(t, "alice"))
	cfg.ConnectTo, cfg.Retries, cfg.Backoff = ln.Addr().String(), 2, 1
	cl := newClient(t, cfg)
	m, err := cl.Deposit(context.Background(), amount(t, "5"), bankcli.NewKey())
	if err != nil {
		t.Fatalf("deposit through a lossy network: %v", err)
	}
	if !m.Replayed || m.Balance != "5.00" {
		t.Errorf("answer after retry: %+v, want the replayed first answer", m)
	}
	p.mu.Lock()
	conns := p.conns
	p.mu.Unlock()
	if conns < 2 {
		t.Errorf("the client used %d connection(s); the first answer was lost", conns)
	}
	bal, err := b.store.Balance(context.Background(), "alice")
	if err != nil || bal.String() != "5.00" {
		t.Errorf("ledger balance %s, %v; want 5.00", bal, err)
	}
}

// TestLostAnswerNamesKey loses the answer to a deposit with no retries left:
// the error says the outcome is unknown and names the key, and a new client
// that sends the request again under that key gets the first answer, with
// the money moved once.
func TestLostAnswerNamesKey(t *testing.T) {
	pki := testpki.New(t, "banco test")
	b := startBank(t, pki, pki.Server(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &lossyProxy{ln: ln, bank: b}
	go p.serve(t)

	cfg := b.files(t, pki.Client(t, "alice"))
	direct := cfg
	cfg.ConnectTo = ln.Addr().String()
	key := bankcli.NewKey()
	_, err = newClient(t, cfg).Deposit(context.Background(), amount(t, "5"), key)
	var ue *bankcli.UncertainError
	if !errors.As(err, &ue) || ue.Key != key {
		t.Fatalf("deposit whose answer was lost: %v (%T), want an UncertainError with key %s",
			err, err, key)
	}

	m, err := newClient(t, direct).Deposit(context.Background(), amount(t, "5"), key)
	if err != nil || !m.Replayed || m.Balance != "5.00" {
		t.Errorf("the same deposit again under its key: %+v, %v; want the replayed answer",
			m, err)
	}
	bal, err := b.store.Balance(context.Background(), "alice")
	if err != nil || bal.String() != "5.00" {
		t.Errorf("ledger balance %s, %v; want 5.00", bal, err)
	}

	// A refusal the bank answered is certain: no key to resend under.
	_, err = newClient(t, direct).Withdraw(context.Background(), amount(t, "50"),
		bankcli.NewKey())
	if errors.As(err, &ue) {
		t.Errorf("insufficient funds reported as uncertain: %v", err)
	}
}

// TestNotSentIsCertain: a connection that breaks or times out before its
// TLS handshake completes never carried the request, so the deposit is
// certainly not applied: no UncertainError, and a message that says so.
func TestNotSentIsCertain(t *testing.T) {
	pki := testpki.New(t, "banco test")
	tests := []struct {
		name  string
		serve func(net.Conn) // what the server does with each connection
		want  string
	}{
		{"closed during the handshake", func(c net.Conn) {
			_, _ = c.Read(make([]byte, 1024)) // the ClientHello, or part of it
			c.Close()
		}, "no TLS connection with the server at ADDR: "}, // EOF or a reset
		{"no answer to the handshake", func(c net.Conn) {
			_, _ = io.Copy(io.Discard, c)
		}, "no TLS connection with the server at ADDR: the handshake did not finish in time"},
		{"not a TLS server", func(c net.Conn) {
			_, _ = c.Read(make([]byte, 1024))
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			c.Close()
		}, "no TLS connection with the server at ADDR: http: server gave HTTP response " +
			"to HTTPS client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
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
					go tt.serve(c)
				}
			}()
			b := &bank{pki: pki, addr: ln.Addr().String()}
			cfg := b.files(t, pki.Client(t, "alice"))
			cfg.Timeout = 300 * time.Millisecond
			_, err = newClient(t, cfg).Deposit(context.Background(), amount(t, "5"),
				bankcli.NewKey())
			var hse *bankcli.HandshakeError
			var ue *bankcli.UncertainError
			want := strings.ReplaceAll(tt.want, "ADDR", b.addr)
			got := fmt.Sprint(err)
			if strings.HasSuffix(want, " ") {
				got = got[:min(len(got), len(want))]
			}
			if !errors.As(err, &hse) || errors.As(err, &ue) || got != want {
				t.Errorf("error = %v (%T)\nwant    %s, not maybe applied", err, err, want)
			}
		})
	}
}

// TestEarlierTryMayHaveApplied: the first try is sent and its answer lost;
// the retry cannot even connect. The last error alone is certain, but the
// first try may have moved the money, so the result is an UncertainError.
func TestEarlierTryMayHaveApplied(t *testing.T) {
	pki := testpki.New(t, "banco test")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pki.Server(t).TLS()},
		ClientAuth:   tls.RequireAnyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		ln.Close() // nothing listens for the retry
		if err != nil {
			return
		}
		_, _ = c.Read(make([]byte, 4096)) // the request, after the handshake
		c.Close()
	}()
	b := &bank{pki: pki, addr: ln.Addr().String()}
	cfg := b.files(t, pki.Client(t, "alice"))
	cfg.Retries, cfg.Backoff = 1, time.Millisecond
	key := bankcli.NewKey()
	_, err = newClient(t, cfg).Deposit(context.Background(), amount(t, "5"), key)
	var ue *bankcli.UncertainError
	var unr *bankcli.UnreachableError
	if !errors.As(err, &ue) || ue.Key != key || !errors.As(err, &unr) {
		t.Errorf("error = %v (%T), want an UncertainError with key %s around an "+
			"UnreachableError", err, err, key)
	}
}
