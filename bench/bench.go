// Package bench is banco's load generator, what pgbench is to PostgreSQL: it
// runs a mix of balance, deposit, withdraw and transfer requests over mutual
// TLS against a banco server from many concurrent clients, measures
// throughput and latency per operation, and then checks over the API, as a
// client, that the ledger kept every acknowledged operation exactly once.
//
// It also holds Baseline, the minimal standard-library mTLS server that
// banco's figures are compared with (BENCHMARKS.md).
//
// Enrolling the bench customers, printing and exit codes are left to the
// caller (cmd/bench.go): Run takes certificates and returns a Result.
package bench

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Op is one kind of request.
type Op int

// The operations a bench mixes.
const (
	OpBalance Op = iota
	OpDeposit
	OpWithdraw
	OpTransfer
	numOps
)

var opNames = [numOps]string{"balance", "deposit", "withdraw", "transfer"}

func (o Op) String() string {
	if o < 0 || o >= numOps {
		return "op" + strconv.Itoa(int(o))
	}
	return opNames[o]
}

// Mix gives each operation a relative weight.
type Mix [numOps]int

// DefaultMix is the mix used when none is given.
var DefaultMix = Mix{OpBalance: 40, OpDeposit: 20, OpWithdraw: 20, OpTransfer: 20}

// ParseMix reads a mix such as "balance=40,deposit=20,withdraw=20,transfer=20".
// Operations left out get weight 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	var seen [numOps]bool
	total := 0
	for _, part := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		op := slices.Index(opNames[:], name)
		if !ok || op < 0 {
			return Mix{}, fmt.Errorf("mix %q: %q is not OP=WEIGHT with OP one of %s", s, part,
				strings.Join(opNames[:], ", "))
		}
		if seen[op] {
			return Mix{}, fmt.Errorf("mix %q: %s is given twice", s, name)
		}
		seen[op] = true
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || n > 1_000_000 {
			return Mix{}, fmt.Errorf("mix %q: weight %q is not a whole number from 0 to 1000000",
				s, w)
		}
		m[op] = n
		total += n
	}
	if total == 0 {
		return Mix{}, fmt.Errorf("mix %q: every weight is 0", s)
	}
	return m, nil
}

func (m Mix) String() string {
	var parts []string
	for op, w := range m {
		if w > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", Op(op), w))
		}
	}
	return strings.Join(parts, ",")
}

func (m Mix) total() int {
	t := 0
	for _, w := range m {
		t += w
	}
	return t
}

// pick maps r, uniform in [0, total), to an operation.
func (m Mix) pick(r int) Op {
	for op, w := range m {
		if r < w {
			return Op(op)
		}
		r -= w
	}
	return OpBalance
}

// Mode is how clients use connections.
type Mode string

// The connection modes.
const (
	// ModeKeepAlive keeps one connection per client for the whole run.
	ModeKeepAlive Mode = "keepalive"
	// ModeHandshake makes a new connection, with a full handshake and no
	// session resumption, for every request.
	ModeHandshake Mode = "handshake"
	// ModeResume makes a new connection for every request but resumes the
	// client's previous TLS session (RFC 8446, section 2.2) when it can.
	ModeResume Mode = "resume"
)

// ParseMode checks a mode's name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeKeepAlive, ModeHandshake, ModeResume:
		return m, nil
	}
	return "", fmt.Errorf("mode %q: use keepalive, handshake or resume", s)
}

// Customer is one bench customer and the certificate that names it.
type Customer struct {
	Name string
	Cert *tls.Certificate
}

// Config says what to run. Server, Roots and Customers are required.
type Config struct {
	Server    string         // the bank's https URL
	ConnectTo string         // "host:port" to dial instead of the URL's, like curl's
	Roots     *x509.CertPool // the bank's root CA
	Customers []Customer     // client i acts as Customers[i % len(Customers)]

	Clients  int           // concurrent clients; 0 means 1
	Duration time.Duration // how long to run, when Ops is 0; 0 means 10s
	Ops      int64         // stop after this many operations, if > 0
	Mix      Mix           // zero means DefaultMix
	Mode     Mode          // "" means ModeKeepAlive

	// Curves, if set, are the only key-exchange groups clients offer, such
	// as [tls.X25519]; nil keeps Go's default (X25519MLKEM768 first).
	Curves []tls.CurveID
	// MaxVersion, if set, caps the TLS version clients offer.
	MaxVersion uint16

	// Idle extra connections are opened before the run, each makes one
	// balance request, and they stay open and idle until the end: a way to
	// measure what idle clients cost the server.
	Idle int

	Timeout time.Duration // per request; 0 means 10s
	Seed    uint64        // for the operations' random choices; 0 picks one

	// Fund, when a customer holds less before the run, is deposited into
	// its account first so that withdrawals and transfers can succeed.
	// Those deposits are checked but not counted in the figures.
	Fund int64 // cents; 0 means 1,000.00, < 0 none

	// Progress, if set, is called about once a second during the run.
	Progress func(Progress)

	// NoCheck skips the ledger check after the run.
	NoCheck bool
}

// Progress is a snapshot taken while the bench runs.
type Progress struct {
	Elapsed time.Duration
	Ops     int64
	Errors  int64
}

const (
	defaultDuration = 10 * time.Second
	defaultTimeout  = 10 * time.Second
	defaultFund     = 1000_00
)

func (c *Config) fill() error {
	if c.Clients == 0 {
		c.Clients = 1
	}
	if c.Duration == 0 {
		c.Duration = defaultDuration
	}
	if c.Mix == (Mix{}) {
		c.Mix = DefaultMix
	}
	if c.Mode == "" {
		c.Mode = ModeKeepAlive
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.Fund == 0 {
		c.Fund = defaultFund
	}
	switch {
	case c.Clients < 0 || c.Idle < 0 || c.Ops < 0 || c.Duration < 0:
		return errors.New("bench: clients, idle connections, ops and duration " +
			"must not be negative")
	case c.Roots == nil:
		return errors.New("bench: no root CA to verify the server with")
	case len(c.Customers) == 0:
		return errors.New("bench: no customers")
	case c.Mix[OpTransfer] > 0 && len(c.Customers) < 2:
		return errors.New("bench: transfers need at least 2 customers")
	}
	for i, cu := range c.Customers {
		if cu.Cert == nil || cu.Name == "" {
			return fmt.Errorf("bench: customer %d has no name or no certificate", i)
		}
	}
	_, err := ParseMode(string(c.Mode))
	return err
}

// target is where the clients connect: the address dialled and the name the
// server's certificate must hold.
type target struct {
	addr string
	host string // Host header: the URL's host[:port]
	name string // TLS server name
}

func parseTarget(server, connectTo string) (target, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return target{}, fmt.Errorf("bench: server %q is not an https URL", server)
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	t := target{addr: net.JoinHostPort(u.Hostname(), port), host: u.Host, name: u.Hostname()}
	if connectTo != "" {
		if _, _, err := net.SplitHostPort(connectTo); err != nil {
			return target{}, fmt.Errorf("bench: connect-to %q is not HOST:PORT", connectTo)
		}
		t.addr = connectTo
	}
	return t, nil
}
