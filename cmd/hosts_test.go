package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/banco/banco/hosts"
)

const hostsBefore = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"

const hostsAfter = hostsBefore +
	"# BEGIN banco (managed by banco hosts; changes here are overwritten)\n" +
	"127.0.0.1 banco.local\n::1 banco.local\n# END banco\n"

// hostsEnv runs banco in-process with its own streams and records the DNS
// flushes it would run instead of running them.
type hostsEnv struct {
	t       *testing.T
	dir     string
	file    string
	flushes [][]string
	in      string
}

func newHostsEnv(t *testing.T, content string) *hostsEnv {
	t.Helper()
	e := &hostsEnv{t: t, dir: t.TempDir()}
	e.file = filepath.Join(e.dir, "hosts")
	if err := os.WriteFile(e.file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	savedFlush, savedWrite, savedPrompt := runFlush, writeHosts, hostsPromptsOn
	t.Cleanup(func() { runFlush, writeHosts, hostsPromptsOn = savedFlush, savedWrite, savedPrompt })
	runFlush = func(_ context.Context, argv []string) error {
		e.flushes = append(e.flushes, argv)
		return nil
	}
	return e
}

func (e *hostsEnv) run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	a := &App{
		In: strings.NewReader(e.in), Out: &out, Err: &errb,
		Getenv: func(string) string { return "" }, Now: time.Now,
	}
	code = a.Run(args)
	return code, out.String(), errb.String()
}

