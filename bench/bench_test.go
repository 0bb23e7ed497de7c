package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banco/banco/banksrv"
	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/internal/testpki"
	"github.com/banco/banco/ledger"
)

// testBank is a real banksrv on loopback with a real SQLite ledger.
type testBank struct {
	pki   *testpki.PKI
	addr  string
	store ledger.Store
	stop  func() // stops the server (more than once is fine)
}

func startBank(t *testing.T) *testBank {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &testBank{pki: testpki.New(t, "bench test")}
	store, err := ledger.Open(ctx, filepath.Join(t.TempDir(), "bank.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.store = store
	cert := b.pki.Server(t).TLS()
	cfg, err := banksrv.NewTLSConfig(banksrv.TLSOptions{
		GetCertificate: banksrv.NewCertHolder(&cert).GetCertificate,
		ClientCAs:      b.pki.Pool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := banksrv.New(banksrv.Config{Store: store, TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	b.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	})
	t.Cleanup(func() {
		b.stop()
		store.Close()
	})
	return b
}

func (b *testBank) customers(t *testing.T, n int) []Customer {
	var cs []Customer
	for i := range n {
		name := fmt.Sprintf("bench-%04d", i+1)
		c := b.pki.Client(t, name).TLS()
		cs = append(cs, Customer{Name: name, Cert: &c})
	}
	return cs
}

func (b *testBank) config(t *testing.T, customers int) Config {
	return Config{
		Server:    "https://banco.local:8443",
		ConnectTo: b.addr,
		Roots:     b.pki.Pool(),
		Customers: b.customers(t, customers),
		Seed:      1,
	}
}

func TestRunEveryModeAndCheck(t *testing.T) {
	b := startBank(t)
	customers := b.customers(t, 3)
	for _, mode := range []Mode{ModeKeepAlive, ModeHandshake, ModeResume} {
		t.Run(string(mode), func(t *testing.T) {
			cfg := b.config(t, 0)
			cfg.Customers = customers
			cfg.Clients, cfg.Ops, cfg.Mode = 4, 120, mode
			var progress int
			cfg.Progress = func(Progress) { progress++ }
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) > 0 {
				t.Errorf("errors: %v", res.Errors)
			}
			total := res.Ops[len(res.Ops)-1]
			if total.Op != "total" || total.Answered != 120 {
				t.Errorf("total line %+v, want 120 answered", total)
			}
			if res.Check == nil || !res.Check.OK() {
				t.Fatalf("check: %+v", res.Check)
			}
			if res.Check.Acknowledged == 0 || res.Check.Entries == 0 {
				t.Errorf("check saw nothing: %+v", res.Check)
			}
			if res.TLS.Version != "TLS 1.3" || res.TLS.Group != "X25519MLKEM768" {
				t.Errorf("tls %+v, want TLS 1.3 with X25519MLKEM768", res.TLS)
			}
			switch mode {
			case ModeKeepAlive:
				if res.Handshakes != 4 {
					t.Errorf("%d handshakes for 4 keep-alive clients", res.Handshakes)
				}
			case ModeHandshake:
				if res.Handshakes != 120 || res.Resumed != 0 {
					t.Errorf("%d handshakes, %d resumed; want 120, 0", res.Handshakes,
						res.Resumed)
				}
			case ModeResume:
				if res.Handshakes != 120 || res.Resumed < 100 {
					t.Errorf("%d handshakes, %d resumed; want 120, most resumed",
						res.Handshakes, res.Resumed)
				}
			}
		})
	}
}

func TestRunX25519AndIdle(t *testing.T) {
	b := startBank(t)
	cfg := b.config(t, 2)
	cfg.Clients, cfg.Ops, cfg.Idle = 2, 20, 5
	cfg.Mix = Mix{OpBalance: 1}
	cfg.Curves = []tls.CurveID{tls.X25519}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.TLS.Group != "X25519" || res.Idle != 5 || len(res.Errors) > 0 {
		t.Errorf("group %s, %d idle, errors %v; want X25519, 5, none", res.TLS.Group,
			res.Idle, res.Errors)
	}
}

// TestCheckFindsMoneyMovedBehindItsBack moves money in a bench customer's
// account outside the bench, straight in the ledger: the check must see an
// entry nobody acknowledged and money not conserved.
func TestCheckFindsMoneyMovedBehindItsBack(t *testing.T) {
	b := startBank(t)
	cfg := b.config(t, 2)
	cfg.Clients, cfg.Ops = 2, 40
	cfg.Progress = func(Progress) {}
	r := &runner{cfg: &cfg, runID: "test"}
	if err := cfg.fill(); err != nil {
		t.Fatal(err)
	}
	r.t, _ = parseTarget(cfg.Server, cfg.ConnectTo)
	for _, cu := range cfg.Customers {
		r.tlsCfgs = append(r.tlsCfgs, cfg.tlsConfig(r.t, cu))
	}
	ctx := context.Background()
	accts, err := r.prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.run(ctx)
	_, err = b.store.Apply(ctx, ledger.Request{Customer: "bench-0002", Kind: ledger.Deposit,
		Amount: 7_00, Key: "behind-the-back"})
	if err != nil {
		t.Fatal(err)
	}
	chk, err := r.check(ctx, accts)
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprint(chk.Problems)
	for _, want := range []string{"was not made by any acknowledged request",
		"money not conserved"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems %s lack %q", text, want)
		}
	}
}

func TestVerify(t *testing.T) {
	dep := &Ack{Key: "k1", Op: OpDeposit, Customer: "a", Amount: 10_00, State: Done, Entry: 5,
		Balance: 10_00}
	xfer := &Ack{Key: "k2", Op: OpTransfer, Customer: "a", To: "b", Amount: 4_00, State: Done,
		Entry: 6, Balance: 6_00}
	line := func(id int64, kind, from, to, amount, delta, bal string) api.HistoryLine {
		return api.HistoryLine{ID: id, Kind: kind, From: from, To: to, Amount: amount,
			Delta: delta, Balance: bal}
	}
	good := func() map[string]*account {
		return map[string]*account{
			"a": {loaded: true, end: 6_00, lines: []api.HistoryLine{
				line(6, "transfer", "a", "b", "4.00", "-4.00", "6.00"),
				line(5, "deposit", "(cash)", "a", "10.00", "+10.00", "10.00"),
			}},
			"b": {loaded: true, end: 4_00, lines: []api.HistoryLine{
				line(6, "transfer", "a", "b", "4.00", "+4.00", "4.00"),
			}},
		}
	}
	tests := []struct {
		name   string
		change func(map[string]*account, []*Ack) []*Ack
		want   string
	}{
		{"ok", func(m map[string]*account, a []*Ack) []*Ack { return a }, ""},
		{"fail/entry missing from recipient", func(m map[string]*account, a []*Ack) []*Ack {
			m["b"].lines, m["b"].end = nil, 0
			return a
		}, "in the history 0 times"},
		{"fail/entry twice", func(m map[string]*account, a []*Ack) []*Ack {
			m["b"].lines = append(m["b"].lines, m["b"].lines[0])
			m["b"].end = 8_00
			return a
		}, "in the history 2 times"},
		{"fail/negative balance", func(m map[string]*account, a []*Ack) []*Ack {
			m["a"].start = -20_00
			m["a"].end = -14_00
			m["a"].lines[0].Balance, m["a"].lines[1].Balance = "-14.00", "-10.00"
			return a
		}, "negative balance"},
		{"fail/unacknowledged entry", func(m map[string]*account, a []*Ack) []*Ack {
			return a[1:]
		}, "not made by any acknowledged request"},
		{"fail/acknowledged but lost", func(m map[string]*account, a []*Ack) []*Ack {
			m["a"].lines, m["a"].end = m["a"].lines[:1], -4_00
			return a
		}, "money not conserved"},
		{"fail/wrong amount", func(m map[string]*account, a []*Ack) []*Ack {
			m["a"].lines[1].Delta, m["a"].end = "+11.00", 7_00
			return a
		}, "but request k1 was deposit 10.00"},
		{"fail/no answer", func(m map[string]*account, a []*Ack) []*Ack {
			return append(a, &Ack{Key: "k3", Op: OpWithdraw, Customer: "a", Amount: 1})
		}, "got no answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, x := *dep, *xfer
			m := good()
			acks := tc.change(m, []*Ack{&d, &x})
			chk := verify(m, acks)
			text := fmt.Sprint(chk.Problems)
			if tc.want == "" && !chk.OK() {
				t.Fatalf("problems in a good ledger: %s", text)
			}
			if tc.want != "" && !strings.Contains(text, tc.want) {
				t.Fatalf("problems %s lack %q", text, tc.want)
			}
		})
	}
}

func TestParseMix(t *testing.T) {
	m, err := ParseMix("deposit=50,transfer=50")
	if err != nil || m != (Mix{OpDeposit: 50, OpTransfer: 50}) {
		t.Fatalf("ParseMix = %v, %v", m, err)
	}
	for _, bad := range []string{"", "deposit", "loan=5", "deposit=-1", "balance=0",
		"balance=1,balance=2"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) took it", bad)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.quantile(c.q)
		if d := got - c.want; d < -c.want/50 || d > c.want/50 {
			t.Errorf("quantile(%v) = %v, want %v within 2%%", c.q, got, c.want)
		}
	}
}

