// Package bankcli is the client of banco's bank: it talks HTTPS and JSON over
// mutual TLS to banksrv with a customer's certificate. It checks what it can
// before connecting (files present, key private, certificate dates and key
// usage), keeps one idempotency key across its own retries, and reports
// failures as typed errors (errors.go) that say what went wrong; advice on
// what to do next is left to the caller (cmd/bank.go). It does not print.
package bankcli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	_ "github.com/banco/banco/bankcli/lazygc" // a quicker start; see its package comment
	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/internal/secfile"
	"github.com/banco/banco/ledger"
)

// DefaultServer is the bank's address when none is given.
const DefaultServer = "https://banco.local:8443"

// Config says where the bank is and who the customer is.
type Config struct {
	Server string // https URL; "" means DefaultServer
	// ConnectTo, like curl's --connect-to, is a "host:port" to dial instead
	// of the server URL's; the name the server's certificate must hold
	// stays the URL's.
	ConnectTo string

	CertFile string // client certificate chain, leaf first
	KeyFile  string // its private key; must not be readable by others
	CAFile   string // the bank's root certificate

	Now     func() time.Time // nil means time.Now
	Retries int              // extra attempts on connection-level failures; 0 means 3, <0 none
	Backoff time.Duration    // first wait between attempts, doubled each time; 0 means 200ms
	Timeout time.Duration    // per attempt; 0 means 30s

	// TLS, if set, may adjust the TLS configuration before use (tests use
	// it to offer old TLS versions or other certificates).
	TLS func(*tls.Config)
}

// Client talks to one bank as one customer. It is safe for concurrent use.
type Client struct {
	base    string
	host    string // the name the server's certificate must hold
	addr    string // the address dialled
	hc      *http.Client
	now     func() time.Time
	retries int
	backoff time.Duration
}

// New checks the customer's files and returns a Client. It does not connect.
func New(c Config) (*Client, error) {
	cl := &Client{now: c.Now, retries: c.Retries, backoff: c.Backoff}
	if cl.now == nil {
		cl.now = time.Now
	}
	if cl.retries == 0 {
		cl.retries = 3
	}
	if cl.backoff == 0 {
		cl.backoff = 200 * time.Millisecond
	}
	if err := cl.setServer(c.Server, c.ConnectTo); err != nil {
		return nil, err
	}
	cfg, err := cl.tlsConfig(c)
	if err != nil {
		return nil, err
	}
	if c.TLS != nil {
		c.TLS(cfg)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	cl.hc = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialTLS(ctx, d, network, cl.addr, cfg)
			},
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   false,
		},
	}
	return cl, nil
}

func (cl *Client) setServer(server, connectTo string) error {
	if server == "" {
		server = DefaultServer
	}
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return fmt.Errorf("server %q is not an https URL such as %s", server, DefaultServer)
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	cl.base = "https://" + u.Host
	cl.host = u.Hostname()
	cl.addr = net.JoinHostPort(cl.host, port)
	if connectTo != "" {
		if _, _, err := net.SplitHostPort(connectTo); err != nil {
			return fmt.Errorf("connect-to %q is not HOST:PORT, such as 127.0.0.1:8443", connectTo)
		}
		cl.addr = connectTo
	}
	return nil
}

// tlsConfig loads the customer's files and checks them before any network use.
func (cl *Client) tlsConfig(c Config) (*tls.Config, error) {
	pair, err := cl.loadPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, err
	}
	roots, err := loadRoots(c.CAFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    roots,
		ServerName: cl.host,
		NextProtos: []string{"http/1.1"},
		Time:       cl.now,
		// Always offer the certificate, even if the server's list of
		// acceptable CAs does not name its issuer: then the server says why
		// it refuses it, rather than that none was sent.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return pair, nil
		},
		ClientSessionCache: tls.NewLRUClientSessionCache(8),
	}, nil
}

func loadRoots(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{What: "CA certificate", Path: path, Err: err}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, &FileError{What: "CA certificate", Path: path,
			Err: errors.New("no PEM certificate in it")}
	}
	return pool, nil
}

func (cl *Client) loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, &FileError{What: "client certificate", Path: certFile, Err: err}
	}
	keyPEM, err := secfile.ReadPrivate(keyFile)
	if err != nil {
		var pe *secfile.PermError
		if !errors.As(err, &pe) {
			err = errors.Unwrap(err) // drop secfile's "read private key:" framing
		}
		return nil, &FileError{What: "client key", Path: keyFile, Err: err}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &FileError{What: "client certificate and key", Path: certFile, Err: err}
	}
	leaf := pair.Leaf
	now := cl.now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, &ExpiredError{Whose: "client", Subject: leaf.Subject.CommonName,
			NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, Now: now}
	}
	eku := leaf.ExtKeyUsage
	if len(eku) > 0 && !slices.Contains(eku, x509.ExtKeyUsageClientAuth) {
		return nil, &UsageError{Path: certFile}
	}
	return &pair, nil
}

