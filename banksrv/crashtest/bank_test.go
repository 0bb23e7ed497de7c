package crashtest

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/banco/banco/bankcli"
	"github.com/banco/banco/banksrv"
	"github.com/banco/banco/internal/testpki"
	"github.com/banco/banco/ledger"
)

// customers of every workload: a few accounts, so that requests collide.
var customers = []string{"ana", "ben", "cy", "dee", "eve"}

// allCustomers adds the late customer, who only receives transfers.
func allCustomers() []string { return append([]string{lateCustomer}, customers...) }

// TestBankWorkload runs the workload against banksrv in-process, over real
// mutual TLS on loopback, with no faults: every request must get an answer,
// and Verify runs on its snapshot again and again while money moves.
func TestBankWorkload(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			seed := seedFor(t)
			dsn := b.dsn(t)
			store := openStore(t, dsn)
			pki := testpki.New(t, "banco crashtest")
			addr := startServer(t, pki, store)
			w := &workload{
				seed: seed, customers: customers, clients: *flagClients, maxOps: 40,
				strict: true, rec: &recorder{},
				connect: func(name string, _ int) []*bankcli.Client {
					return []*bankcli.Client{newClient(t, pki, addr, name)}
				},
			}
			openAccounts(t, w)
			w.dial()

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var wg sync.WaitGroup
			stopVerify := make(chan struct{})
			wg.Go(func() { verifyDuring(t, store, stopVerify) })
			w.run(ctx, ctx)
			close(stopVerify)
			wg.Wait()
			checkLedger(t, store, allCustomers(), w.rec)
		})
	}
}

// startServer serves the bank on a loopback port until the test ends.
func startServer(t *testing.T, pki *testpki.PKI, store ledger.Store) string {
	t.Helper()
	cert := pki.Server(t).TLS()
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// newClient writes a testpki identity for customer and returns the real
// bank client for it, without retries of its own: the workload retries.
func newClient(t *testing.T, pki *testpki.PKI, addr, customer string) *bankcli.Client {
	t.Helper()
	dir := filepath.Join(t.TempDir(), customer)
	pki.WriteClient(t, dir, pki.Client(t, customer))
	cl, err := bankcli.New(bankcli.Config{
		Server:    "https://banco.local:8443",
		ConnectTo: addr,
		CertFile:  filepath.Join(dir, testpki.ClientCertFile),
		KeyFile:   filepath.Join(dir, testpki.ClientKeyFile),
		CAFile:    filepath.Join(dir, testpki.RootCertFile),
		Retries:   -1,
		Timeout:   20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// openAccounts opens every customer's account with a balance read, so that
// transfers to them are not refused for want of an account.
func openAccounts(t *testing.T, w *workload) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range w.customers {
		cls := w.connect(c, -1)
		_, err := cls[len(cls)-1].Balance(ctx)
		for i := 0; err != nil && i < 100 && pause(ctx, 0); i++ {
			_, err = cls[len(cls)-1].Balance(ctx) // a server may still be starting
		}
		closeAll(cls)
		if err != nil {
			t.Fatalf("open the account of %s: %v", c, err)
		}
	}
}

// verifyDuring runs Verify on the live ledger until stop is closed: each
// run reads one snapshot, in which every invariant must hold.
func verifyDuring(t *testing.T, store ledger.Store, stop <-chan struct{}) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			t.Logf("Verify ran %d times during the workload", n)
			return
		case <-time.After(50 * time.Millisecond):
		}
		rep, err := store.Verify(context.Background())
		if err != nil {
			t.Errorf("Verify during the workload: %v", err)
			return
		}
		if len(rep.Problems) > 0 || rep.Total != 0 {
			t.Errorf("Verify during the workload: total %s, problems %+v", rep.Total,
				rep.Problems)
		}
	}
}
