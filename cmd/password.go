package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/banco/banco/internal/secfile"
)

// The CA password comes, in this order, from --password-file, from the
// BANCO_PASSWORD variable, or from a prompt when stdin is a terminal. It is
// never taken as a flag value: that would leave it in the shell history and
// in the process list.

// MinPasswordLen is the shortest password banco init accepts.
const MinPasswordLen = 8

const passwordEnv = "BANCO_PASSWORD"

func addPasswordFileFlag(c *cobra.Command, file *string) {
	c.Flags().StringVar(file, "password-file", "",
		"read the CA password from FILE (else $"+passwordEnv+", else a prompt)")
}

// secretSpec says where a password may come from and what it protects.
type secretSpec struct {
	what    string // "CA password", "PKCS#12 password"
	file    string // --password-file
	env     string // variable to read
	confirm bool   // a new password: ask twice and apply the length rule
	hint    string // how to do without a password, if there is a way
}

func noPasswordError(s secretSpec) error {
	return withHint(fmt.Errorf("the %s is needed and there is no terminal to ask for it", s.what),
		"give it with --password-file FILE, or in the "+s.env+" variable, "+
			"or run banco in a terminal to be asked")
}

// readPassword gets the CA password. confirm asks twice on a terminal and
// applies the rules for a new password.
func (a *App) readPassword(file string, confirm bool) ([]byte, error) {
	return a.readSecret(secretSpec{what: "CA password", file: file, env: passwordEnv,
		confirm: confirm, hint: "or pass --insecure-no-password to banco init for an " +
			"unencrypted CA (not for real use)"})
}

func (a *App) readSecret(s secretSpec) ([]byte, error) {
	pw, err := a.passwordFromSources(s)
	if err != nil {
		return nil, err
	}
	if pw == nil {
		pw, err = a.promptPassword(s)
		if err != nil {
			return nil, err
		}
	}
	if len(pw) == 0 {
		return nil, withHint(fmt.Errorf("the %s is empty", s.what),
			strings.TrimSpace("choose a password "+s.hint))
	}
	if s.confirm && len([]rune(string(pw))) < MinPasswordLen {
		return nil, withHint(fmt.Errorf("the %s is shorter than %d characters", s.what,
			MinPasswordLen), "choose a longer password")
	}
	return pw, nil
}

// passwordFromSources returns nil, nil when neither source is set.
func (a *App) passwordFromSources(s secretSpec) ([]byte, error) {
	if s.file != "" {
		b, err := os.ReadFile(s.file)
		if err != nil {
			return nil, withHint(fmt.Errorf("read password file: %w", err),
				"check the path given to --password-file")
		}
		// Only a regular file can be made private with chmod: /dev/stdin, a
		// pipe or a device is open to others by nature, not by mistake.
		var pe *secfile.PermError
		fi, err := os.Stat(s.file)
		if err == nil && fi.Mode().IsRegular() && errors.As(secfile.CheckPrivate(s.file), &pe) {
			a.Infof("banco: warning: password file %s can be read by others; "+
				"run: chmod 600 %s", s.file, s.file)
		}
		return trimNewline(b), nil
	}
	if v := a.Getenv(s.env); v != "" {
		return []byte(v), nil
	}
	return nil, nil
}

// trimNewline removes one trailing line ending, which editors and echo add.
func trimNewline(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

func (a *App) promptPassword(s secretSpec) ([]byte, error) {
	f, ok := a.In.(*os.File)
	if !ok || !IsTerminal(f) {
		return nil, noPasswordError(s)
	}
	prompt := s.what + ": "
	if s.confirm {
		prompt = fmt.Sprintf("New %s (at least %d characters): ", s.what, MinPasswordLen)
	}
	pw, err := a.readLine(f, prompt)
	if err != nil || !s.confirm {
		return pw, err
	}
	again, err := a.readLine(f, "Repeat the "+s.what+": ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		return nil, errors.New("the two passwords differ; nothing was written")
	}
	return pw, nil
}

func (a *App) readLine(f *os.File, prompt string) ([]byte, error) {
	fmt.Fprint(a.Err, prompt)
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.Err)
	if err != nil {
		return nil, fmt.Errorf("read password from the terminal: %w", err)
	}
	return pw, nil
}