// attempt records how far one request got, to tell why it failed.
type attempt struct {
	handshake bool   // a TLS handshake completed for it
	version   uint16 // the TLS version of that handshake
	fresh     bool   // its connection was new
	now       time.Time

	// sent is set once net/http has a connection for the request, new or
	// reused: from then on the request may reach the server. Before it, the
	// dial or the TLS handshake failed and nothing was sent (Go's client
	// sends no early data).
	sent bool

	// peerClosed is set when the server closed or reset the connection.
	// net/http reports a clean close that comes before the request is
	// written as "server closed idle connection", an error that wraps
	// nothing, so the connection itself notes what happened.
	peerClosed atomic.Bool
}

type attemptKey struct{}

func dialTLS(ctx context.Context, d *net.Dialer, network, addr string,
	cfg *tls.Config) (net.Conn, error) {
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	st, _ := ctx.Value(attemptKey{}).(*attempt)
	conn := tls.Client(&watchedConn{Conn: raw, st: st}, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	if st != nil {
		st.handshake, st.version, st.fresh = true, conn.ConnectionState().Version, true
	}
	return conn, nil
}

// watchedConn is a TCP connection that notes in the attempt that dialled it
// when the server closes or resets it.
type watchedConn struct {
	net.Conn
	st *attempt
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && c.st != nil && closed(err) {
		c.st.peerClosed.Store(true)
	}
	return n, err
}

// NewKey returns a fresh random idempotency key.
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// do sends one API request, again on connection-level failures, with the
// same body and idempotency key each time, and decodes the answer into out.
//
// For a request with a key, an error is an UncertainError when any attempt
// may have been applied: it was sent, and no certain answer came back. An
// earlier attempt counts too, even if the last one failed before sending.
func (cl *Client) do(ctx context.Context, method, path string, body []byte, key string,
	out any) error {
	var maybeApplied bool
	settle := func(err error, st *attempt) error {
		if err == nil || key == "" {
			return err
		}
		if st.sent && uncertain(err) {
			maybeApplied = true
		}
		if maybeApplied {
			return &UncertainError{Key: key, Err: err}
		}
		return err
	}
	for try := 0; ; try++ {
		st := &attempt{now: cl.now()}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		tctx := httptrace.WithClientTrace(context.WithValue(ctx, attemptKey{}, st),
			&httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { st.sent = true }})
		req, err := http.NewRequestWithContext(tctx, method, cl.base+path, rd)
		if err != nil {
			return fmt.Errorf("request %s: %w", path, err)
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set(api.HeaderIdempotencyKey, key)
		}
		resp, err := cl.hc.Do(req)
		if err == nil {
			return settle(decodeAnswer(resp, out), st)
		}
		err, retry := classify(err, st, cl.host, cl.addr)
		if err = settle(err, st); !retry || try >= cl.retries || cl.retries < 0 ||
			ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(cl.backoff << try):
		case <-ctx.Done():
			return err
		}
	}
}

func decodeAnswer(resp *http.Response, out any) error {
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read the server's answer: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("read the server's answer: %w", err)
		}
		return nil
	}
	var eb api.ErrorBody
	if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
		return &APIError{Status: resp.StatusCode,
			Message: "the server answered " + resp.Status}
	}
	return &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message,
		RequestID: eb.Error.RequestID}
}

// Balance returns the customer's balance.
func (cl *Client) Balance(ctx context.Context) (api.Balance, error) {
	var b api.Balance
	err := cl.do(ctx, http.MethodGet, api.PathBalance, nil, "", &b)
	return b, err
}

// Deposit puts amount into the customer's account.
func (cl *Client) Deposit(ctx context.Context, amount ledger.Amount, key string) (api.Movement,
	error) {
	return cl.move(ctx, api.PathDeposit, api.MoveRequest{Amount: amount.String()}, key)
}

// Withdraw takes amount out of the customer's account.
func (cl *Client) Withdraw(ctx context.Context, amount ledger.Amount, key string) (api.Movement,
	error) {
	return cl.move(ctx, api.PathWithdraw, api.MoveRequest{Amount: amount.String()}, key)
}

// Transfer moves amount from the customer's account to customer to.
func (cl *Client) Transfer(ctx context.Context, amount ledger.Amount, to, key string) (
	api.Movement, error) {
	return cl.move(ctx, api.PathTransfer, api.MoveRequest{Amount: amount.String(), To: to}, key)
}

func (cl *Client) move(ctx context.Context, path string, req api.MoveRequest, key string) (
	api.Movement, error) {
	if key == "" {
		key = NewKey()
	}
	body, err := json.Marshal(req)
	if err != nil {
		return api.Movement{}, err
	}
	var m api.Movement
	err = cl.do(ctx, http.MethodPost, path, body, key, &m)
	return m, err
}

// History returns a page of the customer's entries, newest first: at most
// limit (0: the server's default), older than the cursor before (0: newest).
func (cl *Client) History(ctx context.Context, limit int, before int64) (api.History, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	path := api.PathHistory
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var h api.History
	err := cl.do(ctx, http.MethodGet, path, nil, "", &h)
	return h, err
}

// Close releases idle connections.
func (cl *Client) Close() { cl.hc.CloseIdleConnections() }
