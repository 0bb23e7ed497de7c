package ledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestTwoServersOneDatabase runs two Stores on one database, as two banco
// servers would, with clients hammering the same few accounts through both.
// On SQLite the second Store is a second writer fighting for the file lock.
func TestTwoServersOneDatabase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		servers := []Store{open(t, dsn), open(t, dsn)}
		names := []string{"ana", "ben", "cy", "dee"}
		for _, n := range names {
			balance(t, servers[0], n)
		}
		const clients, ops = 8, 40
		var (
			mu  sync.Mutex
			net Amount // deposits minus withdrawals acknowledged
		)
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(c), 7))
				for i := range ops {
					s := servers[(c+i)%2]
					who := names[rng.IntN(len(names))]
					r := Request{Customer: who, Amount: Amount(1 + rng.IntN(3000)),
						Key: fmt.Sprintf("c%d-%d", c, i)}
					switch rng.IntN(3) {
					case 0:
						r.Kind = Deposit
					case 1:
						r.Kind = Withdraw
					default:
						r.Kind, r.To = Transfer, names[rng.IntN(len(names))]
					}
					if r.To == r.Customer {
						r.Kind, r.To = Deposit, ""
					}
					res, err := s.Apply(bg, r)
					if err != nil && !errors.Is(err, ErrInsufficientFunds) {
						t.Errorf("%+v: %v", r, err)
						return
					}
					if err == nil && res.Balance < 0 {
						t.Errorf("%+v left balance %s", r, res.Balance)
					}
					// A retry through the other server replays the answer.
					res2, err2 := servers[(c+i+1)%2].Apply(bg, r)
					if (err == nil) != (err2 == nil) || (err == nil && (!res2.Replayed ||
						res2.Entry.ID != res.Entry.ID)) {
						t.Errorf("%+v: retry answered %+v, %v; first %+v, %v",
							r, res2, err2, res, err)
					}
					if err != nil {
						continue
					}
					mu.Lock()
					switch r.Kind {
					case Deposit:
						net += r.Amount
					case Withdraw:
						net -= r.Amount
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		var sum Amount
		for _, n := range names {
			bal := balance(t, servers[1], n)
			if bal < 0 {
				t.Errorf("%s has %s", n, bal)
			}
			sum += bal
		}
		if sum != net {
			t.Errorf("customers hold %s, but acknowledged deposits minus withdrawals are %s",
				sum, net)
		}
		rep := mustVerify(t, servers[0])
		if rep.Entries == 0 {
			t.Error("no entries")
		}
	})
}
