package cmd

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banco/banco/bankcli"
	"github.com/banco/banco/banksrv"
	"github.com/banco/banco/internal/testpki"
)

// syncBuffer is a bytes.Buffer safe for a server's goroutines and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bankHome is a banco folder with a server identity and two customers made
// by testpki, in the layout banco enroll writes.
type bankHome struct {
	pki  *testpki.PKI
	home Home
	env  map[string]string
	now  func() time.Time // the client commands' clock; nil means time.Now
	addr string           // where serve listens; "" means a free loopback port
}

func newBankHome(t *testing.T) *bankHome {
	t.Helper()
	h := &bankHome{pki: testpki.New(t, "banco test"), home: Home(t.TempDir())}
	h.pki.WriteServer(t, h.home.ServerDir(), h.pki.Server(t))
	for _, name := range []string{"alice", "bob"} {
		h.pki.WriteClient(t, h.home.ClientDir(name), h.pki.Client(t, name))
	}
	h.env = map[string]string{"BANCO_HOME": string(h.home)}
	return h
}

// serve runs banco serve in-process until the test ends, and returns its
// address and its stderr.
func (h *bankHome) serve(t *testing.T, logFormat string) (string, *syncBuffer) {
	t.Helper()
	stderr := &syncBuffer{}
	a := &App{Out: &bytes.Buffer{}, Err: stderr, Now: time.Now,
		Getenv: func(k string) string { return h.env[k] }}
	ready := make(chan string, 1)
	o := &serveOptions{addr: cmp.Or(h.addr, "127.0.0.1:0"), logFormat: logFormat,
		logLevel: "info", ready: func(addr string) { ready <- addr }}
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
			t.Errorf("serve after stop: %v", err)
		}
		if !strings.HasSuffix(stderr.String(), "banco serve: stopped\n") {
			t.Errorf("serve's stderr does not end with its stop message:\n%s", stderr)
		}
	})
	h.env["BANCO_CONNECT_TO"] = addr
	return addr, stderr
}

// run runs one banco command line and returns stdout, stderr and exit code.
func (h *bankHome) run(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	now := h.now
	if now == nil {
		now = time.Now
	}
	a := &App{In: strings.NewReader(""), Out: &out, Err: &errb, Now: now,
		Getenv: func(k string) string { return h.env[k] }}
	code := a.Run(args)
	return out.String(), errb.String(), code
}

func TestBankCommands(t *testing.T) {
	h := newBankHome(t)
	_, serveErr := h.serve(t, "text")

	steps := []struct {
		args []string
		out  string
	}{
		{[]string{"balance", "--client", "bob"}, "balance 0.00\n"},
		{[]string{"deposit", "100", "--client", "alice"}, "deposited 100.00; balance 100.00\n"},
		{[]string{"withdraw", "12.5", "--client", "alice"}, "withdrew 12.50; balance 87.50\n"},
		{[]string{"transfer", "20", "--to", "bob", "--client", "alice"},
			"transferred 20.00 to bob; balance 67.50\n"},
		{[]string{"balance", "--client", "alice"}, "balance 67.50\n"},
		{[]string{"balance", "--client", "bob"}, "balance 20.00\n"},
	}
	for _, s := range steps {
		out, errOut, code := h.run(s.args...)
		if code != 0 || out != s.out || errOut != "" {
			t.Fatalf("banco %s: exit %d\nstdout %q\nstderr %q\nwant stdout %q",
				strings.Join(s.args, " "), code, out, errOut, s.out)
		}
	}

	h.env["BANCO_CLIENT"] = "alice"
	out, _, code := h.run("history")
	if code != 0 {
		t.Fatalf("history: exit %d", code)
	}
	checkHistory(t, out, [][]string{
		{"3", "transfer", "alice", "bob", "-20.00", "67.50"},
		{"2", "withdraw", "alice", "(cash)", "-12.50", "87.50"},
		{"1", "deposit", "(cash)", "alice", "+100.00", "100.00"},
	})
	out, errOut, _ := h.run("history", "--limit", "1", "--before", "3")
	checkHistory(t, out, [][]string{{"2", "withdraw", "alice", "(cash)", "-12.50", "87.50"}})
	// The next page's command repeats the flags given, and the customer.
	if errOut != "older entries: banco history --client alice --limit 1 --before 2\n" {
		t.Errorf("history page stderr = %q", errOut)
	}

	out, _, _ = h.run("balance", "--json")
	var bal struct{ Customer, Balance string }
	if err := json.Unmarshal([]byte(out), &bal); err != nil || bal.Customer != "alice" ||
		bal.Balance != "67.50" {
		t.Errorf("balance --json: %q %v", out, err)
	}
	out, _, _ = h.run("deposit", "1", "--json")
	var m struct {
		Kind, Amount, Balance string
		ID                    int64
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.Kind != "deposit" ||
		m.Amount != "1.00" || m.Balance != "68.50" || m.ID == 0 {
		t.Errorf("deposit --json: %q %v", out, err)
	}

	for _, want := range []string{
		"banco serve: listening on https://127.0.0.1:",
		"  CA fingerprint:     ",
		"  trusted client CA:  CN=banco test Root CA",
		"msg=request", "customer=alice", "path=/v1/transfer", "status=200",
	} {
		if !strings.Contains(serveErr.String(), want) {
			t.Errorf("serve's stderr lacks %q:\n%s", want, serveErr)
		}
	}
}

// checkHistory compares the rows of a rendered history table with want,
// leaving out the time column.
func checkHistory(t *testing.T, table string, want [][]string) {
	t.Helper()
	var got [][]string
	for _, line := range strings.Split(table, "\n") {
		cells := strings.FieldsFunc(line, func(r rune) bool { return r == '|' || r == '│' })
		if len(cells) != 7 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] == "ID" || cells[0] == "id" {
			continue
		}
		got = append(got, append(cells[:1:1], cells[2:]...))
	}
	if len(got) != len(want) {
		t.Fatalf("history rows %q, want %q\n%s", got, want, table)
	}
	for i := range want {
		if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
			t.Errorf("history row %d = %q, want %q\n%s", i, got[i], want[i], table)
		}
	}
}

