// Package api defines the JSON messages of banco's bank over HTTPS, shared by
// the server (banksrv) and the client (bankcli). Amounts travel as decimal
// strings with two decimals ("12.50"), never as JSON numbers, so no float
// ever touches money. The customer is never in a request: the server takes
// it from the client certificate.
//
//	GET  /v1/balance                          -> Balance
//	POST /v1/deposit   {"amount":"12.50"}     -> Movement
//	POST /v1/withdraw  {"amount":"12.50"}     -> Movement
//	POST /v1/transfer  {"amount":"5","to":"bob"} -> Movement
//	GET  /v1/history?limit=N&before=CURSOR    -> History
//
// Money requests must carry an Idempotency-Key header; a request sent again
// with the same key is applied once and answered with the first result.
// Errors are answered with a status code and an ErrorBody.
package api

import (
	"errors"
	"fmt"
	"time"
)

// Paths of the API.
const (
	PathBalance  = "/v1/balance"
	PathDeposit  = "/v1/deposit"
	PathWithdraw = "/v1/withdraw"
	PathTransfer = "/v1/transfer"
	PathHistory  = "/v1/history"
)

// Headers of the API.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderRequestID      = "X-Request-Id"
)

// MaxKeyLen is the longest idempotency key, in bytes.
const MaxKeyLen = 128

// MaxBodyBytes bounds the size of a request body.
const MaxBodyBytes = 4 << 10

// Balance answers GET /v1/balance.
type Balance struct {
	Customer string `json:"customer"`
	Balance  string `json:"balance"`
}

// MoveRequest is the body of deposit, withdraw and transfer.
type MoveRequest struct {
	Amount string `json:"amount"`
	To     string `json:"to,omitempty"` // transfer only
}

// Movement answers a money request: the journal entry it made (or made the
// first time, when Replayed) and the customer's balance right after it.
type Movement struct {
	ID       int64     `json:"id"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Amount   string    `json:"amount"`
	Balance  string    `json:"balance"`
	Replayed bool      `json:"replayed,omitempty"`
}

// HistoryLine is one journal entry seen from the customer's account.
type HistoryLine struct {
	ID      int64     `json:"id"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Amount  string    `json:"amount"`
	Delta   string    `json:"delta"`   // signed: "+12.50" credit, "-12.50" debit
	Balance string    `json:"balance"` // after this entry
}

// History answers GET /v1/history, newest first. Next, when not zero, is the
// before= cursor of the next (older) page.
type History struct {
	Customer string        `json:"customer"`
	Lines    []HistoryLine `json:"lines"`
	Next     int64         `json:"next,omitempty"`
}

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error is a public error: a stable code for programs and a message for
// people. It never holds the server's internal error text.
type Error struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// Error codes.
const (
	CodeBadRequest        = "bad_request"
	CodeInvalidAmount     = "invalid_amount"
	CodeMissingKey        = "missing_idempotency_key"
	CodeInvalidKey        = "invalid_idempotency_key"
	CodeKeyConflict       = "idempotency_key_conflict"
	CodeInsufficientFunds = "insufficient_funds"
	CodeNoSuchAccount     = "no_such_account"
	CodeSameAccount       = "same_account"
	CodeBalanceLimit      = "balance_limit"
	CodeNoCustomer        = "no_customer"
	CodeClientRefused     = "client_refused"
	CodeNotFound          = "not_found"
	CodeMethodNotAllowed  = "method_not_allowed"
	CodeUnavailable       = "unavailable"
	CodeInternal          = "internal"
)

// CheckKey reports whether key can be an idempotency key: 1 to MaxKeyLen
// printable ASCII characters without spaces.
func CheckKey(key string) error {
	if key == "" {
		return errors.New("idempotency key is empty")
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("idempotency key is longer than %d bytes", MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' {
			return errors.New("idempotency key must be printable ASCII without spaces")
		}
	}
	return nil
}
