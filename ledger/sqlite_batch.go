package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// The fast path of a SQLite group commit. The writer holds the database's
// write lock for the whole batch (BEGIN IMMEDIATE), so it can decide every
// request of the batch in Go, in order, against balances it knows, and then
// write the outcome with few statements: one guarded UPDATE per account
// touched and multi-row INSERTs for entries and answers. That replaces five
// statements per request, most of SQLite's cost of a small write.
//
// The balances it knows come from a cache kept across batches, valid while
// PRAGMA data_version says no other connection has committed since the
// writer's last commit. Every UPDATE is guarded by the balance the writer
// believes the row holds (AND balance = old), so a stale cache, or any other
// surprise, fails the batch, which is then redone by the careful path (one
// request at a time in SQL, see core.applyTx) with the cache dropped.

// batchCache is what the writer knows between batches; writer goroutine only.
type batchCache struct {
	valid       bool
	dataVersion int64
	balances    map[int64]Amount
	nextEntry   int64
}

func (c *batchCache) reset() {
	*c = batchCache{balances: map[int64]Amount{}}
}

// plan is one request of a batch on its way through applyBatch.
type plan struct {
	o      *op
	cust   int64
	to     int64 // the recipient's account, when it has one
	noTo   bool  // a transfer to a customer without an account
	done   bool  // answered from the database: replay or conflict
	dupOf  *plan // an earlier request of this batch under the same key
	code   string
	post   posting
	amount Amount // the asker's balance after
}

type batchKey struct {
	cust int64
	key  string
}

// applyBatch decides and writes ops inside the open transaction. Any error
// means the transaction must be rolled back (and the batch redone carefully).
func (s *sqliteStore) applyBatch(ctx context.Context, ops []*op, learned txIDs) error {
	if err := s.checkCache(ctx); err != nil {
		return err
	}
	plans, err := s.resolve(ctx, ops, learned)
	if err != nil {
		return err
	}
	if err := s.lookupKeys(ctx, plans); err != nil {
		return err
	}
	orig := map[int64]Amount{}
	s.touched = orig
	for i := range plans {
		if err := s.decide(ctx, &plans[i], orig); err != nil {
			return err
		}
	}
	return s.write(ctx, plans, orig)
}

// checkCache drops what the writer knows if another connection committed.
func (s *sqliteStore) checkCache(ctx context.Context) error {
	var v int64
	if err := s.w.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return fmt.Errorf("read data version of ledger %s: %w", s.where, err)
	}
	if !s.cache.valid || v != s.cache.dataVersion {
		s.reads.clear()
		s.cache.reset()
		s.cache.dataVersion = v
		err := s.w.QueryRowContext(ctx,
			`SELECT COALESCE(MAX(id), 0) + 1 FROM entries`).Scan(&s.cache.nextEntry)
		if err != nil {
			return fmt.Errorf("read journal of ledger %s: %w", s.where, err)
		}
		s.cache.valid = true
	}
	return nil
}

