package cmd

// banco inspect: a certificate or chain explained, with what would break TLS.

import (
	"crypto/x509"
	"fmt"
	"path/filepath"
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
