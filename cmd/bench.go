package cmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/spf13/cobra"

	"github.com/banco/banco/bankcli"
	"github.com/banco/banco/banksrv"
	"github.com/banco/banco/bench"
	"github.com/banco/banco/ca"
	"github.com/banco/banco/enroll"
	"github.com/banco/banco/ledger"
)

type benchOptions struct {
	server       string
	connectTo    string
	clients      int
	customers    int
	duration     time.Duration
	ops          int64
	mix          string
	mode         string
	group        string
	idle         int
	timeout      time.Duration
	seed         uint64
	noCheck      bool
	json         bool
	passwordFile string
}

func newBenchCmd(a *App) *cobra.Command {
	o := &benchOptions{}
	c := &cobra.Command{
		Use:   "bench",
		Short: "Load the bank with many clients and check the ledger afterwards",
		Long: `Run a mix of balance, deposit, withdraw and transfer requests over mutual TLS
from many concurrent clients, like pgbench does for PostgreSQL, then print
throughput and latency (p50, p90, p99, max) per operation, and check the
ledger for the bench's own customers over the API: money conserved given the
acknowledged requests, no negative balance, and every acknowledged request
in the history exactly once. Exit code 1 if an invariant is broken; failed
requests are counted by kind in the report.

The bench acts as customers bench-0001, bench-0002, ... (--customers of
them). Their certificates live in the bench folder of banco's home; the
missing ones are issued from the CA there, which needs the CA password
(--password-file, $BANCO_PASSWORD, or a prompt). Withdrawals and transfers
need money: each bench customer with less than 1,000.00 gets a deposit
first, not counted in the figures.

Modes: keepalive (one connection per client for the whole run), handshake
(a new connection and full TLS handshake per request, no resumption), and
resume (a new connection per request, resuming the TLS session).
--group x25519 offers only X25519 instead of Go's default hybrid
post-quantum X25519MLKEM768, to compare with tools that lack it.

On a terminal the figures are a table; piped, they are tab-separated lines
without a header (op, per s, answered, refused, failed, p50, p90, p99 and
max in ms), and --json gives everything, the check included. One bench at a
time may act as a home's bench customers; Ctrl-C stops the run and prints
what it measured, without the check.`,
		Example: `  $ banco bench --connect-to 127.0.0.1:8443
  $ banco bench -c 64 -d 30s --mix deposit=50,transfer=50
  $ banco bench -c 16 --mode handshake --mix balance=1 --group x25519 --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if c.Flags().Changed("ops") && c.Flags().Changed("duration") {
				return usageErrorf("give --duration or --ops, not both")
			}
			if c.Flags().Changed("ops") && o.ops < 1 {
				return usageErrorf("--ops %d: give a number of requests of 1 or more", o.ops)
			}
			return a.runBench(c.Context(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.server, "server", "",
		"the bank's URL (default $BANCO_SERVER, else "+bankcli.DefaultServer+")")
	f.StringVar(&o.connectTo, "connect-to", "",
		"dial HOST:PORT instead, still checking the server's name (default $BANCO_CONNECT_TO)")
	f.IntVarP(&o.clients, "clients", "c", 16, "concurrent clients")
	f.IntVar(&o.customers, "customers", 0,
		"bench customers to act as (default: one per client, at most 64; at least 2)")
	f.DurationVarP(&o.duration, "duration", "d", 10*time.Second, "how long to run")
	f.Int64VarP(&o.ops, "ops", "n", 0, "stop after this many requests instead")
	f.StringVar(&o.mix, "mix", bench.DefaultMix.String(), "relative weights of the operations")
	f.StringVar(&o.mode, "mode", string(bench.ModeKeepAlive),
		"connections: keepalive, handshake or resume")
	f.StringVar(&o.group, "group", "default",
		"key exchange: default (X25519MLKEM768, then X25519) or x25519")
	f.IntVar(&o.idle, "idle", 0,
		"also hold this many idle keep-alive connections open during the run")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "time limit of one request")
	f.Uint64Var(&o.seed, "seed", 0, "seed of the random choices (default: random)")
	f.BoolVar(&o.noCheck, "no-check", false, "skip the ledger check after the run")
	f.BoolVar(&o.json, "json", false, "print the results as JSON")
	addPasswordFileFlag(c, &o.passwordFile)
	c.AddCommand(newBaselineServerCmd(a))
	return c
}

func (o *benchOptions) config() (bench.Config, error) {
	mix, err := bench.ParseMix(o.mix)
	if err != nil {
		return bench.Config{}, usageErrorf("--mix: %v", err)
	}
	mode, err := bench.ParseMode(o.mode)
	if err != nil {
		return bench.Config{}, usageErrorf("--mode: %v", err)
	}
	curves, err := parseGroup(o.group)
	if err != nil {
		return bench.Config{}, err
	}
	switch {
	case o.clients < 1 || o.clients > 100_000:
		return bench.Config{}, usageErrorf("--clients must be from 1 to 100000")
	case o.customers < 0 || o.customers > 10_000:
		return bench.Config{}, usageErrorf("--customers must be from 1 to 10000")
	case o.customers == 1 && mix[bench.OpTransfer] > 0:
		return bench.Config{}, usageErrorf("transfers need --customers 2 or more")
	case o.duration <= 0:
		return bench.Config{}, usageErrorf("--duration %s: give a length such as 10s", o.duration)
	case o.ops < 0:
		return bench.Config{}, usageErrorf("--ops %d: give a number of requests of 1 or more",
			o.ops)
	case o.idle < 0:
		return bench.Config{}, usageErrorf("--idle %d: give 0 or more idle connections", o.idle)
	case o.timeout <= 0:
		return bench.Config{}, usageErrorf("--timeout %s: give a length such as 10s", o.timeout)
	}
	if o.customers == 0 {
		o.customers = max(2, min(o.clients, 64))
	}
	return bench.Config{Clients: o.clients, Duration: o.duration, Ops: o.ops, Mix: mix,
		Mode: mode, Curves: curves, Idle: o.idle, Timeout: o.timeout, Seed: o.seed,
		NoCheck: o.noCheck}, nil
}

func parseGroup(s string) ([]tls.CurveID, error) {
	switch strings.ToLower(s) {
	case "default", "hybrid", "x25519mlkem768":
		return nil, nil
	case "x25519":
		return []tls.CurveID{tls.X25519}, nil
	}
	return nil, usageErrorf("--group %q: use default or x25519", s)
}

func (a *App) runBench(ctx context.Context, o *benchOptions) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	cfg.Server = firstOf(o.server, a.Getenv("BANCO_SERVER"), bankcli.DefaultServer)
	cfg.ConnectTo = firstOf(o.connectTo, a.Getenv("BANCO_CONNECT_TO"))
	unlock, err := a.lockBench()
	if err != nil {
		return err
	}
	defer unlock()
	cfg.Customers, cfg.Roots, err = a.benchCustomers(ctx, o.customers, o.passwordFile)
	if err != nil {
		return err
	}
	a.benchBanner(&cfg)
	if IsTerminal(a.Err) {
		cfg.Progress = a.progressLine()
	}
	res, err := bench.Run(ctx, cfg)
	if cfg.Progress != nil {
		fmt.Fprint(a.Err, "\r\033[K")
	}
	if res == nil {
		return benchError(err, &cfg)
	}
	// A run that ended early still has figures worth seeing.
	if o.json {
		if perr := printJSON(a.Out, res); perr != nil {
			return perr
		}
	} else if perr := a.printBench(res, err); perr != nil {
		return perr
	}
	switch {
	case err != nil:
		return benchError(err, &cfg)
	case res.Broken():
		return &exitError{code: 1}
	}
	return nil
}

// benchError adds the next step to a bench that could not start.
func benchError(err error, cfg *bench.Config) error {
	var oe *net.OpError
	var ae *bench.AnswerError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return withHint(err, "is it a banco server? against the baseline server, which "+
			"only answers balance reads, use --mix balance=1 --no-check")
	}
	var ue *bench.UnresolvedError
	if errors.As(err, &ue) {
		return withHint(err, "once the bank is back, see what it holds: banco ledger verify; "+
			"the bench customers' next run starts from their balances then")
	}
	if errors.As(err, &oe) && oe.Op == "dial" {
		return withHint(err, "is the bank running? start it with: banco serve",
			"check --server and --connect-to (now "+cfg.Server+", "+
				firstOf(cfg.ConnectTo, "none")+")")
	}
	return err
}

func (a *App) benchBanner(cfg *bench.Config) {
	via := ""
	if cfg.ConnectTo != "" {
		via = " via " + cfg.ConnectTo
	}
	length := cfg.Duration.String()
	if cfg.Ops > 0 {
		length = strconv.FormatInt(cfg.Ops, 10) + " requests"
	}
	a.Infof("banco bench: %d clients (%s), %d customers, against %s%s for %s; mix %s",
		cfg.Clients, cfg.Mode, len(cfg.Customers), cfg.Server, via, length, cfg.Mix)
	if cfg.Idle > 0 {
		a.Infof("  plus %d idle keep-alive connections", cfg.Idle)
	}
}

// progressLine returns a Progress func that redraws one line on stderr.
func (a *App) progressLine() func(bench.Progress) {
	var lastOps int64
	var lastAt time.Duration
	return func(p bench.Progress) {
		rate := float64(p.Ops-lastOps) / (p.Elapsed - lastAt).Seconds()
		lastOps, lastAt = p.Ops, p.Elapsed
		fmt.Fprintf(a.Err, "\r\033[K  %5.1fs  %9d ops  %8.0f ops/s  %d errors",
			p.Elapsed.Seconds(), p.Ops, rate, p.Errors)
	}
}

func (a *App) printBench(res *bench.Result, runErr error) error {
	ms := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	rows := make([][]string, 0, len(res.Ops))
	for _, s := range res.Ops {
		rows = append(rows, []string{s.Op, strconv.FormatFloat(s.PerSec, 'f', 0, 64),
			strconv.FormatInt(s.Answered, 10), strconv.FormatInt(s.Refused, 10),
			strconv.FormatInt(s.Failed, 10), ms(s.P50ms), ms(s.P90ms), ms(s.P99ms),
			ms(s.Maxms)})
	}
	err := printTable(a.Out, []string{"op", "per s", "answered", "refused", "failed",
		"p50 ms", "p90 ms", "p99 ms", "max ms"}, rows)
	if err != nil {
		return err
	}
	a.Infof("%.1fs, %s %s %s, %d handshakes (%d resumed)", res.Seconds, res.TLS.Version,
		res.TLS.Group, res.TLS.Cipher, res.Handshakes, res.Resumed)
	if len(res.Refusals) > 0 {
		a.Infof("refusals (expected under a random mix): %s", counts(res.Refusals))
	}
	if len(res.Errors) > 0 {
		a.Infof("errors: %s", counts(res.Errors))
	}
	a.printCheck(res.Check, runErr)
	return nil
}

// printCheck reports the ledger check; runErr is why the run ended early.
func (a *App) printCheck(c *bench.Check, runErr error) {
	switch {
	case c == nil && errors.Is(runErr, context.Canceled):
		a.Infof("ledger check: skipped: interrupted")
		return
	case c == nil && runErr != nil:
		a.Infof("ledger check: not done (see the error below)")
		return
	case c == nil:
		a.Infof("ledger check: skipped")
		return
	}
	summary := fmt.Sprintf("%d customers, %d acknowledged money requests, %d refused, "+
		"%d history entries", c.Customers, c.Acknowledged, c.NoEffect, c.Entries)
	if c.OK() {
		a.Infof("ledger check: ok (%s)", summary)
		return
	}
	a.Infof("ledger check: %d PROBLEMS (%s)", len(c.Problems), summary)
	for _, p := range c.Problems {
		if p.Customer != "" {
			a.Infof("  %s: %s", p.Customer, p.What)
		} else {
			a.Infof("  %s", p.What)
		}
	}
	a.Infof("the check assumes this bench was the bench customers' only client; if it " +
		"was, run banco ledger verify on the bank's side")
}

func counts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// lockBench makes this bench the only one acting as the bench customers
// of banco's home: the ledger check counts every entry of theirs, so a
// second bench at the same time would make both report problems that are
// not there. The lock is the operating system's, on a file in the bench
// folder, and goes with the process, however it ends.
func (a *App) lockBench() (unlock func(), err error) {
	home, err := a.Home()
	if err != nil {
		return nil, err
	}
	dir := home.path("bench")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bench folder: %w", err)
	}
	l := flock.New(filepath.Join(dir, "lock"))
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock the bench customers: %w", err)
	}
	if !ok {
		return nil, withHint(fmt.Errorf("another banco bench is running as the bench "+
			"customers of %s", home), "wait for it to end, or stop it")
	}
	return func() { _ = l.Unlock() }, nil
}

// benchName is the name of bench customer i (from 1).
func benchName(i int) string { return fmt.Sprintf("bench-%04d", i) }

// benchCustomers loads bench customers 1..n from the bench folder, issuing
// the missing or nearly expired ones from the CA in banco's home.
func (a *App) benchCustomers(ctx context.Context, n int, passwordFile string) (
	[]bench.Customer, *x509.CertPool, error) {
	home, err := a.Home()
	if err != nil {
		return nil, nil, err
	}
	ids := make([]*enroll.Identity, n)
	var missing []int
	for i := range ids {
		id, err := enroll.Load(benchPaths(home, benchName(i+1)))
		if err != nil || a.Now().Add(time.Hour).After(id.Leaf().NotAfter) {
			missing = append(missing, i)
			continue
		}
		ids[i] = id
	}
	if len(missing) > 0 {
		if err := a.enrollBench(ctx, home, ids, missing, passwordFile); err != nil {
			return nil, nil, err
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ids[0].Root)
	customers := make([]bench.Customer, n)
	for i, id := range ids {
		chain := make([][]byte, len(id.Chain))
		for j, c := range id.Chain {
			chain[j] = c.Raw
		}
		customers[i] = bench.Customer{Name: benchName(i + 1),
			Cert: &tls.Certificate{Certificate: chain, PrivateKey: id.Key, Leaf: id.Leaf()}}
	}
	return customers, pool, nil
}

func benchPaths(home Home, name string) enroll.Paths {
	return enroll.InDir(home.path("bench", name), ClientCertFile, ClientKeyFile, RootCertFile)
}

func (a *App) enrollBench(ctx context.Context, home Home, ids []*enroll.Identity,
	missing []int, passwordFile string) error {
	auth, err := a.openCA(passwordFile)
	if err != nil {
		return err
	}
	defer auth.Close()
	a.Infof("banco bench: issuing %d bench customer certificates into %s", len(missing),
		home.path("bench"))
	for _, i := range missing {
		if err := ctx.Err(); err != nil {
			return err // Ctrl-C: the customers issued so far are kept
		}
		name := benchName(i + 1)
		id, err := enroll.New(ctx, enroll.Local{CA: auth},
			enroll.Request{Kind: ca.KindClient, Name: name})
		if err != nil {
			return fmt.Errorf("enroll bench customer %s: %w", name, err)
		}
		if err := id.Write(benchPaths(home, name), true); err != nil {
			return fmt.Errorf("enroll bench customer %s: %w", name, err)
		}
		ids[i] = id
	}
	return nil
}

type baselineOptions struct {
	addr   string
	ledger string
	cert   string
	key    string
	cacert string
}

// newBaselineServerCmd is the yardstick of BENCHMARKS.md, hidden from help.
func newBaselineServerCmd(a *App) *cobra.Command {
	o := &baselineOptions{}
	c := &cobra.Command{
		Use:   "baseline-server",
		Short: "Run the minimal Go standard-library mTLS balance server banco is compared with",
		Long: `Run the baseline of BENCHMARKS.md: a minimal Go standard-library HTTPS
server that requires and verifies client certificates like banco serve, with
the same certificates, and answers GET /v1/balance from memory, or with
--ledger from that ledger (read-only use; do not point it at the ledger of a
running banco serve). It has no logging; it is for benchmarks only.`,
		Example: "  $ banco bench baseline-server --addr 127.0.0.1:8444 &\n" +
			"  $ banco bench --connect-to 127.0.0.1:8444 --mix balance=1 --no-check",
		Hidden: true,
		Args:   noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return a.runBaseline(c.Context(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8444", "address to listen on")
	f.StringVar(&o.cert, "cert", "", "server certificate chain (default server/server.crt)")
	f.StringVar(&o.key, "key", "", "server private key (default server/server.key)")
	f.StringVar(&o.cacert, "cacert", "", "client root CA (default server/root_ca.crt)")
	f.StringVar(&o.ledger, "ledger", "",
		"read balances from this ledger (SQLite file or postgres:// URL) instead of memory")
	return c
}

func (a *App) runBaseline(ctx context.Context, o *baselineOptions) error {
	so := &serveOptions{cert: o.cert, key: o.key, cacert: o.cacert, db: "-"}
	if err := a.serveDefaults(so); err != nil {
		return err
	}
	cert, err := loadServerPair(so.cert, so.key)
	if err != nil {
		return err
	}
	pool, _, err := banksrv.LoadRoots(so.cacert)
	if err != nil {
		return fileHint(err, "banco enroll server")
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	var store ledger.Store
	if o.ledger != "" {
		if store, err = ledger.Open(ctx, o.ledger, ledger.Options{}); err != nil {
			return fmt.Errorf("open ledger %s: %w", redactDSN(o.ledger), err)
		}
		defer store.Close()
	}
	hs := bench.NewBaselineServer(cert, pool, store)
	a.Infof("banco bench baseline-server: listening on https://%s", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return hs.Close()
}
