package crashtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/ledger"
)

// capture is a testing.TB that keeps the errors reported to it.
type capture struct {
	testing.TB
	errs []string
}

func (c *capture) Errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *capture) Logf(string, ...any) {}

// TestCheckerCatches shows that checkLedger can fail: it feeds it a real
// ledger and records of what clients saw, one broken promise at a time.
func TestCheckerCatches(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	// ana deposits 10.00 (key d1) then withdraws 4.00 (key w1); a withdrawal
	// of 50.00 (key w2) is refused. The journal: 1000 then 600.
	base := func(t *testing.T) (ledger.Store, *recorder) {
		store := openStore(t, backends[0].dsn(t))
		rec := &recorder{}
		for i, r := range []ledger.Request{
			{Customer: "ana", Kind: ledger.Deposit, Amount: 1000, Key: "d1"},
			{Customer: "ana", Kind: ledger.Withdraw, Amount: 400, Key: "w1"},
			{Customer: "ana", Kind: ledger.Withdraw, Amount: 5000, Key: "w2"},
		} {
			res, err := store.Apply(ctx, r)
			op := &moneyOp{Customer: r.Customer, Kind: r.Kind, Amount: r.Amount, Key: r.Key,
				Sent: at(10 * i), Acked: at(10*i + 5), Attempts: 1, Outcome: applied,
				Move: api.Movement{ID: res.Entry.ID, Balance: res.Balance.String()}}
			if err != nil {
				op.Outcome, op.Code, op.Move = refused, api.CodeInsufficientFunds, api.Movement{}
			}
			rec.op(op)
		}
		return store, rec
	}
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, s ledger.Store, r *recorder)
		want  string
	}{
		{"ok", func(*testing.T, ledger.Store, *recorder) {}, ""},
		{"fail/entry nobody sent", func(t *testing.T, s ledger.Store, r *recorder) {
			_, err := s.Apply(ctx, ledger.Request{Customer: "ana", Kind: ledger.Deposit,
				Amount: 1, Key: "ghost"})
			if err != nil {
				t.Fatal(err)
			}
		}, "which no client sent"},
		{"fail/acknowledged but missing", func(_ *testing.T, _ ledger.Store, r *recorder) {
			r.op(&moneyOp{Customer: "ana", Kind: ledger.Deposit, Amount: 7, Key: "lost",
				Sent: at(50), Acked: at(55), Outcome: applied, Move: api.Movement{ID: 99}})
		}, "not in the journal"},
		{"fail/refused but moved", func(_ *testing.T, _ ledger.Store, r *recorder) {
			r.ops[1].Outcome, r.ops[1].Code = refused, api.CodeInsufficientFunds
		}, "but moved money"},
		{"fail/refused with the funds there", func(_ *testing.T, _ ledger.Store, r *recorder) {
			r.ops[2].Amount = 600
		}, "refused for want of funds"},
		{"fail/wrong balance answered", func(_ *testing.T, _ ledger.Store, r *recorder) {
			r.ops[1].Move.Balance = "7.00"
		}, "answered with balance"},
		{"fail/copies disagree", func(_ *testing.T, _ ledger.Store, r *recorder) {
			twin := *r.ops[0]
			twin.Move.ID++
			r.op(&twin)
		}, "different answers"},
		{"fail/both copies fresh", func(_ *testing.T, _ ledger.Store, r *recorder) {
			twin := *r.ops[0]
			r.op(&twin)
		}, "none replayed"},
		{"fail/read a balance never held", func(_ *testing.T, _ ledger.Store, r *recorder) {
			r.read(readObs{Customer: "ana", Sent: at(100), Got: at(101), Balance: 1000})
		}, "never had"},
		{"fail/stale read", func(_ *testing.T, _ ledger.Store, r *recorder) {
			// 10.00 was ana's balance, but only before w1 was acknowledged.
			r.read(readObs{Customer: "ana", Sent: at(30), Got: at(31), Balance: 1000})
		}, "never had"},
		{"fail/read from the future", func(_ *testing.T, _ ledger.Store, r *recorder) {
			r.read(readObs{Customer: "ana", Sent: at(-2), Got: at(-1), Balance: 600})
		}, "never had"},
		{"fail/history line off", func(_ *testing.T, s ledger.Store, r *recorder) {
			h := &api.History{Customer: "ana", Lines: []api.HistoryLine{
				{ID: r.ops[1].Move.ID, Amount: "4.00", Delta: "-4.00", Balance: "6.00"},
				{ID: r.ops[0].Move.ID, Amount: "10.00", Delta: "+10.00", Balance: "9.00"},
			}}
			r.read(readObs{Customer: "ana", Sent: at(100), Got: at(101), History: h,
				Pages: 1})
		}, "history line"},
		{"fail/finding during the run", func(_ *testing.T, _ ledger.Store, r *recorder) {
			r.findf("server answered 500")
		}, "during the run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, rec := base(t)
			tc.spoil(t, store, rec)
			c := &capture{TB: t}
			checkLedger(c, store, []string{"ana"}, rec)
			got := strings.Join(c.errs, "\n")
			switch {
			case tc.want == "" && got != "":
				t.Errorf("the checks failed a sound run:\n%s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("the checks did not catch it; want %q, got:\n%s", tc.want, got)
			}
		})
	}
}
