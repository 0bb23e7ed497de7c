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
		mustVerify(t, servers[1])
		if rep.Entries == 0 {
			t.Error("no entries")
		}
	})
}

// TestFailedRequestAloneFails makes the database itself fail one request
// among many committed together, with a trigger that refuses its journal
// entry or its idempotency record: that one gets an error that is not a
// refusal, and nothing of it is kept (no money moved without its key, no key
// without its money: they are written in one transaction); the others are
// applied.
func TestFailedRequestAloneFails(t *testing.T) {
	for _, table := range []string{"entries", "requests"} {
		t.Run(table, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, b backend) { failOneRequest(t, b, table) })
		})
	}
}

func failOneRequest(t *testing.T, b backend, table string) {
	s, dsn := newStore(t, b)
	db := b.raw(t, dsn)
	trigger := []string{`CREATE TRIGGER boom BEFORE INSERT ON ` + table + `
		WHEN NEW.idem_key = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END`}
	if b.name == "postgres" {
		trigger = []string{`CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.idem_key = 'boom' THEN RAISE EXCEPTION 'boom'; END IF;
			RETURN NEW; END $$`,
			`CREATE TRIGGER boom BEFORE INSERT ON ` + table + `
			FOR EACH ROW EXECUTE FUNCTION boom()`}
	}
	for _, stmt := range trigger {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	const n = 30
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprint("k", i)
			if i == n/2 {
				key = "boom"
			}
			_, errs[i] = s.Apply(bg, dep(fmt.Sprint("c", i%3), 100, key))
		})
	}
	wg.Wait()
	for i, err := range errs {
		switch {
		case i == n/2 && (err == nil || IsRefusal(err)):
			t.Errorf("the failing request answered %v", err)
		case i != n/2 && err != nil:
			t.Errorf("request %d: %v", i, err)
		}
	}
	if _, found, err := s.Lookup(bg, fmt.Sprint("c", (n/2)%3), "boom"); found || err != nil {
		t.Errorf("the failed request left a trace: %v, %v", found, err)
	}
	var sum Amount
	for i := range 3 {
		sum += balance(t, s, fmt.Sprint("c", i))
	}
	if sum != (n-1)*100 {
		t.Errorf("customers hold %s, want %s", sum, Amount((n-1)*100))
	}
	var left int
	err := db.QueryRow(`SELECT COUNT(*) FROM entries WHERE idem_key = 'boom'`).Scan(&left)
	if err != nil || left != 0 {
		t.Errorf("the failed request left %d journal entries (%v)", left, err)
	}
	rep, err := s.Verify(bg)
	if err != nil || len(rep.Problems) > 0 || rep.Entries != n-1 {
		t.Fatalf("Verify: %+v, %v; want %d entries and no problem", rep, err, n-1)
	}
	if ss, ok := s.(*sqliteStore); ok && ss.redone.Load() == 0 {
		t.Error("the failing request did not send its batch down the careful path")
	}
}
