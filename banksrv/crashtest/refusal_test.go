package crashtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/banco/banco/ledger"
)

// TestRefusalReasonUnderRace: withdrawals that race with deposits on one
// small account must be refused for want of funds, never for a balance
// limit that no account comes near. The workload found the ledger (version
// of 20:18) answering balance_limit on PostgreSQL: after a conditional
// UPDATE refused a debit, it re-read the balance in a new statement to tell
// why, and a deposit committed in between made it look as if funds were
// there. The refusal is remembered under the key, so every retry got the
// wrong answer too.
func TestRefusalReasonUnderRace(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			store := openStore(t, b.dsn(t))
			ctx := context.Background()
			const workers, rounds = 4, 150
			var limits, funds, applied atomic.Int64
			var wg sync.WaitGroup
			for w := range 2 * workers {
				wg.Go(func() {
					for i := range rounds {
						r := ledger.Request{Customer: "ana", Kind: ledger.Deposit, Amount: 100,
							Key: fmt.Sprintf("w%d-%d", w, i)}
						if w%2 == 1 {
							r.Kind, r.Amount = ledger.Withdraw, 100+ledger.Amount(i%2)*100
						}
						_, err := store.Apply(ctx, r)
						switch {
						case err == nil:
							applied.Add(1)
						case errors.Is(err, ledger.ErrInsufficientFunds):
							funds.Add(1)
						case errors.Is(err, ledger.ErrBalanceLimit):
							limits.Add(1)
						default:
							t.Errorf("%+v: %v", r, err)
							return
						}
					}
				})
			}
			wg.Wait()
			t.Logf("applied %d, refused for funds %d, for the balance limit %d",
				applied.Load(), funds.Load(), limits.Load())
			if limits.Load() > 0 {
				t.Errorf("%d withdrawals of at most 2.00 were refused for the balance limit",
					limits.Load())
			}
		})
	}
}
