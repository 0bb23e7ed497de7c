package ledger

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sync"
	"time"
)

// core is what the SQLite and PostgreSQL stores share: the SQL of a money
// movement, run inside a transaction the backend owns, and the reads. Both
// backends speak the same SQL ($1 parameters, RETURNING, ON CONFLICT).
type core struct {
	db     *sql.DB // reads; on PostgreSQL also writes
	rd     querier // reads through db, with prepared statements on SQLite
	where  string  // the database, for messages (never a password)
	now    func() time.Time
	cashID int64   // the first till; the SQLite writer posts all cash there
	tills  []int64 // the cash accounts, in id order

	// ids caches customer name -> account id. Accounts are never deleted
	// or renamed, so an id, once committed, is valid forever. Only ids
	// from committed transactions enter it (see txIDs).
	ids sync.Map
}

// txIDs collects account ids a transaction saw or created; they are
// published to core.ids only after the transaction commits, so that a
// rolled back insert can never leave a stale id behind.
type txIDs map[string]int64

func (c *core) publish(l txIDs) {
	for name, id := range l {
		c.ids.Store(name, id)
	}
}

func nowMicro() int64 { return time.Now().UnixMicro() }

// loadTills finds the cash accounts.
func (c *core) loadTills(ctx context.Context) error {
	rows, err := c.db.QueryContext(ctx, `SELECT id FROM accounts WHERE kind = 'cash' ORDER BY id`)
	if err != nil {
		return fmt.Errorf("find cash accounts of ledger %s: %w", c.where, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("find cash accounts of ledger %s: %w", c.where, err)
		}
		c.tills = append(c.tills, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find cash accounts of ledger %s: %w", c.where, err)
	}
	if len(c.tills) == 0 || len(c.tills) > maxTills {
		return fmt.Errorf("ledger %s has %d cash accounts; it is damaged", c.where, len(c.tills))
	}
	c.cashID = c.tills[0]
	return nil
}

func (c *core) isCash(id int64) bool {
	return slices.Contains(c.tills, id)
}

// till is the cash account a customer's deposits and withdrawals post
// against: always the same one for a customer, spread over the tills.
func (c *core) till(customer string) int64 {
	if len(c.tills) == 1 {
		return c.tills[0]
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(customer))
	return c.tills[h.Sum32()%uint32(len(c.tills))]
}

func (c *core) stamp() time.Time { return c.now().UTC().Truncate(time.Microsecond) }

// accountID finds a customer's account id, or found=false. l collects what
// a transaction learns; nil means q reads only committed rows.
func (c *core) accountID(ctx context.Context, q querier, name string,
	l txIDs) (int64, bool, error) {
	if v, ok := c.ids.Load(name); ok {
		return v.(int64), true, nil
	}
	if id, ok := l[name]; ok {
		return id, true, nil
	}
	var id int64
	err := q.QueryRowContext(ctx,
		`SELECT id FROM accounts WHERE kind = 'customer' AND name = $1`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("find account of %q: %w", name, err)
	}
	if l != nil {
		l[name] = id
	} else {
		c.ids.Store(name, id) // q sees only committed rows
	}
	return id, true, nil
}

// openAccount returns a customer's account id, opening the account if needed.
func (c *core) openAccount(ctx context.Context, q querier, name string, at time.Time,
	l txIDs) (int64, error) {
	id, ok, err := c.accountID(ctx, q, name, l)
	if err != nil || ok {
		return id, err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO accounts (kind, name, balance, opened)
		VALUES ('customer', $1, 0, $2) ON CONFLICT (kind, name) DO NOTHING`,
		name, at.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("open account of %q: %w", name, err)
	}
	id, ok, err = c.accountID(ctx, q, name, l)
	if err == nil && !ok {
		err = fmt.Errorf("open account of %q: account missing after insert", name)
	}
	return id, err
}

// applyTx applies r inside the caller's transaction q. It returns the
// result, or refused (an answer to remember: the caller commits), or err
// (the caller rolls back; nothing may be kept). When err wraps
// ErrKeyConflict, nothing but the opening of the caller's account was
// written, and committing is safe.
func (c *core) applyTx(ctx context.Context, q querier, r Request, at time.Time,
	l txIDs) (res Result, refused, err error) {
	cust, err := c.openAccount(ctx, q, r.Customer, at, l)
	if err != nil {
		return Result{}, nil, err
	}
	if res, found, refused, err := c.lookupTx(ctx, q, cust, r.Customer, r.Key, &r); found ||
		err != nil {
		return res, refused, err
	}

	till := c.till(r.Customer)
	debit, credit := till, till
	switch r.Kind {
	case Deposit:
		credit = cust
	case Withdraw:
		debit = cust
	case Transfer:
		debit = cust
		to, ok, err := c.accountID(ctx, q, r.To, l)
		if err != nil {
			return Result{}, nil, err
		}
		if !ok {
			return c.refuse(ctx, q, cust, r, refusedNoAcc, at)
		}
		credit = to
	}

	e, code, err := c.move(ctx, q, r, debit, credit, cust, at)
	if err != nil {
		return Result{}, nil, err
	}
	if code != "" {
		return c.refuse(ctx, q, cust, r, code, at)
	}

	res = Result{Entry: e.Entry, Balance: e.balanceOf(cust)}
	err = c.remember(ctx, q, cust, r, e.ID, "", res.Balance, at)
	return res, nil, err
}

// posting is an Entry with the ids and balances the store works with.
type posting struct {
	Entry
	debitID, creditID       int64
	debitBalance, creditBal Amount
}

func (p posting) balanceOf(id int64) Amount {
	if id == p.debitID {
		return p.debitBalance
	}
	return p.creditBal
}

// move posts one entry: it updates both balances with conditional UPDATEs
// (the row lock they take is what serialises concurrent writers on
// PostgreSQL), in account id order so that two transfers in opposite
// directions cannot deadlock, then appends the journal entry. code is a
// refusal when a balance would leave its bounds; move has then changed
// nothing: a step that succeeded is undone by its exact reverse in the same
// transaction (cheaper than a savepoint). When both steps would fail, the
// debit's reason wins, as in the SQLite batch path (see refusalFor).
func (c *core) move(ctx context.Context, q querier, r Request, debit, credit, cust int64,
	at time.Time) (p posting, code string, err error) {
	var debitBal, creditBal Amount
	debitFirst := debit < credit
	doDebit := func() (bool, error) { return c.debit(ctx, q, debit, r.Amount, &debitBal) }
	doCredit := func() (bool, error) { return c.credit(ctx, q, credit, r.Amount, &creditBal) }
	if debitFirst {
		code, err = c.steps(ctx, q, doDebit, doCredit, debit, credit, r.Amount, true)
	} else {
		code, err = c.steps(ctx, q, doCredit, doDebit, credit, debit, r.Amount, false)
	}
	if err != nil || code != "" {
		return posting{}, code, err
	}

	var id int64
	err = q.QueryRowContext(ctx, `INSERT INTO entries (at, kind, debit_id, credit_id, amount,
		debit_balance, credit_balance, customer_id, idem_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		at.UnixMicro(), string(r.Kind), debit, credit, int64(r.Amount),
		int64(debitBal), int64(creditBal), cust, r.Key).Scan(&id)
	if err != nil {
		return posting{}, "", fmt.Errorf("append journal entry: %w", err)
	}
	p = posting{
		Entry: Entry{ID: id, Time: at, Kind: r.Kind, From: r.Customer, To: r.Customer,
			Amount: r.Amount, Customer: r.Customer, Key: r.Key},
		debitID: debit, creditID: credit, debitBalance: debitBal, creditBal: creditBal,
	}
	switch r.Kind {
	case Deposit:
		p.From = CashAccount
	case Withdraw:
		p.To = CashAccount
	case Transfer:
		p.To = r.To
	}
	return p, "", nil
}

// undo adds delta to an account's balance, reversing a step of a move that
// was refused, inside the same transaction.
func (c *core) undo(ctx context.Context, q querier, id int64, delta Amount) error {
	_, err := q.ExecContext(ctx, `UPDATE accounts SET balance = balance + $1 WHERE id = $2`,
		int64(delta), id)
	if err != nil {
		return fmt.Errorf("undo refused move on account %d: %w", id, err)
	}
	return nil
}

// steps runs the two steps of a move; firstIsDebit says which is which.
func (c *core) steps(ctx context.Context, q querier, first, second func() (bool, error),
	firstID, secondID int64, a Amount, firstIsDebit bool) (string, error) {
	undoFirst, undoSecond := a, -a // reverses a debit, a credit
	if !firstIsDebit {
		undoFirst, undoSecond = -a, a
	}
	ok, err := first()
	if err != nil {
		return "", err
	}
	if !ok {
		if firstIsDebit {
			return c.refusalFor(true, firstID), nil
		}
		// The credit refused; the debit's reason wins if it refuses too.
		ok, err := second()
		if err != nil {
			return "", err
		}
		if !ok {
			return c.refusalFor(true, secondID), nil
		}
		return c.refusalFor(false, firstID), c.undo(ctx, q, secondID, undoSecond)
	}
	ok, err = second()
	if err != nil {
		return "", err
	}
	if !ok {
		return c.refusalFor(!firstIsDebit, secondID), c.undo(ctx, q, firstID, undoFirst)
	}
	return "", nil
}

// refusalFor names why a debit or credit of account id was refused. A
// customer's debit lacks funds; a credit would pass MaxBalance. A cash
// account (a till) refuses only at its own bound, maxCash either way: a
// deposit would pass the bank's total, and a withdrawal would pass what one
// till may hold above zero.
func (c *core) refusalFor(isDebit bool, id int64) string {
	if isDebit && !c.isCash(id) {
		return refusedFunds
	}
	return refusedLimit
}

func (c *core) lower(id int64) int64 {
	if c.isCash(id) {
		return -int64(maxCash)
	}
	return 0
}

func (c *core) upper(id int64) int64 {
	if c.isCash(id) {
		return int64(maxCash)
	}
	return int64(MaxBalance)
}

func (c *core) debit(ctx context.Context, q querier, id int64, a Amount,
	bal *Amount) (bool, error) {
	err := q.QueryRowContext(ctx, `UPDATE accounts SET balance = balance - $1
		WHERE id = $2 AND balance >= $3 RETURNING balance`,
		int64(a), id, c.lower(id)+int64(a)).Scan(bal)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("debit account %d: %w", id, err)
	}
	return true, nil
}

func (c *core) credit(ctx context.Context, q querier, id int64, a Amount,
	bal *Amount) (bool, error) {
	err := q.QueryRowContext(ctx, `UPDATE accounts SET balance = balance + $1
		WHERE id = $2 AND balance <= $3 RETURNING balance`,
		int64(a), id, c.upper(id)-int64(a)).Scan(bal)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("credit account %d: %w", id, err)
	}
	return true, nil
}

