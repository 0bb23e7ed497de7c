package bench

import (
	"context"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/ledger"
)

// Ack is one money request the bench sent, and what it learnt of its fate.
type Ack struct {
	Key      string        `json:"key"`
	Op       Op            `json:"-"`
	Customer string        `json:"customer"`
	To       string        `json:"to,omitempty"`
	Amount   ledger.Amount `json:"amount"`
	State    AckState      `json:"state"`
	Entry    int64         `json:"entry,omitempty"`   // journal entry, when done
	Balance  ledger.Amount `json:"balance,omitempty"` // the customer's, right after
	Funding  bool          `json:"funding,omitempty"` // made before the run
}

// AckState is what the bank answered to a money request.
type AckState int

// The fates of a money request.
const (
	// Unknown: no answer, or an answer that does not say (a timeout, a 5xx).
	Unknown AckState = iota
	// Done: acknowledged; the entry must be in the journal exactly once.
	Done
	// NoEffect: refused (such as insufficient funds) or rejected; nothing
	// may have moved.
	NoEffect
)

func (s AckState) String() string {
	return [...]string{"unknown", "done", "no-effect"}[s]
}

// MarshalText makes AckState readable in JSON.
func (s AckState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// refusalCodes are the answers in which the bank declines for the
// customer's own reason; they are expected under a random mix.
var refusalCodes = map[string]bool{
	api.CodeInsufficientFunds: true,
	api.CodeBalanceLimit:      true,
}

type worker struct {
	r    *runner
	id   int
	cust int
	rng  *mrand.Rand
	c    *conn
	seq  int

	hists    [numOps]hist
	refused  [numOps]int64
	failed   [numOps]int64
	errs     map[string]int64
	refusals map[string]int64
	body     []byte
}

// Pauses after a request that could not be sent (the bank is down or
// refuses the connection): they double from the first to the last, so that
// a client waits for the bank rather than spinning on connection errors.
const (
	firstPause = 10 * time.Millisecond
	lastPause  = time.Second
)

func (w *worker) loop(ctx context.Context, stop <-chan struct{}) {
	cfg := w.r.cfg
	total := cfg.Mix.total()
	pause := time.Duration(0)
	for {
		select {
		case <-stop:
			return
		default:
		}
		if cfg.Ops > 0 && w.r.left.Add(-1) < 0 {
			return
		}
		op := cfg.Mix.pick(w.rng.IntN(total))
		if !w.one(ctx, op) {
			pause = 0
			continue
		}
		pause = min(max(2*pause, firstPause), lastPause)
		t := time.NewTimer(pause)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// one sends one request of kind op and records its latency and outcome.
// It reports whether the request could not be sent at all.
func (w *worker) one(ctx context.Context, op Op) (unsentNow bool) {
	var a *Ack
	path := api.PathBalance
	method := http.MethodGet
	var body []byte
	if op != OpBalance {
		a = w.newAck(op)
		path, body = moveRequest(a, w.body[:0])
		w.body = body
		method = http.MethodPost
	}
	key := ""
	if a != nil {
		key = a.Key
	}
	start := time.Now()
	st, data, err := w.c.do(ctx, method, path, key, body)
	elapsed := time.Since(start)
	w.r.ops.Add(1)

	kind, refused := outcome(st, data, err, a)
	if kind != "" {
		w.failed[op]++
		w.errs[kind]++
		w.r.errs.Add(1)
		return unsent(err)
	}
	w.hists[op].add(elapsed)
	if refused != "" {
		w.refused[op]++
		w.refusals[refused]++
	}
	return false
}

// outcome sorts an answer: a failure kind, or a refusal code, or neither
// for success. It records a money request's fate in a.
func outcome(st int, data []byte, err error, a *Ack) (failKind, refusal string) {
	if err != nil {
		var f *failure
		if !errors.As(err, &f) {
			return "io", ""
		}
		if f.unsent() && a != nil {
			a.State = NoEffect // never sent, so never applied
		}
		return f.kind, ""
	}
	if st == http.StatusOK {
		if a != nil {
			var m api.Movement
			if jerr := json.Unmarshal(data, &m); jerr != nil {
				return "bad_answer", ""
			}
			a.State, a.Entry = Done, m.ID
			if b, perr := parseCents(m.Balance); perr == nil {
				a.Balance = b
			}
		}
		return "", ""
	}
	code := decodeError(st, data)
	if st >= 400 && st < 500 && a != nil {
		a.State = NoEffect
	}
	if refusalCodes[code] {
		return "", code
	}
	return code, ""
}

func (w *worker) newAck(op Op) *Ack {
	w.seq++
	cfg := w.r.cfg
	a := &Ack{Op: op, Customer: cfg.Customers[w.cust].Name,
		Key: "bench-" + w.r.runID + "-" + strconv.Itoa(w.id) + "-" + strconv.Itoa(w.seq)}
	switch op {
	case OpTransfer:
		a.Amount = ledger.Amount(100 + w.rng.IntN(1901)) // 1.00 to 20.00
		to := w.rng.IntN(len(cfg.Customers) - 1)
		if to >= w.cust {
			to++
		}
		a.To = cfg.Customers[to].Name
	default:
		a.Amount = ledger.Amount(100 + w.rng.IntN(4901)) // 1.00 to 50.00
	}
	w.r.mu.Lock()
	w.r.acks = append(w.r.acks, a)
	w.r.mu.Unlock()
	return a
}

// moveRequest appends a's JSON body to b and returns its path and the body.
func moveRequest(a *Ack, b []byte) (string, []byte) {
	b = append(b, `{"amount":"`...)
	b = append(b, a.Amount.String()...)
	b = append(b, '"')
	if a.To != "" {
		b = append(b, `,"to":`...)
		to, _ := json.Marshal(a.To)
		b = append(b, to...)
	}
	b = append(b, '}')
	switch a.Op {
	case OpDeposit:
		return api.PathDeposit, b
	case OpWithdraw:
		return api.PathWithdraw, b
	}
	return api.PathTransfer, b
}
