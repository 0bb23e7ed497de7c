package ledger

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/banco/banco/internal/identity"
)

// MaxKeyLen is the longest idempotency key, in bytes.
const MaxKeyLen = 128

// maxCash bounds each of the bank's cash accounts (tills) both ways. The
// tills together hold minus the sum of all customer balances, so they are
// never above zero together, but one till alone may be: a customer may
// withdraw, through their own till, money that reached them by transfer from
// a customer of another till. With at most maxTills tills, maxTills*maxCash
// caps the bank's total and keeps every sum (and Verify's totals) inside
// int64.
const (
	maxCash  = 500 * MaxBalance
	maxTills = 16
)

// check refuses a malformed request with an error wrapping ErrBadRequest, and
// a transfer to oneself with ErrSameAccount.
func (r Request) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrBadRequest)
	}
	if err := identity.CheckName(r.Customer); err != nil {
		return bad("%v", err)
	}
	switch r.Kind {
	case Deposit, Withdraw:
		if r.To != "" {
			return bad("a %s has no receiving customer, got %q", r.Kind, r.To)
		}
	case Transfer:
		if r.To == "" {
			return bad("a transfer needs a receiving customer")
		}
		if err := identity.CheckName(r.To); err != nil {
			return bad("receiving %v", err)
		}
		if r.To == r.Customer {
			return fmt.Errorf("transfer from %q to %q: %w", r.Customer, r.To, ErrSameAccount)
		}
	default:
		return bad("unknown kind of request %q; use deposit, withdraw or transfer", r.Kind)
	}
	if r.Amount <= 0 || r.Amount > MaxAmount {
		return bad("amount %s is not between 0.01 and %s", r.Amount, MaxAmount)
	}
	return checkKey(r.Key)
}

func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("idempotency key is empty: %w", ErrBadRequest)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("idempotency key is longer than %d bytes: %w", MaxKeyLen, ErrBadRequest)
	case !utf8.ValidString(key):
		return fmt.Errorf("idempotency key is not valid UTF-8: %w", ErrBadRequest)
	}
	for _, c := range key {
		if !unicode.IsPrint(c) || c == ' ' {
			return fmt.Errorf("idempotency key has the character %q: %w", c, ErrBadRequest)
		}
	}
	return nil
}

// Refusals are answers, not failures: a request refused under a key is
// remembered with its refusal, and the same request under the same key gets
// the same refusal again, so the answer to a key never changes. These codes
// are what the database stores.
const (
	refusedFunds = "insufficient_funds"
	refusedLimit = "balance_limit"
	refusedNoAcc = "no_account"
)

// refusal turns a stored refusal code into the error Apply returns.
func refusal(code string, r Request) error {
	switch code {
	case refusedFunds:
		return fmt.Errorf("%s %s by %q: %w", r.Kind, r.Amount, r.Customer, ErrInsufficientFunds)
	case refusedLimit:
		return fmt.Errorf("%s %s by %q: %w", r.Kind, r.Amount, r.Customer, ErrBalanceLimit)
	case refusedNoAcc:
		return fmt.Errorf("transfer to %q: %w", r.To, ErrNoAccount)
	}
	return fmt.Errorf("request under key %q was refused for an unknown reason %q", r.Key, code)
}

// IsRefusal reports whether err is a ledger's considered answer to a valid
// request (insufficient funds, balance limit, no such account), as opposed
// to a bad request or a failure of the database.
func IsRefusal(err error) bool {
	return errors.Is(err, ErrInsufficientFunds) || errors.Is(err, ErrBalanceLimit) ||
		errors.Is(err, ErrNoAccount)
}
