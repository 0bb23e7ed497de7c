package crashtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/banco/banco/bankcli"
	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/ledger"
)

// workload is a seeded crowd of bank customers. Each client goroutine acts
// as one customer and sends money requests (deposits, withdrawals that often
// exceed the balance, transfers to the others), a tenth of them as two
// copies at once, and reads its balance and history; an auditor reads every
// customer's balance at once, over and over. Every request and answer goes to
// the recorder, for the checks at the end.
type workload struct {
	seed      uint64
	customers []string
	clients   int
	maxOps    int // per client: bounds the run when nothing stops it sooner

	// strict makes any failure to get an answer a finding: there is no
	// fault in the run, so a healthy server must always answer.
	strict bool

	// connect returns new clients of customer, one per server; attempts
	// of one request go round them. retries is bankcli's Config.Retries.
	connect func(customer string, retries int) []*bankcli.Client

	// ownRetries gives every other client goroutine a bankcli that retries
	// on its own (with the key it was given) under the workload's retries,
	// so that the client's own retry loop meets the faults too.
	ownRetries bool

	rec *recorder

	conns    [][]*bankcli.Client // per client goroutine, from dial
	auditors [][]*bankcli.Client // per customer, the late one first
}

// run drives the clients until each has done maxOps operations or stop is
// done. A request without an answer is retried with its key until it gets
// one or retry is done; it is then unknown.
// dial must have made the clients.
func (w *workload) run(stop, retry context.Context) {
	names := append([]string{lateCustomer}, w.customers...)
	var wg sync.WaitGroup
	for i, cls := range w.conns {
		wg.Go(func() { w.client(stop, retry, i, cls) })
	}
	wg.Go(func() { w.audit(stop, retry, names, w.auditors) })
	wg.Wait()
}

// dial makes every client of the workload. It runs in the test's goroutine,
// since connect may fail the test.
func (w *workload) dial() {
	for _, c := range append([]string{lateCustomer}, w.customers...) {
		w.auditors = append(w.auditors, w.connect(c, -1))
	}
	for i := range w.clients {
		retries := -1
		if w.ownRetries && i%2 == 1 {
			retries = 2
		}
		w.conns = append(w.conns, w.connect(w.customers[i%len(w.customers)], retries))
	}
}

func (w *workload) client(stop, retry context.Context, i int, cls []*bankcli.Client) {
	me := w.customers[i%len(w.customers)]
	defer closeAll(cls)
	rng := rand.New(rand.NewPCG(w.seed, uint64(i)))
	var answered []*moneyOp // this client's requests that got an answer
	for n := 0; n < w.maxOps && stop.Err() == nil; n++ {
		p := rng.IntN(100)
		switch {
		case p < 10:
			w.readBalance(retry, cls[rng.IntN(len(cls))], me)
		case p < 15:
			w.readHistory(retry, cls[rng.IntN(len(cls))], me)
		case p < 19 && len(answered) > 0:
			// The same request again, later: the first answer, replayed,
			// even if a refused withdrawal could now be paid.
			again := answered[rng.IntN(len(answered))].resend()
			w.send(retry, cls, again)
		case p < 21 && len(answered) > 0:
			// A different request under a used key: refused, nothing moves.
			other := answered[rng.IntN(len(answered))].resend()
			other.Amount++
			other.WantConflict = true
			w.send(retry, cls, other)
		case p < 30:
			// Two copies of one new request at once: one effect.
			op := w.newOp(rng, i, n, me)
			twin := op.resend()
			twin.Client = i + 1 // starts on the other server, if there are two
			var pair sync.WaitGroup
			pair.Go(func() { w.send(retry, cls, op) })
			pair.Go(func() { w.send(retry, cls, twin) })
			pair.Wait()
			answered = appendAnswered(answered, op)
		default:
			op := w.newOp(rng, i, n, me)
			w.send(retry, cls, op)
			answered = appendAnswered(answered, op)
		}
	}
}

func appendAnswered(ops []*moneyOp, op *moneyOp) []*moneyOp {
	if op.Outcome == applied || op.Outcome == refused {
		ops = append(ops, op)
	}
	return ops
}

// resend returns a new copy of the request of op, not yet sent.
func (op *moneyOp) resend() *moneyOp {
	return &moneyOp{Client: op.Client, Customer: op.Customer, Kind: op.Kind,
		Amount: op.Amount, To: op.To, Key: op.Key}
}

// newOp makes client i's n-th money request. Withdrawals ask for up to twice
// what deposits bring, so that many are refused.
func (w *workload) newOp(rng *rand.Rand, i, n int, me string) *moneyOp {
	op := &moneyOp{Client: i, Customer: me, Key: fmt.Sprintf("s%d-c%d-n%d", w.seed, i, n)}
	switch p := rng.IntN(100); {
	case p < 35:
		op.Kind, op.Amount = ledger.Deposit, ledger.Amount(1+rng.IntN(5000))
	case p < 65:
		op.Kind, op.Amount = ledger.Withdraw, ledger.Amount(1+rng.IntN(10000))
	default:
		op.Kind, op.Amount = ledger.Transfer, ledger.Amount(1+rng.IntN(6000))
		op.To = w.customers[rng.IntN(len(w.customers))]
		for op.To == me {
			op.To = w.customers[rng.IntN(len(w.customers))]
		}
		if rng.IntN(8) == 0 {
			op.To = lateCustomer
		}
	}
	return op
}

