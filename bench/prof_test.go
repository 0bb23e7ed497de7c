package bench

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/banco/banco/ledger"
)

func TestProfileRun(t *testing.T) {
	mixS := os.Getenv("PROF_MIX")
	if mixS == "" {
		t.Skip("PROF_MIX not set")
	}
	if os.Getenv("PROF_LOG") != "" {
		f, _ := os.Create(t.TempDir() + "/log")
		testLogger = slog.New(slog.NewTextHandler(f, nil))
		defer func() { testLogger = nil }()
	}
	b := startBank(t)
	cfg := b.config(t, 16)
	mix, _ := ParseMix(mixS)
	cfg.Mix, cfg.Clients, cfg.Duration, cfg.NoCheck = mix, 16, 5*time.Second, true
	if m := os.Getenv("PROF_MODE"); m != "" {
		cfg.Mode = Mode(m)
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res.Ops[len(res.Ops)-1])
}

func BenchmarkLedgerBalance(b *testing.B) {
	store, err := ledger.Open(context.Background(), b.TempDir()+"/l.db", ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	store.Balance(context.Background(), "alice")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := store.Balance(context.Background(), "alice"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkLedgerBalanceCancelable(b *testing.B) {
	store, err := ledger.Open(context.Background(), b.TempDir()+"/l.db", ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	store.Balance(context.Background(), "alice")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithCancel(context.Background())
			if _, err := store.Balance(ctx, "alice"); err != nil {
				b.Fatal(err)
			}
			cancel()
		}
	})
}