func TestBankCommandErrors(t *testing.T) {
	h := newBankHome(t)
	addr, _ := h.serve(t, "json")
	expired := h.pki.ExpiredClient(t, "old")
	h.pki.WriteClient(t, h.home.ClientDir("old"), expired)
	h.run("deposit", "10", "--client", "alice")
	h.run("deposit", "5", "--client", "bob", "--idempotency-key", "k-1")

	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	date := func(tm time.Time) string { return tm.UTC().Format("2006-01-02 15:04 MST") }
	clientDir := func(name string) string { return h.home.ClientDir(name) }
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"insufficient funds", []string{"withdraw", "10.01", "--client", "alice"}, 1,
			"banco: error: insufficient funds\n" +
				"banco: hint: see what you have: banco balance\n"},
		{"invalid amount", []string{"deposit", "1e3", "--client", "alice"}, 2,
			"banco: error: invalid amount \"1e3\": use digits with an optional dot and up to " +
				"2 decimals, such as 12.50\n" +
				"usage: banco deposit AMOUNT [flags]\n" +
				"run 'banco deposit --help' for more\n"},
		{"key reused for another request", []string{"deposit", "8", "--client", "bob",
			"--idempotency-key", "k-1"}, 1,
			"banco: error: this idempotency key was already used for a different request\n" +
				"banco: hint: to make a new request, leave out --idempotency-key or use a new " +
				"key\n" +
				"banco: hint: to repeat the first request, send it with exactly the same amount " +
				"and arguments\n"},
		{"no such recipient", []string{"transfer", "1", "--to", "carol", "--client", "alice"}, 1,
			"banco: error: no customer named \"carol\" has an account\n" +
				"banco: hint: check the name; an account opens on its customer's first request\n"},
		{"transfer without recipient", []string{"transfer", "1", "--client", "alice"}, 2,
			"banco: error: transfer needs the recipient: --to NAME\n" +
				"usage: banco transfer AMOUNT [flags]\n" +
				"run 'banco transfer --help' for more\n"},
		{"several clients", []string{"balance"}, 1,
			"banco: error: several clients are enrolled (alice, bob, old)\n" +
				"banco: hint: choose one: --client NAME, or set BANCO_CLIENT\n"},
		{"client not enrolled", []string{"balance", "--client", "zed"}, 1,
			"banco: error: client certificate " +
				filepath.Join(clientDir("zed"), "client.crt") + " does not exist\n" +
				"banco: hint: create it with: banco enroll client zed\n" +
				"banco: hint: or name it with --cert, --key, --cacert\n"},
		{"expired client certificate", []string{"balance", "--client", "old"}, 1,
			"banco: error: the client certificate \"old\" expired on " +
				date(expired.Cert.NotAfter) + " (valid from " + date(expired.Cert.NotBefore) +
				")\n" +
				"banco: hint: get a new certificate: banco enroll client old --force\n"},
		{"server not reachable", []string{"balance", "--client", "alice",
			"--connect-to", deadAddr}, 1,
			"banco: error: cannot reach the server at " + deadAddr + ": connection refused\n" +
				"banco: hint: is the bank running? start it with: banco serve\n" +
				"banco: hint: check --server and --connect-to\n"},
		{"name does not resolve", []string{"balance", "--client", "alice",
			"--server", "https://banco.invalid:8443", "--connect-to", ""}, 1,
			"banco: error: cannot find the address of banco.invalid\n" +
				"banco: hint: make it resolve: sudo banco hosts add\n" +
				"banco: hint: or connect by address: --connect-to 127.0.0.1:8443 " +
				"(or set BANCO_CONNECT_TO)\n"},
		{"server name not in its certificate", []string{"balance", "--client", "alice",
			"--server", "https://bank.example:8443", "--connect-to", addr}, 1,
			"banco: error: the server's certificate is not accepted for bank.example: it is " +
				"for banco.local, localhost, 127.0.0.1, ::1\n" +
				"banco: hint: --cacert must be the bank's root (root_ca.crt from banco enroll " +
				"client alice), and --server must use a name in the server's certificate\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "name does not resolve" {
				delete(h.env, "BANCO_CONNECT_TO")
				defer func() { h.env["BANCO_CONNECT_TO"] = addr }()
			}
			out, errOut, code := h.run(tt.args...)
			if code != tt.code || errOut != tt.stderr || out != "" {
				t.Errorf("banco %s: exit %d (want %d)\nstdout %q\nstderr:\n%s\nwant stderr:\n%s",
					strings.Join(tt.args, " "), code, tt.code, out, errOut, tt.stderr)
			}
		})
	}

	// --cert alone takes the key and root that banco enroll wrote beside it,
	// rather than looking for the only enrolled customer.
	out, errOut, code := h.run("balance", "--cert",
		filepath.Join(clientDir("alice"), "client.crt"))
	if code != 0 || out != "balance 10.00\n" {
		t.Errorf("balance --cert alice's: exit %d\nstdout %q\nstderr:\n%s", code, out, errOut)
	}

	_, errOut, code = h.run("withdraw", "-5", "--client", "alice")
	want := "banco: error: invalid amount \"-5\": use digits with an optional dot and up to 2 " +
		"decimals, such as 12.50\n" +
		"banco: hint: an amount is positive; to take money out, use banco withdraw\n" +
		"usage: banco withdraw AMOUNT [flags]\n" +
		"run 'banco withdraw --help' for more\n"
	if code != 2 || errOut != want {
		t.Errorf("withdraw -5: exit %d\n%s\nwant\n%s", code, errOut, want)
	}
	// The hint says how to fix the amount when that is clear from what was
	// typed, and is left out when it could only repeat the error's rule.
	for _, tt := range []struct{ amount, hints string }{
		{"5,00", "use a dot for decimals: 5.00"},
		{"5,5", "use a dot for decimals: 5.50"},
		{" 5", "no spaces in an amount: 5.00"},
		{"1 000,50", "no spaces in an amount\nbanco: hint: use a dot for decimals: 1000.50"},
		{"1,000.50", "leave out the thousands separators: 1000.50"},
		{".5", "write 0.50"},
		{"5.", "write 5 or 5.00"},
		{"01", "write 1.00"},
		{"0", ""}, {"12.345", ""}, {"1000000000.01", ""}, {"", ""}, {"abc", ""},
		{"-5.00", "an amount is positive; to take money out, use banco withdraw"},
	} {
		_, errOut, code := h.run("deposit", tt.amount, "--client", "alice")
		first, rest, _ := strings.Cut(errOut, "\n")
		want := "usage: banco deposit AMOUNT [flags]\nrun 'banco deposit --help' for more\n"
		if tt.hints != "" {
			want = "banco: hint: " + tt.hints + "\n" + want
		}
		if code != 2 || !strings.HasPrefix(first, "banco: error: invalid amount ") ||
			rest != want {
			t.Errorf("deposit %q: exit %d, stderr:\n%s\nwant the error, then:\n%s", tt.amount,
				code, errOut, want)
		}
	}
	if out, _, _ := h.run("balance", "--client", "alice"); out != "balance 10.00\n" {
		t.Errorf("balance after refused requests: %q", out)
	}
}

