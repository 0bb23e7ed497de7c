//go:build !windows

package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/banco/banco/ca"
)

func TestInitPermissionsUmask0(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	home := initHome(t)
	if _, stderr, code := bancoRun(t, pwEnv(), "--home", home, "enroll", "server"); code != 0 {
		t.Fatalf("enroll: %s", stderr)
	}
	for p, want := range map[string]os.FileMode{
		"ca": 0o700, "ca/db": 0o700, "ca/root_ca.key": 0o600, "ca/intermediate_ca.key": 0o600,
		"ca/ca.json": 0o600, "server": 0o700, "server/server.key": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(home, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
	}
}

// TestPasswordPromptOnTerminal runs banco as a real process on a pseudo
// terminal (through util-linux script), so the prompt path is the real one.
func TestPasswordPromptOnTerminal(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("needs the script command (util-linux) for a pseudo terminal")
	}
	banco, err := exec.LookPath("banco") // put on PATH by TestMain (testscript)
	if err != nil {
		t.Skip("banco is not on PATH")
	}
	run := func(home, input string, args ...string) (string, error) {
		line := banco + " --home " + home + " " + strings.Join(args, " ")
		cmd := exec.Command(scriptBin, "-qec", line, "/dev/null")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TERM=dumb"}
		cmd.Stdin = strings.NewReader(input)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	home := t.TempDir()
	out, err := run(home, "prompt pass 1\nprompt pass 2\n", "init")
	if err == nil || !strings.Contains(out, "the two passwords differ") {
		t.Fatalf("different passwords: %v\n%s", err, out)
	}
	if ca.Exists(filepath.Join(home, "ca")) {
		t.Fatal("a CA was made although the passwords differed")
	}
	out, err = run(home, "prompt pass 1\nprompt pass 1\n", "init")
	if err != nil || !strings.Contains(out, "Repeat the CA password") {
		t.Fatalf("init on a terminal: %v\n%s", err, out)
	}
	// Echo is not checked: the input reaches the terminal before banco turns
	// echo off, so the terminal itself echoes it.
	a, err := ca.Open(filepath.Join(home, "ca"), []byte("prompt pass 1"))
	if err != nil {
		t.Fatalf("the CA does not open with the typed password: %v", err)
	}
	a.Close()
	out, err = run(home, "not the password\n", "enroll", "server")
	if err == nil || !strings.Contains(out, "wrong password") {
		t.Errorf("wrong password on a terminal: %v\n%s", err, out)
	}
}

// TestPasswordFileOpenToOthers: only a regular file gets the advice to chmod
// it; a pipe or a device is open to others by nature, and chmod on /dev/null
// would harm the system.
func TestPasswordFileOpenToOthers(t *testing.T) {
	dir := t.TempDir()
	file, fifo := filepath.Join(dir, "pw"), filepath.Join(dir, "pw.fifo")
	if err := os.WriteFile(file, []byte(testCAPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, fifo} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	go func() { _ = os.WriteFile(fifo, []byte(testCAPassword), 0) }()

	for _, tt := range []struct {
		file string
		warn bool
	}{{file, true}, {fifo, false}, {"/dev/null", false}} {
		_, stderr, _ := bancoRun(t, nil, "--home", t.TempDir(), "init", "--password-file",
			tt.file)
		want := "banco: warning: password file " + tt.file + " can be read by others; " +
			"run: chmod 600 " + tt.file + "\n"
		if strings.Contains(stderr, want) != tt.warn {
			t.Errorf("--password-file %s: warned %v, want %v:\n%s", tt.file, !tt.warn, tt.warn,
				stderr)
		}
	}
}
