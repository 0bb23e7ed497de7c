package bench

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banco/banco/banksrv/api"
)

// Result is what a run measured and what the ledger check found.
type Result struct {
	Server    string  `json:"server"`
	Mode      Mode    `json:"mode"`
	Clients   int     `json:"clients"`
	Customers int     `json:"customers"`
	Idle      int     `json:"idle_connections,omitempty"`
	Mix       string  `json:"mix"`
	TLS       TLSInfo `json:"tls"`
	Seconds   float64 `json:"seconds"`

	// Ops has one line per operation that ran, then the line "total".
	Ops []OpStats `json:"ops"`
	// Errors counts requests that got no answer or a failure, by kind:
	// connect, tls, timeout, closed, io, or the API's error code.
	Errors map[string]int64 `json:"errors"`
	// Refusals counts answers where the bank said no for the customer's
	// own reason, such as insufficient_funds: expected, not errors.
	Refusals map[string]int64 `json:"refusals"`

	Handshakes int64 `json:"handshakes"`
	Resumed    int64 `json:"resumed"`

	// Interrupted: the run was stopped early (Ctrl-C); the figures are
	// those of the time it ran, and there is no check.
	Interrupted bool `json:"interrupted,omitempty"`
	// Error says why there is no check, when the run could not be checked
	// (Run's error, such as a bank that went away).
	Error string `json:"error,omitempty"`

	Check *Check `json:"check,omitempty"`
}

// TLSInfo describes the clients' connections (the first one made).
type TLSInfo struct {
	Version string `json:"version"`
	Group   string `json:"group"`
	Cipher  string `json:"cipher"`
}

// OpStats are the figures of one operation.
type OpStats struct {
	Op       string  `json:"op"`
	Answered int64   `json:"answered"` // done or refused
	Refused  int64   `json:"refused"`
	Failed   int64   `json:"failed"`
	PerSec   float64 `json:"per_sec"` // answered per second
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	Maxms    float64 `json:"max_ms"`
}

// Broken reports whether the ledger check found a broken invariant.
func (r *Result) Broken() bool {
	return r.Check != nil && !r.Check.OK()
}

// Run prepares the customers' accounts, runs the bench until Duration has
// passed or Ops operations are done (or ctx ends), resolves the money
// requests left without an answer by sending them again with their keys,
// and checks the ledger (unless Config.NoCheck). Failed requests and broken
// invariants are in the Result. An error with a nil Result means the bench
// could not run; with a Result, that the run was interrupted (ctx's error:
// the Result has what was measured, no check) or could not be checked.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	t, err := parseTarget(cfg.Server, cfg.ConnectTo)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: &cfg, t: t, runID: randomID()}
	r.tlsCfgs = make([]*tls.Config, len(cfg.Customers))
	for i, cu := range cfg.Customers {
		r.tlsCfgs[i] = cfg.tlsConfig(t, cu)
	}

	accts, err := r.prepare(ctx)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	idle := r.openIdle(ctx)
	res := r.run(ctx)
	for _, c := range idle {
		c.close()
	}
	res.Idle = len(idle)
	if err := ctx.Err(); err != nil {
		res.Interrupted = true // what was measured, and no check
		return res, err
	}
	if cfg.NoCheck {
		return res, nil
	}
	if err := r.resolve(ctx); err != nil {
		res.Error = err.Error()
		return res, err
	}
	chk, err := r.check(ctx, accts)
	if err != nil {
		res.Error = err.Error()
		return res, err
	}
	res.Check = chk
	return res, nil
}

type runner struct {
	cfg     *Config
	t       target
	tlsCfgs []*tls.Config // per customer
	runID   string

	ops, errs atomic.Int64
	left      atomic.Int64 // operations still to start, with Config.Ops

	mu      sync.Mutex
	acks    []*Ack // every money request, funding included
	idleErr map[string]int64
}

func randomID() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// keepAliveConn is a keep-alive connection as customer i, whatever the mode.
func (r *runner) keepAliveConn(i int) *conn {
	cfg := r.tlsCfgs[i].Clone()
	cfg.ClientSessionCache = nil
	return newConn(r.t, cfg, true, r.cfg.Timeout)
}