func TestServeErrors(t *testing.T) {
	h := &bankHome{home: Home(t.TempDir())}
	h.env = map[string]string{"BANCO_HOME": string(h.home)}
	_, errOut, code := h.run("serve", "--addr", "127.0.0.1:0")
	want := "banco: error: read certificate: open " +
		filepath.Join(h.home.ServerDir(), "server.crt") + ": no such file or directory\n" +
		"banco: hint: create it with: banco enroll server\n"
	if code != 1 || errOut != want {
		t.Errorf("serve without files: exit %d\n%s\nwant\n%s", code, errOut, want)
	}
	_, errOut, code = h.run("serve", "--addr", "nonsense")
	want = "banco: error: --addr \"nonsense\": want HOST:PORT, such as 127.0.0.1:8443 or :8443\n" +
		"usage: banco serve [flags]\n" +
		"run 'banco serve --help' for more\n"
	if code != 2 || errOut != want {
		t.Errorf("serve --addr nonsense: exit %d\n%s\nwant\n%s", code, errOut, want)
	}
	_, errOut, code = h.run("serve", "--log-format", "xml")
	want = "banco: error: --log-format \"xml\": use text or json\n"
	if code != 2 || !strings.HasPrefix(errOut, want) {
		t.Errorf("serve --log-format xml: exit %d\n%s", code, errOut)
	}
}