// runWithin runs the bench and fails the test if it has not ended after
// limit: the point of the tests that use it is that it ends.
func runWithin(t *testing.T, ctx context.Context, cfg Config, limit time.Duration) (*Result,
	error) {
	t.Helper()
	type ended struct {
		res *Result
		err error
	}
	endc := make(chan ended, 1)
	go func() {
		res, err := Run(ctx, cfg)
		endc <- ended{res, err}
	}()
	select {
	case e := <-endc:
		return e.res, e.err
	case <-time.After(limit):
		t.Fatalf("the bench had not ended %s after it started", limit)
		return nil, nil
	}
}

// TestRunServerGoesAway: when the bank stops during a run, the clients wait
// between attempts rather than spinning on refused connections, requests
// that were never sent are not left to resolve, and the bench ends soon,
// with its figures and an error that says the bank went away.
func TestRunServerGoesAway(t *testing.T) {
	b := startBank(t)
	cfg := b.config(t, 2)
	cfg.Clients, cfg.Duration = 2, 3*time.Second
	cfg.Mix = Mix{OpDeposit: 1}
	time.AfterFunc(time.Second, b.stop)
	res, err := runWithin(t, context.Background(), cfg, time.Minute)
	if res == nil || err == nil {
		t.Fatalf("Run = %v, %v; want the figures and an error", res, err)
	}
	total := res.Ops[len(res.Ops)-1]
	if total.Answered == 0 || res.Errors["connect"] == 0 {
		t.Fatalf("answered %d, errors %v: the server did not go away mid-run",
			total.Answered, res.Errors)
	}
	// Two clients over two seconds, pausing 10 ms, 20 ms, ... up to 1 s.
	if n := res.Errors["connect"]; n > 100 {
		t.Errorf("%d connection attempts while the bank was down: the clients spin", n)
	}
	if !strings.Contains(err.Error(), "connect") || res.Error != err.Error() {
		t.Errorf("error %q (in the result: %q) does not say the bank cannot be reached",
			err, res.Error)
	}
}

// TestRunInterrupted: an interrupted run returns what it measured and no
// check; one interrupted before it ran returns no figures at all.
func TestRunInterrupted(t *testing.T) {
	b := startBank(t)
	cfg := b.config(t, 2)
	cfg.Clients, cfg.Duration = 2, time.Minute
	cfg.Mix = Mix{OpBalance: 1, OpDeposit: 1}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	res, err := runWithin(t, ctx, cfg, 30*time.Second)
	if !errors.Is(err, context.Canceled) || res == nil || !res.Interrupted ||
		res.Check != nil || res.Ops[len(res.Ops)-1].Answered == 0 {
		t.Fatalf("Run interrupted mid-run = %+v, %v; want figures, no check, "+
			"context.Canceled", res, err)
	}

	cfg.NoCheck, cfg.Mix = true, Mix{OpBalance: 1}
	res, err = runWithin(t, ctx, cfg, 30*time.Second) // ctx is already cancelled
	if res != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run interrupted before it started = %+v, %v; want no figures", res, err)
	}
}
