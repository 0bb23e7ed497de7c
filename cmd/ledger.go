package cmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/banco/banco/ledger"
)

func newLedgerCmd(a *App) *cobra.Command {
	c := &cobra.Command{
		Use:   "ledger",
		Short: "Inspect the bank's ledger (server side)",
		Long: `Commands that work on the bank's ledger database directly, on the
machine that runs banco serve.`,
		Args: noArgs,
	}
	c.AddCommand(newLedgerVerifyCmd(a))
	return c
}

type ledgerVerifyOptions struct {
	db   string
	json bool
}

func newLedgerVerifyCmd(a *App) *cobra.Command {
	o := &ledgerVerifyOptions{}
	c := &cobra.Command{
		Use:   "verify",
		Short: "Recompute every balance from the journal and check the invariants",
		Long: `Verify recomputes every account's balance from the journal and checks
that the ledger's invariants hold: all balances, the bank's cash account
included, sum to zero; each stored balance equals the sum of its journal
entries; no customer balance is negative or above the maximum; every journal
entry has the idempotency record that caused it.

It reads one consistent snapshot and may run while banco serve is running.

Exit codes: 0 every invariant holds, 1 one is broken (or the ledger cannot
be read), 2 usage error.`,
		Example: `  $ banco ledger verify
  $ banco ledger verify --db /srv/banco/bank.db --json
  $ banco ledger verify --db postgres://banco@db.example/bank`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runLedgerVerify(c, o)
		},
	}
	c.Flags().StringVar(&o.db, "db", "",
		"the ledger: a SQLite file or a postgres:// URL (default bank.db in banco's folder)")
	c.Flags().BoolVar(&o.json, "json", false, "print the report as JSON")
	return c
}

func (a *App) runLedgerVerify(c *cobra.Command, o *ledgerVerifyOptions) error {
	dsn := o.db
	if dsn == "" {
		home, err := a.Home()
		if err != nil {
			return err
		}
		dsn = home.LedgerDB()
	}
	a.Debugf("verifying ledger %s", dsnForPeople(dsn))
	store, err := ledger.Open(c.Context(), dsn, ledger.Options{MustExist: true})
	if errors.Is(err, fs.ErrNotExist) {
		return withHint(err, "pass --db with the ledger's path, "+
			"or run 'banco serve' once to create one")
	}
	if errors.Is(err, ledger.ErrNotLedger) {
		return withHint(err, "check --db: it must name the database banco serve uses")
	}
	if errors.Is(err, ledger.ErrSchemaTooOld) {
		return withHint(err, "start banco serve on it once, then verify it")
	}
	if err != nil {
		return ledgerOpenError(err)
	}
	rep, err := store.Verify(c.Context())
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	if o.json {
		err = printJSON(a.Out, verifyJSON{Ledger: dsnForPeople(dsn), Accounts: rep.Accounts,
			Entries: rep.Entries, Total: rep.Total.String(), OK: len(rep.Problems) == 0,
			Problems: rep.Problems})
	} else {
		err = printVerifyReport(a.Out, dsnForPeople(dsn), rep)
	}
	if err != nil {
		return err
	}
	if len(rep.Problems) > 0 {
		a.Infof("banco: ledger verify: %d invariant(s) broken", len(rep.Problems))
		return &exitError{code: 1}
	}
	return nil
}

// verifyJSON is the report of --json. Amounts are decimal strings, as in
// every other JSON banco prints, not the ledger's cents.
type verifyJSON struct {
	Ledger   string           `json:"ledger"`
	Accounts int              `json:"accounts"`
	Entries  int64            `json:"entries"`
	Total    string           `json:"total"`
	OK       bool             `json:"ok"`
	Problems []ledger.Problem `json:"problems"`
}

func printVerifyReport(w io.Writer, where string, rep ledger.Report) error {
	_, err := fmt.Fprintf(w, "ledger:   %s\naccounts: %d (cash included)\n"+
		"entries:  %d\ntotal:    %s\n", where, rep.Accounts, rep.Entries, rep.Total)
	if err != nil {
		return err
	}
	if len(rep.Problems) == 0 {
		_, err := fmt.Fprintln(w, "ok: every invariant holds")
		return err
	}
	for _, p := range rep.Problems {
		acc := p.Account
		if acc == "" {
			acc = "(ledger)"
		}
		if _, err := fmt.Fprintf(w, "BROKEN: %s: %s\n", acc, p.What); err != nil {
			return err
		}
	}
	return nil
}

// ledgerOpenError adds to an error of ledger.Open the hint that fits it, for
// every command that opens a ledger (ledger verify, serve).
func ledgerOpenError(err error) error {
	switch {
	case errors.Is(err, ledger.ErrBadDSN):
		return withHint(err, "--db takes a SQLite file path (such as /srv/banco/bank.db) or "+
			"a URL such as postgres://USER@HOST:5432/DATABASE?search_path=SCHEMA")
	case errors.Is(err, ledger.ErrUnreachable):
		return withHint(err, "check that PostgreSQL runs and accepts connections there, "+
			"and that the URL's user, password and database are right")
	case errors.Is(err, ledger.ErrNotLedger):
		return withHint(err, "check --db, or give banco a database of its own")
	case errors.Is(err, ledger.ErrSchemaTooNew):
		return withHint(err, "use the banco that wrote it, or a newer one")
	}
	return err
}

// dsnForPeople hides a password in a PostgreSQL URL.
func dsnForPeople(dsn string) string {
	if ledger.IsPostgres(dsn) {
		return ledger.Redact(dsn)
	}
	return dsn
}
