package cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/banco/banco/bankcli"
	"github.com/banco/banco/banksrv/api"
	"github.com/banco/banco/internal/identity"
	"github.com/banco/banco/internal/secfile"
	"github.com/banco/banco/ledger"
)

// bankOptions are the flags every client command shares.
type bankOptions struct {
	server    string
	connectTo string
	client    string
	cert      string
	key       string
	cacert    string
	json      bool

	flags *pflag.FlagSet // as parsed, to repeat the user's flags in advice
}

func (o *bankOptions) bind(c *cobra.Command) {
	f := c.Flags()
	o.flags = f
	f.StringVar(&o.server, "server", "",
		"the bank's URL (default $BANCO_SERVER, else "+bankcli.DefaultServer+")")
	f.StringVar(&o.connectTo, "connect-to", "",
		"dial HOST:PORT instead, still checking the server's name from --server "+
			"(default $BANCO_CONNECT_TO)")
	f.StringVar(&o.client, "client", "",
		"the enrolled customer to act as (default $BANCO_CLIENT, else the only one)")
	f.StringVar(&o.cert, "cert", "", "client certificate (default clients/NAME/client.crt)")
	f.StringVar(&o.key, "key", "",
		"client private key (default client.key beside --cert, else clients/NAME/client.key)")
	f.StringVar(&o.cacert, "cacert", "",
		"the bank's root CA (default root_ca.crt beside --cert, else clients/NAME/root_ca.crt)")
	f.BoolVar(&o.json, "json", false, "print the server's answer as JSON")
}

const bankFlagsHelp = `
The customer is the one enrolled with 'banco enroll client NAME': --client
NAME, else $BANCO_CLIENT, else the only folder in banco's clients folder.
--connect-to 127.0.0.1:8443 (or $BANCO_CONNECT_TO) reaches the server by
address while still checking that its certificate is for banco.local, so
the hosts file needs no entry.`

func newBankCmds(a *App) []*cobra.Command {
	return []*cobra.Command{
		newBalanceCmd(a),
		newMoveCmd(a, ledger.Deposit),
		newMoveCmd(a, ledger.Withdraw),
		newMoveCmd(a, ledger.Transfer),
		newHistoryCmd(a),
	}
}

func newBalanceCmd(a *App) *cobra.Command {
	o := &bankOptions{}
	c := &cobra.Command{
		Use:     "balance",
		Short:   "Show the customer's balance",
		Long:    "Show the customer's balance." + bankFlagsHelp,
		Example: "  $ banco balance --connect-to 127.0.0.1:8443\n  balance 100.00",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return a.runBalance(c.Context(), o)
		},
	}
	o.bind(c)
	return c
}

func (a *App) runBalance(ctx context.Context, o *bankOptions) error {
	cl, err := a.bankClient(o)
	if err != nil {
		return err
	}
	defer cl.Close()
	b, err := cl.Balance(ctx)
	if err != nil {
		return a.bankError(err, o)
	}
	if o.json {
		return printJSON(a.Out, b)
	}
	_, err = fmt.Fprintf(a.Out, "balance %s\n", b.Balance)
	return err
}

type moveOptions struct {
	bankOptions
	to  string
	key string
}

var moveHelp = map[ledger.Kind]struct{ short, example, done string }{
	ledger.Deposit: {"Put money into the customer's account",
		"  $ banco deposit 100\n  deposited 100.00; balance 100.00", "deposited %s"},
	ledger.Withdraw: {"Take money out of the customer's account",
		"  $ banco withdraw 12.50\n  withdrew 12.50; balance 87.50", "withdrew %s"},
	ledger.Transfer: {"Move money to another customer's account",
		"  $ banco transfer 20 --to bob\n  transferred 20.00 to bob; balance 67.50",
		"transferred %s"},
}