// resolve opens accounts and finds recipients in the order of the requests,
// as if they ran one after the other.
func (s *sqliteStore) resolve(ctx context.Context, ops []*op, learned txIDs) ([]plan, error) {
	plans := make([]plan, 0, len(ops))
	for _, o := range ops {
		o.at = s.stamp()
		if o.open != "" {
			if _, err := s.openAccount(ctx, s.w, o.open, o.at, learned); err != nil {
				return nil, err
			}
			continue
		}
		p := plan{o: o}
		var err error
		p.cust, err = s.openAccount(ctx, s.w, o.req.Customer, o.at, learned)
		if err != nil {
			return nil, err
		}
		if o.req.Kind == Transfer {
			var ok bool
			p.to, ok, err = s.accountID(ctx, s.w, o.req.To, learned)
			if err != nil {
				return nil, err
			}
			p.noTo = !ok
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// lookupKeys answers requests whose key was used before this batch, and
// ties a key used twice in the batch to its first use.
func (s *sqliteStore) lookupKeys(ctx context.Context, plans []plan) error {
	keys := make([]batchKey, len(plans))
	for i, p := range plans {
		keys[i] = batchKey{p.cust, p.o.req.Key}
	}
	used, err := s.usedKeys(ctx, keys)
	if err != nil {
		return err
	}
	first := map[batchKey]*plan{}
	for i := range plans {
		p := &plans[i]
		r := p.o.req
		k := batchKey{p.cust, r.Key}
		if prev, ok := first[k]; ok {
			p.dupOf = prev
			continue
		}
		if !used[k] {
			first[k] = p
			continue
		}
		res, found, refused, err := s.lookupTx(ctx, s.w, p.cust, r.Customer, r.Key, &r)
		switch {
		case err != nil && !errors.Is(err, ErrKeyConflict):
			return err
		case found:
			p.o.res, p.o.err, p.done = res, refused, true
			if err != nil {
				p.o.err = err
			}
		default:
			first[k] = p
		}
	}
	return nil
}

// balanceOf is what the writer knows of an account's balance, reading it
// once per cache lifetime; orig keeps the value the database holds now.
func (s *sqliteStore) balanceOf(ctx context.Context, id int64, orig map[int64]Amount) (Amount,
	error) {
	if b, ok := s.cache.balances[id]; ok {
		if _, seen := orig[id]; !seen {
			orig[id] = b
		}
		return b, nil
	}
	var b Amount
	err := s.w.QueryRowContext(ctx, `SELECT balance FROM accounts WHERE id = $1`, id).Scan(&b)
	if err != nil {
		return 0, fmt.Errorf("read balance of account %d: %w", id, err)
	}
	s.cache.balances[id] = b
	orig[id] = b
	return b, nil
}

// decide settles one request against the balances as they stand after the
// requests before it, with the rules of core.move.
func (s *sqliteStore) decide(ctx context.Context, p *plan, orig map[int64]Amount) error {
	r := p.o.req
	switch {
	case p.done:
		return nil
	case p.dupOf != nil:
		p.answerDuplicate()
		return nil
	case p.noTo:
		return s.refuseInBatch(ctx, p, refusedNoAcc, orig)
	}
	debit, credit := s.cashID, s.cashID
	switch r.Kind {
	case Deposit:
		credit = p.cust
	case Withdraw:
		debit = p.cust
	case Transfer:
		debit, credit = p.cust, p.to
	}
	db, err := s.balanceOf(ctx, debit, orig)
	if err != nil {
		return err
	}
	cb, err := s.balanceOf(ctx, credit, orig)
	if err != nil {
		return err
	}
	switch {
	case db-r.Amount < Amount(s.lower(debit)):
		return s.refuseInBatch(ctx, p, s.refusalFor(true, debit), orig)
	case cb > Amount(s.upper(credit))-r.Amount:
		return s.refuseInBatch(ctx, p, s.refusalFor(false, credit), orig)
	}
	db, cb = db-r.Amount, cb+r.Amount
	s.cache.balances[debit], s.cache.balances[credit] = db, cb
	p.post = posting{
		Entry: Entry{ID: s.cache.nextEntry, Time: p.o.at, Kind: r.Kind, From: r.Customer,
			To: r.Customer, Amount: r.Amount, Customer: r.Customer, Key: r.Key},
		debitID: debit, creditID: credit, debitBalance: db, creditBal: cb,
	}
	s.cache.nextEntry++
	switch r.Kind {
	case Deposit:
		p.post.From = CashAccount
	case Withdraw:
		p.post.To = CashAccount
	case Transfer:
		p.post.To = r.To
	}
	p.amount = p.post.balanceOf(p.cust)
	p.o.res = Result{Entry: p.post.Entry, Balance: p.amount}
	return nil
}

func (s *sqliteStore) refuseInBatch(ctx context.Context, p *plan, code string,
	orig map[int64]Amount) error {
	b, err := s.balanceOf(ctx, p.cust, orig)
	if err != nil {
		return err
	}
	p.code, p.amount = code, b
	p.o.err = refusal(code, p.o.req)
	return nil
}

// answerDuplicate gives a request the answer of the earlier one under its
// key in the same batch, as lookupTx would have from the database.
func (p *plan) answerDuplicate() {
	r, prev := p.o.req, p.dupOf.o.req
	switch {
	case r.Kind != prev.Kind || r.Amount != prev.Amount || r.To != prev.To:
		p.o.err = fmt.Errorf("key %q of %q was used for %s %s%s: %w",
			r.Key, r.Customer, prev.Kind, prev.Amount, toText(prev.To), ErrKeyConflict)
	case p.dupOf.code != "":
		p.o.err = refusal(p.dupOf.code, prev)
	default:
		p.o.res = Result{Entry: p.dupOf.post.Entry, Balance: p.dupOf.amount, Replayed: true}
	}
}

// write stores what decide settled: balances, entries and answers.
func (s *sqliteStore) write(ctx context.Context, plans []plan, orig map[int64]Amount) error {
	for id, old := range orig {
		now := s.cache.balances[id]
		if now == old {
			continue
		}
		res, err := s.w.ExecContext(ctx,
			`UPDATE accounts SET balance = $1 WHERE id = $2 AND balance = $3`,
			int64(now), id, int64(old))
		if err != nil {
			return fmt.Errorf("update balance of account %d: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("update balance of account %d: it changed under the writer", id)
		}
	}
	var entries, answers [][]any
	for i := range plans {
		p := &plans[i]
		if p.done || p.dupOf != nil {
			continue
		}
		r := p.o.req
		var entryID any
		if p.code == "" {
			e := &p.post
			entryID = e.ID
			entries = append(entries, []any{e.ID, p.o.at.UnixMicro(), string(r.Kind),
				e.debitID, e.creditID, int64(r.Amount), int64(e.debitBalance),
				int64(e.creditBal), p.cust, r.Key})
		}
		answers = append(answers, []any{p.cust, r.Key, string(r.Kind), int64(r.Amount), r.To,
			entryID, p.code, int64(p.amount), p.o.at.UnixMicro()})
	}
	err := s.insertRows(ctx, `INSERT INTO entries (id, at, kind, debit_id, credit_id,
		amount, debit_balance, credit_balance, customer_id, idem_key) VALUES `, entries)
	if err != nil {
		return fmt.Errorf("append journal entries: %w", err)
	}
	if err := s.insertRows(ctx, `INSERT INTO requests (customer_id, idem_key, kind, amount,
		to_name, entry_id, refusal, balance, at) VALUES `, answers); err != nil {
		return fmt.Errorf("record idempotency keys: %w", err)
	}
	return nil
}

// insertRows inserts rows with multi-row INSERTs (see chunk).
func (s *sqliteStore) insertRows(ctx context.Context, head string, rows [][]any) error {
	var args []any
	for len(rows) > 0 {
		n := chunk(len(rows))
		args = args[:0]
		for _, row := range rows[:n] {
			args = append(args, row...)
		}
		text := s.valuesText(head, n, len(rows[0]), "")
		if _, err := s.w.ExecContext(ctx, text, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// usedKeys finds which of keys were used before this batch, with one query
// per chunk of keys instead of one per request.
func (s *sqliteStore) usedKeys(ctx context.Context, keys []batchKey) (map[batchKey]bool,
	error) {
	used := map[batchKey]bool{}
	var args []any
	for len(keys) > 0 {
		n := chunk(len(keys))
		args = args[:0]
		for _, k := range keys[:n] {
			args = append(args, k.cust, k.key)
		}
		// A join on VALUES, unlike (a, b) IN (VALUES ...), searches the
		// primary key.
		text := s.valuesText(`SELECT r.customer_id, r.idem_key FROM (VALUES `, n, 2,
			`) AS v JOIN requests r ON r.customer_id = v.column1 AND r.idem_key = v.column2`)
		if err := s.scanKeys(ctx, text, args, used); err != nil {
			return nil, err
		}
		keys = keys[n:]
	}
	return used, nil
}

func (s *sqliteStore) scanKeys(ctx context.Context, text string, args []any,
	used map[batchKey]bool) error {
	rows, err := s.w.QueryContext(ctx, text, args...)
	if err != nil {
		return fmt.Errorf("look up idempotency keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k batchKey
		if err := rows.Scan(&k.cust, &k.key); err != nil {
			return fmt.Errorf("look up idempotency keys: %w", err)
		}
		used[k] = true
	}
	return rows.Err()
}

// valuesText is head, n rows of cols placeholders, then tail.
func (s *sqliteStore) valuesText(head string, n, cols int, tail string) string {
	key := fmt.Sprint(n, " ", head, tail)
	if text, ok := s.inserts[key]; ok {
		return text
	}
	var b strings.Builder
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			// Plain ? parameters: the driver looks up each named one
			// ($N) in a list, which is quadratic in a long statement.
			b.WriteString("?")
		}
		b.WriteString(")")
	}
	b.WriteString(tail)
	s.inserts[key] = b.String()
	return s.inserts[key]
}

// chunk is how many of n rows the next multi-row statement takes: 64, 16,
// 4 or 1, so that a few prepared statements serve every batch size.
func chunk(n int) int {
	for _, size := range []int{64, 16, 4} {
		if n >= size {
			return size
		}
	}
	return 1
}
