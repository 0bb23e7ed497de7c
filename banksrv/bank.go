package banksrv

import (
	"context"
	"net/http"
	"strconv"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/internal/identity"
	"github.com/banco/banco/ledger"
)

// bank is the bank's logic between the HTTP handlers and the ledger: it
// validates what a customer asks and turns ledger answers into API messages.
// It knows nothing of HTTP beyond the status codes in its public errors.
type bank struct {
	store ledger.Store
}

func (b *bank) balance(ctx context.Context, customer string) (api.Balance, error) {
	bal, err := b.store.Balance(ctx, customer)
	if err != nil {
		return api.Balance{}, err
	}
	return api.Balance{Customer: customer, Balance: bal.String()}, nil
}

func (b *bank) move(ctx context.Context, customer string, kind ledger.Kind, key string,
	req api.MoveRequest) (api.Movement, error) {
	if key == "" {
		return api.Movement{}, publicErrorf(http.StatusBadRequest, api.CodeMissingKey,
			"money requests need an %s header", api.HeaderIdempotencyKey)
	}
	if err := api.CheckKey(key); err != nil {
		return api.Movement{}, publicErrorf(http.StatusBadRequest, api.CodeInvalidKey, "%v", err)
	}
	amount, err := ledger.ParseAmount(req.Amount)
	if err != nil {
		return api.Movement{}, err
	}
	switch {
	case kind == ledger.Transfer && req.To == "":
		return api.Movement{}, publicErrorf(http.StatusBadRequest, api.CodeBadRequest,
			"a transfer needs a recipient in \"to\"")
	case kind == ledger.Transfer:
		if err := identity.CheckName(req.To); err != nil {
			return api.Movement{}, publicErrorf(http.StatusBadRequest, api.CodeBadRequest,
				"recipient: %v", err)
		}
	case req.To != "":
		return api.Movement{}, publicErrorf(http.StatusBadRequest, api.CodeBadRequest,
			"only a transfer has a recipient")
	}

	res, err := b.store.Apply(ctx, ledger.Request{
		Customer: customer, Kind: kind, Amount: amount, To: req.To, Key: key,
	})
	if err != nil {
		return api.Movement{}, recipientError(err, req.To)
	}
	e := res.Entry
	return api.Movement{
		ID: e.ID, Time: e.Time, Kind: string(e.Kind), From: e.From, To: e.To,
		Amount: e.Amount.String(), Balance: res.Balance.String(), Replayed: res.Replayed,
	}, nil
}

func (b *bank) history(ctx context.Context, customer, limit, before string) (api.History, error) {
	q := ledger.HistoryQuery{}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > ledger.MaxHistoryLimit {
			return api.History{}, publicErrorf(http.StatusBadRequest, api.CodeBadRequest,
				"limit must be a whole number from 1 to %d", ledger.MaxHistoryLimit)
		}
		q.Limit = n
	}
	if before != "" {
		n, err := strconv.ParseInt(before, 10, 64)
		if err != nil || n < 1 {
			return api.History{}, publicErrorf(http.StatusBadRequest, api.CodeBadRequest,
				"before must be a cursor from an earlier page (a positive whole number)")
		}
		q.Before = n
	}
	page, err := b.store.History(ctx, customer, q)
	if err != nil {
		return api.History{}, err
	}
	h := api.History{Customer: customer, Lines: make([]api.HistoryLine, 0, len(page.Lines)),
		Next: page.Next}
	for _, l := range page.Lines {
		delta := l.Delta.String()
		if l.Delta > 0 {
			delta = "+" + delta
		}
		h.Lines = append(h.Lines, api.HistoryLine{
			ID: l.ID, Time: l.Time, Kind: string(l.Kind), From: l.From, To: l.To,
			Amount: l.Amount.String(), Delta: delta, Balance: l.Balance.String(),
		})
	}
	return h, nil
}
