// Package cmd holds banco's command line: flags, prompts, output and exit codes.
//
// House rules for this package:
//   - stdout carries results only (paths, tables, JSON); messages for people go
//     to stderr. Everything is written through App.Out and App.Err.
//   - Errors reach the user once, from Main, as "banco: error: ..." followed by
//     optional "banco: hint: ..." lines.
//   - Exit codes: 0 success, 1 failure, 2 usage error.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// App carries what every command needs from the outside world, so that tests
// can run commands in-process with their own streams, environment and clock.
type App struct {
	In       io.Reader
	Out, Err io.Writer
	Getenv   func(string) string
	Now      func() time.Time

	// Set by persistent flags.
	homeFlag string
	verbose  bool
}

// NewApp returns an App wired to the process's streams and environment.
func NewApp() *App {
	return &App{
		In:     os.Stdin,
		Out:    os.Stdout,
		Err:    os.Stderr,
		Getenv: os.Getenv,
		Now:    time.Now,
	}
}

// Main runs banco with os.Args and returns the process exit code.
func Main(a *App) int {
	return a.Run(os.Args[1:])
}

// Run runs banco with args and returns the exit code.
func (a *App) Run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root := a.newRootCmd()
	root.SetArgs(args)
	root.SetIn(a.In)
	root.SetOut(a.Out)
	root.SetErr(a.Err)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	return a.report(cmd, err)
}

func (a *App) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "banco",
		Short: "A bank with its own certificate authority, over mutual TLS",
		Long: `banco runs a small bank over mutual TLS, where every party holds a
certificate from the bank's own certificate authority.

Exit codes: 0 success, 1 failure, 2 usage error.

Files live in --home, else $BANCO_HOME, else a "banco" folder in the user's
configuration directory.`,
		Example: `  $ banco init
  $ banco enroll server
  $ banco enroll client alice
  $ banco serve &
  $ banco deposit 100 --connect-to 127.0.0.1:8443`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// With Args set, cobra leaves an unknown command to unknownCommand
		// rather than reporting it as a multi-line error of its own; RunE
		// makes the root runnable, or cobra would print help before Args.
		Args:                       unknownCommand,
		SuggestionsMinimumDistance: 2,
		RunE:                       func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	root.PersistentFlags().StringVar(&a.homeFlag, "home", "",
		"banco's folder (default $BANCO_HOME, else the user's config folder)")
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false,
		"print more detail on stderr (also BANCO_DEBUG=1)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v", err)
	})

	for _, c := range a.commands() {
		root.AddCommand(c)
	}
	return root
}

// Home returns banco's folder: --home, else $BANCO_HOME, else <config>/banco.
func (a *App) Home() (Home, error) {
	if a.homeFlag != "" {
		return Home(a.homeFlag), nil
	}
	if h := a.Getenv("BANCO_HOME"); h != "" {
		return Home(h), nil
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return "", withHint(fmt.Errorf("find banco's folder: %w", err),
			"pass --home DIR or set BANCO_HOME")
	}
	return Home(filepath.Join(cfg, "banco")), nil
}

// Verbose reports whether the user asked for more detail.
func (a *App) Verbose() bool {
	return a.verbose || a.Getenv("BANCO_DEBUG") == "1"
}

// Debugf prints a detail line on stderr when verbose output is on.
func (a *App) Debugf(format string, args ...any) {
	if a.Verbose() {
		fmt.Fprintf(a.Err, "banco: debug: "+format+"\n", args...)
	}
}

// Infof prints a message for people on stderr.
func (a *App) Infof(format string, args ...any) {
	fmt.Fprintf(a.Err, format+"\n", args...)
}

// IsTerminal reports whether w is a terminal, for TTY-aware output.
func IsTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// usageError is a mistake in how a command was called: it is printed with the
// command's usage line and exits with code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// hintError adds advice on what to do next to an error.
type hintError struct {
	err   error
	hints []string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// withHint attaches one or more "banco: hint:" lines to err.
func withHint(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hints: hints}
}

// exitError carries an exit code with no message of its own, for commands
// that have already printed their findings (ledger verify, bench).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func (a *App) report(cmd *cobra.Command, err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(a.Err, "banco: interrupted")
		return 1
	}
	fmt.Fprintf(a.Err, "banco: error: %s\n", oneLine(err.Error()))
	var he *hintError
	if errors.As(err, &he) {
		for _, h := range he.hints {
			fmt.Fprintf(a.Err, "banco: hint: %s\n", h)
		}
	}
	var ue *usageError
	if errors.As(err, &ue) {
		if cmd != nil {
			fmt.Fprintf(a.Err, "usage: %s\n", cmd.UseLine())
			fmt.Fprintf(a.Err, "run '%s --help' for more\n", cmd.CommandPath())
		}
		return 2
	}
	return 1
}

// unknownCommand reports the first word after banco that names no command,
// with the commands it may be a typo of.
func unknownCommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	err := usageErrorf("unknown command %q", args[0])
	var names []string
	for _, s := range c.SuggestionsFor(args[0]) {
		names = append(names, c.CommandPath()+" "+s)
	}
	if len(names) == 0 {
		return err
	}
	return withHint(err, "did you mean "+strings.Join(names, " or ")+"?")
}

// oneLine keeps an error message to one line on the terminal.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}