// refuse remembers a refusal under the request's key and returns it.
func (c *core) refuse(ctx context.Context, q querier, cust int64, r Request, code string,
	at time.Time) (Result, error, error) {
	var bal Amount
	err := q.QueryRowContext(ctx, `SELECT balance FROM accounts WHERE id = $1`, cust).Scan(&bal)
	if err != nil {
		return Result{}, nil, fmt.Errorf("read balance of %q: %w", r.Customer, err)
	}
	if err := c.remember(ctx, q, cust, r, 0, code, bal, at); err != nil {
		return Result{}, nil, err
	}
	return Result{}, refusal(code, r), nil
}

func (c *core) remember(ctx context.Context, q querier, cust int64, r Request, entry int64,
	code string, bal Amount, at time.Time) error {
	var entryID any
	if entry != 0 {
		entryID = entry
	}
	_, err := q.ExecContext(ctx, `INSERT INTO requests (customer_id, idem_key, kind, amount,
		to_name, entry_id, refusal, balance, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		cust, r.Key, string(r.Kind), int64(r.Amount), r.To, entryID, code, int64(bal),
		at.UnixMicro())
	if err != nil {
		return fmt.Errorf("record idempotency key of %q: %w", r.Customer, err)
	}
	return nil
}

// lookupTx finds the answer given under (cust, key). With want set, a
// stored request that differs from *want is a conflict, and a found answer
// is marked Replayed.
func (c *core) lookupTx(ctx context.Context, q querier, cust int64, customer, key string,
	want *Request) (res Result, found bool, refused, err error) {
	var (
		stored  = Request{Customer: customer, Key: key}
		kind    string
		entryID sql.NullInt64
		code    string
	)
	err = q.QueryRowContext(ctx, `SELECT kind, amount, to_name, entry_id, refusal, balance
		FROM requests WHERE customer_id = $1 AND idem_key = $2`, cust, key).Scan(
		&kind, &stored.Amount, &stored.To, &entryID, &code, &res.Balance)
	if errors.Is(err, sql.ErrNoRows) {
		return Result{}, false, nil, nil
	}
	if err != nil {
		return Result{}, false, nil, fmt.Errorf("look up idempotency key of %q: %w", customer, err)
	}
	stored.Kind = Kind(kind)
	if want != nil && (want.Kind != stored.Kind || want.Amount != stored.Amount ||
		want.To != stored.To) {
		return Result{}, true, nil, fmt.Errorf("key %q of %q was used for %s %s%s: %w",
			key, customer, stored.Kind, stored.Amount, toText(stored.To), ErrKeyConflict)
	}
	if code != "" {
		return Result{}, true, refusal(code, stored), nil
	}
	es, err := c.entries(ctx, q, `WHERE e.id = $1`, entryID.Int64)
	if err != nil {
		return Result{}, true, nil, err
	}
	if len(es) != 1 {
		return Result{}, true, nil, fmt.Errorf("key %q of %q names missing entry %d",
			key, customer, entryID.Int64)
	}
	res.Entry = es[0].Entry
	res.Replayed = want != nil
	return res, true, nil, nil
}

func toText(to string) string {
	if to == "" {
		return ""
	}
	return fmt.Sprintf(" to %q", to)
}

// entrySelect reads entries with the names of their accounts.
const entrySelect = `SELECT e.id, e.at, e.kind, d.kind, d.name, k.kind, k.name, e.amount,
	a.name, e.idem_key, e.debit_id, e.credit_id, e.debit_balance, e.credit_balance
	FROM entries e
	JOIN accounts d ON d.id = e.debit_id
	JOIN accounts k ON k.id = e.credit_id
	JOIN accounts a ON a.id = e.customer_id `

func (c *core) entries(ctx context.Context, q querier, where string,
	args ...any) ([]posting, error) {
	rows, err := q.QueryContext(ctx, entrySelect+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read journal of ledger %s: %w", c.where, err)
	}
	defer rows.Close()
	var out []posting
	for rows.Next() {
		var (
			p                  posting
			at                 int64
			kind, dKind, cKind string
		)
		err := rows.Scan(&p.ID, &at, &kind, &dKind, &p.From, &cKind, &p.To, &p.Amount,
			&p.Customer, &p.Key, &p.debitID, &p.creditID, &p.debitBalance, &p.creditBal)
		if err != nil {
			return nil, fmt.Errorf("read journal of ledger %s: %w", c.where, err)
		}
		p.Time = time.UnixMicro(at).UTC()
		p.Kind = Kind(kind)
		if dKind == "cash" {
			p.From = CashAccount
		}
		if cKind == "cash" {
			p.To = CashAccount
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read journal of ledger %s: %w", c.where, err)
	}
	return out, nil
}

// balance reads a customer's balance; found=false if there is no account.
func (c *core) balance(ctx context.Context, customer string) (Amount, bool, error) {
	var bal Amount
	err := c.rd.QueryRowContext(ctx,
		`SELECT balance FROM accounts WHERE kind = 'customer' AND name = $1`,
		customer).Scan(&bal)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read balance of %q: %w", customer, err)
	}
	return bal, true, nil
}

// history reads one page of an open account's history.
func (c *core) history(ctx context.Context, id int64, q HistoryQuery) (Page, error) {
	limit, before := q.Limit, q.Before
	switch {
	case limit < 0 || before < 0:
		return Page{}, fmt.Errorf("history limit %d or cursor %d is negative: %w",
			limit, before, ErrBadRequest)
	case limit == 0:
		limit = DefaultHistoryLimit
	case limit > MaxHistoryLimit:
		limit = MaxHistoryLimit
	}
	if before == 0 {
		before = math.MaxInt64
	}
	ps, err := c.entries(ctx, c.rd, `WHERE e.id IN (
		SELECT id FROM (SELECT id FROM entries WHERE debit_id = $1 AND id < $2
			ORDER BY id DESC LIMIT $3) AS dd
		UNION ALL
		SELECT id FROM (SELECT id FROM entries WHERE credit_id = $1 AND id < $2
			ORDER BY id DESC LIMIT $3) AS cc)
		ORDER BY e.id DESC LIMIT $3`, id, before, limit+1)
	if err != nil {
		return Page{}, err
	}
	page := Page{Lines: make([]Line, 0, min(len(ps), limit))}
	for i, p := range ps {
		if i == limit {
			page.Next = ps[i-1].ID
			break
		}
		delta := p.Amount
		if p.debitID == id {
			delta = -delta
		}
		page.Lines = append(page.Lines,
			Line{Entry: p.Entry, Delta: delta, Balance: p.balanceOf(id)})
	}
	return page, nil
}

// listEntries is Store.Entries over the reader q.
func (c *core) listEntries(ctx context.Context, customers []string) ([]Entry, error) {
	var ids []int64
	for _, name := range customers {
		id, ok, err := c.accountID(ctx, c.rd, name, nil)
		if err != nil {
			return nil, err
		}
		if ok {
			ids = append(ids, id)
		}
	}
	seen := map[int64]bool{}
	var out []Entry
	for _, id := range ids {
		ps, err := c.entries(ctx, c.rd, `WHERE e.debit_id = $1 OR e.credit_id = $1
			OR e.customer_id = $1 ORDER BY e.id`, id)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !seen[p.ID] {
				seen[p.ID] = true
				out = append(out, p.Entry)
			}
		}
	}
	sortEntries(out)
	return out, nil
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int { return cmp.Compare(a.ID, b.ID) })
}
