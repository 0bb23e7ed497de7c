package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

var bg = context.Background()

func apply(t testing.TB, s Store, r Request) Result {
	t.Helper()
	res, err := s.Apply(bg, r)
	if err != nil {
		t.Fatalf("Apply(%+v): %v", r, err)
	}
	return res
}

func balance(t testing.TB, s Store, customer string) Amount {
	t.Helper()
	bal, err := s.Balance(bg, customer)
	if err != nil {
		t.Fatalf("Balance(%q): %v", customer, err)
	}
	return bal
}

func dep(who string, a Amount, key string) Request {
	return Request{Customer: who, Kind: Deposit, Amount: a, Key: key}
}

func wd(who string, a Amount, key string) Request {
	return Request{Customer: who, Kind: Withdraw, Amount: a, Key: key}
}

func xfer(who, to string, a Amount, key string) Request {
	return Request{Customer: who, Kind: Transfer, Amount: a, To: to, Key: key}
}

func TestDepositWithdraw(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		if got := balance(t, s, "alice"); got != 0 {
			t.Fatalf("new account balance = %s", got)
		}
		res := apply(t, s, dep("alice", 10000, "k1"))
		if res.Balance != 10000 || res.Replayed || res.Entry.From != CashAccount ||
			res.Entry.To != "alice" || res.Entry.Amount != 10000 || res.Entry.Kind != Deposit {
			t.Fatalf("deposit result = %+v", res)
		}
		res = apply(t, s, wd("alice", 2550, "k2"))
		if res.Balance != 7450 || res.Entry.From != "alice" || res.Entry.To != CashAccount {
			t.Fatalf("withdraw result = %+v", res)
		}
		if got := balance(t, s, "alice"); got != 7450 {
			t.Fatalf("balance = %s, want 74.50", got)
		}
		mustVerify(t, s)
	})
}

func TestOverdraftRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		apply(t, s, dep("alice", 500, "d"))
		_, err := s.Apply(bg, wd("alice", 501, "w"))
		if !errors.Is(err, ErrInsufficientFunds) {
			t.Fatalf("overdraft: err = %v, want ErrInsufficientFunds", err)
		}
		_, err = s.Apply(bg, xfer("alice", "bob", 501, "t"))
		if !errors.Is(err, ErrNoAccount) {
			t.Fatalf("transfer to a stranger: err = %v, want ErrNoAccount", err)
		}
		balance(t, s, "bob")
		_, err = s.Apply(bg, xfer("alice", "bob", 501, "t2"))
		if !errors.Is(err, ErrInsufficientFunds) {
			t.Fatalf("overdraft by transfer: err = %v, want ErrInsufficientFunds", err)
		}
		if a, b := balance(t, s, "alice"), balance(t, s, "bob"); a != 500 || b != 0 {
			t.Fatalf("balances after refusals = %s, %s", a, b)
		}
		mustVerify(t, s)
	})
}

func TestRefusalIsRemembered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		_, err := s.Apply(bg, wd("alice", 1000, "k"))
		if !errors.Is(err, ErrInsufficientFunds) {
			t.Fatalf("err = %v, want ErrInsufficientFunds", err)
		}
		apply(t, s, dep("alice", 5000, "d"))
		_, err = s.Apply(bg, wd("alice", 1000, "k"))
		if !errors.Is(err, ErrInsufficientFunds) {
			t.Fatalf("retry of a refused request: err = %v, want the same refusal", err)
		}
		_, found, err := s.Lookup(bg, "alice", "k")
		if !found || !errors.Is(err, ErrInsufficientFunds) {
			t.Fatalf("Lookup refused = %v, %v", found, err)
		}
		if got := balance(t, s, "alice"); got != 5000 {
			t.Fatalf("balance = %s, want 50.00", got)
		}
		mustVerify(t, s)
	})
}

func TestBalanceLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		// MaxBalance/MaxAmount deposits, by 16 callers so they share commits.
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 16 {
			wg.Go(func() {
				for i := next.Add(1); Amount(i)*MaxAmount <= MaxBalance; i = next.Add(1) {
					_, err := s.Apply(bg, dep("rich", MaxAmount, fmt.Sprint("d", i)))
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if got := balance(t, s, "rich"); got != MaxBalance {
			t.Fatalf("balance = %s, want %s", got, MaxBalance)
		}
		_, err := s.Apply(bg, dep("rich", 1, "one-more"))
		if !errors.Is(err, ErrBalanceLimit) {
			t.Fatalf("err = %v, want ErrBalanceLimit", err)
		}
		mustVerify(t, s)
	})
}

func TestInvalidRequests(t *testing.T) {
	long := strings.Repeat("k", MaxKeyLen+1)
	cases := []struct {
		name string
		r    Request
		want error
	}{
		{"zero amount", dep("alice", 0, "k"), ErrBadRequest},
		{"negative amount", dep("alice", -5, "k"), ErrBadRequest},
		{"amount above max", dep("alice", MaxAmount+1, "k"), ErrBadRequest},
		{"empty key", dep("alice", 1, ""), ErrBadRequest},
		{"key too long", dep("alice", 1, long), ErrBadRequest},
		{"key with control character", dep("alice", 1, "a\nb"), ErrBadRequest},
		{"unknown kind", Request{Customer: "alice", Kind: "steal", Amount: 1, Key: "k"},
			ErrBadRequest},
		{"empty kind", Request{Customer: "alice", Amount: 1, Key: "k"}, ErrBadRequest},
		{"empty customer", dep("", 1, "k"), ErrBadRequest},
		{"customer with slash", dep("a/b", 1, "k"), ErrBadRequest},
		{"customer named like cash", dep(CashAccount, 1, "k"), ErrBadRequest},
		{"transfer without recipient", xfer("alice", "", 1, "k"), ErrBadRequest},
		{"transfer to bad name", xfer("alice", " bob", 1, "k"), ErrBadRequest},
		{"deposit with recipient", Request{Customer: "alice", Kind: Deposit, Amount: 1,
			To: "bob", Key: "k"}, ErrBadRequest},
		{"transfer to self", xfer("alice", "alice", 1, "k"), ErrSameAccount},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		apply(t, s, dep("alice", 100, "setup"))
		for _, c := range cases {
			_, err := s.Apply(bg, c.r)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
		}
		if _, err := s.Balance(bg, "bad/name"); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Balance of a bad name: err = %v", err)
		}
		_, err := s.History(bg, "alice", HistoryQuery{Limit: -1})
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("History with a negative limit: err = %v", err)
		}
		if got := balance(t, s, "alice"); got != 100 {
			t.Errorf("balance = %s after refused requests", got)
		}
		mustVerify(t, s)
	})
}

func TestIdempotentReplay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		first := apply(t, s, dep("alice", 700, "same"))
		again := apply(t, s, dep("alice", 700, "same"))
		if !again.Replayed || again.Entry.ID != first.Entry.ID || again.Balance != 700 ||
			!again.Entry.Time.Equal(first.Entry.Time) {
			t.Fatalf("replay = %+v, first = %+v", again, first)
		}
		// The key belongs to alice: bob may use the same one.
		if res := apply(t, s, dep("bob", 300, "same")); res.Replayed {
			t.Fatalf("bob's request replayed alice's: %+v", res)
		}
		if got := balance(t, s, "alice"); got != 700 {
			t.Fatalf("balance = %s after replay, want 7.00", got)
		}
		got, found, err := s.Lookup(bg, "alice", "same")
		if err != nil || !found || got.Entry.ID != first.Entry.ID || got.Entry.Key != "same" {
			t.Fatalf("Lookup = %+v, %v, %v", got, found, err)
		}
		if _, found, err := s.Lookup(bg, "alice", "never"); found || err != nil {
			t.Fatalf("Lookup of an unused key = %v, %v", found, err)
		}
		mustVerify(t, s)
	})
}