func newMoveCmd(a *App, kind ledger.Kind) *cobra.Command {
	o := &moveOptions{}
	h := moveHelp[kind]
	c := &cobra.Command{
		Use:   string(kind) + " AMOUNT",
		Short: h.short,
		Long: h.short + `. AMOUNT is a positive number with at most two
decimals, such as 100 or 12.50. The request carries a random idempotency key,
kept across retries, so it is applied once even if sent twice. When no
answer comes back, the error shows the key: run the same command again with
--idempotency-key KEY, and the bank applies it at most once.` + bankFlagsHelp,
		Example: h.example,
		Args:    oneArg("AMOUNT", "an AMOUNT, such as 12.50"),
		RunE: func(c *cobra.Command, args []string) error {
			return a.runMove(c.Context(), kind, o, args[0])
		},
	}
	o.bind(c)
	c.SetFlagErrorFunc(negativeAmountError)
	c.Flags().StringVar(&o.key, "idempotency-key", "",
		"send under this key (from an earlier try whose answer was lost); default a new one")
	if kind == ledger.Transfer {
		c.Flags().StringVar(&o.to, "to", "", "the customer who receives the money (required)")
	}
	return c
}

// negativeAmountError reports "banco withdraw -5" as the invalid amount it
// is, rather than as the unknown flag -5 the flag parser sees.
func negativeAmountError(c *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if errors.As(err, &ne) {
		if s := ne.GetSpecifiedShortnames(); s != "" && s[0] >= '0' && s[0] <= '9' {
			_, aerr := ledger.ParseAmount("-" + s)
			return withHint(usageErrorf("%v", aerr),
				"an amount is positive; to take money out, use banco withdraw")
		}
	}
	return usageErrorf("%v", err)
}

func (a *App) runMove(ctx context.Context, kind ledger.Kind, o *moveOptions, arg string) error {
	amount, err := ledger.ParseAmount(arg)
	if err != nil {
		return withHint(usageErrorf("%v", err), amountHints(arg)...)
	}
	if kind == ledger.Transfer {
		if o.to == "" {
			return usageErrorf("transfer needs the recipient: --to NAME")
		}
		if err := identity.CheckName(o.to); err != nil {
			return usageErrorf("--to: %v", err)
		}
	}
	cl, err := a.bankClient(&o.bankOptions)
	if err != nil {
		return err
	}
	defer cl.Close()

	key := o.key
	if key == "" {
		key = bankcli.NewKey()
	}
	a.Debugf("idempotency key %s", key)
	var m api.Movement
	switch kind {
	case ledger.Deposit:
		m, err = cl.Deposit(ctx, amount, key)
	case ledger.Withdraw:
		m, err = cl.Withdraw(ctx, amount, key)
	case ledger.Transfer:
		m, err = cl.Transfer(ctx, amount, o.to, key)
	}
	if err != nil {
		return a.moveError(err, kind, arg, o)
	}
	if o.json {
		return printJSON(a.Out, m)
	}
	line := fmt.Sprintf(moveHelp[kind].done, m.Amount)
	if kind == ledger.Transfer {
		line += " to " + m.To
	}
	if _, err := fmt.Fprintf(a.Out, "%s; balance %s\n", line, m.Balance); err != nil {
		return err
	}
	if m.Replayed {
		a.Infof("already applied under idempotency key %s: nothing moved again; "+
			"this is the bank's first answer", key)
	}
	return nil
}

// moveError is bankError for a money request, which adds, when the request
// may have been applied without an answer, how to send it again safely.
func (a *App) moveError(err error, kind ledger.Kind, amount string, o *moveOptions) error {
	var ue *bankcli.UncertainError
	if !errors.As(err, &ue) {
		return a.bankError(err, &o.bankOptions)
	}
	target := targetFlags(&o.bankOptions)
	again := append([]string{"banco", string(kind), amount}, target...)
	if kind == ledger.Transfer {
		again = append(again, "--to", o.to)
	}
	again = append(again, "--idempotency-key", ue.Key)
	hints := []string{
		"the bank may have applied it; see with: " +
			shellJoin(append([]string{"banco", "history"}, target...)),
		"send it again safely (applied at most once): " + shellJoin(again),
	}
	err = a.bankError(ue.Err, &o.bankOptions)
	var he *hintError
	if errors.As(err, &he) {
		return withHint(he.err, append(he.hints, hints...)...)
	}
	return withHint(err, hints...)
}

