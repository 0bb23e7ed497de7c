package cmd

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banco/banco/enroll"
	"github.com/banco/banco/internal/memlimit"
)

// pkiBank is a bank server enrolled from a home of its own against a real
// banco ca serve, as issue 4 asks: no CA files on the bank's side.
type pkiBank struct {
	caHome, home string
	caURL        string
	caLog        *lockedBuffer
	addr         string
	log          *syncBuffer
	renewer      *enroll.Renewer
}

// startPKIBank runs banco ca serve, enrolls a server and customers through
// tokens into a fresh home, and runs banco serve there, checking the
// revocation list on every handshake.
func startPKIBank(t *testing.T, customers ...string) *pkiBank {
	t.Helper()
	b := &pkiBank{caHome: initHome(t), home: t.TempDir()}
	b.caURL, b.caLog = startCAServe(t, b.caHome)
	b.enroll(t, "server", "banco.local", "--server")
	for _, c := range customers {
		b.enroll(t, "client", c, "--client")
	}
	b.addr, b.log = b.serve(t)
	return b
}

func (b *pkiBank) enroll(t *testing.T, kind, name, flag string) {
	t.Helper()
	tok := strings.TrimSpace(mustRun(t, "--home", b.caHome, "ca", "token", name, flag))
	if _, stderr, code := bancoRun(t, nil, "--home", b.home, "enroll", kind, name,
		"--token", tok); code != 0 {
		t.Fatalf("enroll %s %s: exit %d\n%s\nCA log:\n%s", kind, name, code, stderr, b.caLog)
	}
}

// serve runs banco serve in-process in b.home until the test ends, with
// the revocation list checked on every handshake.
func (b *pkiBank) serve(t *testing.T) (string, *syncBuffer) {
	t.Helper()
	stderr := &syncBuffer{}
	a := &App{Out: &syncBuffer{}, Err: stderr, Now: time.Now,
		Getenv: func(k string) string { return map[string]string{"BANCO_HOME": b.home}[k] }}
	ready := make(chan string, 1)
	o := &serveOptions{addr: "127.0.0.1:0", logFormat: "text", logLevel: "info",
		ready:     func(addr string) { ready <- addr },
		onRenewer: func(r *enroll.Renewer) { b.renewer = r }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.runServe(ctx, o) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, stderr)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve after stop: %v\n%s", err, stderr)
		}
	})
	return addr, stderr
}

// clientTLS is customer name's TLS configuration for talking to the bank.
func (b *pkiBank) clientTLS(t *testing.T, name string) *tls.Config {
	t.Helper()
	id, err := enroll.Load(enroll.InDir(filepath.Join(b.home, "clients", name),
		ClientCertFile, ClientKeyFile, RootCertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(id.Root)
	return &tls.Config{Certificates: []tls.Certificate{*id.TLSCertificate()}, RootCAs: pool,
		ServerName: "banco.local"}
}

// balanceOnce asks for the balance over a new TLS connection to addr.
func balanceOnce(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return tls.ConnectionState{}, err
	}
	fmt.Fprint(conn, "GET /v1/balance HTTP/1.1\r\nHost: banco.local\r\nConnection: close\r\n\r\n")
	// With TLS 1.3 a refused client certificate shows up only here, on the
	// first read; the session ticket also arrives here.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return conn.ConnectionState(), err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return conn.ConnectionState(), fmt.Errorf("balance: %s", resp.Status)
	}
	return conn.ConnectionState(), nil
}

// countingCache counts the sessions a client offers to resume.
type countingCache struct {
	tls.ClientSessionCache
	offered atomic.Int32
}

func (c *countingCache) Get(key string) (*tls.ClientSessionState, bool) {
	s, ok := c.ClientSessionCache.Get(key)
	if ok {
		c.offered.Add(1)
	}
	return s, ok
}