// TestServeListenErrors: only an address in use suggests that another banco
// serve holds it; other listen errors say what --addr takes.
func TestServeListenErrors(t *testing.T) {
	h := newBankHome(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct{ addr, stderr string }{
		{taken.Addr().String(), "banco: error: listen on ADDR: listen tcp ADDR: bind: " +
			"address already in use\n" +
			"banco: hint: is another banco serve running? choose another address with --addr\n"},
		// The cause's words vary by system ("unknown port"); the advice does not.
		{"127.0.0.1:no-such-port", "banco: error: listen on ADDR: CAUSE\n" +
			"banco: hint: --addr takes HOST:PORT, where HOST is a name or address of this " +
			"machine (or empty for all of them), such as 127.0.0.1:8443 or :8443\n"},
	}
	for _, tt := range tests {
		_, errOut, code := h.run("serve", "--addr", tt.addr)
		want := strings.ReplaceAll(tt.stderr, "ADDR", tt.addr)
		if cause := regexp.MustCompile(`(?m)^banco: error: listen on \S+: (.+)$`).
			FindStringSubmatch(errOut); cause != nil && strings.Contains(want, "CAUSE") {
			want = strings.Replace(want, "CAUSE", cause[1], 1)
		}
		if code != 1 || errOut != want {
			t.Errorf("serve --addr %s: exit %d\n%s\nwant\n%s", tt.addr, code, errOut, want)
		}
	}
}

func TestServeJSONLog(t *testing.T) {
	h := newBankHome(t)
	_, serveErr := h.serve(t, "json")
	if _, errOut, code := h.run("balance", "--client", "alice"); code != 0 {
		t.Fatalf("balance: %s", errOut)
	}
	for _, line := range strings.Split(serveErr.String(), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "request" && rec["customer"] == "alice" && rec["path"] == "/v1/balance" &&
			rec["status"] == float64(200) {
			return
		}
	}
	t.Errorf("no JSON request line for alice's balance in:\n%s", serveErr)
}

// TestMoveAnswerLost: a peer that takes the request as the bank would and
// hangs up without an answer. The error says the deposit may have been
// applied and how to see it and to send it again under its key, with every
// flag that says where and as whom, quoted for the shell. Pasted as shown,
// with the real bank now at that address, the command is applied once and
// says so the second time.
func TestMoveAnswerLost(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no POSIX shell to read the suggested command back:", err)
	}
	h := newBankHome(t)
	delete(h.env, "BANCO_HOME")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{h.pki.Server(t).TLS()},
		ClientAuth:   tls.RequireAnyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Read(make([]byte, 4096)) // the request, after the handshake
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	cacert := filepath.Join(t.TempDir(), "the bank's root", "root ca.crt")
	copyFile(t, filepath.Join(h.home.ClientDir("alice"), RootCertFile), cacert)
	quoted := `'` + filepath.Dir(filepath.Dir(cacert)) + `/the bank'\''s root/root ca.crt'`
	target := "--home " + string(h.home) + " --connect-to " + addr + " --client alice " +
		"--cacert " + quoted

	out, errOut, code := h.run("deposit", "5", "--client", "alice", "--home", string(h.home),
		"--cacert", cacert, "--connect-to", addr)
	ln.Close()
	// A TLS 1.3 server that closes without an answer may have refused the
	// certificate or stopped: the message names both, and never says EOF.
	want := "banco: error: the server closed the connection right after the TLS handshake: " +
		"it refused the client certificate, or it stopped\n" +
		"banco: hint: if the bank is running, check that the certificate is from its CA and " +
		"not revoked: banco inspect " + filepath.Join(h.home.ClientDir("alice"), "client.crt") +
		"\n" +
		"banco: hint: the bank may have applied it; see with: banco history " + target + "\n" +
		"banco: hint: send it again safely (applied at most once): banco deposit 5 " + target +
		" --idempotency-key KEY\n"
	key := regexp.MustCompile(`--idempotency-key (\S+)\n$`).FindStringSubmatch(errOut)
	if code != 1 || out != "" || key == nil ||
		strings.ReplaceAll(errOut, key[1], "KEY") != want {
		t.Fatalf("deposit with the answer lost: exit %d, stdout %q, stderr:\n%s\nwant:\n%s",
			code, out, errOut, want)
	}

	h.addr, h.env["BANCO_HOME"] = addr, string(h.home)
	h.serve(t, "text")
	delete(h.env, "BANCO_HOME") // the suggested commands name it
	delete(h.env, "BANCO_CONNECT_TO")
	_, again, _ := strings.Cut(errOut, "(applied at most once): ")
	words := shellWords(t, strings.TrimSpace(again))
	for i, wantErr := range []string{"", "already applied under idempotency key " + key[1] +
		": nothing moved again; this is the bank's first answer\n"} {
		out, errOut, code = h.run(words[1:]...)
		if code != 0 || out != "deposited 5.00; balance 5.00\n" || errOut != wantErr {
			t.Errorf("send %d as suggested: exit %d, %q, stderr %q, want %q", i+1, code, out,
				errOut, wantErr)
		}
	}
	words = shellWords(t, "banco history "+target)
	if out, _, _ := h.run(append(words[1:], "--json")...); !strings.Contains(out,
		`"balance": "5.00"`) || strings.Count(out, `"kind": "deposit"`) != 1 {
		t.Errorf("history as suggested, after the deposit was sent three times under one "+
			"key:\n%s", out)
	}
}

