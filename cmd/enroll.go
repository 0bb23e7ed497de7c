package cmd

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"software.sslmate.com/src/go-pkcs12"

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
		Args: exactArgs(1, "the customer's NAME"),
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
		if fp, err = enroll.CheckFingerprint(fp); err != nil {
			return usageErrorf("--fingerprint: %v", err)
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
		return remoteError(err)
	}
	if err := id.Write(paths, o.force); err != nil {
		return enrollError(err, o.kind)
	}
	a.printEnrolled(id, paths, o, false)
	a.Infof("Root pinned by fingerprint %s", ca.Fingerprint(id.Root))
	return nil
}

// remoteError adds what to do next to errors from the online CA.
func remoteError(err error) error {
	var re *enroll.RefusedError
	if errors.As(err, &re) {
		return withHint(err, "the token may be used already, expired, or for another name; "+
			"the CA's log says which. Ask for a new token: banco ca token NAME")
	}
	return withHint(err, "check that 'banco ca serve' is running and that its name resolves "+
		"here (sudo banco hosts add "+ca.DefaultDNSName+" --ip CA_ADDRESS), or pass --ca-url")
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
		return withHint(err, "quote a name with spaces: banco enroll client \"Ana Lima\"")
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

type renewOptions struct {
	client string
	dir    string
	caURL  string
}

func newRenewCmd(a *App) *cobra.Command {
	o := &renewOptions{}
	c := &cobra.Command{
		Use:   "renew",
		Short: "Renew this machine's certificate through the online CA, before it expires",
		Long: `Renew the server's certificate (default) or customer NAME's (--client NAME)
through 'banco ca serve', authenticating with the current certificate over
mTLS. The key stays the same; the new certificate has the same names and
lifetime and replaces the old one in place. The CA's URL comes from
--ca-url or from the certificate's CRL distribution point.

An expired certificate cannot be renewed: enroll again with a new token.`,
		Example: `  $ banco renew
  $ banco renew --client alice --ca-url https://ca.banco.local:9000`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runRenew(c.Context(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.client, "client", "", "renew customer NAME's certificate instead of the server's")
	f.StringVar(&o.dir, "dir", "", "the folder of the certificate (default: in the banco home)")
	f.StringVar(&o.caURL, "ca-url", "", "the online CA's URL (default: from the certificate)")
	return c
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
		return nil, p, withHint(fmt.Errorf("refusing to use %s: other users can read it "+
			"(mode %04o)", pe.Path, pe.Mode.Perm()), "run: chmod 600 "+pe.Path)
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

func (a *App) runRenew(ctx context.Context, o *renewOptions) error {
	id, p, err := a.loadIdentity(o.client, o.dir)
	if err != nil {
		return err
	}
	caURL := o.caURL
	if caURL == "" {
		caURL = enroll.CAURL(id.Leaf())
	}
	if caURL == "" {
		return withHint(fmt.Errorf("the CA's URL is not known for %s", p.Cert),
			"pass --ca-url https://HOST:PORT of 'banco ca serve'")
	}
	next, err := enroll.Renew(ctx, id, caURL, a.Now())
	if errors.Is(err, enroll.ErrExpired) {
		who := "server " + quoteArg(id.Leaf().Subject.CommonName)
		flag := "--server"
		if o.client != "" {
			who, flag = "client "+quoteArg(o.client), "--client"
		}
		return withHint(fmt.Errorf("the certificate %s ended on %s and can no longer be "+
			"renewed", p.Cert, day(id.Leaf().NotAfter)),
			"enroll again: on the CA host run 'banco ca token "+
				quoteArg(id.Leaf().Subject.CommonName)+" "+flag+"', then here 'banco enroll "+
				who+" --token TOKEN --force'")
	}
	if err != nil {
		return remoteError(err)
	}
	if err := next.Write(p, true); err != nil {
		return err
	}
	leaf := next.Leaf()
	a.Infof("Renewed %s", p.Cert)
	a.Infof("  serial   %s (was %s)", leaf.SerialNumber, id.Leaf().SerialNumber)
	a.Infof("  valid    %s to %s", day(leaf.NotBefore), day(leaf.NotAfter))
	fmt.Fprintln(a.Out, p.Cert)
	return nil
}

type exportOptions struct {
	dir          string
	out          string
	force        bool
	legacy       bool
	passwordFile string
}

func newExportCmd(a *App) *cobra.Command {
	c := &cobra.Command{
		Use:   "export",
		Short: "Export an identity for other programs",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return usageErrorf("say what to export: banco export p12 NAME")
		},
	}
	o := &exportOptions{}
	p12 := &cobra.Command{
		Use:   "p12 NAME",
		Short: "Export customer NAME's certificate, chain and key as PKCS#12",
		Long: `Write customer NAME's certificate, its chain and its private key as one
PKCS#12 (.p12) file, for browsers and for curl on Windows and macOS. The
file is encrypted with a password you choose (--password-file, else
$BANCO_P12_PASSWORD, else asked twice): AES-256 with PBKDF2-SHA-256. Use
--legacy only for systems that cannot read that (3DES, weak).`,
		Example: `  $ banco export p12 alice
  $ curl --cert-type P12 --cert alice.p12:PASSWORD --cacert root_ca.crt \
      https://banco.local:8443/v1/balance`,
		Args: exactArgs(1, "the customer's NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return a.runExportP12(args[0], o)
		},
	}
	f := p12.Flags()
	f.StringVar(&o.dir, "dir", "", "the folder of the client's files (default: in the banco home)")
	f.StringVar(&o.out, "out", "", "the file to write (default: client.p12 next to client.crt)")
	f.BoolVar(&o.force, "force", false, "overwrite the file")
	f.BoolVar(&o.legacy, "legacy", false, "weak 3DES encryption, for old systems only")
	f.StringVar(&o.passwordFile, "password-file", "", "read the PKCS#12 password from FILE")
	c.AddCommand(p12)
	return c
}

func (a *App) runExportP12(name string, o *exportOptions) error {
	if err := identity.CheckName(name); err != nil {
		return withHint(err, "give the customer's name as enrolled")
	}
	id, p, err := a.loadIdentity(name, o.dir)
	if err != nil {
		return err
	}
	out := o.out
	if out == "" {
		out = filepath.Join(filepath.Dir(p.Cert), "client.p12")
	}
	if _, err := os.Lstat(out); err == nil && !o.force {
		return withHint(fmt.Errorf("%s already exists", out), "pass --force to replace it")
	}
	pw, err := a.readSecret(secretSpec{what: "PKCS#12 password", file: o.passwordFile,
		env: "BANCO_P12_PASSWORD", confirm: true})
	if err != nil {
		return err
	}
	enc := pkcs12.Modern2023.WithIterations(600_000)
	if o.legacy {
		enc = pkcs12.LegacyDES
	}
	data, err := enc.Encode(id.Key, id.Leaf(), append(id.Chain[1:], id.Root), string(pw))
	if err != nil {
		return fmt.Errorf("encode PKCS#12: %w", err)
	}
	if err := secfile.WritePrivate(out, data, o.force); err != nil {
		return err
	}
	a.Infof("Wrote %s (certificate, chain and key of %s; 0600, encrypted with your password)",
		out, name)
	a.Infof("Next: import it in a browser, or: curl --cert-type P12 --cert %s:PASSWORD ...", out)
	fmt.Fprintln(a.Out, out)
	return nil
}

type inspectOptions struct {
	root string
}

func newInspectCmd(a *App) *cobra.Command {
	o := &inspectOptions{}
	c := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Explain a certificate or chain in plain words, with warnings",
		Long: `Explain each certificate in FILE (PEM): who it is for, who issued it, when
it is valid, what it may be used for, and its fingerprint. Warnings point
out what would make TLS fail: no SAN, a wrong or missing key usage, an
expired or soon-expiring certificate, a chain out of order, or a chain that
does not lead to this banco CA's root (--root FILE, else the banco home's
CA, else root_ca.crt next to FILE).`,
		Example: `  $ banco inspect ~/.config/banco/server/server.crt`,
		Args:    exactArgs(1, "a FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			return a.runInspect(args[0], o)
		},
	}
	c.Flags().StringVar(&o.root, "root", "", "the root to check the chain against")
	return c
}

func (a *App) runInspect(file string, o *inspectOptions) error {
	certs, err := ca.ReadCerts(file)
	if err != nil {
		return withHint(err, "give a PEM file with BEGIN CERTIFICATE blocks, such as server.crt")
	}
	root, rootFrom := a.inspectRoot(file, o.root)
	w := a.Out
	now := a.Now()
	for i, c := range certs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		role := "leaf"
		if c.IsCA {
			role = "CA"
		}
		fmt.Fprintf(w, "Certificate %d of %d (%s)\n", i+1, len(certs), role)
		fmt.Fprintf(w, "  subject      %s\n", c.Subject)
		fmt.Fprintf(w, "  issuer       %s\n", c.Issuer)
		fmt.Fprintf(w, "  serial       %s\n", c.SerialNumber)
		fmt.Fprintf(w, "  valid        %s to %s\n", day(c.NotBefore), day(c.NotAfter))
		fmt.Fprintf(w, "  key          %s\n", c.PublicKeyAlgorithm)
		if sans := sanStrings(c); len(sans) > 0 {
			fmt.Fprintf(w, "  names (SAN)  %s\n", strings.Join(sans, ", "))
		}
		if eku := ekuNames(c); len(eku) > 0 {
			fmt.Fprintf(w, "  usage        %s\n", strings.Join(eku, ", "))
		}
		if len(c.CRLDistributionPoints) > 0 {
			fmt.Fprintf(w, "  CRL          %s\n", strings.Join(c.CRLDistributionPoints, ", "))
		}
		fmt.Fprintf(w, "  SHA-256      %s\n", ca.Fingerprint(c))
		for _, warn := range certWarnings(c, now) {
			fmt.Fprintf(w, "  warning: %s\n", warn)
		}
	}
	for _, warn := range chainWarnings(certs, root, rootFrom, now) {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return nil
}

// inspectRoot finds the root to check a chain against, and says where from.
func (a *App) inspectRoot(file, flag string) (*x509.Certificate, string) {
	var tries []string
	if flag != "" {
		tries = append(tries, flag)
	} else {
		if home, err := a.Home(); err == nil {
			tries = append(tries, filepath.Join(home.CADir(), ca.RootCertFile))
		}
		tries = append(tries, filepath.Join(filepath.Dir(file), RootCertFile))
	}
	for _, p := range tries {
		if certs, err := ca.ReadCerts(p); err == nil {
			return certs[0], p
		}
	}
	return nil, ""
}

func ekuNames(c *x509.Certificate) []string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageServerAuth: "TLS server (serverAuth)",
		x509.ExtKeyUsageClientAuth: "TLS client (clientAuth)",
		x509.ExtKeyUsageAny:        "any",
	}
	var out []string
	for _, u := range c.ExtKeyUsage {
		if n, ok := names[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("other (%d)", u))
		}
	}
	if c.IsCA {
		out = append(out, "signs certificates")
	}
	return out
}