func TestKeyConflict(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		apply(t, s, dep("alice", 1000, "k"))
		balance(t, s, "bob")
		for _, r := range []Request{
			dep("alice", 999, "k"),
			wd("alice", 1000, "k"),
			xfer("alice", "bob", 1000, "k"),
		} {
			if _, err := s.Apply(bg, r); !errors.Is(err, ErrKeyConflict) {
				t.Errorf("%+v: err = %v, want ErrKeyConflict", r, err)
			}
		}
		if a, b := balance(t, s, "alice"), balance(t, s, "bob"); a != 1000 || b != 0 {
			t.Fatalf("balances after conflicts = %s, %s", a, b)
		}
		mustVerify(t, s)
	})
}

func TestConcurrentWithdrawals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		apply(t, s, dep("alice", 2500, "d"))
		const n = 50
		var ok, refused int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, err := s.Apply(bg, wd("alice", 100, fmt.Sprint("w", i)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrInsufficientFunds):
					refused++
				default:
					t.Errorf("withdraw %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if ok != 25 || refused != 25 {
			t.Fatalf("%d withdrawals succeeded and %d were refused, want 25 and 25", ok, refused)
		}
		if got := balance(t, s, "alice"); got != 0 {
			t.Fatalf("balance = %s, want 0", got)
		}
		mustVerify(t, s)
	})
}

func TestConcurrentDuplicates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		apply(t, s, dep("alice", 1000, "d"))
		balance(t, s, "bob")
		const n = 20
		results := make([]Result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res, err := s.Apply(bg, xfer("alice", "bob", 400, "once"))
				if err != nil {
					t.Errorf("copy %d: %v", i, err)
				}
				results[i] = res
			})
		}
		wg.Wait()
		fresh := 0
		for _, r := range results {
			if !r.Replayed {
				fresh++
			}
			if r.Entry.ID != results[0].Entry.ID || r.Balance != 600 {
				t.Errorf("result %+v differs from %+v", r, results[0])
			}
		}
		if fresh != 1 {
			t.Errorf("%d copies were applied, want 1", fresh)
		}
		if a, b := balance(t, s, "alice"), balance(t, s, "bob"); a != 600 || b != 400 {
			t.Fatalf("balances = %s, %s; want 6.00, 4.00", a, b)
		}
		mustVerify(t, s)
	})
}

func TestTransfer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		apply(t, s, dep("alice", 1000, "d"))
		if _, err := s.Apply(bg, xfer("alice", "bob", 100, "t0")); !errors.Is(err, ErrNoAccount) {
			t.Fatalf("transfer to a customer with no account: err = %v", err)
		}
		if _, err := s.History(bg, "bob", HistoryQuery{}); err != nil {
			t.Fatal(err)
		}
		res := apply(t, s, xfer("alice", "bob", 250, "t1"))
		if res.Balance != 750 || res.Entry.From != "alice" || res.Entry.To != "bob" ||
			res.Entry.Customer != "alice" {
			t.Fatalf("transfer result = %+v", res)
		}
		apply(t, s, xfer("bob", "alice", 50, "t2"))
		if a, b := balance(t, s, "alice"), balance(t, s, "bob"); a != 800 || b != 200 {
			t.Fatalf("balances = %s, %s; want 8.00, 2.00", a, b)
		}
		// A customer called "cash" is a customer like any other.
		apply(t, s, xfer("alice", "bob", 1, "t3"))
		apply(t, s, dep("cash", 300, "c"))
		apply(t, s, xfer("cash", "alice", 100, "c2"))
		if got := balance(t, s, "cash"); got != 200 {
			t.Fatalf("customer cash has %s, want 2.00", got)
		}
		mustVerify(t, s)
	})
}