func TestServeRefusesRevokedClientOnResumption(t *testing.T) {
	b := startPKIBank(t, "alice", "bob")
	for _, tc := range []struct {
		name, customer string
		version        uint16
	}{
		{"TLS 1.3", "alice", tls.VersionTLS13},
		{"TLS 1.2", "bob", tls.VersionTLS12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := b.clientTLS(t, tc.customer)
			cfg.MinVersion, cfg.MaxVersion = tc.version, tc.version
			cache := &countingCache{ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			cfg.ClientSessionCache = cache

			if cs, err := balanceOnce(b.addr, cfg); err != nil || cs.DidResume {
				t.Fatalf("first connection: resumed=%v, %v\n%s", cs.DidResume, err, b.log)
			}
			cs, err := balanceOnce(b.addr, cfg)
			if err != nil || !cs.DidResume {
				t.Fatalf("second connection: resumed=%v, %v: without resumption this "+
					"test proves nothing", cs.DidResume, err)
			}

			// Revoked through the running CA, which holds the CA database.
			serial := cfg.Certificates[0].Leaf.SerialNumber.String()
			if out, stderr, code := bancoRun(t, pwEnv(), "--home", b.caHome, "revoke",
				serial); code != 0 || strings.TrimSpace(out) != serial {
				t.Fatalf("revoke %s: exit %d\n%s", serial, code, stderr)
			}
			offered := cache.offered.Load()
			if _, err := balanceOnce(b.addr, cfg); err == nil {
				t.Fatal("a revoked client resumed its TLS session and was served")
			}
			if cache.offered.Load() == offered {
				t.Error("the client did not offer its session, so resumption was not tried")
			}
			waitLog(t, b.log, "client certificate revoked: \\\"CN="+tc.customer)
		})
	}
}

func TestServeRenewalSwapUnderLoad(t *testing.T) {
	b := startPKIBank(t, "alice")
	if b.renewer == nil {
		t.Fatalf("serve runs no renewer:\n%s", b.log)
	}
	if !strings.Contains(b.log.String(), "renewal:            automatic through "+b.caURL) {
		t.Errorf("banner does not show renewal:\n%s", b.log)
	}
	before := b.renewer.Current().Leaf().SerialNumber
	cfg := b.clientTLS(t, "alice")

	var ok, failed atomic.Int64
	var mu sync.Mutex
	var errs []error
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half the clients keep their connection across the swap, half
			// make a new handshake for every request.
			tr := &http.Transport{TLSClientConfig: cfg.Clone(), DisableKeepAlives: i%2 == 1,
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, b.addr)
				}}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			for ctx.Err() == nil {
				resp, err := c.Get("https://banco.local/v1/balance")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %s", resp.Status)
					}
				}
				if err != nil {
					failed.Add(1)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	waitRequests := func(n int64) {
		for target := ok.Load() + n; ok.Load()+failed.Load() < target; {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitRequests(20)
	serials := map[string]bool{before.String(): true}
	for range 3 {
		if err := b.renewer.RenewNow(context.Background()); err != nil {
			t.Fatalf("RenewNow: %v\nCA log:\n%s", err, b.caLog)
		}
		serials[b.renewer.Current().Leaf().SerialNumber.String()] = true
		waitRequests(20)
	}
	stop()
	wg.Wait()

	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the swaps, e.g. %v", n, n+ok.Load(), errs[0])
	}
	if len(serials) != 4 {
		t.Errorf("3 renewals gave %d distinct certificates", len(serials)-1)
	}
	after := b.renewer.Current().Leaf()
	cs, err := balanceOnce(b.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.PeerCertificates[0].SerialNumber; got.Cmp(after.SerialNumber) != 0 {
		t.Errorf("a new connection got certificate %s, want the renewed %s", got,
			after.SerialNumber)
	}
	onDisk, err := enroll.Load(enroll.InDir(filepath.Join(b.home, "server"), ServerCertFile,
		ServerKeyFile, RootCertFile))
	if err != nil || !onDisk.Leaf().Equal(after) {
		t.Errorf("the renewed certificate is not in server/%s: %v", ServerCertFile, err)
	}
}

func TestServeBesideCA(t *testing.T) {
	home := initHome(t)
	for _, args := range [][]string{{"server"}, {"client", "alice"}, {"client", "bob"}} {
		mustRun(t, append([]string{"--home", home, "enroll"}, args...)...)
	}
	b := &pkiBank{caHome: home, home: home}
	addr, log := b.serve(t)
	caDir := filepath.Join(home, "ca")
	if !strings.Contains(log.String(), "revocation:         the CA database in "+caDir) ||
		!strings.Contains(log.String(), "renewal:            off: the online CA's URL") {
		t.Errorf("banner:\n%s", log)
	}
	alice, bob := b.clientTLS(t, "alice"), b.clientTLS(t, "bob")
	if _, err := balanceOnce(addr, alice); err != nil {
		t.Fatalf("alice before revocation: %v\n%s", err, log)
	}

	// Offline, in the CA database, with no online CA at all.
	mustRun(t, "--home", home, "revoke", "alice")
	if _, err := balanceOnce(addr, alice); err == nil {
		t.Errorf("alice served after an offline revocation:\n%s", log)
	}
	if _, err := balanceOnce(addr, bob); err != nil {
		t.Errorf("bob refused: %v\n%s", err, log)
	}

	// banco ca serve now holds the database: a bank started now reads the
	// CA's CRL, and so does the one already running.
	caURL, caLog := startCAServe(t, home)
	addr2, log2 := b.serve(t)
	want := "revocation:         the CRL at " + caURL + "/1.0/crl of the running 'banco ca serve'"
	if !strings.Contains(log2.String(), want) {
		t.Errorf("banner of the bank started beside the running CA, want %q:\n%s", want, log2)
	}
	serial := bob.Certificates[0].Leaf.SerialNumber.String()
	for _, a := range []string{addr, addr2} {
		if _, err := balanceOnce(a, bob); err != nil {
			t.Errorf("bob refused by %s before revocation: %v", a, err)
		}
	}
	if _, stderr, code := bancoRun(t, pwEnv(), "--home", home, "revoke", serial); code != 0 {
		t.Fatalf("revoke through ca serve: exit %d\n%s\nCA log:\n%s", code, stderr, caLog)
	}
	for _, a := range []string{addr, addr2} {
		if _, err := balanceOnce(a, bob); err == nil {
			t.Errorf("bob served by %s after revocation through the CA", a)
		}
		if _, err := balanceOnce(a, alice); err == nil {
			t.Errorf("alice served by %s", a)
		}
	}
}

func TestServeBannerWithoutRevocation(t *testing.T) {
	h := newBankHome(t) // certificates from a test PKI: no CA folder, no CRL
	_, stderr := h.serve(t, "text")
	for _, want := range []string{
		"revocation:         NOT CHECKED: no CRL is known, so revoked clients get in",
		"renewal:            off: the online CA's URL is not known; turn it on with --ca-url",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, stderr)
		}
	}
}

