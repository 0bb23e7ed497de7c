// Package ledger is banco's double-entry book of accounts, on SQLite or
// PostgreSQL. It leaves TLS, HTTP and identities to others: callers pass the
// customer's name as already authenticated.
//
// Every movement is an immutable journal entry from a debit account to a
// credit account; deposits and withdrawals post against the bank's cash
// account. Each account's balance is stored and kept in the same
// transaction as its entries. After every commit: all balances, cash
// included, sum to zero; each stored balance equals the sum of its entries;
// no customer balance is negative or above MaxBalance. Verify recomputes all
// of it from the journal.
//
// Exactly once: a request carries an idempotency key that belongs to its
// customer. The answer to a key, a movement or a refusal (insufficient
// funds, balance limit, no such account), is stored in the transaction that
// gives it, and the same request under the same key gets that answer again
// (Result.Replayed), however often and concurrently it is retried; a
// different request under a used key gets ErrKeyConflict. A refusal is thus
// remembered: a client must use a new key for a new attempt.
package ledger

import (
	"context"
	"errors"
	"time"
)

// Kind is what a request does with money.
type Kind string

// The kinds of money movement.
const (
	Deposit  Kind = "deposit"  // cash -> customer
	Withdraw Kind = "withdraw" // customer -> cash
	Transfer Kind = "transfer" // customer -> another customer
)

// Request asks the ledger to move money on behalf of Customer.
type Request struct {
	Customer string // who asks; their account opens on first use
	Kind     Kind
	Amount   Amount
	To       string // the receiving customer, for Transfer only
	Key      string // idempotency key chosen by the client; required
}

// Entry is one immutable journal entry: Amount moved from the Debit account
// to the Credit account. Entries are never updated or deleted.
type Entry struct {
	ID       int64     `json:"id"`
	Time     time.Time `json:"time"`
	Kind     Kind      `json:"kind"`
	From     string    `json:"from"` // account debited: a customer, or CashAccount
	To       string    `json:"to"`   // account credited
	Amount   Amount    `json:"amount"`
	Customer string    `json:"customer"` // who asked
	Key      string    `json:"-"`
}

// CashAccount is the name shown for the bank's own cash account, which
// deposits and withdrawals post against. It is not a customer name.
const CashAccount = "(cash)"

// Result answers a Request.
type Result struct {
	Entry    Entry
	Balance  Amount // the asking customer's balance right after Entry
	Replayed bool   // the key had been used for this very request before
}

// HistoryQuery selects a page of a customer's entries, newest first.
type HistoryQuery struct {
	Limit  int   // at most this many; 0 means DefaultHistoryLimit
	Before int64 // only entries with ID < Before; 0 means from the newest
}

// DefaultHistoryLimit and MaxHistoryLimit bound a history page.
const (
	DefaultHistoryLimit = 50
	MaxHistoryLimit     = 1000
)

// Line is one entry seen from one customer's account.
type Line struct {
	Entry
	Delta   Amount `json:"delta"`   // + credit to the customer, - debit
	Balance Amount `json:"balance"` // the customer's balance after this entry
}

// Page is one page of history. Next is the Before value of the next page, or
// 0 when there are no older entries.
type Page struct {
	Lines []Line `json:"lines"`
	Next  int64  `json:"next,omitempty"`
}

// Report is what Verify found: nil Problems means every invariant holds.
type Report struct {
	Accounts int       `json:"accounts"` // customers, plus 1 for the bank's cash
	Entries  int64     `json:"entries"`
	Total    Amount    `json:"total"` // sum of all balances, cash included; must be 0
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one broken invariant.
type Problem struct {
	Account string `json:"account,omitempty"`
	What    string `json:"what"`
}

// Store is a ledger. Balance, Apply and History open the calling customer's
// account if it does not exist yet. Implementations are safe for concurrent
// use, also by several processes sharing one database. Apply answers only
// once its effect (or its refusal) is durably committed.
type Store interface {
	// Balance is the customer's balance.
	Balance(ctx context.Context, customer string) (Amount, error)

	// Apply moves money once per idempotency key (see the package
	// documentation). Refusals come back as errors: ErrInsufficientFunds,
	// ErrBalanceLimit, ErrNoAccount; malformed requests as ErrBadRequest or
	// ErrSameAccount; a reused key as ErrKeyConflict.
	Apply(ctx context.Context, r Request) (Result, error)

	// History pages through the customer's entries, newest first.
	History(ctx context.Context, customer string, q HistoryQuery) (Page, error)

	// Verify recomputes every balance from the journal, on one consistent
	// snapshot, and reports each broken invariant.
	Verify(ctx context.Context) (Report, error)

	// Lookup finds what a customer's request under key did, for crash and
	// bench tests that check every acknowledged request is in the journal
	// once. found is false when the key was never used. A request that was
	// refused is found, with a zero Result and the refusal as err (for
	// example wrapping ErrInsufficientFunds), just as Apply answered it.
	Lookup(ctx context.Context, customer, key string) (res Result, found bool, err error)

	// Entries lists, oldest first, every journal entry that touches one of
	// the customers' accounts or was asked for by one of them, with Key set.
	// It does not open accounts; unknown customers have no entries.
	Entries(ctx context.Context, customers []string) ([]Entry, error)

	Close() error
}

// Options tunes Open. The zero value is right for production.
type Options struct {
	// Now is the clock that stamps entries; nil means time.Now.
	Now func() time.Time

	// MustExist refuses to create a new SQLite file, to set up a database
	// that holds no ledger yet (ErrNotLedger) or to migrate an older one
	// (ErrSchemaTooOld), for tools such as "banco ledger verify" that must
	// not invent an empty ledger or change the one they look at.
	MustExist bool

	// MaxBatch bounds how many requests one SQLite group commit holds;
	// 0 means DefaultMaxBatch.
	MaxBatch int
}

// Errors a caller can tell apart with errors.Is.
var (
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrKeyConflict       = errors.New("idempotency key already used for a different request")
	ErrNoAccount         = errors.New("no such account")
	ErrSameAccount       = errors.New("cannot transfer to the same account")
	ErrBalanceLimit      = errors.New("balance would exceed the maximum")
	ErrBadRequest        = errors.New("bad request")
	ErrSchemaTooNew      = errors.New("database was written by a newer banco")
)