// targetFlags repeats the flags that say which bank a request went to and as
// whom, so that a command built from them goes to the same place: each the
// user gave, and the customer however it was chosen. The extra flags are
// repeated too, when the user gave them.
func targetFlags(o *bankOptions, extra ...string) []string {
	var words []string
	for _, name := range append([]string{"home", "server", "connect-to", "client", "cert",
		"key", "cacert"}, extra...) {
		switch {
		case name == "client" && o.client != "":
			words = append(words, "--client", o.client)
		case name != "client" && o.flags != nil && o.flags.Changed(name):
			words = append(words, "--"+name, o.flags.Lookup(name).Value.String())
		}
	}
	return words
}

type historyOptions struct {
	bankOptions
	limit    int
	limitSet bool   // --limit was given, so 0 is a mistake, not the default
	before   string // an entry id, checked by runHistory to explain a mistake
}

func newHistoryCmd(a *App) *cobra.Command {
	o := &historyOptions{}
	c := &cobra.Command{
		Use:   "history",
		Short: "List the customer's entries, newest first, with running balance",
		Long: `List the customer's entries, newest first, with the balance after each.
When there are older entries, the command says which --before cursor shows
the next page.` + bankFlagsHelp,
		Example: "  $ banco history --limit 10\n  $ banco history --before 42 --json",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.limitSet = c.Flags().Changed("limit")
			return a.runHistory(c.Context(), o)
		},
	}
	o.bind(c)
	c.Flags().IntVar(&o.limit, "limit", 0,
		fmt.Sprintf("at most this many entries (default %d, at most %d)",
			ledger.DefaultHistoryLimit, ledger.MaxHistoryLimit))
	c.Flags().StringVar(&o.before, "before", "",
		"only entries older than this entry id (as 'banco history' prints it)")
	return c
}

func (a *App) runHistory(ctx context.Context, o *historyOptions) error {
	if o.limit < 0 || o.limit > ledger.MaxHistoryLimit || o.limitSet && o.limit == 0 {
		return usageErrorf("--limit must be from 1 to %d", ledger.MaxHistoryLimit)
	}
	var before int64
	if o.before != "" {
		n, err := strconv.ParseInt(o.before, 10, 64)
		if err != nil || n < 0 {
			return usageErrorf("--before %q: want an entry number as printed by a previous "+
				"'banco history' (its id column, or the --before it suggests)", o.before)
		}
		before = n
	}
	cl, err := a.bankClient(&o.bankOptions)
	if err != nil {
		return err
	}
	defer cl.Close()
	h, err := cl.History(ctx, o.limit, before)
	if err != nil {
		return a.bankError(err, &o.bankOptions)
	}
	if o.json {
		return printJSON(a.Out, h)
	}
	if len(h.Lines) == 0 {
		a.Infof("no entries")
		return nil
	}
	rows := make([][]string, 0, len(h.Lines))
	for _, l := range h.Lines {
		rows = append(rows, []string{fmt.Sprint(l.ID), l.Time.UTC().Format("2006-01-02 15:04:05"),
			l.Kind, l.From, l.To, l.Delta, l.Balance})
	}
	err = renderTable(a.Out, []string{"id", "UTC time", "kind", "from", "to", "amount",
		"balance"}, rows)
	if err == nil && h.Next != 0 {
		next := append([]string{"banco", "history"}, targetFlags(&o.bankOptions, "limit")...)
		a.Infof("older entries: %s", shellJoin(append(next, "--before", fmt.Sprint(h.Next))))
	}
	return err
}

