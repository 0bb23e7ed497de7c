package cmd

// banco renew: a new certificate for the same key, over mTLS to banco ca serve.

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/banco/banco/enroll"
)

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
--ca-url, else, on the CA's own host, from where 'banco ca serve' listens,
else from the certificate's CRL distribution point.

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
func (a *App) runRenew(ctx context.Context, o *renewOptions) error {
	id, p, err := a.loadIdentity(o.client, o.dir)
	if err != nil {
		return err
	}
	caURL := cmp.Or(o.caURL, a.localCAURL(id.Root), enroll.CAURL(id.Leaf()))
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
		return onlineError(err, caURL, opRenew)
	}
	if err := next.Write(p, true); err != nil {
		return err
	}
	leaf := next.Leaf()
	a.Infof("Renewed %s", p.Cert)
	a.Infof("  serial   %s (was %s)", leaf.SerialNumber, id.Leaf().SerialNumber)
	a.Infof("  valid    %s to %s", day(leaf.NotBefore), day(leaf.NotAfter))
	a.warnChainHealth(append(next.Chain[1:], next.Root))
	fmt.Fprintln(a.Out, p.Cert)
	return nil
}
