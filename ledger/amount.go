package ledger

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Amount is a sum of money in cents. Integer cents keep every sum exact.
type Amount int64

// MaxAmount is the largest amount one request may move: 1,000,000,000.00.
// Together with MaxBalance it keeps every balance and total far from the
// limits of int64.
const MaxAmount Amount = 1_000_000_000_00

// MaxBalance is the largest balance an account may reach.
const MaxBalance Amount = 1_000_000_000_000_00

// ErrInvalidAmount is wrapped by every error ParseAmount returns.
var ErrInvalidAmount = errors.New("invalid amount")

// AmountError explains why a string is not an amount.
type AmountError struct {
	Input  string
	Reason string
}

func (e *AmountError) Error() string {
	return fmt.Sprintf("invalid amount %q: %s", e.Input, e.Reason)
}

func (e *AmountError) Unwrap() error { return ErrInvalidAmount }

// ParseAmount reads a positive decimal amount with at most two decimals, such
// as "100", "12.5" or "12.50". It takes nothing else: no sign, exponent,
// spaces, thousands separators, comma decimals, or leading zeros, and nothing
// above MaxAmount.
func ParseAmount(s string) (Amount, error) {
	bad := func(reason string) (Amount, error) {
		return 0, &AmountError{Input: s, Reason: reason}
	}
	if s == "" {
		return bad("it is empty; write a number such as 12.50")
	}
	if len(s) > 32 {
		return bad("it is too long")
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if !digits(whole) || (hasDot && !digits(frac)) {
		return bad("use digits with an optional dot and up to 2 decimals, such as 12.50")
	}
	if len(frac) > 2 {
		return bad("at most 2 decimals (cents)")
	}
	if len(whole) > 1 && whole[0] == '0' {
		return bad("no leading zeros")
	}
	if len(whole) > 10 {
		return bad(fmt.Sprintf("the most one request can move is %s", MaxAmount))
	}
	units, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return bad("not a number")
	}
	cents := int64(0)
	if frac != "" {
		cents, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			cents *= 10
		}
	}
	a := Amount(units*100 + cents)
	switch {
	case a <= 0:
		return bad("it must be more than zero")
	case a > MaxAmount:
		return bad(fmt.Sprintf("the most one request can move is %s", MaxAmount))
	}
	return a, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats a as units and two decimals: "12.50", "-3.05". It is on
// every answer's path, so it formats by hand rather than with fmt.
func (a Amount) String() string {
	var b [24]byte // "-" and 19 digits, ".", 2 decimals
	u := uint64(a)
	if a < 0 {
		u = -u
	}
	i := len(b)
	cents := u % 100
	b[i-1] = byte('0' + cents%10)
	b[i-2] = byte('0' + cents/10)
	b[i-3] = '.'
	i -= 3
	u /= 100
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if a < 0 {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