// bankClient builds the client from the flags, the environment and banco's
// folder.
func (a *App) bankClient(o *bankOptions) (*bankcli.Client, error) {
	if o.cert != "" {
		if err := besideCert(o); err != nil {
			return nil, err
		}
	}
	if o.cert == "" || o.key == "" || o.cacert == "" {
		dir, err := a.clientDir(o)
		if err != nil {
			return nil, err
		}
		for _, d := range []struct {
			v    *string
			file string
		}{{&o.cert, ClientCertFile}, {&o.key, ClientKeyFile}, {&o.cacert, RootCertFile}} {
			if *d.v == "" {
				*d.v = filepath.Join(dir, d.file)
			}
		}
	}
	server := firstOf(o.server, a.Getenv("BANCO_SERVER"))
	connectTo := firstOf(o.connectTo, a.Getenv("BANCO_CONNECT_TO"))
	a.Debugf("server %s, connect to %q, certificate %s", server, connectTo, o.cert)
	cl, err := bankcli.New(bankcli.Config{
		Server: server, ConnectTo: connectTo,
		CertFile: o.cert, KeyFile: o.key, CAFile: o.cacert,
		Now: a.Now,
	})
	if err != nil {
		return nil, a.bankError(err, o)
	}
	return cl, nil
}

// besideCert fills in --key and --cacert, when not given, with the files
// banco enroll writes beside the certificate given with --cert; without them
// the customer's folder would be searched, which may hold another customer.
func besideCert(o *bankOptions) error {
	dir := filepath.Dir(o.cert)
	var flags, files []string
	for _, d := range []struct {
		v          *string
		flag, file string
	}{{&o.key, "--key", ClientKeyFile}, {&o.cacert, "--cacert", RootCertFile}} {
		if *d.v != "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, d.file)); err != nil {
			flags, files = append(flags, d.flag), append(files, d.file)
			continue
		}
		*d.v = filepath.Join(dir, d.file)
	}
	if len(flags) > 0 {
		return withHint(usageErrorf("--cert %s also needs %s: there is no %s beside it",
			o.cert, strings.Join(flags, " and "), strings.Join(files, " or ")),
			"name the files: --cert FILE --key FILE --cacert FILE",
			"or leave out --cert to use an enrolled customer's files: --client NAME")
	}
	return nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// clientDir finds the enrolled customer's folder: --client, $BANCO_CLIENT, or
