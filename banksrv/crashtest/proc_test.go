package crashtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/banco/banco/bankcli"
)

// The crash tests run the real banco binary, built once per test run.
var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// bancoBin builds ./cmd/banco into a temporary folder, once.
func bancoBin(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the crash tests stop servers with SIGTERM, which Windows does not deliver")
	}
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "banco-crashtest-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "banco")
		out, err := exec.Command("go", "build", "-o", build.bin,
			"github.com/banco/banco/cmd/banco").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/banco: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

func removeBuildDir() {
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
}

// home is a banco home with a CA, a server identity and every customer's
// identity, made by the real commands: banco init, enroll server, enroll
// client.
type home struct {
	bin string
	dir string
}

// sharedHome is made once per test run: every test uses its own database
// (--db), and nothing else in the home changes.
var sharedHome struct {
	once sync.Once
	h    *home
}

// newHome returns the home with the identities of customers (the same ones
// on every call), made on the first call.
func newHome(t *testing.T, customers []string) *home {
	t.Helper()
	bin := bancoBin(t)
	sharedHome.once.Do(func() {
		h := &home{bin: bin, dir: filepath.Join(build.dir, "home")}
		h.run(t, "init")
		h.run(t, "enroll", "server")
		for _, c := range customers {
			h.run(t, "enroll", "client", c)
		}
		sharedHome.h = h
	})
	if sharedHome.h == nil {
		t.Fatal("the banco home could not be made (see the first test that failed)")
	}
	return sharedHome.h
}

func (h *home) env() []string {
	return append(os.Environ(), "BANCO_HOME="+h.dir, "BANCO_PASSWORD=crashtest-password",
		"BANCO_DEBUG=")
}

// run runs a banco command that must succeed and returns its stdout.
func (h *home) run(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(h.bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = h.env(), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("banco %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(),
			stderr.String())
	}
	return stdout.String()
}

// client returns the real bank client of customer with the files enrolled
// for them, reaching the server at addr, with retries of its own as
// bankcli.Config.Retries (<0: none) and a short backoff.
func (h *home) client(t *testing.T, customer, addr string, retries int) *bankcli.Client {
	t.Helper()
	dir := filepath.Join(h.dir, "clients", customer)
	cl, err := bankcli.New(bankcli.Config{
		Server:    "https://banco.local:8443",
		ConnectTo: addr,
		CertFile:  filepath.Join(dir, "client.crt"),
		KeyFile:   filepath.Join(dir, "client.key"),
		CAFile:    filepath.Join(dir, "root_ca.crt"),
		Retries:   retries,
		Backoff:   20 * time.Millisecond,
		Timeout:   20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// server is one "banco serve" process slot: a fixed address and database,
// and the process currently running there, if any.
type server struct {
	t    *testing.T
	h    *home
	name string
	addr string
	db   string

	// died is called when the process exits without being told to; nil
	// means it fails the test.
	died func(msg string)

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	expected *atomic.Bool // the test signalled the current process
	log      *watchLog
	starts   int
}

// newServer reserves a loopback port for a server; the same port serves
// every restart, so that clients need not learn a new address.
func newServer(t *testing.T, h *home, name, db string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &server{t: t, h: h, name: name, addr: addr, db: db}
	t.Cleanup(s.kill)
	return s
}

// start runs banco serve and waits for its banner.
func (s *server) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.launch()
	select {
	case <-s.log.seen:
	case <-s.exited:
		s.t.Fatalf("%s (start %d) exited before listening:\n%s", s.name, s.starts, s.log)
	case <-time.After(time.Minute):
		s.t.Fatalf("%s (start %d) did not listen within a minute:\n%s", s.name, s.starts,
			s.log)
	}
}

// startKilled starts banco serve and kills it after d, whether or not it has
// opened its ledger yet: a crash during start-up (and migrations).
func (s *server) startKilled(d time.Duration) {
	s.t.Helper()
	s.mu.Lock()
	s.launch()
	s.mu.Unlock()
	time.Sleep(d)
	s.kill()
}

// launch starts the process; s.mu is held.
func (s *server) launch() {
	s.t.Helper()
	s.starts++
	s.log = newWatchLog("listening on https://")
	cmd := exec.Command(s.h.bin, "serve", "--addr", s.addr, "--db", s.db)
	cmd.Env, cmd.Stderr = s.h.env(), s.log
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start banco serve: %v", err)
	}
	exited, expected, log, start := make(chan struct{}), &atomic.Bool{}, s.log, s.starts
	go func() {
		err := cmd.Wait()
		if !expected.Load() {
			msg := fmt.Sprintf("%s (start %d) exited on its own (%v):\n%s", s.name, start,
				err, log.tail())
			if s.died != nil {
				s.died(msg)
			} else {
				s.t.Error(msg)
			}
		}
		close(exited)
	}()
	s.cmd, s.exited, s.expected = cmd, exited, expected
}

// kill ends the process with SIGKILL, if it runs, and waits for it.
func (s *server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.expected.Store(true)
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// stop ends the process with SIGTERM, as an operator would, and checks that
// it stopped cleanly.
func (s *server) stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
		s.cmd = nil // it died on its own, which launch has reported
		return
	default:
	}
	s.expected.Store(true)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.t.Errorf("%s did not stop within a minute of SIGTERM", s.name)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Errorf("%s exited %d after SIGTERM:\n%s", s.name, code, s.log.tail())
	}
	s.cmd = nil
}

// watchLog keeps a process's stderr and signals when a line holds want.
type watchLog struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	hit  bool
}

func newWatchLog(want string) *watchLog {
	return &watchLog{want: want, seen: make(chan struct{})}
}

func (w *watchLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.hit && bytes.Contains(w.buf.Bytes(), []byte(w.want)) {
		w.hit = true
		close(w.seen)
	}
	return len(p), nil
}

func (w *watchLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// tail returns the last lines of the log, for messages.
func (w *watchLog) tail() string {
	lines := strings.Split(strings.TrimRight(w.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// ledgerVerify runs "banco ledger verify --db" and fails t unless it exits 0
// saying every invariant holds.
func (h *home) ledgerVerify(t *testing.T, db string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, h.bin, "ledger", "verify", "--db", db)
	cmd.Env, cmd.Stdout, cmd.Stderr = h.env(), &stdout, &stderr
	err := cmd.Run()
	if err != nil || !strings.Contains(stdout.String(), "ok: every invariant holds") {
		t.Errorf("banco ledger verify --db %s: %v\n%s%s", db, err, stdout.String(),
			stderr.String())
	}
}
