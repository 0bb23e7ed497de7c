package banksrv_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banco/banco/banksrv"
	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/internal/testpki"
)

// TestHandshakeRefused offers the server certificates it must refuse, over a
// real TLS connection, and pins what the client sees and the reason the
// server logs. With TLS 1.3 the client learns of the refusal only on its
// first read, so the test reads.
func TestHandshakeRefused(t *testing.T) {
	b := startBank(t)
	other := testpki.New(t, "other")
	noEKU := b.pki.Issue(t, testpki.Leaf{CommonName: "noeku", Customer: "noeku"})
	noName := b.pki.Issue(t, testpki.Leaf{CommonName: "a/b",
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	tests := []struct {
		name       string
		cert       *testpki.Cert
		maxVersion uint16
		client     string // the client's error
		server     string // the start of the reason the server logs
		serverEnd  string // and, for reasons with a serial inside, their end
	}{
		{"no client certificate", nil, 0,
			"remote error: tls: certificate required",
			"tls: client didn't provide a certificate", ""},
		{"certificate from another CA", other.Client(t, "alice"), 0,
			"remote error: tls: unknown certificate authority",
			"tls: failed to verify certificate: x509: certificate signed by unknown authority", ""},
		{"server certificate used as client certificate", b.pki.Server(t), 0,
			"remote error: tls: bad certificate",
			"tls: failed to verify certificate: x509: certificate specifies an incompatible " +
				"key usage", ""},
		{"expired client certificate", b.pki.ExpiredClient(t, "alice"), 0,
			"remote error: tls: expired certificate",
			"tls: failed to verify certificate: x509: certificate has expired or is not yet " +
				"valid: current time", ""},
		{"client offering only TLS 1.1", b.pki.Client(t, "alice"), tls.VersionTLS11,
			"remote error: tls: protocol version not supported",
			"tls: client offered only unsupported versions: [302 301]", ""},
		{"client certificate without extended key usage", noEKU, 0,
			"remote error: tls: bad certificate",
			`client certificate "CN=noeku" (serial `, "lacks the clientAuth usage"},
		{"client certificate naming no customer", noName, 0,
			"remote error: tls: bad certificate",
			`client certificate "CN=a/b" (serial `, `customer name "a/b" has the character '/'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := b.tlsConfig(tt.cert)
			if tt.maxVersion != 0 {
				cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tt.maxVersion
			}
			raw, err := net.Dial("tcp", b.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			conn := tls.Client(raw, cfg)
			err = conn.Handshake()
			if err == nil {
				_, err = io.WriteString(conn,
					"GET /v1/balance HTTP/1.1\r\nHost: banco.local\r\n\r\n")
			}
			if err == nil {
				_, err = conn.Read(make([]byte, 1))
			}
			if err == nil || err.Error() != tt.client {
				t.Errorf("client error = %v, want %q", err, tt.client)
			}
			local := raw.LocalAddr().String()
			line := b.log.waitFor(t, "tls handshake failed", "remote="+local)
			want := strconv.Quote(tt.server) // as slog's text handler quotes it
			if !strings.Contains(line, "reason="+want[:len(want)-1]) {
				t.Errorf("server log line:\n%s\nwant reason starting %q", line, tt.server)
			}
			if end := strconv.Quote(tt.serverEnd); !strings.Contains(line, end[1:len(end)-1]) {
				t.Errorf("server log line:\n%s\nwant reason ending %q", line, tt.serverEnd)
			}
		})
	}
}

// TestTLSVersionsAndSuites checks that TLS 1.3 is chosen when offered and
// that TLS 1.2 takes only ECDHE with AEAD ciphers.
func TestTLSVersionsAndSuites(t *testing.T) {
	b := startBank(t)
	alice := b.pki.Client(t, "alice")
	dial := func(cfg *tls.Config) (tls.ConnectionState, error) {
		conn, err := tls.Dial("tcp", b.addr, cfg)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer conn.Close()
		return conn.ConnectionState(), nil
	}

	st, err := dial(b.tlsConfig(alice))
	if err != nil || st.Version != tls.VersionTLS13 {
		t.Errorf("default: version %x, %v; want TLS 1.3", st.Version, err)
	}

	cfg := b.tlsConfig(alice)
	cfg.MaxVersion = tls.VersionTLS12
	cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	if st, err := dial(cfg); err != nil || st.Version != tls.VersionTLS12 {
		t.Errorf("TLS 1.2 with ECDHE-ECDSA-AES128-GCM: version %x, %v", st.Version, err)
	}

	for _, suite := range []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, // not AEAD
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256,      // no forward secrecy
	} {
		cfg := b.tlsConfig(alice)
		cfg.MaxVersion = tls.VersionTLS12
		cfg.CipherSuites = []uint16{suite}
		if _, err := dial(cfg); err == nil {
			t.Errorf("TLS 1.2 with %s accepted", tls.CipherSuiteName(suite))
		}
	}
}

// TestCertificateSwap replaces the server's certificate while it runs, as a
// renewer will: the next handshake gets the new one, and an open connection
// goes on working.
func TestCertificateSwap(t *testing.T) {
	b := startBank(t)
	alice := b.pki.Client(t, "alice")
	c := b.client(b.tlsConfig(alice))
	call(t, c, "GET", "/v1/balance", "", "", nil) // leaves a keep-alive connection open

	renewed := b.pki.Server(t)
	tc := renewed.TLS()
	b.holder.Set(&tc)

	conn, err := tls.Dial("tcp", b.addr, b.tlsConfig(alice))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().PeerCertificates[0]; !got.Equal(renewed.Cert) {
		t.Errorf("new handshake got serial %x, want the renewed %x", got.SerialNumber,
			renewed.Cert.SerialNumber)
	}
	if st, e := call(t, c, "GET", "/v1/balance", "", "", nil); st != 200 {
		t.Errorf("request on the old connection after the swap: %d %+v", st, e)
	}
}

// TestRecheckOnOpenConnection: a client refused after its handshake (here,
// revoked) is refused on the keep-alive connection it already holds once
// Config.RecheckClient has passed, and that connection is closed; before
// that, the connection is not asked again.
func TestRecheckOnOpenConnection(t *testing.T) {
	var revoked atomic.Bool
	var skew atomic.Int64 // nanoseconds added to the server's clock
	const every = time.Minute
	b := startBankWith(t, filepath.Join(t.TempDir(), "bank.db"),
		func(o *banksrv.TLSOptions, c *banksrv.Config) {
			o.CheckClient = func(chain []*x509.Certificate) error {
				if revoked.Load() {
					return fmt.Errorf("%w: %q", banksrv.ErrClientRevoked, chain[0].Subject)
				}
				return nil
			}
			c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
			c.RecheckClient = every
		})
	var dials atomic.Int32
	alice := &http.Client{Transport: &http.Transport{
		TLSClientConfig: b.tlsConfig(b.pki.Client(t, "alice")),
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, b.addr)
		},
	}}
	get := func() (*http.Response, api.ErrorBody) {
		t.Helper()
		resp, err := alice.Get("https://banco.local" + api.PathBalance)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var eb api.ErrorBody
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			json.Unmarshal(data, &eb)
		}
		return resp, eb
	}

	if resp, _ := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("before revocation: %s", resp.Status)
	}
	revoked.Store(true)
	if resp, _ := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoked, before the recheck is due: %s; want the open connection "+
			"served until then", resp.Status)
	}
	skew.Store(int64(every))
	resp, eb := get()
	if resp.StatusCode != http.StatusForbidden || eb.Error.Code != api.CodeClientRefused ||
		!resp.Close {
		t.Fatalf("revoked, recheck due: %s %+v, close=%v; want 403 %s and the connection "+
			"closed", resp.Status, eb.Error, resp.Close, api.CodeClientRefused)
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d connections for three requests; the test needs one kept alive", n)
	}
	b.log.waitFor(t, "msg=request", "status=403", "client certificate revoked")
	if _, err := alice.Get("https://banco.local" + api.PathBalance); err == nil {
		t.Error("a new connection from the revoked client was served")
	}
}
