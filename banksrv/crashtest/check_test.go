package crashtest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/ledger"
)

// The checks below read the final ledger and hold it against what the
// clients saw. Each is sound under any interleaving:
//
//   - Every journal entry belongs to a request some client sent (same
//     customer, key, kind, amount and accounts): nothing else moved.
//   - A key is in the journal at most once; an applied (acknowledged)
//     request exactly once, as the entry its answer named; a refused one
//     never, and the ledger still remembers its refusal (Lookup).
//   - Copies of one request got the same answer, and at most one of them
//     was not a replay.
//   - Replaying each customer's entries from zero never goes negative, and
//     the balance after each applied entry is the one its answer reported.
//   - A request refused for want of funds met a balance below its amount
//     (after a prefix of the customer's entries it may have seen, as reads).
//   - Reads: a customer's account changes only under its row lock (SQLite:
//     the single writer), so entry ids order its changes, and a read sees
//     the balance after some prefix of its entries. The prefix must hold
//     every entry acknowledged before the read was sent and none of those
//     first sent after its answer came. Balance reads must equal the
//     balance after such a prefix; history pages must be exactly the newest
//     entries of such a prefix, with the same running balances.
//   - Money is conserved: customers hold what the journal's deposits minus
//     withdrawals say, which is what acknowledged requests plus the unknown
//     ones found in the journal moved; Verify finds no problem, its total
//     is zero and it counts exactly the entries found here.
//
// A sum of balances read by clients at about the same time is not checked:
// the reads are of separate accounts at separate moments, so no invariant
// binds their sum. Verify, which reads one snapshot, checks the global sum,
// also while the servers run (see verifyDuring).

// keyInfo gathers the copies of one request (same customer and key).
type keyInfo struct {
	ops     []*moneyOp
	outcome outcome
	move    api.Movement
	sent    time.Time // first attempt of any copy
	acked   time.Time // first answer of any copy; zero when none
	entry   *ledger.Entry
}

// step is a customer's balance after one of its entries.
type step struct {
	entry   ledger.Entry
	delta   ledger.Amount
	balance ledger.Amount
	info    *keyInfo
}

type checker struct {
	t         testing.TB
	errs      int
	customers []string
	keys      map[string]*keyInfo
	lines     map[string][]step // customer -> its entries, oldest first
}

// errorf reports a broken promise; after many it only counts them.
func (c *checker) errorf(format string, args ...any) {
	c.t.Helper()
	c.errs++
	if c.errs <= 30 {
		c.t.Errorf(format, args...)
	} else if c.errs == 31 {
		c.t.Errorf("more problems not shown")
	}
}

// checkLedger runs every check against store once the workload is over.
func checkLedger(t testing.TB, store ledger.Store, customers []string, rec *recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := &checker{t: t, customers: customers, keys: map[string]*keyInfo{},
		lines: map[string][]step{}}
	for _, f := range rec.findings {
		c.errorf("during the run: %s", f)
	}
	c.groupCopies(rec.ops)

	rep, err := store.Verify(ctx)
	if err != nil {
		t.Fatalf("verify the ledger: %v", err)
	}
	if len(rep.Problems) > 0 || rep.Total != 0 {
		c.errorf("Verify: total %s, problems %+v", rep.Total, rep.Problems)
	}
	entries, err := store.Entries(ctx, customers)
	if err != nil {
		t.Fatalf("read the journal: %v", err)
	}
	if int64(len(entries)) != rep.Entries {
		c.errorf("the journal has %d entries, but %d touch the workload's customers",
			rep.Entries, len(entries))
	}
	c.matchEntries(entries)
	c.checkRefusals(ctx, store)
	c.replay()
	c.checkFundsRefusals()
	c.checkReads(rec.reads)
	c.checkConservation(ctx, store)
	t.Logf("checked: %s; %d journal entries, %d accounts", rec.counts(), len(entries),
		rep.Accounts)
}

func keyOf(customer, key string) string { return customer + "\x00" + key }

// groupCopies merges the copies of each request and checks they agree.
func (c *checker) groupCopies(ops []*moneyOp) {
	for _, op := range ops {
		if op.WantConflict {
			continue // another request: send checked its answer
		}
		k := keyOf(op.Customer, op.Key)
		ki := c.keys[k]
		if ki == nil {
			ki = &keyInfo{sent: op.Sent}
			c.keys[k] = ki
		}
		ki.ops = append(ki.ops, op)
		if op.Sent.Before(ki.sent) {
			ki.sent = op.Sent
		}
		if !op.Acked.IsZero() && (ki.acked.IsZero() || op.Acked.Before(ki.acked)) {
			ki.acked = op.Acked
		}
	}
	for _, ki := range c.keys {
		fresh := 0
		for _, op := range ki.ops {
			if op.Outcome == applied && !op.Move.Replayed {
				fresh++
			}
			switch {
			case op.Outcome == unknown:
			case ki.outcome == unknown:
				ki.outcome, ki.move = op.Outcome, op.Move
			case ki.outcome != op.Outcome || ki.move.ID != op.Move.ID ||
				ki.move.Balance != op.Move.Balance:
				c.errorf("copies of %s got different answers: %s %+v and %s %+v", describe(op),
					ki.outcome, ki.move, op.Outcome, op.Move)
			}
		}
		if fresh > 1 {
			c.errorf("%d copies of %s each say they applied it (none replayed)", fresh,
				describe(ki.ops[0]))
		}
	}
}

