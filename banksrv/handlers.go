package banksrv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/ledger"
)

// The handlers only decode a request, call the bank, and render the answer.

func (s *Server) routes() http.Handler {
	// The API is five exact paths, so a map finds the handler: an
	// http.ServeMux would also clean paths and redirect, which no banco
	// client needs, at a tenth of a keep-alive read's handler time.
	byPath := map[string]http.Handler{
		api.PathBalance:  only(http.MethodGet, s.handleBalance),
		api.PathDeposit:  only(http.MethodPost, s.handleMove(ledger.Deposit)),
		api.PathWithdraw: only(http.MethodPost, s.handleMove(ledger.Withdraw)),
		api.PathTransfer: only(http.MethodPost, s.handleMove(ledger.Transfer)),
		api.PathHistory:  only(http.MethodGet, s.handleHistory),
	}
	return s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := byPath[r.URL.Path]; ok {
			h.ServeHTTP(w, r)
			return
		}
		fail(w, publicErrorf(http.StatusNotFound, api.CodeNotFound, "no such path %q", r.URL.Path))
	}))
}

// only answers 405 with a JSON body for any method but method (the
// ServeMux's own 405 is plain text).
func only(method string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			fail(w, publicErrorf(http.StatusMethodNotAllowed, api.CodeMethodNotAllowed,
				"%s needs %s", r.URL.Path, method))
			return
		}
		h(w, r)
	})
}

func (s *Server) handleBalance(w http.ResponseWriter, r *http.Request) {
	p := s.peerOf(r)
	if p.err != nil {
		fail(w, p.err)
		return
	}
	b, err := s.bank.balance(readContext(r), p.customer)
	if err != nil {
		fail(w, err)
		return
	}
	render(w, http.StatusOK, b)
}

func (s *Server) handleMove(kind ledger.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := s.peerOf(r)
		if p.err != nil {
			fail(w, p.err)
			return
		}
		var req api.MoveRequest
		if err := decode(w, r, &req); err != nil {
			fail(w, err)
			return
		}
		m, err := s.bank.move(r.Context(), p.customer, kind,
			r.Header.Get(api.HeaderIdempotencyKey), req)
		if err != nil {
			fail(w, err)
			return
		}
		render(w, http.StatusOK, m)
	}
}

func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	p := s.peerOf(r)
	if p.err != nil {
		fail(w, p.err)
		return
	}
	q := r.URL.Query()
	h, err := s.bank.history(readContext(r), p.customer, q.Get("limit"), q.Get("before"))
	if err != nil {
		fail(w, err)
		return
	}
	render(w, http.StatusOK, h)
}

// readContext is the context of a ledger read: the request's, but not
// cancelled when the client goes away. A read is short (in WAL mode an
// SQLite reader never waits for a lock), and with a cancellable context the
// SQLite driver starts a watcher goroutine and a progress handler for every
// query: that made a balance read about twice as dear (BenchmarkLedgerRead).
// Server shutdown does not cancel requests either (Serve's BaseContext).
//
// TODO(ledger): move this choice into the ledger's SQLite store, so that
// PostgreSQL reads stay cancellable when a client gives up.
func readContext(r *http.Request) context.Context {
	return context.WithoutCancel(r.Context())
}

// decode reads one JSON object of at most api.MaxBodyBytes into v.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, api.MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	var me *http.MaxBytesError
	msg := "the body must be one JSON object such as {\"amount\":\"12.50\"}"
	switch {
	case errors.As(err, &te) && te.Field == "amount":
		msg = "amount must be a JSON string such as \"12.50\", not a number"
	case errors.As(err, &me):
		msg = fmt.Sprintf("the body is larger than %d bytes", api.MaxBodyBytes)
	}
	return &publicError{status: http.StatusBadRequest, code: api.CodeBadRequest, msg: msg,
		err: err}
}

// The header values of every answer. They are shared, never changed:
// assigning them costs no allocation, where Header.Set makes a new slice
// each time, on every request.
var (
	jsonType = []string{"application/json"}
	noStore  = []string{"no-store"}
)

func render(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = jsonType // keys in canonical form, as Set would make them
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; the log shows the bytes
}

// fail answers err through errorResponse, the one place that decides what a
// client may see, and leaves the whole error for the request's log line.
func fail(w http.ResponseWriter, err error) {
	status, body := errorResponse(err)
	body.RequestID = noteError(w, err)
	render(w, status, api.ErrorBody{Error: body})
}