// openIdle opens the idle connections, a few at a time.
func (r *runner) openIdle(ctx context.Context) []*conn {
	if r.cfg.Idle == 0 {
		return nil
	}
	conns := make([]*conn, r.cfg.Idle)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := r.keepAliveConn(i % len(r.cfg.Customers))
			st, _, err := c.do(ctx, http.MethodGet, api.PathBalance, "", nil)
			if err == nil && st != http.StatusOK {
				err = &failure{kind: decodeError(st, nil), err: errors.New("bad status")}
			}
			if err != nil {
				r.noteIdleError(err)
				c.close()
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	open := conns[:0]
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	return open
}

func (r *runner) noteIdleError(err error) {
	kind := "idle"
	var f *failure
	if errors.As(err, &f) {
		kind = "idle_" + f.kind
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.idleErr == nil {
		r.idleErr = map[string]int64{}
	}
	r.idleErr[kind]++
}

// run starts the clients and waits for them.
func (r *runner) run(ctx context.Context) *Result {
	cfg := r.cfg
	stop := make(chan struct{})
	if cfg.Ops > 0 {
		r.left.Store(cfg.Ops)
	}
	workers := make([]*worker, cfg.Clients)
	seed := cfg.Seed
	if seed == 0 {
		seed = mrand.Uint64()
	}
	for i := range workers {
		cu := i % len(cfg.Customers)
		workers[i] = &worker{r: r, id: i, cust: cu,
			rng: mrand.New(mrand.NewPCG(seed, uint64(i))), errs: map[string]int64{},
			refusals: map[string]int64{}}
		cfgI := r.tlsCfgs[cu]
		if cfg.Mode == ModeResume {
			cfgI = cfgI.Clone()
			cfgI.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		}
		workers[i].c = newConn(r.t, cfgI, cfg.Mode == ModeKeepAlive, cfg.Timeout)
	}

	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.loop(ctx, stop) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	r.watch(ctx, start, stop, done)
	elapsed := time.Since(start)
	for _, w := range workers {
		w.c.close()
	}
	return r.result(workers, elapsed)
}

// watch reports progress and closes stop when the duration is over or ctx
// ends, then waits for the workers.
func (r *runner) watch(ctx context.Context, start time.Time, stop, done chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var deadline <-chan time.Time
	if r.cfg.Ops == 0 {
		tm := time.NewTimer(r.cfg.Duration)
		defer tm.Stop()
		deadline = tm.C
	}
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
		}
	}
	for {
		select {
		case <-done:
			halt()
			return
		case <-deadline:
			halt()
		case <-ctx.Done():
			halt()
		case <-tick.C:
			if r.cfg.Progress != nil {
				r.cfg.Progress(Progress{Elapsed: time.Since(start), Ops: r.ops.Load(),
					Errors: r.errs.Load()})
			}
		}
	}
}

func (r *runner) result(workers []*worker, elapsed time.Duration) *Result {
	cfg := r.cfg
	res := &Result{Server: cfg.Server, Mode: cfg.Mode, Clients: cfg.Clients,
		Customers: len(cfg.Customers), Mix: cfg.Mix.String(), Seconds: elapsed.Seconds(),
		Errors: map[string]int64{}, Refusals: map[string]int64{}}
	var hs [numOps]hist
	var total hist
	var refused, failed [numOps]int64
	for _, w := range workers {
		for op := range numOps {
			hs[op].merge(&w.hists[op])
			total.merge(&w.hists[op])
			refused[op] += w.refused[op]
			failed[op] += w.failed[op]
		}
		for k, n := range w.errs {
			res.Errors[k] += n
		}
		for k, n := range w.refusals {
			res.Refusals[k] += n
		}
		res.Handshakes += w.c.handshakes
		res.Resumed += w.c.resumed
		if res.TLS.Version == "" && w.c.handshakes > 0 {
			st := w.c.state
			res.TLS = TLSInfo{Version: tls.VersionName(st.Version),
				Group: CurveName(st.CurveID), Cipher: tls.CipherSuiteName(st.CipherSuite)}
		}
	}
	for k, n := range r.idleErr {
		res.Errors[k] += n
	}
	var sumRefused, sumFailed int64
	for op := range numOps {
		if hs[op].n == 0 && failed[op] == 0 {
			continue
		}
		res.Ops = append(res.Ops, opStats(Op(op).String(), &hs[op], refused[op], failed[op],
			elapsed))
		sumRefused += refused[op]
		sumFailed += failed[op]
	}
	res.Ops = append(res.Ops, opStats("total", &total, sumRefused, sumFailed, elapsed))
	return res
}

func opStats(name string, h *hist, refused, failed int64, elapsed time.Duration) OpStats {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return OpStats{Op: name, Answered: int64(h.n), Refused: refused, Failed: failed,
		PerSec: float64(h.n) / elapsed.Seconds(),
		P50ms:  ms(h.quantile(0.50)), P90ms: ms(h.quantile(0.90)),
		P99ms: ms(h.quantile(0.99)), Maxms: ms(h.max)}
}

// decodeError reads the API error code of a failed answer.
func decodeError(status int, body []byte) string {
	var eb api.ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
		return eb.Error.Code
	}
	return "http_" + strconv.Itoa(status)
}