func certWarnings(c *x509.Certificate, now time.Time) []string {
	var w []string
	switch {
	case now.Before(c.NotBefore):
		w = append(w, "not valid yet (check the clocks)")
	case !now.Before(c.NotAfter):
		w = append(w, fmt.Sprintf("EXPIRED on %s", day(c.NotAfter)))
	case c.NotAfter.Sub(now) < ExpiringSoon:
		w = append(w, fmt.Sprintf("expires in %d days", int(c.NotAfter.Sub(now).Hours()/24)))
	}
	if c.IsCA {
		return w
	}
	if len(sanStrings(c)) == 0 {
		w = append(w, "no SAN: TLS clients ignore the subject's name and will refuse it")
	}
	if len(c.ExtKeyUsage) == 0 {
		w = append(w, "no extended key usage: banco requires serverAuth or clientAuth")
	}
	if len(c.ExtKeyUsage) > 1 {
		w = append(w, "more than one usage: banco gives a certificate one role only")
	}
	if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		w = append(w, "key usage lacks digitalSignature: TLS 1.3 will refuse it")
	}
	return w
}

func chainWarnings(certs []*x509.Certificate, root *x509.Certificate, rootFrom string,
	now time.Time) []string {
	var w []string
	for i := 1; i < len(certs); i++ {
		if certs[i-1].CheckSignatureFrom(certs[i]) != nil {
			w = append(w, fmt.Sprintf("certificate %d is not signed by certificate %d: "+
				"the chain is out of order or incomplete", i, i+1))
		}
	}
	if root == nil {
		return append(w, "no banco root found to check the chain against (use --root FILE)")
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range certs[1:] {
		inters.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters,
		CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil && !certs[0].Equal(root) {
		w = append(w, fmt.Sprintf("not from this CA (root %s): %v", rootFrom, err))
	}
	return w
}
