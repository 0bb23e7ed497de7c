package cmd

// banco inspect: a certificate or chain explained, with what would break TLS.

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/banco/banco/ca"
)

type inspectOptions struct {
	root string
}

func newInspectCmd(a *App) *cobra.Command {
	o := &inspectOptions{}
	c := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Explain a certificate or chain in plain words, with warnings",
		Long: `Explain each certificate in FILE (PEM or DER): who it is for, who issued
it, when it is valid, what it may be used for, and its fingerprint.
Warnings point out what would make TLS fail: no SAN, a wrong or missing key
usage, an expired or soon-expiring certificate, a chain out of order or
without its intermediate, a chain that does not lead to this banco CA's
root (--root FILE, else the banco home's CA, else root_ca.crt next to
FILE), and, on the CA's host, a revoked certificate.`,
		Example: `  $ banco inspect ~/.config/banco/server/server.crt`,
		Args:    oneArg("FILE", "a FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			return a.runInspect(args[0], o)
		},
	}
	c.Flags().StringVar(&o.root, "root", "", "the root to check the chain against")
	return c
}

func (a *App) runInspect(file string, o *inspectOptions) error {
	certs, err := readInspected(file)
	if err != nil {
		return err
	}
	root, rootFrom := a.inspectRoot(file, o.root)
	inter := a.homeIntermediate(root)
	revoked := a.revokedInHome(root)
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
		if r, ok := revoked[c.SerialNumber.String()]; ok && inter != nil &&
			c.CheckSignatureFrom(inter) == nil {
			fmt.Fprintf(w, "  warning: REVOKED on %s (%s): banco serve refuses it\n",
				day(r.RevokedAt), reasonName(r.ReasonCode))
		}
	}
	for _, warn := range chainWarnings(certs, root, inter, rootFrom, now) {
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

// readInspected reads the certificates in file, PEM or DER, and says what
// the file is when it holds none.
func readInspected(file string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, withHint(fmt.Errorf("read certificate: %w", err), "check the path")
	}
	var certs []*x509.Certificate
	var others []string
	for rest, n := b, 1; ; n++ {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			others = append(others, block.Type)
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, withHint(fmt.Errorf("read %s: PEM block %d is not a valid "+
				"certificate: %w", file, n, err), "the file is damaged: copy it again "+
				"from where it was made")
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	if len(others) > 0 {
		return nil, withHint(fmt.Errorf("%s holds %s, not a certificate", file,
			pemKind(others[0])), "inspect the certificate instead, such as server.crt or "+
			"client.crt next to it")
	}
	if certs, err := x509.ParseCertificates(b); err == nil && len(certs) > 0 {
		return certs, nil // DER
	}
	return nil, withHint(fmt.Errorf("%s holds no certificate (neither PEM nor DER)", file),
		"give a certificate file, such as server.crt (PEM, BEGIN CERTIFICATE) or a .der")
}

func pemKind(typ string) string {
	switch {
	case strings.HasSuffix(typ, "PRIVATE KEY"):
		return "a private key (keep it secret)"
	case strings.Contains(typ, "CERTIFICATE REQUEST"):
		return "a certificate request (CSR)"
	case typ == "X509 CRL":
		return "a certificate revocation list (CRL)"
	case typ == "PUBLIC KEY":
		return "a public key"
	}
	return fmt.Sprintf("a PEM block of type %q", typ)
}

// homeIntermediate is the intermediate of the CA in the banco home when
// that CA's root is root, so that a leaf saved without its chain can still
// be traced to it.
func (a *App) homeIntermediate(root *x509.Certificate) *x509.Certificate {
	if root == nil || a.besideCA(root) == "" {
		return nil
	}
	home, err := a.Home()
	if err != nil {
		return nil
	}
	info, err := ca.Load(home.CADir())
	if err != nil {
		return nil
	}
	return info.Intermediate
}

// revokedInHome lists the revocations of the CA in the banco home, when it
// is the CA of root; nil when there is none or its inventory is out of
// reach.
func (a *App) revokedInHome(root *x509.Certificate) map[string]ca.Record {
	if root == nil {
		return nil
	}
	dir := a.besideCA(root)
	if dir == "" {
		return nil
	}
	recs, _, err := a.inventory(dir)
	if err != nil {
		return nil
	}
	out := map[string]ca.Record{}
	for _, r := range recs {
		if r.Revoked {
			out[r.Cert.SerialNumber.String()] = r
		}
	}
	return out
}

func ekuNames(c *x509.Certificate) []string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageServerAuth:      "TLS server (serverAuth)",
		x509.ExtKeyUsageClientAuth:      "TLS client (clientAuth)",
		x509.ExtKeyUsageAny:             "any",
		x509.ExtKeyUsageCodeSigning:     "code signing",
		x509.ExtKeyUsageEmailProtection: "e-mail (S/MIME)",
		x509.ExtKeyUsageTimeStamping:    "time stamping",
		x509.ExtKeyUsageOCSPSigning:     "OCSP signing",
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
	case c.NotAfter.Sub(now) < 24*time.Hour:
		w = append(w, fmt.Sprintf("expires in %s", shortDuration(c.NotAfter.Sub(now).
			Round(time.Minute))))
	case c.NotAfter.Sub(now) < ExpiringSoon:
		w = append(w, fmt.Sprintf("expires in %d days", int(c.NotAfter.Sub(now).Hours()/24)))
	}
	if c.IsCA {
		return w
	}
	if len(sanStrings(c)) == 0 {
		w = append(w, "no SAN: TLS clients ignore the subject's name and will refuse it")
	}
	tlsUsage := slices.ContainsFunc(c.ExtKeyUsage, func(u x509.ExtKeyUsage) bool {
		return u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageClientAuth
	})
	switch {
	case len(c.ExtKeyUsage) == 0:
		w = append(w, "no extended key usage: banco requires serverAuth or clientAuth")
	case !tlsUsage:
		w = append(w, "neither serverAuth nor clientAuth: banco refuses it for TLS, "+
			"as server and as client")
	}
	if len(c.ExtKeyUsage) > 1 {
		w = append(w, "more than one usage: banco gives a certificate one role only")
	}
	if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		w = append(w, "key usage lacks digitalSignature: TLS 1.3 will refuse it")
	}
	return w
}

func chainWarnings(certs []*x509.Certificate, root, inter *x509.Certificate, rootFrom string,
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
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	_, err := certs[0].Verify(opts)
	if err == nil || certs[0].Equal(root) {
		return w
	}
	if inter != nil && !certs[0].IsCA {
		opts.Intermediates.AddCert(inter)
		if _, ierr := certs[0].Verify(opts); ierr == nil {
			return append(w, "the file lacks the intermediate CA: a TLS peer sends the "+
				"leaf and then the intermediate (as banco's server.crt and client.crt do)")
		}
	}
	return append(w, fmt.Sprintf("not from this CA (root %s): %v", rootFrom, err))
}
