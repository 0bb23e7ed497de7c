package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/banco/banco/banksrv/api"
)

// conn is one client's HTTP/1.1 connection over TLS. It writes requests by
// hand and reads answers with net/http's parser: the load generator shares
// the machine with the server under test, so it spends as little CPU as it
// can, and a Transport's goroutines and pools would cost more than the
// server's own work in the keep-alive read benchmark.
type conn struct {
	t         target
	cfg       *tls.Config
	keepAlive bool
	timeout   time.Duration

	tc  *tls.Conn
	br  *bufio.Reader
	buf []byte

	handshakes int64
	resumed    int64
	state      tls.ConnectionState // of the last handshake
}

func newConn(t target, cfg *tls.Config, keepAlive bool, timeout time.Duration) *conn {
	return &conn{t: t, cfg: cfg, keepAlive: keepAlive, timeout: timeout}
}

// failure is a request that got no usable answer; kind names it in reports.
type failure struct {
	kind string
	err  error
}

func (f *failure) Error() string { return f.kind + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// unsent reports whether the request never left: the connection or its
// handshake failed, so the bank cannot have acted on it.
func (f *failure) unsent() bool { return f.kind == "connect" || f.kind == "tls" }

// unsent reports whether err is a failure before the request was sent.
func unsent(err error) bool {
	var f *failure
	return errors.As(err, &f) && f.unsent()
}

func (c *conn) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: c.timeout}
	raw, err := d.DialContext(ctx, "tcp", c.t.addr)
	if err != nil {
		return &failure{kind: "connect", err: err}
	}
	tc := tls.Client(raw, c.cfg)
	hctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return &failure{kind: "tls", err: err}
	}
	c.tc = tc
	if c.br == nil {
		c.br = bufio.NewReaderSize(tc, 4096)
	} else {
		c.br.Reset(tc)
	}
	c.handshakes++
	c.state = tc.ConnectionState()
	if c.state.DidResume {
		c.resumed++
	}
	return nil
}

func (c *conn) close() {
	if c.tc != nil {
		c.tc.Close()
		c.tc = nil
	}
}

// do sends one request and returns the answer's status and body. A
// connection left unusable is closed, and the next request dials again.
func (c *conn) do(ctx context.Context, method, path, key string, body []byte) (int, []byte,
	error) {
	if c.tc == nil {
		if err := c.dial(ctx); err != nil {
			return 0, nil, err
		}
	}
	c.buf = c.request(c.buf[:0], method, path, key, body)
	_ = c.tc.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.tc.Write(c.buf); err != nil {
		c.close()
		return 0, nil, &failure{kind: ioKind(err), err: err}
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return 0, nil, &failure{kind: ioKind(err), err: err}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		c.close()
		return 0, nil, &failure{kind: ioKind(err), err: err}
	}
	if !c.keepAlive || resp.Close {
		c.close()
	}
	return resp.StatusCode, data, nil
}

func (c *conn) request(b []byte, method, path, key string, body []byte) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.t.host...)
	b = append(b, "\r\nAccept: application/json\r\n"...)
	if key != "" {
		b = append(b, api.HeaderIdempotencyKey+": "...)
		b = append(b, key...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	if !c.keepAlive {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

func ioKind(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "closed"
	}
	return "io"
}

// tlsConfig is a client configuration for customer cu.
func (c *Config) tlsConfig(t target, cu Customer) *tls.Config {
	cert := cu.Cert
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		MaxVersion: c.MaxVersion,
		RootCAs:    c.Roots,
		ServerName: t.name,
		NextProtos: []string{"http/1.1"},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return cert, nil
		},
		CurvePreferences: c.Curves,
	}
	if c.Mode == ModeResume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	}
	return cfg
}

// CurveName names a key-exchange group the way reports show it.
func CurveName(id tls.CurveID) string {
	if id == 0 {
		return "-"
	}
	return id.String()
}