func (e *hostsEnv) content() string {
	e.t.Helper()
	b, err := os.ReadFile(e.file)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func TestHostsAddRemove(t *testing.T) {
	e := newHostsEnv(t, hostsBefore)
	code, stdout, stderr := e.run("hosts", "add", "--file", e.file)
	if code != 0 || stdout != "" {
		t.Fatalf("add: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	if got := e.content(); got != hostsAfter {
		t.Errorf("file after add:\n%q\nwant\n%q", got, hostsAfter)
	}
	for _, want := range []string{
		"saved the original as " + e.file + hosts.BackupSuffix,
		"saved the file as it was before this change as " + e.file + hosts.PrevSuffix,
		"added to " + e.file + ": 127.0.0.1 banco.local",
		"added to " + e.file + ": ::1 banco.local",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !slices.EqualFunc(e.flushes, hosts.FlushCommands(), slices.Equal) {
		t.Errorf("flushed with %q, want %q", e.flushes, hosts.FlushCommands())
	}
	for _, argv := range hosts.FlushCommands() {
		if !strings.Contains(stderr, "flushed the DNS cache: "+strings.Join(argv, " ")) {
			t.Errorf("stderr does not say it ran %q:\n%s", argv, stderr)
		}
	}

	code, _, stderr = e.run("hosts", "remove", "--file", e.file)
	if code != 0 {
		t.Fatalf("remove: exit %d:\n%s", code, stderr)
	}
	if got := e.content(); got != hostsBefore {
		t.Errorf("after add and remove the file is\n%q\nwant the original\n%q", got, hostsBefore)
	}
	if !strings.Contains(stderr, "removed from "+e.file+": ::1 banco.local") {
		t.Errorf("stderr:\n%s", stderr)
	}
	prev, err := os.ReadFile(e.file + hosts.PrevSuffix)
	if err != nil || string(prev) != hostsAfter {
		t.Errorf("%s holds %q, %v; want the file before the remove", hosts.PrevSuffix, prev, err)
	}
}

// TestHostsAlreadyMappedOutside: lines of the admin's own that already say
// what add asks for are pointed out, and nothing is written.
func TestHostsAlreadyMappedOutside(t *testing.T) {
	in := hostsBefore + "127.0.0.1 banco.local\n::1 banco.local # mine\n"
	e := newHostsEnv(t, in)
	code, stdout, stderr := e.run("hosts", "add", "--file", e.file)
	if code != 0 || stdout != "" || e.content() != in {
		t.Fatalf("exit %d, stdout %q, file %q, stderr:\n%s", code, stdout, e.content(), stderr)
	}
	for _, want := range []string{
		"note: line 3 of " + e.file + " maps banco.local to 127.0.0.1 outside banco's block",
		"note: line 4 of " + e.file + " maps banco.local to ::1 outside banco's block",
		"nothing to do",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "error") || strings.Contains(stderr, "warning") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if _, err := os.Stat(e.file + hosts.BackupSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("backup made with nothing changed: %v", err)
	}
	if len(e.flushes) != 0 {
		t.Errorf("flushed %q with nothing changed", e.flushes)
	}
}

// TestHostsChangedMeanwhile: another program edits the file after banco read
// it; banco writes nothing and says to run again.
func TestHostsChangedMeanwhile(t *testing.T) {
	e := newHostsEnv(t, hostsBefore)
	other := hostsBefore + "10.0.0.2 meanwhile\n"
	writeHosts = func(f *hosts.File, b []byte) (hosts.WriteResult, error) {
		if err := os.WriteFile(e.file, []byte(other), 0o644); err != nil {
			t.Fatal(err)
		}
		return f.Write(b)
	}
	code, _, stderr := e.run("hosts", "add", "--file", e.file)
	if code != 1 || e.content() != other || len(e.flushes) > 0 {
		t.Fatalf("exit %d, file %q, flushes %q", code, e.content(), e.flushes)
	}
	for _, want := range []string{
		"banco: error: write hosts file " + e.file +
			": the file changed while banco was editing it",
		"banco: hint: nothing was written; run the command again",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestHostsAddIdempotent(t *testing.T) {
	e := newHostsEnv(t, hostsAfter)
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(e.file, old, old); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := e.run("hosts", "add", "--file", e.file, "banco.local", "--ip", "::1",
		"--ip", "127.0.0.1")
	if code != 0 || !strings.Contains(stderr, "already maps banco.local to ::1 127.0.0.1") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	fi, err := os.Stat(e.file)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(old) || e.content() != hostsAfter {
		t.Errorf("file touched: mtime %v (was %v)", fi.ModTime(), old)
	}
	if len(e.flushes) != 0 {
		t.Errorf("flushed %q with nothing changed", e.flushes)
	}
	if _, err := os.Stat(e.file + hosts.BackupSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("backup made with nothing changed: %v", err)
	}
}

func TestHostsDryRun(t *testing.T) {
	e := newHostsEnv(t, hostsBefore)
	code, stdout, stderr := e.run("hosts", "add", "--file", e.file, "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	for _, want := range []string{"--- " + e.file, "+# BEGIN banco", "+127.0.0.1 banco.local",
		"+::1 banco.local", "+# END banco", " 127.0.0.1 localhost"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("diff lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "dry run") || e.content() != hostsBefore || len(e.flushes) > 0 {
		t.Errorf("dry run changed something; stderr:\n%s", stderr)
	}
	if _, err := os.Stat(e.file + hosts.BackupSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dry run made a backup: %v", err)
	}
}

func TestHostsConflict(t *testing.T) {
	in := hostsBefore + "10.9.9.9 banco.local # lab\n"
	e := newHostsEnv(t, in)
	code, _, stderr := e.run("hosts", "add", "--file", e.file)
	if code != 1 || e.content() != in {
		t.Fatalf("exit %d, file %q, stderr:\n%s", code, e.content(), stderr)
	}
	for _, want := range []string{
		"banco: error: " + e.file + ": already mapped outside banco's block",
		`line 3 "10.9.9.9 banco.local # lab"`, "banco: hint:", "--force",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	code, _, stderr = e.run("hosts", "add", "--file", e.file, "--force", "--no-flush")
	if code != 0 || !strings.Contains(stderr, "warning: line 3 of "+e.file) {
		t.Fatalf("--force: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.HasPrefix(e.content(), in) || !strings.Contains(e.content(), "::1 banco.local\n") {
		t.Errorf("file after --force:\n%s", e.content())
	}
	if len(e.flushes) != 0 {
		t.Errorf("flushed despite --no-flush: %q", e.flushes)
	}

	// Once banco's block is there, a plain add has nothing to do; the other
	// line is still worth a warning, as resolvers may use it first.
	forced := e.content()
	code, _, stderr = e.run("hosts", "add", "--file", e.file, "--no-flush")
	if code != 0 || e.content() != forced || !strings.Contains(stderr, "nothing to do") ||
		!strings.Contains(stderr, "warning: line 3 of "+e.file+" maps banco.local to 10.9.9.9") {
		t.Errorf("add after --force: exit %d, stderr:\n%s", code, stderr)
	}
	if code, _, _ := e.run("hosts", "remove", "--file", e.file); code != 0 || e.content() != in {
		t.Errorf("remove: exit %d, file\n%q\nwant\n%q", code, e.content(), in)
	}
}

func TestHostsSymlink(t *testing.T) {
	e := newHostsEnv(t, hostsBefore)
	link := filepath.Join(e.dir, "link")
	if err := os.Symlink(e.file, link); err != nil {
		t.Skipf("no symbolic links: %v", err)
	}
	code, _, stderr := e.run("hosts", "add", "--file", link)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link replaced: %v %v", fi, err)
	}
	if e.content() != hostsAfter || !strings.Contains(stderr, "edited its target "+e.file) {
		t.Errorf("target:\n%s\nstderr:\n%s", e.content(), stderr)
	}
}

// TestHostsWriteErrors injects errors through the write seam: tests run as
// root here, which no file permission stops.
func TestHostsWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"permission", syscall.EACCES, []string{
			"banco: error: no permission to change ",
			"banco: hint: " + hosts.ElevateHint("banco hosts add api.local --ip 10.0.0.1 --file"),
		}},
		{"read-only file system", syscall.EROFS, []string{
			" is on a read-only file system", "banco: hint: remount it read-write",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == syscall.EROFS && !hosts.IsReadOnlyFS(syscall.EROFS) {
				t.Skip("EROFS is not this OS's read-only error")
			}
			e := newHostsEnv(t, hostsBefore)
			writeHosts = func(f *hosts.File, b []byte) (hosts.WriteResult, error) {
				pe := &fs.PathError{Op: "open", Path: f.Target, Err: tt.err}
				return hosts.WriteResult{}, fmt.Errorf("write hosts file %s: %w", f.Target, pe)
			}
			code, _, stderr := e.run("hosts", "add", "api.local", "--ip", "10.0.0.1",
				"--file", e.file)
			if code != 1 || e.content() != hostsBefore || len(e.flushes) > 0 {
				t.Fatalf("exit %d, file %q, flushes %q", code, e.content(), e.flushes)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if n := strings.Count(stderr, "banco: error:"); n != 1 {
				t.Errorf("%d error lines:\n%s", n, stderr)
			}
		})
	}
}

func TestHostsConfirm(t *testing.T) {
	tests := []struct {
		answer  string
		args    []string
		code    int
		written bool
	}{
		{"n\n", nil, 1, false},
		{"", nil, 1, false},
		{"y\n", nil, 0, true},
		{"yes\n", nil, 0, true},
		{"", []string{"--yes"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q%v", tt.answer, tt.args), func(t *testing.T) {
			e := newHostsEnv(t, hostsBefore)
			hostsPromptsOn = func(*App) bool { return true }
			e.in = tt.answer
			code, _, stderr := e.run(append([]string{"hosts", "add", "--file", e.file}, tt.args...)...)
			if code != tt.code || (e.content() == hostsAfter) != tt.written {
				t.Fatalf("exit %d, written %v; stderr:\n%s", code, e.content() == hostsAfter, stderr)
			}
			asked := strings.Contains(stderr, "Write this change to "+e.file+"? [y/N]")
			if asked == (len(tt.args) > 0) {
				t.Errorf("asked = %v; stderr:\n%s", asked, stderr)
			}
			if asked && !strings.Contains(stderr, "+127.0.0.1 banco.local") {
				t.Errorf("question without the diff:\n%s", stderr)
			}
			if !tt.written && !strings.Contains(stderr, "not confirmed; nothing written") {
				t.Errorf("stderr:\n%s", stderr)
			}
		})
	}
}

func TestHostsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		content string
		args    []string
		code    int
		want    string
	}{
		{"bad ip", hostsBefore, []string{"add", "--ip", "999.1.1.1"}, 2, `--ip "999.1.1.1" is not`},
		{"bad name", hostsBefore, []string{"add", "no_good!"}, 2, "is not allowed"},
		{"bad name list", hostsBefore, []string{"list", "a b"}, 2, "is not allowed"},
		{"utf16", "\xff\xfeh\x00", []string{"add"}, 1, "save the file as UTF-8"},
		{"damaged block", "# BEGIN banco\n", []string{"remove"}, 1, "repair or delete"},
		{"missing file", "", []string{"status", "--file", "/nonexistent/hosts"}, 1,
			"check the path given with --file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newHostsEnv(t, tt.content)
			args := append([]string{"hosts"}, tt.args...)
			if !slices.Contains(tt.args, "--file") {
				args = append(args, "--file", e.file)
			}
			code, _, stderr := e.run(args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d (want %d), stderr lacks %q:\n%s", code, tt.code, tt.want, stderr)
			}
			if e.content() != tt.content {
				t.Errorf("file changed to %q", e.content())
			}
		})
	}
}

func TestHostsList(t *testing.T) {
	e := newHostsEnv(t, hostsAfter+"10.1.1.1 banco.local other\n10.2.2.2 unrelated\n")
	code, stdout, stderr := e.run("hosts", "list", "--file", e.file)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	want := "banco.local\t127.0.0.1\t4\tbanco\nbanco.local\t::1\t5\tbanco\n" +
		"banco.local other\t10.1.1.1\t7\tother\n"
	if stdout != want {
		t.Errorf("list:\n%q\nwant\n%q", stdout, want)
	}

	code, stdout, _ = e.run("hosts", "list", "--file", e.file, "--json", "unrelated")
	var l hostsListing
	if err := json.Unmarshal([]byte(stdout), &l); code != 0 || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	if len(l.Managed) != 2 || len(l.Other) != 2 || l.Other[1].Addr != "10.2.2.2" || l.File != e.file {
		t.Errorf("--json: %+v", l)
	}

	e2 := newHostsEnv(t, hostsBefore)
	code, stdout, stderr = e2.run("hosts", "list", "--file", e2.file, "--json")
	if code != 0 || !strings.Contains(stdout, `"managed": []`) {
		t.Errorf("empty --json: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestHostsStatus(t *testing.T) {
	e := newHostsEnv(t, hostsAfter+"10.1.1.1 other.local\n")
	saved := lookupHost
	t.Cleanup(func() { lookupHost = saved })
	lookupHost = func(_ context.Context, name string) ([]string, error) {
		switch name {
		case "banco.local":
			return []string{"127.0.0.1", "0:0::1"}, nil
		case "other.local":
			return []string{"192.0.2.1"}, nil
		}
		return nil, errors.New("no such host")
	}
	code, stdout, stderr := e.run("hosts", "status", "--file", e.file, "--json",
		"banco.local", "other.local", "gone.local")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	var got []hostStatus
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, s := range got {
		states = append(states, s.Name+"="+s.State)
	}
	want := "banco.local=ok other.local=differs gone.local=missing"
	if strings.Join(states, " ") != want {
		t.Errorf("states %v, want %s", states, want)
	}

	// Without names: the names banco manages, looked up for real.
	lookupHost = saved
	code, stdout, stderr = e.run("hosts", "status", "--file", e.file)
	if code != 0 || !strings.HasPrefix(stdout, "banco.local\t127.0.0.1 ::1\t") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

func TestLocalNote(t *testing.T) {
	n := localNote([]string{"api.example", "banco.LOCAL"}, true)
	if !strings.Contains(n, "banco.LOCAL") || !strings.Contains(n, "multicast DNS") ||
		strings.Contains(n, "api.example") {
		t.Errorf("note: %q", n)
	}
	if n := localNote([]string{"banco.local"}, false); n != "" {
		t.Errorf("note without mDNS: %q", n)
	}
	if n := localNote([]string{"api.example"}, true); n != "" {
		t.Errorf("note without .local names: %q", n)
	}
}

func TestHostsHelp(t *testing.T) {
	e := newHostsEnv(t, "")
	code, stdout, _ := e.run("hosts", "add", "--help")
	for _, want := range []string{"--dry-run", "--yes", "--file", "--ip", "--force", "--no-flush",
		"$ sudo banco hosts add"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	code, stdout, _ = e.run("hosts", "--help")
	for _, want := range []string{"hosts.banco.prev", "hosts.banco.bak", "is not atomic",
		"part new, part old content"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("hosts help lacks %q:\n%s", want, stdout)
		}
	}
}
