package ledger

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/banco/banco/internal/identity"
)

// maxProblems bounds a Report; a badly broken ledger gets a summary line.
const maxProblems = 100

func checkCustomer(name string) error {
	if err := identity.CheckName(name); err != nil {
		return fmt.Errorf("%v: %w", err, ErrBadRequest)
	}
	return nil
}

// lookup is Store.Lookup over committed data.
func (c *core) lookup(ctx context.Context, customer, key string) (Result, bool, error) {
	id, ok, err := c.accountID(ctx, c.rd, customer, nil)
	if err != nil || !ok {
		return Result{}, false, err
	}
	res, found, refused, err := c.lookupTx(ctx, c.rd, id, customer, key, nil)
	if err != nil {
		return Result{}, found, err
	}
	return res, found, refused
}

type account struct {
	kind, name string
	stored     Amount
	running    Amount // from the journal
	chainBad   bool   // a running balance in the journal was already reported
}

func (a *account) label() string {
	if a.kind == "cash" {
		return CashAccount
	}
	return a.name
}

// verify recomputes every balance from the journal inside the read-only
// snapshot q and checks the invariants of the package documentation.
func (c *core) verify(ctx context.Context, q querier) (Report, error) {
	var rep Report
	problem := func(acc, format string, args ...any) {
		if len(rep.Problems) < maxProblems {
			rep.Problems = append(rep.Problems, Problem{Account: acc,
				What: fmt.Sprintf(format, args...)})
		} else if len(rep.Problems) == maxProblems {
			rep.Problems = append(rep.Problems, Problem{What: "more problems not listed"})
		}
	}
	accts, err := c.loadAccounts(ctx, q)
	if err != nil {
		return Report{}, err
	}
	if err := c.replayJournal(ctx, q, accts, &rep, problem); err != nil {
		return Report{}, err
	}

	var total int64
	var overflow bool
	cashes := 0
	// In id order, so that a report lists its problems the same way each time.
	for _, id := range slices.Sorted(maps.Keys(accts)) {
		a := accts[id]
		var ok bool
		if total, ok = addInt64(total, int64(a.stored)); !ok {
			overflow = true
		}
		if a.stored != a.running {
			problem(a.label(), "stored balance %s differs from its journal entries' sum %s",
				a.stored, a.running)
		}
		switch {
		case a.kind == "cash":
			cashes++
			if a.stored < -maxCash || a.stored > maxCash {
				problem(a.label(), "cash balance %s is outside [-%s, %s]", a.stored, maxCash,
					maxCash)
			}
		case a.stored < 0:
			problem(a.label(), "customer balance %s is negative", a.stored)
		case a.stored > MaxBalance:
			problem(a.label(), "balance %s exceeds the maximum %s", a.stored, MaxBalance)
		}
	}
	rep.Total = Amount(total)
	switch {
	case overflow:
		problem("", "the sum of all balances overflows")
	case total != 0:
		problem("", "the sum of all balances, cash included, is %s, not 0", rep.Total)
	}
	rep.Accounts = len(accts) - cashes + min(cashes, 1) // the tills are one account
	if cashes < 1 || cashes > maxTills {
		problem("", "there are %d cash accounts, not 1 to %d", cashes, maxTills)
	}
	if err := c.checkRequests(ctx, q, problem); err != nil {
		return Report{}, err
	}
	return rep, nil
}

func (c *core) loadAccounts(ctx context.Context, q querier) (map[int64]*account, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, kind, name, balance FROM accounts`)
	if err != nil {
		return nil, fmt.Errorf("verify ledger %s: read accounts: %w", c.where, err)
	}
	defer rows.Close()
	accts := map[int64]*account{}
	for rows.Next() {
		var id int64
		a := &account{}
		if err := rows.Scan(&id, &a.kind, &a.name, &a.stored); err != nil {
			return nil, fmt.Errorf("verify ledger %s: read accounts: %w", c.where, err)
		}
		accts[id] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify ledger %s: read accounts: %w", c.where, err)
	}
	return accts, nil
}

// replayJournal walks the journal in order, adding every entry to the
// running balances and checking the balances recorded with each entry.
func (c *core) replayJournal(ctx context.Context, q querier, accts map[int64]*account,
	rep *Report, problem func(string, string, ...any)) error {
	rows, err := q.QueryContext(ctx, `SELECT id, debit_id, credit_id, amount, debit_balance,
		credit_balance FROM entries ORDER BY id`)
	if err != nil {
		return fmt.Errorf("verify ledger %s: read journal: %w", c.where, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, debit, credit int64
		var amount, debitBal, creditBal Amount
		if err := rows.Scan(&id, &debit, &credit, &amount, &debitBal, &creditBal); err != nil {
			return fmt.Errorf("verify ledger %s: read journal: %w", c.where, err)
		}
		rep.Entries++
		d, k := accts[debit], accts[credit]
		switch {
		case d == nil || k == nil:
			problem("", "entry %d names an account that does not exist", id)
			continue
		case amount <= 0 || amount > MaxAmount:
			problem("", "entry %d moves %s, outside (0, %s]", id, amount, MaxAmount)
			continue
		case debit == credit:
			problem(d.label(), "entry %d moves money from an account to itself", id)
		}
		d.running -= amount
		k.running += amount
		if d.running < -maxCash-MaxAmount || k.running > maxCash+MaxAmount {
			problem("", "entry %d makes a running balance overflow", id)
			return rows.Close()
		}
		chain(d, id, debitBal, problem)
		chain(k, id, creditBal, problem)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify ledger %s: read journal: %w", c.where, err)
	}
	return nil
}

func chain(a *account, id int64, recorded Amount, problem func(string, string, ...any)) {
	if a.running == recorded || a.chainBad {
		return
	}
	a.chainBad = true
	problem(a.label(), "entry %d records a balance of %s, but the journal up to it sums to %s",
		id, recorded, a.running)
}

// checkRequests checks that every entry has the idempotency record that
// caused it, and every applied record names its entry.
func (c *core) checkRequests(ctx context.Context, q querier,
	problem func(string, string, ...any)) error {
	var orphans, dangling int64
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM entries e
		LEFT JOIN requests r ON r.customer_id = e.customer_id AND r.idem_key = e.idem_key
		WHERE r.entry_id IS NULL OR r.entry_id <> e.id`).Scan(&orphans)
	if err != nil {
		return fmt.Errorf("verify ledger %s: read requests: %w", c.where, err)
	}
	err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM requests r
		LEFT JOIN entries e ON e.id = r.entry_id
		WHERE r.refusal = '' AND (e.id IS NULL OR e.customer_id <> r.customer_id
			OR e.idem_key <> r.idem_key OR e.amount <> r.amount)`).Scan(&dangling)
	if err != nil {
		return fmt.Errorf("verify ledger %s: read requests: %w", c.where, err)
	}
	if orphans > 0 {
		problem("", "%d journal entries have no matching idempotency record", orphans)
	}
	if dangling > 0 {
		problem("", "%d idempotency records do not match their journal entry", dangling)
	}
	return nil
}

func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (b >= 0) == (s >= a)
}
