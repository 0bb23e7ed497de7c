package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/ledger"
)

// account is what the bench saw of one customer's account over the API.
type account struct {
	start  ledger.Amount // balance before the run
	last   int64         // newest entry before the run; 0 if none
	end    ledger.Amount // balance after the run
	lines  []api.HistoryLine
	loaded bool // end and lines were read
}

// forEach runs f for every customer, a few at a time, and returns the first
// error.
func (r *runner) forEach(ctx context.Context,
	f func(ctx context.Context, i int, c *conn) error) error {
	n := len(r.cfg.Customers)
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := r.keepAliveConn(i)
			defer c.close()
			errs[i] = f(ctx, i, c)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// get sends a GET and decodes a 200 answer into out.
func get(ctx context.Context, c *conn, path string, out any) error {
	st, data, err := c.do(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return &AnswerError{Path: path, Status: st, Code: decodeError(st, data)}
	}
	return json.Unmarshal(data, out)
}

// AnswerError is a refusal of a request the bench needs to prepare or
// check, such as a 404 from a server that is not banco.
type AnswerError struct {
	Path   string
	Status int
	Code   string // the API's error code, else http_STATUS
}

func (e *AnswerError) Error() string {
	return fmt.Sprintf("GET %s answered %d (%s)", e.Path, e.Status, e.Code)
}

// prepare opens every bench customer's account, notes its balance and newest
// entry, and funds it when the mix can take money out.
func (r *runner) prepare(ctx context.Context) ([]*account, error) {
	accts := make([]*account, len(r.cfg.Customers))
	fund := r.cfg.Fund > 0 && (r.cfg.Mix[OpWithdraw] > 0 || r.cfg.Mix[OpTransfer] > 0)
	if r.cfg.NoCheck && !fund {
		return accts, nil // e.g. reads against the baseline, which has no history
	}
	err := r.forEach(ctx, func(ctx context.Context, i int, c *conn) error {
		name := r.cfg.Customers[i].Name
		var b api.Balance
		if err := get(ctx, c, api.PathBalance, &b); err != nil {
			return fmt.Errorf("bench: read %s's balance: %w", name, err)
		}
		bal, err := parseCents(b.Balance)
		if err != nil {
			return fmt.Errorf("bench: read %s's balance: %w", name, err)
		}
		var h api.History
		if err := get(ctx, c, api.PathHistory+"?limit=1", &h); err != nil {
			return fmt.Errorf("bench: read %s's history: %w", name, err)
		}
		a := &account{start: bal}
		if len(h.Lines) > 0 {
			a.last = h.Lines[0].ID
		}
		accts[i] = a
		if !fund || int64(bal) >= r.cfg.Fund {
			return nil
		}
		return r.fund(ctx, c, name, ledger.Amount(r.cfg.Fund)-bal)
	})
	return accts, err
}

func (r *runner) fund(ctx context.Context, c *conn, name string, amount ledger.Amount) error {
	a := &Ack{Op: OpDeposit, Customer: name, Amount: amount, Funding: true,
		Key: "bench-" + r.runID + "-fund-" + name}
	r.mu.Lock()
	r.acks = append(r.acks, a)
	r.mu.Unlock()
	path, body := moveRequest(a, nil)
	st, data, err := c.do(ctx, http.MethodPost, path, a.Key, body)
	if kind, _ := outcome(st, data, err, a); kind != "" || a.State != Done {
		return fmt.Errorf("bench: fund %s's account with %s: %s", name, amount, kind)
	}
	return nil
}

// resolveFor bounds how long resolve keeps asking a bank that answers but
// cannot say (timeouts, 5xx).
const resolveFor = time.Minute

// resolve sends every money request left without a clear answer again,
// with its key: the bank answers with the first result if it had applied
// it, or applies it now. Either way the bench then knows. It stops at once
// when the bank cannot be reached, and gives up on a request after five
// tries or when resolveFor has passed; the check reports what stays
// unknown.
func (r *runner) resolve(ctx context.Context) error {
	deadline := time.Now().Add(resolveFor)
	for _, a := range r.acks {
		if a.State != Unknown {
			continue
		}
		c := r.keepAliveConn(r.customerIndex(a.Customer))
		err := r.resolveOne(ctx, c, a, deadline)
		c.close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) resolveOne(ctx context.Context, c *conn, a *Ack, deadline time.Time) error {
	for try := range 5 {
		if try > 0 {
			t := time.NewTimer(time.Duration(100<<try) * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		path, body := moveRequest(a, nil)
		st, data, err := c.do(ctx, http.MethodPost, path, a.Key, body)
		if unsent(err) {
			return &UnresolvedError{Unknown: r.unknown(), Err: err}
		}
		outcome(st, data, err, a)
		if a.State != Unknown || time.Now().After(deadline) {
			return nil
		}
	}
	return nil
}

// unknown counts the money requests still without a clear answer.
func (r *runner) unknown() int {
	n := 0
	for _, a := range r.acks {
		if a.State == Unknown {
			n++
		}
	}
	return n
}

// UnresolvedError is a run that ended with money requests whose fate the
// bench could not learn, because the bank could not be reached.
type UnresolvedError struct {
	Unknown int
	Err     error
}

func (e *UnresolvedError) Error() string {
	return fmt.Sprintf("bench: %d money requests got no answer, and the bank cannot be "+
		"reached to learn what became of them: %v", e.Unknown, e.Err)
}

func (e *UnresolvedError) Unwrap() error { return e.Err }

func (r *runner) customerIndex(name string) int {
	for i, cu := range r.cfg.Customers {
		if cu.Name == name {
			return i
		}
	}
	return 0
}

// check reads every bench customer's balance and new history and checks
// them against what the bench was told.
func (r *runner) check(ctx context.Context, accts []*account) (*Check, error) {
	err := r.forEach(ctx, func(ctx context.Context, i int, c *conn) error {
		return readAccount(ctx, c, r.cfg.Customers[i].Name, accts[i])
	})
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*account, len(accts))
	for i, a := range accts {
		byName[r.cfg.Customers[i].Name] = a
	}
	return verify(byName, r.acks), nil
}

// readAccount reads the balance and the entries newer than a.last.
func readAccount(ctx context.Context, c *conn, name string, a *account) error {
	var b api.Balance
	if err := get(ctx, c, api.PathBalance, &b); err != nil {
		return fmt.Errorf("bench: read %s's balance: %w", name, err)
	}
	end, err := parseCents(b.Balance)
	if err != nil {
		return fmt.Errorf("bench: read %s's balance: %w", name, err)
	}
	var lines []api.HistoryLine
	before := int64(0)
	for {
		path := api.PathHistory + "?limit=" + strconv.Itoa(ledger.MaxHistoryLimit)
		if before > 0 {
			path += "&before=" + strconv.FormatInt(before, 10)
		}
		var h api.History
		if err := get(ctx, c, path, &h); err != nil {
			return fmt.Errorf("bench: read %s's history: %w", name, err)
		}
		for _, l := range h.Lines {
			if l.ID <= a.last {
				h.Next = 0
				break
			}
			lines = append(lines, l)
		}
		if h.Next == 0 {
			break
		}
		before = h.Next
	}
	a.end, a.lines, a.loaded = end, lines, true
	return nil
}