// the only folder in the clients folder.
func (a *App) clientDir(o *bankOptions) (string, error) {
	home, err := a.Home()
	if err != nil {
		return "", err
	}
	if o.client == "" {
		o.client = a.Getenv("BANCO_CLIENT")
	}
	if o.client != "" {
		if err := identity.CheckName(o.client); err != nil {
			return "", usageErrorf("--client: %v", err)
		}
		return home.ClientDir(o.client), nil
	}
	entries, err := os.ReadDir(home.ClientsDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("list enrolled clients: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	switch len(names) {
	case 0:
		return "", withHint(fmt.Errorf("no client is enrolled in %s", home.ClientsDir()),
			"enroll one: banco enroll client NAME",
			"or name the files: --cert FILE --key FILE --cacert FILE")
	case 1:
		o.client = names[0]
		return home.ClientDir(names[0]), nil
	}
	slices.Sort(names)
	return "", withHint(fmt.Errorf("several clients are enrolled (%s)", strings.Join(names, ", ")),
		"choose one: --client NAME, or set BANCO_CLIENT")
}

// bankError adds to a client error the advice on what to do next.
func (a *App) bankError(err error, o *bankOptions) error {
	who := o.client
	if who == "" {
		who = "NAME"
	}
	enroll := "banco enroll client " + who
	var (
		fe   *bankcli.FileError
		pe   *secfile.PermError
		ee   *bankcli.ExpiredError
		ue   *bankcli.UsageError
		unr  *bankcli.UnreachableError
		res  *bankcli.ResolveError
		sce  *bankcli.ServerCertError
		cre  *bankcli.CertRefusedError
		tlse *bankcli.TLSError
		hse  *bankcli.HandshakeError
		apie *bankcli.APIError
	)
	switch {
	case errors.As(err, &pe):
		return withHint(err, "make it private: chmod 600 "+pe.Path)
	case errors.As(err, &fe):
		return withHint(err, "create it with: "+enroll, "or name it with --cert, --key, --cacert")
	case errors.As(err, &ee) && ee.Whose == "server":
		return withHint(err, "the bank must renew its certificate: banco enroll server --force, "+
			"then restart banco serve")
	case errors.As(err, &ee):
		return withHint(err, "get a new certificate: "+enroll+" --force")
	case errors.As(err, &ue):
		return withHint(err, "use the client certificate from: "+enroll)
	case errors.As(err, &res):
		return withHint(err, "make it resolve: sudo banco hosts add",
			"or connect by address: --connect-to 127.0.0.1:8443 (or set BANCO_CONNECT_TO)")
	case errors.As(err, &unr):
		return withHint(err, "is the bank running? start it with: banco serve",
			"check --server and --connect-to")
	case errors.As(err, &sce):
		return withHint(err, "--cacert must be the bank's root (root_ca.crt from "+enroll+
			"), and --server must use a name in the server's certificate")
	case errors.As(err, &cre) && cre.MaybeRevoked:
		return withHint(err, "see what the certificate holds: banco inspect "+shellQuote(o.cert),
			"if it looks right, ask the bank whether it was revoked "+
				"(then you need a new certificate)")
	case errors.As(err, &cre) && cre.Unsure:
		return withHint(err, "if the bank is running, check that the certificate is from "+
			"its CA and not revoked: banco inspect "+shellQuote(o.cert))
	case errors.As(err, &cre):
		return withHint(err, "use a valid client certificate from this bank's CA: "+enroll)
	case errors.As(err, &tlse):
		return withHint(err, "check that --server and --connect-to reach banco serve, "+
			"not another server or a proxy")
	case errors.As(err, &hse):
		return withHint(err, "the request was not sent, so nothing changed",
			"check that --server and --connect-to reach banco serve, "+
				"not another server or a proxy")
	case errors.As(err, &apie):
		return apiHint(apie)
	}
	return err
}

func apiHint(e *bankcli.APIError) error {
	switch e.Code {
	case api.CodeInsufficientFunds:
		return withHint(e, "see what you have: banco balance")
	case api.CodeInvalidAmount:
		return withHint(e, "write the amount as digits with at most 2 decimals, such as 12.50")
	case api.CodeNoSuchAccount:
		return withHint(e, "check the name; an account opens on its customer's first request")
	case api.CodeKeyConflict:
		return withHint(e, "to make a new request, leave out --idempotency-key or use a new key",
			"to repeat the first request, send it with exactly the same amount and arguments")
	case api.CodeInternal:
		return withHint(e, "the bank's log has the details under request id "+e.RequestID)
	}
	return e
}

var (
	thousandsRE    = regexp.MustCompile(`^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]{1,2})?$`)
	decimalCommaRE = regexp.MustCompile(`^[0-9]+,[0-9]{1,2}$`)
)

// amountHints says how to fix an amount that ledger.ParseAmount refused,
// when the fix is clear from what was typed. The error already states the
// rule, so where no fix is clear there is no hint rather than the rule again.
func amountHints(s string) []string {
	if strings.ContainsFunc(s, unicode.IsSpace) {
		joined := strings.Join(strings.Fields(s), "")
		if a, err := ledger.ParseAmount(joined); err == nil {
			return []string{"no spaces in an amount: " + a.String()}
		}
		return append([]string{"no spaces in an amount"}, amountHints(joined)...)
	}
	var fix string
	switch {
	case decimalCommaRE.MatchString(s):
		return hintIfValid("use a dot for decimals: ", strings.Replace(s, ",", ".", 1))
	case thousandsRE.MatchString(s):
		return hintIfValid("leave out the thousands separators: ", strings.ReplaceAll(s, ",", ""))
	case strings.HasPrefix(s, "."):
		fix = "0" + s
	case strings.HasSuffix(s, "."):
		whole := strings.TrimSuffix(s, ".")
		if a, err := ledger.ParseAmount(whole); err == nil {
			return []string{"write " + whole + " or " + a.String()}
		}
	case len(s) > 1 && s[0] == '0':
		fix = strings.TrimLeft(s, "0")
	}
	if fix == "" {
		return nil
	}
	return hintIfValid("write ", fix)
}

// hintIfValid is the hint prefix+amount, with amount written as the bank
// writes it, if it is a valid amount.
func hintIfValid(prefix, amount string) []string {
	a, err := ledger.ParseAmount(amount)
	if err != nil {
		return nil
	}
	return []string{prefix + a.String()}
}
