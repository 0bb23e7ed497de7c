package cmd

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/banco/banco/ca"
	"github.com/banco/banco/enroll"
	"github.com/banco/banco/internal/secfile"
)

type initOptions struct {
	kty          string
	name         string
	passwordFile string
	insecure     bool
	force        bool
}

func newInitCmd(a *App) *cobra.Command {
	o := &initOptions{}
	c := &cobra.Command{
		Use:   "init",
		Short: "Create the bank's certificate authority",
		Long: `Create the bank's certificate authority in <home>/ca: a root valid 10 years
and an intermediate valid 5 years that signs every banco certificate. The
keys are encrypted with a password (PKCS#8, AES-256, PBKDF2) taken from
--password-file, else $BANCO_PASSWORD, else asked twice on the terminal.

The CA runs on the smallstep engine: its config (ca.json, without the
password) and its database (db/, which records every certificate banco
issues) are in the same folder. An existing CA is not replaced without
--force; with --force it is moved aside, not deleted.`,
		Example: `  $ banco init
  $ banco init --kty Ed25519 --password-file ~/.banco-pass
  $ BANCO_PASSWORD=... banco init --home /tmp/bank`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runInit(o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.kty, "kty", "EC", "key type: EC (ECDSA P-256), RSA (2048) or Ed25519")
	f.StringVar(&o.name, "name", "banco", "organisation name in the CA certificates")
	addPasswordFileFlag(c, &o.passwordFile)
	f.BoolVar(&o.insecure, "insecure-no-password", false,
		"write the CA keys UNENCRYPTED (for throw-away demos only)")
	f.BoolVar(&o.force, "force", false, "replace an existing CA (the old one is moved aside)")
	return c
}

func (a *App) runInit(o *initOptions) error {
	kt, err := ca.ParseKeyType(o.kty)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if strings.TrimSpace(o.name) == "" {
		return usageErrorf("--name must not be empty")
	}
	if o.insecure && o.passwordFile != "" {
		return usageErrorf("--insecure-no-password and --password-file contradict each other")
	}
	home, err := a.Home()
	if err != nil {
		return err
	}
	dir := home.CADir()
	if ca.Exists(dir) && !o.force {
		return withHint(fmt.Errorf("a CA already exists in %s", dir),
			"use it as it is (next: banco enroll server), or pass --force to replace it "+
				"(every certificate it issued stops being trusted)")
	}

	var pw []byte
	if !o.insecure {
		if pw, err = a.readPassword(o.passwordFile, true); err != nil {
			return err
		}
	}
	info, err := ca.Init(ca.InitOptions{
		Dir: dir, Name: o.name, KeyType: kt, Password: pw, Insecure: o.insecure,
		Force: o.force, Now: a.Now(),
	})
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	a.printInit(info, kt)
	return nil
}

func (a *App) printInit(info *ca.Info, kt ca.KeyType) {
	keyDesc := map[ca.KeyType]string{
		ca.KeyEC: "ECDSA P-256", ca.KeyRSA: "RSA 2048", ca.KeyEd25519: "Ed25519",
	}[kt]
	if info.Replaced != "" {
		a.Infof("Moved the old CA to %s", info.Replaced)
	}
	a.Infof("Created the %s certificate authority in %s (%s)", info.Root.Subject.Organization[0],
		info.Dir, keyDesc)
	a.Infof("  root          %s  (until %s)", info.RootCert, day(info.Root.NotAfter))
	a.Infof("  intermediate  %s  (until %s)", info.IntermediateCert,
		day(info.Intermediate.NotAfter))
	if info.Encrypted {
		a.Infof("  keys          %s, %s  (0600, encrypted with your password)",
			ca.RootKeyFile, ca.IntermediateKeyFile)
	} else {
		a.Infof("  keys          %s, %s  (0600, NOT ENCRYPTED: for demos only)",
			ca.RootKeyFile, ca.IntermediateKeyFile)
	}
	a.Infof("  engine        %s, %s", info.Config, info.DB)
	a.Infof("Root fingerprint (SHA-256), to compare wherever the root is installed:")
	for _, line := range strings.Split(ca.GroupFingerprint(info.Fingerprint()), "\n") {
		a.Infof("  %s", line)
	}
	a.Infof("Next: banco enroll server")
	fmt.Fprintln(a.Out, info.Fingerprint())
}

// day formats a validity bound for people.
func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// openCA opens the CA in the banco home, asking for its password when its
// keys are encrypted, and turns the ca package's errors into advice.
func (a *App) openCA(passwordFile string, opts ...ca.Option) (*ca.Authority, error) {
	dir, pw, err := a.caPassword(passwordFile)
	if err != nil {
		return nil, err
	}
	return a.openCAWith(dir, pw, opts...)
}

// caPassword finds the CA, checks its health and gets its password when its
// keys are encrypted (nil otherwise).
func (a *App) caPassword(passwordFile string) (dir string, pw []byte, err error) {
	home, err := a.Home()
	if err != nil {
		return "", nil, err
	}
	dir = home.CADir()
	info, err := ca.Load(dir)
	if err != nil {
		return "", nil, caError(dir, err)
	}
	if err := a.checkCAHealth(info); err != nil {
		return "", nil, err
	}
	if info.Encrypted {
		if pw, err = a.readPassword(passwordFile, false); err != nil {
			return "", nil, err
		}
	}
	return dir, pw, nil
}

func (a *App) openCAWith(dir string, pw []byte, opts ...ca.Option) (*ca.Authority, error) {
	auth, err := ca.Open(dir, pw, append([]ca.Option{ca.WithClock(a.Now)}, opts...)...)
	if err != nil {
		return nil, caError(dir, err)
	}
	return auth, nil
}

// caError adds what to do next to the errors of opening a CA.
func caError(dir string, err error) error {
	var pe *secfile.PermError
	switch {
	case errors.Is(err, ca.ErrNoCA):
		return withHint(fmt.Errorf("no CA in %s", dir),
			"run 'banco init' to create one, or point --home / BANCO_HOME at the "+
				"folder that has it")
	case errors.Is(err, ca.ErrWrongPassword):
		return withHint(fmt.Errorf("wrong password for the CA in %s", dir),
			"use the password given to 'banco init' (check --password-file or "+
				passwordEnv+")")
	case errors.Is(err, ca.ErrPasswordRequired):
		return noPasswordError(secretSpec{what: "CA password", env: passwordEnv})
	case errors.As(err, &pe):
		return readableError(pe)
	case errors.Is(err, ca.ErrLocked):
		return withHint(fmt.Errorf("open the CA in %s: %w (is 'banco ca serve' running?)",
			dir, err),
			"stop it first (Ctrl-C in its terminal); to enroll while it runs, use tokens: "+
				"banco ca token NAME --client, then banco enroll client NAME --token TOKEN")
	}
	return err
}

// readableError refuses a key file that other users can read, and says how
// to fix its mode.
func readableError(pe *secfile.PermError) error {
	return withHint(fmt.Errorf("refusing to use %s: other users can read it (mode %04o)",
		pe.Path, pe.Mode.Perm()), "run: chmod 600 "+pe.Path)
}

// HealthWindow is how long before a CA certificate ends banco starts warning.
const HealthWindow = 90 * 24 * time.Hour

// checkCAHealth warns when the root or intermediate ends within HealthWindow
// and fails when either has ended: nothing it signs could be trusted then.
func (a *App) checkCAHealth(info *ca.Info) error {
	for _, c := range []struct {
		what string
		cert *x509.Certificate
	}{{"root", info.Root}, {"intermediate", info.Intermediate}} {
		end := c.cert.NotAfter
		if !a.Now().Before(end) {
			return withHint(fmt.Errorf("the CA's %s certificate expired on %s", c.what, day(end)),
				"make a new CA with 'banco init --force' and enroll everyone again")
		}
		a.warnExpiring("the CA's "+c.what, end, "plan a new CA (banco init --force) and "+
			"re-enrollment")
	}
	return nil
}

// warnChainHealth warns when a CA certificate of a chain that this machine
// got from the online CA ends within HealthWindow: no renewal goes past it.
func (a *App) warnChainHealth(cas []*x509.Certificate) {
	for _, c := range cas {
		a.warnExpiring("the "+c.Subject.CommonName, c.NotAfter,
			"ask the CA's owner about the new CA, and enroll again with it")
	}
}

func (a *App) warnExpiring(what string, end time.Time, next string) {
	if left := end.Sub(a.Now()); left > 0 && left < HealthWindow {
		a.Infof("banco: warning: %s certificate expires on %s (in %d days); %s", what,
			day(end), int(left.Hours()/24), next)
	}
}

// newCACmd is the group of commands run on the CA's host.
func newCACmd(a *App) *cobra.Command {
	c := &cobra.Command{
		Use:   "ca",
		Short: "Run the online CA and make enrollment tokens (on the CA's host)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return usageErrorf("say what to do: banco ca serve, or banco ca token NAME")
		},
	}
	c.AddCommand(newCAServeCmd(a), newCATokenCmd(a))
	return c
}