// send sends op until it gets an answer, with the same key every time, and
// records it. Attempts go round the servers, starting at the client's own.
func (w *workload) send(retry context.Context, cls []*bankcli.Client, op *moneyOp) {
	defer w.rec.op(op)
	op.Sent = time.Now()
	for attempt := 0; ; attempt++ {
		cl := cls[(op.Client+attempt)%len(cls)]
		op.Attempts++
		m, err := call(retry, cl, op)
		if err == nil && !op.WantConflict {
			op.Outcome, op.Move, op.Acked = applied, m, time.Now()
			return
		}
		var ae *bankcli.APIError
		switch {
		case op.WantConflict && errors.As(err, &ae) && ae.Code == api.CodeKeyConflict:
			op.Outcome, op.Code, op.Acked = conflict, ae.Code, time.Now()
			return
		case op.WantConflict && (err == nil || errors.As(err, &ae) && ae.Status < 500):
			op.Outcome, op.Acked = rejected, time.Now()
			w.rec.findf("%s under a key used for another amount was answered %+v, %v",
				describe(op), m, err)
			return
		case errors.As(err, &ae) && isRefusal(ae.Code):
			op.Outcome, op.Code, op.Acked = refused, ae.Code, time.Now()
			return
		case errors.As(err, &ae) && ae.Status < 500:
			op.Outcome, op.Code, op.Acked = rejected, ae.Code, time.Now()
			w.rec.findf("%s %s by %s (key %s) answered %d %s: %s", op.Kind, op.Amount,
				op.Customer, op.Key, ae.Status, ae.Code, ae.Message)
			return
		case errors.As(err, &ae):
			// Busy writers and crashes must never surface as server errors.
			w.rec.findf("%s %s by %s (key %s), attempt %d, answered %d %s: %s", op.Kind,
				op.Amount, op.Customer, op.Key, op.Attempts, ae.Status, ae.Code, ae.Message)
		case w.strict && retry.Err() == nil:
			w.rec.noAnswer(err)
			w.rec.findf("%s %s by %s (key %s), attempt %d, got no answer: %v", op.Kind,
				op.Amount, op.Customer, op.Key, op.Attempts, err)
		default:
			w.rec.noAnswer(err)
		}
		if !pause(retry, attempt) || (w.strict && attempt >= 5) {
			return // unknown
		}
	}
}

func call(ctx context.Context, cl *bankcli.Client, op *moneyOp) (api.Movement, error) {
	switch op.Kind {
	case ledger.Deposit:
		return cl.Deposit(ctx, op.Amount, op.Key)
	case ledger.Withdraw:
		return cl.Withdraw(ctx, op.Amount, op.Key)
	}
	return cl.Transfer(ctx, op.Amount, op.To, op.Key)
}

func isRefusal(code string) bool {
	return code == api.CodeInsufficientFunds || code == api.CodeBalanceLimit ||
		code == api.CodeNoSuchAccount
}

// pause waits before attempt+1, or reports false when ctx is done.
func pause(ctx context.Context, attempt int) bool {
	t := time.NewTimer(time.Duration(min(attempt+1, 10)) * 20 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *workload) readBalance(ctx context.Context, cl *bankcli.Client, me string) {
	sent := time.Now()
	b, err := cl.Balance(ctx)
	got := time.Now()
	if err != nil {
		if w.strict && ctx.Err() == nil {
			w.rec.findf("balance of %s: %v", me, err)
		}
		return
	}
	bal, err := parseMoney(b.Balance)
	if err != nil || b.Customer != me {
		w.rec.findf("balance of %s answered %+v (%v)", me, b, err)
		return
	}
	w.rec.read(readObs{Customer: me, Sent: sent, Got: got, Balance: bal})
}

// readHistory reads the newest page of the customer's history and, when
// the server says there are older entries, the page after it.
func (w *workload) readHistory(ctx context.Context, cl *bankcli.Client, me string) {
	sent := time.Now()
	h, err := cl.History(ctx, historyPage, 0)
	pages := 1
	if err == nil && h.Next != 0 {
		var older api.History
		older, err = cl.History(ctx, historyPage, h.Next)
		h.Lines = append(h.Lines, older.Lines...)
		pages++
	}
	got := time.Now()
	if err != nil {
		if w.strict && ctx.Err() == nil {
			w.rec.findf("history of %s: %v", me, err)
		}
		return
	}
	if h.Customer != me {
		w.rec.findf("history of %s answered for %q", me, h.Customer)
		return
	}
	w.rec.read(readObs{Customer: me, Sent: sent, Got: got, History: &h, Pages: pages})
}

// lateCustomer has no account when the workload starts; lateRound is the
// audit round that opens it.
const (
	lateCustomer = "gus"
	lateRound    = 10
)

// historyPage is the page size of history reads: small, so that pages end
// before the oldest entry and their running balances must still chain.
const historyPage = 20

// audit reads every customer's balance at once, again and again, like a
// teller's screen of all accounts. From its lateRound-th round on it reads
// the late customer's too, which opens their account: transfers to them are
// refused until then (no such account), and those refusals must stick.
func (w *workload) audit(stop, retry context.Context, names []string,
	cls [][]*bankcli.Client) {
	defer func() {
		for _, c := range cls {
			closeAll(c)
		}
	}()
	for round := 0; round < 4*w.maxOps && stop.Err() == nil; round++ {
		from := 1
		if round >= lateRound {
			from = 0 // the late customer's first read opens their account
		}
		var wg sync.WaitGroup
		for i, c := range names[from:] {
			wg.Go(func() { w.readBalance(retry, cls[from+i][round%len(cls[from+i])], c) })
		}
		wg.Wait()
		if !pause(stop, 0) {
			return
		}
	}
}

func closeAll(cls []*bankcli.Client) {
	for _, c := range cls {
		c.Close()
	}
}