// TestMoveNotSent: a connection that breaks during the TLS handshake never
// carried the request, so the error says nothing moved and offers no resend.
func TestMoveNotSent(t *testing.T) {
	h := newBankHome(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Read(make([]byte, 4096)) // the ClientHello
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	out, errOut, code := h.run("withdraw", "5", "--client", "alice", "--connect-to", addr)
	want := "banco: error: no TLS connection with the server at " + addr + ": http: server " +
		"gave HTTP response to HTTPS client\n" +
		"banco: hint: the request was not sent, so nothing changed\n" +
		"banco: hint: check that --server and --connect-to reach banco serve, not another " +
		"server or a proxy\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("withdraw from a server that is not TLS: exit %d, stdout %q, stderr:\n%s\n"+
			"want:\n%s", code, out, errOut, want)
	}
}

// TestBankRevokedHint: a revoked certificate is refused with the alert Go
// sends for any certificate its checks reject, so the message names
// revocation among the causes and the hints say how to tell which.
func TestBankRevokedHint(t *testing.T) {
	h := newBankHome(t)
	cert := h.pki.Server(t).TLS()
	cfg, err := banksrv.NewTLSConfig(banksrv.TLSOptions{
		GetCertificate: banksrv.NewCertHolder(&cert).GetCertificate,
		ClientCAs:      h.pki.Pool(),
		CheckClient:    func([]*x509.Certificate) error { return banksrv.ErrClientRevoked },
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	h.env["BANCO_CONNECT_TO"] = ln.Addr().String()
	out, errOut, code := h.run("deposit", "5", "--client", "alice")
	want := "banco: error: the server refused the client certificate: it is not acceptable " +
		"(wrong key usage, no customer in it, or revoked)\n" +
		"banco: hint: see what the certificate holds: banco inspect " +
		filepath.Join(h.home.ClientDir("alice"), ClientCertFile) + "\n" +
		"banco: hint: if it looks right, ask the bank whether it was revoked (then you need " +
		"a new certificate)\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("deposit with a revoked certificate: exit %d, stdout %q, stderr:\n%s\n"+
			"want:\n%s", code, out, errOut, want)
	}
}

