package bankcli_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

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
