package cmd

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/banco/banco/ca"
	"github.com/banco/banco/enroll"
	"github.com/banco/banco/internal/identity"
	"github.com/banco/banco/internal/secfile"
)

// MaxDays bounds --days; the intermediate's end bounds it further.
const MaxDays = 3650

type enrollOptions struct {
	kind         ca.Kind
	name         string
	sans         []string
	days         int
	daysSet      bool
	out          string
	force        bool
	passwordFile string

	// Remote enrollment through banco ca serve (issue 4).
	token       string
	tokenFile   string
	caURL       string
	fingerprint string
}

func newEnrollCmd(a *App) *cobra.Command {
	c := &cobra.Command{
		Use:   "enroll",
		Short: "Issue a certificate for the bank server or a customer",
		Long: `Issue a certificate for the bank server or for a customer, from the CA in
this banco home. The private key is made here and written unencrypted (mode
0600), so that the server can start unattended: protect the folder.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return usageErrorf("say what to enroll: banco enroll server, or banco enroll client NAME")
		},
	}
	c.AddCommand(newEnrollServerCmd(a), newEnrollClientCmd(a))
	return c
}

func newEnrollServerCmd(a *App) *cobra.Command {
	o := &enrollOptions{kind: ca.KindServer}
	c := &cobra.Command{
		Use:   "server [NAME]",
		Short: "Issue the bank server's certificate (serverAuth only)",
		Long: fmt.Sprintf(`Issue the bank server's certificate, valid for TLS server authentication
only. Its names are --name (default %s), %s, and each --san.

Files: <home>/server/{server.crt (certificate + intermediate), server.key,
root_ca.crt}, or --out DIR. The key is NOT encrypted (mode 0600) so that
banco serve can start unattended. Existing files are kept unless --force.

The certificate lasts --days (default %d), but never past the intermediate
CA's end; it starts a minute in the past to allow for clock skew.`,
			enroll.DefaultServerName, strings.Join(enroll.DefaultServerSANs, ", "), ca.DefaultDays),
		Example: `  $ banco enroll server
  $ banco enroll server --san bank.example.org --san 192.168.1.10 --days 90
  $ banco enroll server --token "$TOKEN" --fingerprint 5b2c...   # from banco ca serve`,
		Args: maxArgs(1, "one NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				if c.Flags().Changed("name") && o.name != args[0] {
					return usageErrorf("give the server's name once: NAME or --name")
				}
				o.name = args[0]
			}
			o.daysSet = c.Flags().Changed("days")
			return a.runEnroll(c.Context(), o)
		},
	}
	c.Flags().StringVar(&o.name, "name", enroll.DefaultServerName, "the server's main DNS name")
	c.Flags().StringArrayVar(&o.sans, "san", nil, "another DNS name or IP address (repeatable)")
	addEnrollFlags(c, o)
	return c
}

func newEnrollClientCmd(a *App) *cobra.Command {
	o := &enrollOptions{kind: ca.KindClient}
	c := &cobra.Command{
		Use:   "client NAME",
		Short: "Issue a customer's certificate (clientAuth only)",
		Long: fmt.Sprintf(`Issue customer NAME's certificate, valid for TLS client authentication
only. NAME (letters, digits, spaces and . _ - @; at most 64 bytes) is the
subject's common name and a URI SAN urn:banco:customer:NAME; it never
becomes a DNS name.

Files: <home>/clients/NAME/{client.crt (certificate + intermediate),
client.key, root_ca.crt}, or --out DIR. The key is NOT encrypted (mode
0600). Existing files are kept unless --force.

The certificate lasts --days (default %d), but never past the intermediate
CA's end.`, ca.DefaultDays),
		Example: `  $ banco enroll client alice
  $ banco enroll client "Cliente Premium" --days 30
  $ banco enroll client alice --token "$TOKEN"   # from banco ca serve, on another machine`,
		Args: oneName("NAME", "the customer's NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			o.name = args[0]
			o.daysSet = c.Flags().Changed("days")
			return a.runEnroll(c.Context(), o)
		},
	}
	addEnrollFlags(c, o)
	return c
}

func addEnrollFlags(c *cobra.Command, o *enrollOptions) {
	f := c.Flags()
	f.IntVar(&o.days, "days", ca.DefaultDays,
		"how many days the certificate lasts (capped at the intermediate CA's end)")
	f.StringVar(&o.out, "out", "", "write the files to DIR instead of the banco home")
	f.BoolVar(&o.force, "force", false, "overwrite existing files")
	addPasswordFileFlag(c, &o.passwordFile)
	f.StringVar(&o.token, "token", "",
		"enroll through banco ca serve with this one-time token (from banco ca token)")
	f.StringVar(&o.tokenFile, "token-file", "", "read the token from FILE")
	f.StringVar(&o.caURL, "ca-url", "", "the online CA's URL (default: the one in the token)")
	f.StringVar(&o.fingerprint, "fingerprint", "",
		"the root's SHA-256 fingerprint to pin (default: the one in the token)")
}