// TestBankUsage pins the usage mistakes of the client commands: argument
// counts, amounts, --limit, --before and --cert, all refused before connecting.
func TestBankUsage(t *testing.T) {
	h := newBankHome(t)
	h.env["BANCO_CONNECT_TO"] = "127.0.0.1:1" // never reached
	lone := filepath.Join(t.TempDir(), "client.crt")
	copyFile(t, filepath.Join(h.home.ClientDir("alice"), "client.crt"), lone)
	invalid := func(amount string) string {
		return "banco: error: invalid amount \"" + amount + "\": use digits with an optional " +
			"dot and up to 2 decimals, such as 12.50\n"
	}
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"deposit", "5", "6"}, "banco: error: banco deposit takes exactly one AMOUNT, " +
			"got 2: 5 6\n"},
		{[]string{"withdraw"}, "banco: error: banco withdraw needs an AMOUNT, such as 12.50\n"},
		{[]string{"transfer", "1", "000", "--to", "bob"}, "banco: error: banco transfer takes " +
			"exactly one AMOUNT, got 2: 1 000\n"},
		{[]string{"history", "--limit", "0"}, "banco: error: --limit must be from 1 to 1000\n"},
		{[]string{"history", "--limit", "-1"}, "banco: error: --limit must be from 1 to 1000\n"},
		{[]string{"history", "--limit", "1001"}, "banco: error: --limit must be from 1 to 1000\n"},
		{[]string{"history", "--before", "abc"}, "banco: error: --before \"abc\": want an entry " +
			"number as printed by a previous 'banco history' (its id column, or the --before " +
			"it suggests)\n"},
		{[]string{"deposit", "--", "-5"}, invalid("-5")},
		{[]string{"deposit", "12.345"}, "banco: error: invalid amount \"12.345\": at most 2 " +
			"decimals (cents)\n"},
		{[]string{"deposit", "abc"}, invalid("abc")},
		{[]string{"balance", "--cert", lone}, "banco: error: --cert " + lone + " also needs " +
			"--key and --cacert: there is no client.key or root_ca.crt beside it\n"},
	}
	for _, tt := range tests {
		// --client goes first, where a "--" in the arguments leaves it a flag.
		_, errOut, code := h.run(append([]string{tt.args[0], "--client", "alice"},
			tt.args[1:]...)...)
		first, _, _ := strings.Cut(errOut, "\n")
		if code != 2 || first+"\n" != tt.stderr || !strings.Contains(errOut, "\nusage: banco ") {
			t.Errorf("banco %s: exit %d, stderr:\n%s\nwant it to start with:\n%s",
				strings.Join(tt.args, " "), code, errOut, tt.stderr)
		}
	}
}