func describe(op *moneyOp) string {
	s := fmt.Sprintf("%s %s by %s", op.Kind, op.Amount, op.Customer)
	if op.To != "" {
		s += " to " + op.To
	}
	return s + " (key " + op.Key + ")"
}

// matchEntries ties every journal entry to the request that caused it.
func (c *checker) matchEntries(entries []ledger.Entry) {
	for i := range entries {
		e := &entries[i]
		ki := c.keys[keyOf(e.Customer, e.Key)]
		switch {
		case ki == nil:
			c.errorf("entry %d (%s %s from %s to %s) has key %q of %s, which no client sent",
				e.ID, e.Kind, e.Amount, e.From, e.To, e.Key, e.Customer)
			continue
		case ki.entry != nil:
			c.errorf("%s moved money twice: entries %d and %d", describe(ki.ops[0]),
				ki.entry.ID, e.ID)
			continue
		}
		ki.entry = e
		op := ki.ops[0]
		from, to := op.Customer, op.To
		switch op.Kind {
		case ledger.Deposit:
			from, to = ledger.CashAccount, op.Customer
		case ledger.Withdraw:
			to = ledger.CashAccount
		}
		if e.Kind != op.Kind || e.Amount != op.Amount || e.From != from || e.To != to {
			c.errorf("entry %d (%s %s from %s to %s) does not match %s", e.ID, e.Kind,
				e.Amount, e.From, e.To, describe(op))
		}
		switch {
		case ki.outcome == refused || ki.outcome == rejected:
			c.errorf("%s was answered %s (%s) but moved money in entry %d",
				describe(op), ki.outcome, ki.ops[0].Code, e.ID)
		case ki.outcome == applied && ki.move.ID != e.ID:
			c.errorf("%s was answered with entry %d, but the journal has it as %d",
				describe(op), ki.move.ID, e.ID)
		}
		for _, who := range []string{e.From, e.To} {
			if who == ledger.CashAccount {
				continue
			}
			delta := e.Amount
			if who == e.From {
				delta = -delta
			}
			c.lines[who] = append(c.lines[who], step{entry: *e, delta: delta, info: ki})
		}
	}
	for _, ki := range c.keys {
		if ki.outcome == applied && ki.entry == nil {
			c.errorf("%s was acknowledged (entry %d) but is not in the journal",
				describe(ki.ops[0]), ki.move.ID)
		}
	}
}

var refusalErrs = map[string]error{
	api.CodeInsufficientFunds: ledger.ErrInsufficientFunds,
	api.CodeBalanceLimit:      ledger.ErrBalanceLimit,
	api.CodeNoSuchAccount:     ledger.ErrNoAccount,
}

// checkRefusals asks the ledger about every refused request: it must still
// remember the same refusal under the key, so a retry gets it again.
func (c *checker) checkRefusals(ctx context.Context, store ledger.Store) {
	for _, ki := range c.keys {
		if ki.outcome != refused {
			continue
		}
		op := ki.ops[0]
		if op.Code == api.CodeBalanceLimit {
			// The workload's balances stay below a few thousand: far
			// from ledger.MaxBalance, so no limit can be the reason.
			c.errorf("%s was refused for the balance limit, which no balance comes near",
				describe(op))
		}
		_, found, err := store.Lookup(ctx, op.Customer, op.Key)
		if !found || !errors.Is(err, refusalErrs[op.Code]) {
			c.errorf("%s was refused (%s), but the ledger remembers found=%v, %v",
				describe(op), op.Code, found, err)
		}
	}
}

// replay runs each customer's entries from a zero balance.
func (c *checker) replay() {
	for who, steps := range c.lines {
		var bal ledger.Amount
		for i := range steps {
			s := &steps[i]
			bal += s.delta
			s.balance = bal
			if bal < 0 {
				c.errorf("%s's balance is %s after entry %d", who, bal, s.entry.ID)
			}
			ki := s.info
			if ki.outcome == applied && ki.ops[0].Customer == who && ki.move.ID == s.entry.ID &&
				ki.move.Balance != bal.String() {
				c.errorf("%s was answered with balance %s, but the journal has %s after "+
					"entry %d", describe(ki.ops[0]), ki.move.Balance, bal, s.entry.ID)
			}
		}
	}
}

// checkFundsRefusals: a request refused for want of funds must have met a
// balance below its amount, after some prefix of its customer's entries
// that it may have seen (as for reads, see window).
func (c *checker) checkFundsRefusals() {
	for _, ki := range c.keys {
		op := ki.ops[0]
		if ki.outcome != refused || op.Code != api.CodeInsufficientFunds {
			continue
		}
		steps := c.lines[op.Customer]
		lo, hi := c.window(op.Customer, ki.sent, ki.acked)
		short := false
		for k := lo; k <= hi && !short; k++ {
			short = balanceAt(steps, k) < op.Amount
		}
		if !short {
			c.errorf("%s was refused for want of funds, but the account held at least that "+
				"between its entries %d and %d (balances %s)", describe(op), lo, hi,
				balancesText(steps, lo, hi))
		}
	}
}

