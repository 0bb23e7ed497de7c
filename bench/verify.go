package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/ledger"
)

// Check is what the ledger check after a run found. The bench is a client,
// so it checks what a client can see: the balances and histories of its own
// customers, against the answers it was given.
type Check struct {
	Passed       bool      `json:"ok"` // every invariant held: Problems is empty
	Customers    int       `json:"customers"`
	Acknowledged int       `json:"acknowledged"` // money requests answered as done
	NoEffect     int       `json:"no_effect"`    // refused or rejected
	Unresolved   int       `json:"unresolved"`   // never answered, even when sent again
	Entries      int       `json:"entries"`      // new history lines read
	Problems     []Problem `json:"problems,omitempty"`
}

// OK reports whether every invariant held.
func (c *Check) OK() bool { return len(c.Problems) == 0 }

// Problem is one broken invariant.
type Problem struct {
	Customer string `json:"customer,omitempty"`
	What     string `json:"what"`
}

// verify checks, for the bench's own customers:
//   - money is conserved: the balances moved by exactly the acknowledged
//     deposits minus withdrawals (transfers stay among them);
//   - each balance equals its start plus the new entries, entry by entry,
//     and never goes below zero;
//   - every acknowledged operation is in the history of each account it
//     touches exactly once, as it was asked for, with the balance the
//     bank answered; no other entry appeared.
//
// A request with no answer even when sent again is a problem too: the
// bench cannot say whether it moved money.
func verify(accts map[string]*account, acks []*Ack) *Check {
	c := &Check{Customers: len(accts)}
	byID := map[int64]*Ack{}
	var want int64 // expected net change of all bench balances, in cents
	for _, a := range acks {
		switch a.State {
		case Done:
			c.Acknowledged++
			if o := byID[a.Entry]; o != nil {
				c.problem(a.Customer, "requests %s and %s were both answered with entry %d",
					o.Key, a.Key, a.Entry)
			}
			byID[a.Entry] = a
			want += int64(netChange(a))
		case NoEffect:
			c.NoEffect++
		default:
			c.Unresolved++
			c.problem(a.Customer, "%s %s (key %s) got no answer, even when sent again",
				a.Op, a.Amount, a.Key)
		}
	}

	seen := map[int64]map[string]int{} // entry -> customer -> times seen
	var got int64
	for _, name := range sortedNames(accts) {
		acct := accts[name]
		if !acct.loaded {
			c.problem(name, "the account was not read after the run")
			continue
		}
		c.Entries += len(acct.lines)
		got += int64(acct.end - acct.start)
		c.checkAccount(name, acct, byID, seen)
	}
	if got != want {
		c.problem("", "money not conserved: the bench customers' balances moved by %s, "+
			"but the acknowledged deposits and withdrawals add up to %s",
			ledger.Amount(got), ledger.Amount(want))
	}
	for _, a := range acks {
		if a.State != Done {
			continue
		}
		for _, who := range touched(a) {
			if _, ok := accts[who]; !ok {
				continue
			}
			if n := seen[a.Entry][who]; n != 1 {
				c.problem(who, "acknowledged %s %s (entry %d, key %s) is in the history %d times",
					a.Op, a.Amount, a.Entry, a.Key, n)
			}
		}
	}
	c.Passed = c.OK()
	return c
}

func (c *Check) problem(customer, format string, args ...any) {
	const max = 100
	if len(c.Problems) == max {
		c.Problems = append(c.Problems, Problem{What: "more problems not listed"})
	}
	if len(c.Problems) > max {
		return
	}
	c.Problems = append(c.Problems,
		Problem{Customer: customer, What: fmt.Sprintf(format, args...)})
}

// checkAccount walks one account's new lines, oldest first.
func (c *Check) checkAccount(name string, acct *account, byID map[int64]*Ack,
	seen map[int64]map[string]int) {
	bal := acct.start
	for i := len(acct.lines) - 1; i >= 0; i-- {
		l := acct.lines[i]
		if seen[l.ID] == nil {
			seen[l.ID] = map[string]int{}
		}
		seen[l.ID][name]++
		delta, err1 := parseCents(l.Delta)
		after, err2 := parseCents(l.Balance)
		if err1 != nil || err2 != nil {
			c.problem(name, "entry %d: unreadable amounts %q, %q", l.ID, l.Delta, l.Balance)
			continue
		}
		bal += delta
		if after != bal {
			c.problem(name, "entry %d: balance %s, but the entries before it add up to %s",
				l.ID, after, bal)
			bal = after
		}
		if after < 0 {
			c.problem(name, "entry %d: negative balance %s", l.ID, after)
		}
		a := byID[l.ID]
		if a == nil {
			c.problem(name, "entry %d (%s %s %s -> %s) was not made by any acknowledged request",
				l.ID, l.Kind, l.Amount, l.From, l.To)
			continue
		}
		if !matches(a, name, l, delta) {
			c.problem(name, "entry %d is %s %s %s -> %s, but request %s was %s %s to %q",
				l.ID, l.Kind, l.Amount, l.From, l.To, a.Key, a.Op, a.Amount, a.To)
		}
		if name == a.Customer && a.Balance != after {
			c.problem(name, "entry %d: the bank answered balance %s, the history says %s",
				l.ID, a.Balance, after)
		}
	}
	if bal != acct.end {
		c.problem(name, "balance %s, but its start %s and new entries add up to %s",
			acct.end, acct.start, bal)
	}
}

// matches reports whether history line l, seen from customer name with the
// signed change delta, is what request a asked for.
func matches(a *Ack, name string, l api.HistoryLine, delta ledger.Amount) bool {
	if l.Kind != a.Op.String() {
		return false
	}
	want := a.Amount
	switch {
	case a.Op == OpDeposit && l.To == a.Customer && name == a.Customer:
	case a.Op == OpWithdraw && l.From == a.Customer && name == a.Customer:
		want = -want
	case a.Op == OpTransfer && l.From == a.Customer && l.To == a.To && name == a.Customer:
		want = -want
	case a.Op == OpTransfer && l.From == a.Customer && l.To == a.To && name == a.To:
	default:
		return false
	}
	return delta == want
}

// netChange is what request a does to the sum of the bench's balances.
func netChange(a *Ack) ledger.Amount {
	switch a.Op {
	case OpDeposit:
		return a.Amount
	case OpWithdraw:
		return -a.Amount
	}
	return 0
}

// touched lists the customers whose history must show request a.
func touched(a *Ack) []string {
	if a.Op == OpTransfer {
		return []string{a.Customer, a.To}
	}
	return []string{a.Customer}
}

func sortedNames(m map[string]*account) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// parseCents reads a signed amount as the API writes it: "12.50", "-3.05",
// "+3.05", "0.00". Unlike ledger.ParseAmount it takes zero, a sign, and
// balances above one request's maximum.
func parseCents(s string) (ledger.Amount, error) {
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) == 1 {
		frac += "0"
	}
	if frac == "" {
		frac = "00"
	}
	w, err1 := strconv.ParseUint(whole, 10, 62)
	f, err2 := strconv.ParseUint(frac, 10, 8)
	if err1 != nil || err2 != nil || len(frac) != 2 {
		return 0, fmt.Errorf("amount %q is not a decimal with 2 places", s)
	}
	v := ledger.Amount(w*100 + f)
	if neg {
		v = -v
	}
	return v, nil
}