// shellWords splits a command line as a POSIX shell does.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	out, err := exec.Command("sh", "-c", "printf '%s\\n' "+line).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBankRefusedAtHandshake pins what a user sees when the bank refuses the
// certificate given on the command line. A server certificate, and one that
// has expired by the computer's clock, are refused before connecting; one
// that has expired by the server's clock only (this computer's clock is
// behind) is refused by the server. bankcli's TestRefusedAtHandshake has the
// server refuse each of them itself.
func TestBankRefusedAtHandshake(t *testing.T) {
	h := newBankHome(t)
	h.serve(t, "text")
	root := filepath.Join(h.home.ClientDir("alice"), "root_ca.crt")
	files := func(c *testpki.Cert) []string {
		dir := t.TempDir()
		crt, key := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
		c.WriteFiles(t, crt, key)
		return []string{"--cert", crt, "--key", key, "--cacert", root}
	}
	foreign := files(testpki.New(t, "other").Client(t, "alice"))
	server := files(h.pki.Server(t))
	expired := h.pki.ExpiredClient(t, "alice")
	expiredFiles := files(expired)
	date := func(tm time.Time) string { return tm.UTC().Format("2006-01-02 15:04 MST") }

	// Valid from 50 to 10 minutes ago: a client whose clock is 30 minutes
	// behind finds it valid, and so do the CA and the server's certificate.
	late := h.pki.Issue(t, testpki.Leaf{CommonName: "late", Customer: "late",
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore:   h.pki.Now.Add(-50 * time.Minute), NotAfter: h.pki.Now.Add(-10 * time.Minute)})
	h.pki.WriteClient(t, h.home.ClientDir("late"), late)

	tests := []struct {
		name   string
		args   []string
		behind time.Duration
		stderr string
	}{
		{"certificate from another CA", foreign, 0,
			"banco: error: the server refused the client certificate: it is not issued by " +
				"the bank's CA\n" +
				"banco: hint: use a valid client certificate from this bank's CA: " +
				"banco enroll client NAME\n"},
		{"server certificate as client certificate", server, 0,
			"banco: error: " + server[1] + " is not a client certificate (it lacks the " +
				"clientAuth usage)\n" +
				"banco: hint: use the client certificate from: banco enroll client NAME\n"},
		{"expired client certificate", expiredFiles, 0,
			"banco: error: the client certificate \"alice\" expired on " +
				date(expired.Cert.NotAfter) + " (valid from " + date(expired.Cert.NotBefore) +
				")\n" +
				"banco: hint: get a new certificate: banco enroll client NAME --force\n"},
		{"expired by the server's clock", []string{"--client", "late"}, 30 * time.Minute,
			"banco: error: the server refused the client certificate: it has expired\n" +
				"banco: hint: use a valid client certificate from this bank's CA: " +
				"banco enroll client late\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.now = func() time.Time { return time.Now().Add(-tt.behind) }
			defer func() { h.now = nil }()
			args := append([]string{"balance"}, tt.args...)
			out, errOut, code := h.run(args...)
			if code != 1 || errOut != tt.stderr || out != "" {
				t.Errorf("banco %s: exit %d\nstdout %q\nstderr:\n%s\nwant stderr:\n%s",
					strings.Join(args, " "), code, out, errOut, tt.stderr)
			}
		})
	}
}

// TestBankErrorHandshakeRefusals checks the advice for the refusals the
// command line cannot cause (it always offers a certificate, and TLS 1.2 or
// 1.3): the errors come from real handshakes with banco serve, made with
// bankcli's TLS hook, and pass through bankError and the root's report.
func TestBankErrorHandshakeRefusals(t *testing.T) {
	h := newBankHome(t)
	addr, _ := h.serve(t, "text")
	dir := h.home.ClientDir("alice")
	tests := []struct {
		name   string
		hook   func(*tls.Config)
		stderr string
	}{
		{"no client certificate", func(c *tls.Config) {
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate,
				error) {
				return &tls.Certificate{}, nil
			}
		}, "banco: error: the server refused the client certificate: no certificate was " +
			"sent\n" +
			"banco: hint: use a valid client certificate from this bank's CA: " +
			"banco enroll client alice\n"},
		{"client offering only TLS 1.1", func(c *tls.Config) {
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		}, "banco: error: the server ended the TLS handshake: protocol version not supported " +
			"(banco needs TLS 1.2 or 1.3)\n" +
			"banco: hint: check that --server and --connect-to reach banco serve, not " +
			"another server or a proxy\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &bankOptions{client: "alice", cert: filepath.Join(dir, ClientCertFile),
				key: filepath.Join(dir, ClientKeyFile), cacert: filepath.Join(dir, RootCertFile)}
			cl, err := bankcli.New(bankcli.Config{Server: bankcli.DefaultServer,
				ConnectTo: addr, CertFile: o.cert, KeyFile: o.key, CAFile: o.cacert,
				Retries: -1, TLS: tt.hook})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			_, err = cl.Balance(context.Background())
			if err == nil {
				t.Fatal("the handshake succeeded")
			}
			var errb bytes.Buffer
			a := &App{Err: &errb}
			if code := a.report(nil, a.bankError(err, o)); code != 1 || errb.String() != tt.stderr {
				t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, errb.String(), tt.stderr)
			}
		})
	}
}