// window returns the prefixes of customer's entries that a read sent at
// sent and answered at got may have seen: from lo to hi entries.
func (c *checker) window(who string, sent, got time.Time) (lo, hi int) {
	steps := c.lines[who]
	hi = len(steps)
	for i, s := range steps {
		if !s.info.acked.IsZero() && s.info.acked.Before(sent) {
			lo = i + 1
		}
		if s.info.sent.After(got) && i < hi {
			hi = i
		}
	}
	return lo, hi
}

func (c *checker) checkReads(reads []readObs) {
	for _, r := range reads {
		steps := c.lines[r.Customer]
		lo, hi := c.window(r.Customer, r.Sent, r.Got)
		if lo > hi {
			c.errorf("read of %s: an entry acknowledged before it was first sent after it "+
				"(%d > %d)", r.Customer, lo, hi)
			continue
		}
		if r.History == nil {
			c.checkBalanceRead(r, steps, lo, hi)
		} else {
			c.checkHistoryRead(r, steps, lo, hi)
		}
	}
}

func balanceAt(steps []step, k int) ledger.Amount {
	if k == 0 {
		return 0
	}
	return steps[k-1].balance
}

func (c *checker) checkBalanceRead(r readObs, steps []step, lo, hi int) {
	for k := lo; k <= hi; k++ {
		if balanceAt(steps, k) == r.Balance {
			return
		}
	}
	c.errorf("%s read balance %s, which the account never had between its entries %d and %d "+
		"(balances %s)", r.Customer, r.Balance, lo, hi, balancesText(steps, lo, hi))
}

func balancesText(steps []step, lo, hi int) string {
	var s []string
	for k := lo; k <= hi && len(s) < 12; k++ {
		s = append(s, balanceAt(steps, k).String())
	}
	return fmt.Sprint(s)
}

func (c *checker) checkHistoryRead(r readObs, steps []step, lo, hi int) {
	lines := r.History.Lines
	k := 0
	if len(lines) > 0 {
		k = sort.Search(len(steps), func(i int) bool { return steps[i].entry.ID >= lines[0].ID })
		if k == len(steps) || steps[k].entry.ID != lines[0].ID {
			c.errorf("%s's history shows entry %d, which is not in the journal",
				r.Customer, lines[0].ID)
			return
		}
		k++ // the page's newest entry ends a prefix of k entries
	}
	if k < lo || k > hi {
		c.errorf("%s's history page ends at its entry %d of %d, outside %d..%d", r.Customer,
			k, len(steps), lo, hi)
	}
	if want := min(k, r.Pages*historyPage); len(lines) != want {
		c.errorf("%s's history (%d pages) has %d lines, want %d of its %d entries",
			r.Customer, r.Pages, len(lines), want, k)
	}
	if r.Pages == 1 && k > historyPage {
		c.errorf("%s's history page of %d lines gives no cursor, but %d entries are older",
			r.Customer, len(lines), k-len(lines))
	}
	for j, l := range lines {
		if k-1-j < 0 {
			break
		}
		s := steps[k-1-j]
		delta, err1 := parseMoney(l.Delta)
		bal, err2 := parseMoney(l.Balance)
		if err := errors.Join(err1, err2); err != nil || l.ID != s.entry.ID ||
			delta != s.delta || bal != s.balance || l.Amount != s.entry.Amount.String() {
			c.errorf("%s's history line %+v; the journal has entry %d, delta %s, balance %s",
				r.Customer, l, s.entry.ID, s.delta, s.balance)
			return
		}
	}
}

// checkConservation compares what customers hold with what came in and out.
func (c *checker) checkConservation(ctx context.Context, store ledger.Store) {
	var held, journal, acked ledger.Amount
	for _, who := range c.customers {
		bal, err := store.Balance(ctx, who)
		if err != nil {
			c.t.Fatalf("balance of %s: %v", who, err)
		}
		steps := c.lines[who]
		if want := balanceAt(steps, len(steps)); bal != want {
			c.errorf("%s holds %s, but the journal's entries sum to %s", who, bal, want)
		}
		if bal < 0 {
			c.errorf("%s holds %s", who, bal)
		}
		held += bal
	}
	for _, ki := range c.keys {
		op := ki.ops[0]
		sign := ledger.Amount(0)
		switch op.Kind {
		case ledger.Deposit:
			sign = 1
		case ledger.Withdraw:
			sign = -1
		}
		if ki.entry != nil {
			journal += sign * op.Amount
		}
		if ki.outcome == applied {
			acked += sign * op.Amount
		}
	}
	if held != journal {
		c.errorf("customers hold %s, but the journal's deposits minus withdrawals are %s",
			held, journal)
	}
	c.t.Logf("customers hold %s; acknowledged deposits minus withdrawals %s; unknown "+
		"requests found in the journal add %s", held, acked, journal-acked)
}
