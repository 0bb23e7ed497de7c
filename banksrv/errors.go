package banksrv

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/ledger"
)

// publicError is an error whose message may be shown to the client as it is:
// it was written for the client, from the client's own request.
type publicError struct {
	status int
	code   string
	msg    string
	err    error // the cause, for the log only; may be nil
}

func (e *publicError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *publicError) Unwrap() error { return e.err }

func publicErrorf(status int, code, format string, args ...any) *publicError {
	return &publicError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// recipientError names the recipient when the ledger says an account does not
// exist: on a transfer that is the only account that can be missing.
func recipientError(err error, to string) error {
	if to != "" && errors.Is(err, ledger.ErrNoAccount) {
		return &publicError{status: http.StatusNotFound, code: api.CodeNoSuchAccount,
			msg: fmt.Sprintf("no customer named %q has an account", to), err: err}
	}
	return err
}

// errorResponse maps any error from the bank or the ledger to the status code
// and public body the client gets. Only messages written for the client leave
// the server; anything unexpected becomes a bare internal error, and the
// caller logs the whole chain.
func errorResponse(err error) (int, api.Error) {
	var pe *publicError
	var ae *ledger.AmountError
	switch {
	case errors.As(err, &pe):
		return pe.status, api.Error{Code: pe.code, Message: pe.msg}
	case errors.As(err, &ae):
		return http.StatusBadRequest, api.Error{Code: api.CodeInvalidAmount, Message: ae.Error()}
	case errors.Is(err, ledger.ErrInsufficientFunds):
		return http.StatusConflict, api.Error{Code: api.CodeInsufficientFunds,
			Message: "insufficient funds"}
	case errors.Is(err, ledger.ErrKeyConflict):
		return http.StatusUnprocessableEntity, api.Error{Code: api.CodeKeyConflict,
			Message: "this idempotency key was already used for a different request"}
	case errors.Is(err, ledger.ErrNoAccount):
		return http.StatusNotFound, api.Error{Code: api.CodeNoSuchAccount,
			Message: "no such account"}
	case errors.Is(err, ledger.ErrSameAccount):
		return http.StatusBadRequest, api.Error{Code: api.CodeSameAccount,
			Message: "cannot transfer to your own account"}
	case errors.Is(err, ledger.ErrBalanceLimit):
		return http.StatusConflict, api.Error{Code: api.CodeBalanceLimit,
			Message: fmt.Sprintf("a balance may not exceed %s", ledger.MaxBalance)}
	case errors.Is(err, ledger.ErrBadRequest):
		return http.StatusBadRequest, api.Error{Code: api.CodeBadRequest,
			Message: "the ledger refused the request as malformed"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, api.Error{Code: api.CodeUnavailable,
			Message: "the server is stopping or busy; try again"}
	}
	return http.StatusInternalServerError, api.Error{Code: api.CodeInternal,
		Message: "internal error; the server's log has the details"}
}