func TestServePKIFlagErrors(t *testing.T) {
	h := newBankHome(t)
	for _, tc := range []struct{ flag, want string }{
		{"--crl-url=http://ca.example/crl", `"http://ca.example/crl": want an https:// URL`},
		{"--ca-url=ca.example:9000", "--ca-url \"ca.example:9000\": want an https:// URL"},
		{"--crl-refresh=-1s", "--crl-refresh must not be negative"},
	} {
		_, stderr, code := h.run("serve", "--addr", "127.0.0.1:0", tc.flag)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("serve %s: exit %d\n%s", tc.flag, code, stderr)
		}
	}
}

// waitLog waits until a server's log has want in it: a server logs a failed
// handshake after the client has seen it fail.
func waitLog(t *testing.T, log fmt.Stringer, want string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), want); {
		if time.Now().After(end) {
			t.Fatalf("the log lacks %q:\n%s", want, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeRunsCollectorNearLimit: while banco serve runs, the collector
// runs near a memory limit rather than at each doubling of the heap
// (internal/memlimit), and stays so past lazygc's first 100 ms.
func TestServeRunsCollectorNearLimit(t *testing.T) {
	h := newBankHome(t)
	h.serve(t, "text")
	read := func() (gogc int64, limit int64) {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
		metrics.Read(s)
		return int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64())
	}
	deadline := time.Now().Add(10 * time.Second)
	for gogc, _ := read(); gogc >= 0 && time.Now().Before(deadline); gogc, _ = read() {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if gogc, limit := read(); gogc >= 0 || limit < memlimit.Floor {
		t.Errorf("while serving: GOGC %d, memory limit %d; want off (-1) and at least %d",
			gogc, limit, memlimit.Floor)
	}
}

// TestServeRefusesRevokedClientOnOpenConnection: a client revoked through
// the running CA while it holds a keep-alive connection is refused on that
// connection too, within a second here (--crl-refresh 0).
func TestServeRefusesRevokedClientOnOpenConnection(t *testing.T) {
	b := startPKIBank(t, "carol")
	cfg := b.clientTLS(t, "carol")
	var dials atomic.Int32
	carol := &http.Client{Transport: &http.Transport{
		TLSClientConfig: cfg,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, b.addr)
		},
	}}
	get := func() *http.Response {
		t.Helper()
		resp, err := carol.Get("https://banco.local/v1/balance")
		if err != nil {
			t.Fatalf("balance: %v\n%s", err, b.log)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("before revocation: %s", resp.Status)
	}
	serial := cfg.Certificates[0].Leaf.SerialNumber.String()
	if _, stderr, code := bancoRun(t, pwEnv(), "--home", b.caHome, "revoke", serial); code != 0 {
		t.Fatalf("revoke %s: exit %d\n%s", serial, code, stderr)
	}
	time.Sleep(recheckEvery(0) + 100*time.Millisecond)
	resp := get()
	if resp.StatusCode != http.StatusForbidden || !resp.Close {
		t.Fatalf("revoked: %s, close=%v; want 403 and the connection closed\n%s",
			resp.Status, resp.Close, b.log)
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d connections for two requests; the test needs one kept alive", n)
	}
	waitLog(t, b.log, "status=403")
}