// readToken takes the token from --token or --token-file.
func readToken(token, file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(token), nil
	}
	if token != "" {
		return "", usageErrorf("give the token once: --token or --token-file")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", withHint(fmt.Errorf("read token: %w", err), "check the --token-file path")
	}
	return strings.TrimSpace(string(b)), nil
}

func (a *App) runEnroll(ctx context.Context, o *enrollOptions) error {
	if o.days < 1 || o.days > MaxDays {
		return usageErrorf("--days must be between 1 and %d, got %d", MaxDays, o.days)
	}
	tok, err := readToken(o.token, o.tokenFile)
	if err != nil {
		return err
	}
	if o.token = tok; o.token != "" {
		return a.runRemoteEnroll(ctx, o)
	}
	if o.caURL != "" || o.fingerprint != "" {
		return usageErrorf("--ca-url and --fingerprint go with --token")
	}
	req := enroll.Request{Kind: o.kind, Name: o.name, SANs: o.sans}
	if _, _, err := enroll.Names(req); err != nil {
		return enrollError(err, o.kind)
	}
	paths, err := a.enrollPaths(o)
	if err != nil {
		return err
	}
	if err := paths.Check(o.force); err != nil {
		return enrollError(err, o.kind)
	}

	auth, err := a.openCA(o.passwordFile)
	if err != nil {
		return err
	}
	defer auth.Close()

	requested := a.Now().AddDate(0, 0, o.days)
	req.NotAfter = requested
	id, err := enroll.New(ctx, enroll.Local{CA: auth}, req)
	if err != nil {
		return enrollError(err, o.kind)
	}
	if err := id.Write(paths, o.force); err != nil {
		return enrollError(err, o.kind)
	}
	capped := id.Leaf().NotAfter.Before(requested.Add(-time.Minute))
	a.printEnrolled(id, paths, o, capped)
	return nil
}

// runRemoteEnroll enrolls through banco ca serve: the token says who the
// certificate is for; the key is made here and only the request is sent.
func (a *App) runRemoteEnroll(ctx context.Context, o *enrollOptions) error {
	tok, err := enroll.ParseToken(o.token)
	if err != nil {
		return withHint(err, "pass the whole token printed by 'banco ca token' on the CA host")
	}
	if tok.Kind != o.kind {
		return withHint(fmt.Errorf("this token is for a %s certificate, not a %s one",
			tok.Kind, o.kind), fmt.Sprintf("run: banco enroll %s ... --token TOKEN", tok.Kind))
	}
	if o.kind == ca.KindClient && o.name != tok.Subject ||
		o.kind == ca.KindServer && o.name != enroll.DefaultServerName && o.name != tok.Subject {
		return withHint(fmt.Errorf("this token is for %q, not %q", tok.Subject, o.name),
			"ask the CA for a token for this name: banco ca token NAME")
	}
	if len(o.sans) > 0 {
		return usageErrorf("--san cannot be used with --token: the token fixes the names")
	}
	if tok.Expiry.Before(a.Now()) {
		return withHint(fmt.Errorf("the token expired at %s", day(tok.Expiry)),
			"ask the CA for a new one: banco ca token "+quoteArg(tok.Subject))
	}
	o.name = tok.Subject
	paths, err := a.enrollPaths(o)
	if err != nil {
		return err
	}
	if err := paths.Check(o.force); err != nil {
		return enrollError(err, o.kind)
	}
	fp := o.fingerprint
	if fp != "" {
		if fp, err = checkFingerprintFlag(fp); err != nil {
			return err
		}
		if tok.Fingerprint != "" && tok.Fingerprint != fp {
			return withHint(errors.New("the token's root fingerprint differs from --fingerprint"),
				"do not use this token: it may not come from your CA; check both with the CA's owner")
		}
	}
	req := enroll.Request{Kind: o.kind, Name: tok.Subject, SANs: tok.SANs}
	if o.daysSet {
		req.NotAfter = a.Now().AddDate(0, 0, o.days)
	}
	id, err := enroll.New(ctx, enroll.Remote{Token: o.token, URL: o.caURL, Fingerprint: fp}, req)
	if err != nil {
		return onlineError(err, cmp.Or(o.caURL, tok.URL), opEnroll)
	}
	if err := id.Write(paths, o.force); err != nil {
		return enrollError(err, o.kind)
	}
	a.printEnrolled(id, paths, o, false)
	a.Infof("Root pinned by fingerprint %s", ca.Fingerprint(id.Root))
	return nil
}