// TestWithdrawWhatWasTransferred: money that reached a customer by transfer
// can be withdrawn, whoever deposited it. On PostgreSQL deposits and
// withdrawals post against one of several tills, chosen by customer, so the
// recipients here are spread over tills other than the depositor's.
func TestWithdrawWhatWasTransferred(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		const n = 24
		apply(t, s, dep("payer", n*100, "d"))
		for i := range n {
			who := fmt.Sprintf("payee%02d", i)
			if _, err := s.History(bg, who, HistoryQuery{}); err != nil { // opens it
				t.Fatal(err)
			}
			apply(t, s, xfer("payer", who, 100, "t"+who))
			res, err := s.Apply(bg, wd(who, 100, "w"+who))
			if err != nil || res.Balance != 0 {
				t.Fatalf("%s withdraws the 1.00 it received: %+v, %v", who, res, err)
			}
		}
		if got := balance(t, s, "payer"); got != 0 {
			t.Fatalf("payer has %s, want 0.00", got)
		}
		// The payer's till is now above zero and every payee's below it;
		// the bank still holds nothing, and a deposit and withdrawal work.
		apply(t, s, dep("payer", 500, "d2"))
		apply(t, s, wd("payer", 500, "w2"))
		if rep := mustVerify(t, s); rep.Entries != 2*n+3 || rep.Total != 0 {
			t.Fatalf("Verify: %+v", rep)
		}
	})
}

func TestHistoryPaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		balance(t, s, "bob")
		var want []Line
		var bal Amount
		for i := 1; i <= 7; i++ {
			a := Amount(i * 100)
			res := apply(t, s, dep("alice", a, fmt.Sprint("d", i)))
			bal += a
			want = append(want, Line{Entry: res.Entry, Delta: a, Balance: bal})
			if i%3 == 0 {
				res := apply(t, s, xfer("alice", "bob", 50, fmt.Sprint("t", i)))
				bal -= 50
				want = append(want, Line{Entry: res.Entry, Delta: -50, Balance: bal})
			}
			apply(t, s, dep("bob", 1, fmt.Sprint("noise", i)))
		}
		var got []Line
		q := HistoryQuery{Limit: 3}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("history does not end")
			}
			p, err := s.History(bg, "alice", q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Lines) > 3 {
				t.Fatalf("page of %d lines, limit 3", len(p.Lines))
			}
			got = append(got, p.Lines...)
			if p.Next == 0 {
				break
			}
			q.Before = p.Next
		}
		if len(got) != len(want) {
			t.Fatalf("history has %d lines, want %d", len(got), len(want))
		}
		for i, g := range got {
			w := want[len(want)-1-i]
			g.Key, w.Key = "", ""
			if g.ID != w.ID || g.Delta != w.Delta || g.Balance != w.Balance ||
				g.From != w.From || g.To != w.To || !g.Time.Equal(w.Time) {
				t.Errorf("line %d = %+v, want %+v", i, g, w)
			}
		}
		p, err := s.History(bg, "carol", HistoryQuery{})
		if err != nil || len(p.Lines) != 0 || p.Next != 0 {
			t.Fatalf("new customer's history = %+v, %v", p, err)
		}
	})
}

func TestEntries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		apply(t, s, dep("alice", 500, "a1"))
		apply(t, s, dep("bob", 500, "b1"))
		apply(t, s, dep("carol", 500, "c1"))
		apply(t, s, xfer("bob", "alice", 100, "b2"))
		es, err := s.Entries(bg, []string{"alice", "nobody"})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, e := range es {
			keys = append(keys, e.Customer+"/"+e.Key)
		}
		if got := strings.Join(keys, " "); got != "alice/a1 bob/b2" {
			t.Fatalf("entries of alice = %s", got)
		}
	})
}