type caServeOptions struct {
	addr         string
	dnsNames     []string
	url          string
	passwordFile string
	logFormat    string
}

func newCAServeCmd(a *App) *cobra.Command {
	o := &caServeOptions{}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the online CA over HTTPS for remote enrollment, renewal and revocation",
		Long: `Run the CA over HTTPS so that other machines can enroll with one-time tokens
(banco ca token), renew over mTLS and fetch the CRL, without the CA's key or
password leaving this host. The CA's TLS certificate names ` + ca.DefaultDNSName + `,
localhost, 127.0.0.1 and ::1, plus each --dns; the name in --url must resolve
on the enrolling machines.

Each request is logged on stderr, with the real reason when one is refused
(the client gets only a short message). While it runs, it holds the CA
database, so on this host enroll without --token waits for it to stop;
revoke goes through it, and certs lists the copy of the inventory it keeps
up to date (inventory.json). Stop it with Ctrl-C.`,
		Example: `  $ banco ca serve
  $ banco ca serve --addr :9443 --dns ca.example.org --url https://ca.example.org:9443`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runCAServe(c.Context(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.addr, "addr", ":9000", "address to listen on")
	f.StringArrayVar(&o.dnsNames, "dns", nil,
		"another name for the CA in its certificate (repeatable)")
	f.StringVar(&o.url, "url", "", "the URL clients use (default https://"+ca.DefaultDNSName+":PORT)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	addPasswordFileFlag(c, &o.passwordFile)
	return c
}

func (a *App) runCAServe(ctx context.Context, o *caServeOptions) error {
	listenHost, port, err := net.SplitHostPort(o.addr)
	if err != nil {
		return usageErrorf("--addr %q: want HOST:PORT or :PORT", o.addr)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return usageErrorf("--log-format must be text or json")
	}
	home, err := a.Home()
	if err != nil {
		return err
	}
	names := append([]string{ca.DefaultDNSName, "localhost", "127.0.0.1", "::1"}, o.dnsNames...)
	caURL := o.url
	if caURL == "" {
		caURL = "https://" + net.JoinHostPort(ca.DefaultDNSName, port)
	}
	u, err := url.Parse(caURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return usageErrorf("--url %q: want https://HOST[:PORT]", caURL)
	}
	// Commands on this host reach the CA at its listen address (see
	// ca.LocalURL), so its certificate names that host too.
	for _, h := range []string{u.Hostname(), listenHost} {
		if ip := net.ParseIP(h); h != "" && (ip == nil || !ip.IsUnspecified()) &&
			!slices.Contains(names, h) {
			names = append(names, h)
		}
	}
	auth, err := a.openCA(o.passwordFile, ca.WithDNSNames(names...), ca.WithAddress(o.addr),
		ca.WithCRLURL(ca.CRLURL(caURL)))
	if err != nil {
		return err
	}
	defer auth.Close()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return withHint(fmt.Errorf("listen on %s: %w", o.addr, err),
			"is another program using the port? choose another with --addr")
	}
	if err := ca.SaveURL(home.CADir(), caURL, ln.Addr().String()); err != nil {
		ln.Close()
		return fmt.Errorf("record the CA's URL: %w", err)
	}

	var h slog.Handler = slog.NewTextHandler(a.Err, nil)
	if o.logFormat == "json" {
		h = slog.NewJSONHandler(a.Err, nil)
	}
	fp := ca.Fingerprint(auth.Root())
	a.Infof("banco CA serving %s (listening on %s)", caURL, ln.Addr())
	a.Infof("  names            %s", strings.Join(names, ", "))
	a.Infof("  CRL              %s", ca.CRLURL(caURL))
	a.printRootFingerprint(fp)
	if net.ParseIP(u.Hostname()) == nil && u.Hostname() != "localhost" {
		a.Infof("Other machines must resolve %s to this host: sudo banco hosts add %s --ip ADDRESS",
			u.Hostname(), u.Hostname())
	}
	a.Infof("Make tokens on this host: banco ca token NAME --client  (or --server)")
	if err := auth.Serve(ctx, ln, slog.New(h)); err != nil {
		return err
	}
	a.Infof("banco CA stopped")
	return nil
}

type caTokenOptions struct {
	client, server bool
	revoke         bool
	sans           []string
	ttl            time.Duration
	caURL          string
	passwordFile   string
}

func newCATokenCmd(a *App) *cobra.Command {
	o := &caTokenOptions{}
	c := &cobra.Command{
		Use:   "token NAME (--client | --server | --revoke)",
		Short: "Make a one-time token to enroll a customer or server, or to revoke",
		Long: `Make a one-time token that lets its holder enroll exactly one certificate:
for customer NAME (--client) or for the server named NAME (--server, with
localhost, 127.0.0.1, ::1 and each --san). The token is printed on stdout;
the root's fingerprint is shown so that it can be checked on the other side.
The token is signed with the CA's provisioner key (it needs the CA password)
and works only against 'banco ca serve', once, within --ttl (the CA allows a
minute of clock skew). It can be made while the CA is stopped, with --ca-url.
--revoke makes a token that revokes the certificate with serial NAME
through the online CA, from any machine (banco revoke SERIAL --token).

Hand it over privately: whoever holds it can enroll as NAME.`,
		Example: `  $ banco ca token alice --client
  $ banco ca token banco.local --server --san 192.168.1.10 --ttl 30m
  $ banco ca token 1234567890 --revoke`,
		Args: oneName("NAME", "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return a.runCAToken(args[0], o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.client, "client", false, "a token for a customer's certificate")
	f.BoolVar(&o.server, "server", false, "a token for a server certificate")
	f.BoolVar(&o.revoke, "revoke", false, "a token to revoke the certificate with serial NAME")
	f.StringArrayVar(&o.sans, "san", nil, "another DNS name or IP for a server (repeatable)")
	f.DurationVar(&o.ttl, "ttl", ca.DefaultTokenTTL, "how long the token can be used (1m to 1h)")
	f.StringVar(&o.caURL, "ca-url", "",
		"the online CA's URL (default: the one banco ca serve recorded)")
	addPasswordFileFlag(c, &o.passwordFile)
	return c
}

func (a *App) runCAToken(name string, o *caTokenOptions) error {
	if n := btoi(o.client) + btoi(o.server) + btoi(o.revoke); n != 1 {
		return usageErrorf("say which kind of token: --client, --server or --revoke")
	}
	if o.ttl < time.Minute || o.ttl > ca.MaxTokenTTL {
		return usageErrorf("--ttl must be between 1m and %s", shortDuration(ca.MaxTokenTTL))
	}
	if o.revoke {
		return a.runRevokeToken(name, o)
	}
	req := enroll.Request{Kind: ca.KindClient, Name: name}
	if o.server {
		req = enroll.Request{Kind: ca.KindServer, Name: name, SANs: o.sans}
	} else if len(o.sans) > 0 {
		return usageErrorf("--san is for --server tokens; a customer has no host names")
	}
	subject, sans, err := enroll.Names(req)
	if err != nil {
		return enrollError(err, req.Kind)
	}
	home, err := a.Home()
	if err != nil {
		return err
	}
	m, err := a.openMinter(o.passwordFile)
	if err != nil {
		return err
	}
	defer m.Close()

	caURL, err := onlineCAURL(o.caURL, home)
	if err != nil {
		return err
	}
	tok, err := m.Token(ca.TokenRequest{Kind: req.Kind, Subject: subject, SANs: sans,
		TTL: o.ttl, URL: caURL})
	if err != nil {
		return caError(home.CADir(), err)
	}
	fp := ca.Fingerprint(m.Root())
	a.Infof("One-time %s token for %s, valid %s, for %s", req.Kind, subject,
		shortDuration(o.ttl), caURL)
	a.Infof("  SANs             %s", strings.Join(sans, ", "))
	a.printRootFingerprint(fp)
	cmdName := "client " + quoteArg(subject)
	if req.Kind == ca.KindServer {
		cmdName = "server " + quoteArg(subject)
	}
	a.Infof("On the enrolling machine: banco enroll %s --token TOKEN --fingerprint %s",
		cmdName, fp)
	fmt.Fprintln(a.Out, tok)
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (a *App) runRevokeToken(target string, o *caTokenOptions) error {
	serial, ok := ca.ParseSerial(target)
	if !ok {
		return usageErrorf("--revoke takes a SERIAL (see banco certs), got %q", target)
	}
	home, err := a.Home()
	if err != nil {
		return err
	}
	caURL, err := onlineCAURL(o.caURL, home)
	if err != nil {
		return err
	}
	m, err := a.openMinter(o.passwordFile)
	if err != nil {
		return err
	}
	defer m.Close()
	switch revoked, err := a.checkRevocable(home.CADir(), serial); {
	case err != nil:
		return err
	case revoked:
		return fmt.Errorf("serial %s is revoked already: no token is needed", serial)
	}
	tok, err := m.RevokeToken(serial, caURL, o.ttl)
	if err != nil {
		return caError(home.CADir(), err)
	}
	a.Infof("One-time token to revoke serial %s, valid %s, for %s", serial,
		shortDuration(o.ttl), caURL)
	a.Infof("Use it: banco revoke %s --token TOKEN --fingerprint %s", serial,
		ca.Fingerprint(m.Root()))
	fmt.Fprintln(a.Out, tok)
	return nil
}

// openMinter opens the CA for minting tokens, which works while banco ca
// serve holds the database.
func (a *App) openMinter(passwordFile string) (*ca.Minter, error) {
	dir, pw, err := a.caPassword(passwordFile)
	if err != nil {
		return nil, err
	}
	return newMinter(dir, pw)
}

// newMinter opens the CA in dir for minting tokens with password pw.
func newMinter(dir string, pw []byte) (*ca.Minter, error) {
	m, err := ca.NewMinter(dir, pw)
	if err != nil {
		return nil, caError(dir, err)
	}
	return m, nil
}

// onlineCAURL is --ca-url, else the URL banco ca serve recorded in home.
func onlineCAURL(flag string, home Home) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if u := ca.LoadURL(home.CADir()); u != "" {
		return u, nil
	}
	return "", withHint(errors.New("the online CA's URL is not known yet"),
		"start it first (banco ca serve), or pass --ca-url https://HOST:PORT")
}

// printRootFingerprint shows the root's fingerprint on one line and grouped
// below it, for comparing by eye on the other machine.
func (a *App) printRootFingerprint(fp string) {
	a.Infof("  root fingerprint %s", fp)
	for _, line := range strings.Split(ca.GroupFingerprint(fp), "\n") {
		a.Infof("                   %s", line)
	}
}

// quoteArg quotes s for a shell when it has spaces.
func quoteArg(s string) string {
	if strings.ContainsAny(s, " '\"") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