// checkFingerprintFlag normalises a root fingerprint given with --fingerprint.
func checkFingerprintFlag(fp string) (string, error) {
	fp, err := enroll.CheckFingerprint(fp)
	if err != nil {
		return "", usageErrorf("--fingerprint: %v", err)
	}
	return fp, nil
}

func (a *App) enrollPaths(o *enrollOptions) (enroll.Paths, error) {
	certFile, keyFile := ServerCertFile, ServerKeyFile
	if o.kind == ca.KindClient {
		certFile, keyFile = ClientCertFile, ClientKeyFile
	}
	dir := o.out
	if dir == "" {
		home, err := a.Home()
		if err != nil {
			return enroll.Paths{}, err
		}
		dir = home.ServerDir()
		if o.kind == ca.KindClient {
			dir = home.ClientDir(o.name)
		}
	}
	return enroll.InDir(dir, certFile, keyFile, RootCertFile), nil
}

// enrollError adds what to do next to enrollment errors.
func enrollError(err error, kind ca.Kind) error {
	var ne *enroll.NameError
	var ee *enroll.ExistsError
	switch {
	case errors.As(err, &ne) && kind == ca.KindServer:
		return withHint(err, "--name and --san take DNS names (banco.local) or IP addresses")
	case errors.As(err, &ne):
		return withHint(err, fmt.Sprintf("a customer name is 1 to %d bytes of letters, "+
			"digits, spaces and . _ - @, such as alice or \"Ana Lima\"", identity.MaxNameLen))
	case errors.As(err, &ee):
		return withHint(err, "pass --force to replace them, or --out DIR to write elsewhere")
	}
	return err
}

func (a *App) printEnrolled(id *enroll.Identity, p enroll.Paths, o *enrollOptions, capped bool) {
	leaf := id.Leaf()
	what := "the bank server " + leaf.Subject.CommonName
	if o.kind == ca.KindClient {
		what = "customer " + o.name
	}
	a.Infof("Issued a %s certificate for %s", o.kind, what)
	a.Infof("  SANs     %s", strings.Join(sanStrings(leaf), ", "))
	a.Infof("  serial   %s", leaf.SerialNumber)
	a.Infof("  valid    %s to %s  (%d days)", day(leaf.NotBefore), day(leaf.NotAfter),
		int(leaf.NotAfter.Sub(leaf.NotBefore).Hours()/24))
	if capped {
		a.Infof("  note     --days %d would go past the intermediate CA, which ends %s; "+
			"the certificate ends with it", o.days, day(id.Chain[len(id.Chain)-1].NotAfter))
	}
	a.Infof("  chain    %s", p.Cert)
	a.Infof("  key      %s  (unencrypted, 0600)", p.Key)
	a.Infof("  root     %s", p.Root)
	if o.kind == ca.KindServer {
		a.Infof("Next: banco serve")
	} else {
		a.Infof("Next: banco balance --client %s  (with banco serve running)", quoteArg(o.name))
	}
	fmt.Fprintln(a.Out, p.Cert)
}

// sanStrings lists a certificate's SANs as people write them.
func sanStrings(c *x509.Certificate) []string {
	var s []string
	s = append(s, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		s = append(s, ip.String())
	}
	s = append(s, c.EmailAddresses...)
	for _, u := range c.URIs {
		s = append(s, u.String())
	}
	return s
}

// identityPaths are the files of the server's identity, or of customer
// client's when client is set, in dir or in the banco home.
func (a *App) identityPaths(client, dir string) (enroll.Paths, ca.Kind, error) {
	kind := ca.KindServer
	if client != "" {
		kind = ca.KindClient
	}
	o := &enrollOptions{kind: kind, name: client, out: dir}
	p, err := a.enrollPaths(o)
	return p, kind, err
}

func (a *App) loadIdentity(client, dir string) (*enroll.Identity, enroll.Paths, error) {
	p, kind, err := a.identityPaths(client, dir)
	if err != nil {
		return nil, p, err
	}
	id, err := enroll.Load(p)
	var pe *secfile.PermError
	switch {
	case errors.As(err, &pe):
		return nil, p, readableError(pe)
	case errors.Is(err, fs.ErrNotExist):
		cmdline := "banco enroll server"
		if kind == ca.KindClient {
			cmdline = "banco enroll client " + quoteArg(client)
		}
		return nil, p, withHint(err, "enroll first: "+cmdline)
	case err != nil:
		return nil, p, err
	}
	return id, p, nil
}
