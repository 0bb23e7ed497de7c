package crashtest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/ledger"
)

// outcome is what a client learnt about one money request.
type outcome int

const (
	unknown  outcome = iota // no answer before the test ended: may be in the journal once
	applied                 // answered 200: must be in the journal exactly once
	refused                 // answered with a refusal: must not be in the journal
	rejected                // answered with another 4xx: a finding; must not be in the journal
	conflict                // a different request under a used key, refused as it must be
)

func (o outcome) String() string {
	return [...]string{"unknown", "applied", "refused", "rejected", "conflict"}[o]
}

// moneyOp is one copy of one money request as a client sent it. Two copies
// of a request share its key; the checks group them.
type moneyOp struct {
	Client   int
	Customer string
	Kind     ledger.Kind
	Amount   ledger.Amount
	To       string
	Key      string

	// WantConflict marks a request sent on purpose under the key of an
	// earlier, different one: it must be refused as a key conflict.
	WantConflict bool

	Sent     time.Time // first attempt
	Acked    time.Time // answer received; zero when unknown
	Attempts int
	Outcome  outcome
	Move     api.Movement // when applied
	Code     string       // error code when refused or rejected
}

// readObs is one successful read of a customer's balance or history page.
type readObs struct {
	Customer string
	Sent     time.Time
	Got      time.Time
	Balance  ledger.Amount
	History  *api.History // nil for a balance read
	Pages    int          // history pages read, newest first, lines concatenated
}

// recorder collects what the clients saw, and the findings (things that must
// never happen, reported by the test at the end).
type recorder struct {
	mu       sync.Mutex
	ops      []*moneyOp
	reads    []readObs
	findings []string
	errors   map[string]int // kinds of failure to get an answer, for the log
	samples  []string       // the first error of each kind
}

// noAnswer counts a request that got no answer, by the error's type.
func (r *recorder) noAnswer(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.errors == nil {
		r.errors = map[string]int{}
	}
	kind := fmt.Sprintf("%T", err)
	if r.errors[kind] == 0 {
		r.samples = append(r.samples, kind+": "+err.Error())
	}
	r.errors[kind]++
}

func (r *recorder) op(o *moneyOp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, o)
}

func (r *recorder) read(o readObs) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads = append(r.reads, o)
}

func (r *recorder) findf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.findings = append(r.findings, fmt.Sprintf(format, args...))
}

// counts summarises the outcomes, for the test log.
func (r *recorder) counts() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[outcome]int{}
	codes := map[string]int{}
	retried, replayed := 0, 0
	for _, o := range r.ops {
		n[o.Outcome]++
		if o.Outcome == refused {
			codes[o.Code]++
		}
		if o.Attempts > 1 {
			retried++
			if o.Outcome == applied && o.Move.Replayed {
				replayed++ // applied before a crash, answer lost, replayed after
			}
		}
	}
	return fmt.Sprintf("%d requests sent (applied %d, refused %d %v, unknown %d, "+
		"rejected %d, key conflicts %d; %d retried, %d of them answered by a replay), %d reads",
		len(r.ops), n[applied], n[refused], codes, n[unknown], n[rejected], n[conflict],
		retried, replayed, len(r.reads)) +
		r.errorsText()
}

// parseMoney reads the amounts the API writes: "12.50", "-3.05", "+3.05".
func parseMoney(s string) (ledger.Amount, error) {
	neg := strings.HasPrefix(s, "-")
	t := strings.TrimLeft(s, "+-")
	whole, frac, ok := strings.Cut(t, ".")
	if !ok || len(frac) != 2 || len(t) > 24 {
		return 0, fmt.Errorf("amount %q is not UNITS.CC", s)
	}
	u, err1 := strconv.ParseUint(whole, 10, 62)
	c, err2 := strconv.ParseUint(frac, 10, 8)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	a := ledger.Amount(u*100 + c)
	if neg {
		a = -a
	}
	return a, nil
}

func (r *recorder) errorsText() string {
	if len(r.errors) == 0 {
		return ""
	}
	return fmt.Sprintf("; attempts without an answer, by error type: %v; first of each: %q",
		r.errors, r.samples)
}