func TestJournalIsImmutable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, dsn := newStore(t, b)
		apply(t, s, dep("alice", 500, "a1"))
		db := b.raw(t, dsn)
		stmts := []string{
			`UPDATE entries SET amount = 1`,
			`DELETE FROM entries`,
			`UPDATE requests SET amount = 1`,
			`DELETE FROM requests`,
		}
		if b.name == "postgres" {
			stmts = append(stmts, `TRUNCATE entries CASCADE`, `TRUNCATE requests`)
		}
		for _, stmt := range stmts {
			_, err := db.Exec(stmt)
			if err == nil || !strings.Contains(err.Error(), "immutable") {
				t.Errorf("%s: err = %v, want the trigger's refusal", stmt, err)
			}
		}
		rep := mustVerify(t, s)
		if rep.Entries != 1 || balance(t, s, "alice") != 500 {
			t.Errorf("after the refused changes: %+v", rep)
		}
	})
}

func TestVerifyDetectsCorruption(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, dsn := newStore(t, b)
		apply(t, s, dep("alice", 500, "a1"))
		apply(t, s, dep("bob", 500, "b1"))
		rep := mustVerify(t, s)
		if rep.Accounts != 3 || rep.Entries != 2 {
			t.Fatalf("report = %+v, want 3 accounts and 2 entries", rep)
		}
		db := b.raw(t, dsn)
		_, err := db.Exec(`UPDATE accounts SET balance = balance + 100 WHERE name = 'alice'`)
		if err != nil {
			t.Fatal(err)
		}
		rep, err = s.Verify(bg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Total != 100 {
			t.Errorf("total = %s, want 1.00", rep.Total)
		}
		var sawBalance, sawTotal bool
		for _, p := range rep.Problems {
			sawBalance = sawBalance || (p.Account == "alice" &&
				strings.Contains(p.What, "differs from its journal"))
			sawTotal = sawTotal || strings.Contains(p.What, "sum of all balances")
		}
		if !sawBalance || !sawTotal {
			t.Fatalf("problems = %+v, want alice's balance and the total", rep.Problems)
		}
	})
}

func TestSchemaTooNewRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		s, err := Open(bg, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		db := b.raw(t, dsn)
		_, err = db.Exec(`INSERT INTO banco_schema (version, applied) VALUES (99, 0)`)
		if err != nil {
			t.Fatal(err)
		}
		s, err = Open(bg, dsn, Options{})
		if err == nil {
			s.Close()
			t.Fatal("a database from a newer banco was opened")
		}
		if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "version 99") {
			t.Fatalf("err = %v, want ErrSchemaTooNew naming version 99", err)
		}
	})
}

func TestReopenKeepsEverything(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		s, err := Open(bg, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		apply(t, s, dep("alice", 900, "a1"))
		balance(t, s, "bob")
		first := apply(t, s, xfer("alice", "bob", 300, "a2"))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(bg, dep("alice", 1, "late")); err == nil {
			t.Error("Apply after Close succeeded")
		}

		s = open(t, dsn)
		if a, b := balance(t, s, "alice"), balance(t, s, "bob"); a != 600 || b != 300 {
			t.Fatalf("balances after reopening = %s, %s", a, b)
		}
		again := apply(t, s, xfer("alice", "bob", 300, "a2"))
		if !again.Replayed || again.Entry.ID != first.Entry.ID {
			t.Fatalf("replay after reopening = %+v", again)
		}
		p, err := s.History(bg, "alice", HistoryQuery{})
		if err != nil || len(p.Lines) != 2 {
			t.Fatalf("history after reopening = %+v, %v", p, err)
		}
		mustVerify(t, s)
	})
}

func TestMustExist(t *testing.T) {
	dsn := sqliteDSN(t)
	if _, err := Open(bg, dsn, Options{MustExist: true}); err == nil {
		t.Fatal("Open with MustExist created a ledger")
	}
}

func TestSQLiteFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix permission bits")
	}
	dsn := sqliteDSN(t)
	s := open(t, "sqlite:"+dsn)
	apply(t, s, dep("alice", 1, "k"))
	for path, want := range map[string]os.FileMode{
		filepath.Dir(dsn): 0o700 | os.ModeDir, dsn: 0o600, dsn + "-wal": 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), want)
		}
	}
}
