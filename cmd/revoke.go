package cmd

// banco revoke: on the CA host, through the running CA, or with a token.

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/banco/banco/ca"
	"github.com/banco/banco/enroll"
	"github.com/banco/banco/internal/identity"
)

type revokeOptions struct {
	reason       string
	message      string
	token        string
	tokenFile    string
	caURL        string
	fingerprint  string
	passwordFile string
	tokenSet     bool // --token or --token-file was given, maybe empty
}

func newRevokeCmd(a *App) *cobra.Command {
	o := &revokeOptions{}
	c := &cobra.Command{
		Use:   "revoke SERIAL|NAME",
		Short: "Revoke a certificate (on the CA host, or through the CA with a token)",
		Long: `Revoke a certificate so that banco serve refuses it (it reads the CA's CRL,
within a minute or so). SERIAL is decimal, or hex as 0x... or aa:bb:...;
NAME revokes every valid certificate of that customer or server name.

On the CA host this works on the CA database directly; while 'banco ca
serve' runs it goes through the running CA instead (NAME is then looked up
in the inventory the server keeps). Elsewhere, pass --token from 'banco ca
token SERIAL --revoke' on the CA host.

Reasons (RFC 5280): unspecified, key-compromise, affiliation-changed,
superseded, cessation-of-operation.`,
		Example: `  $ banco revoke alice --reason key-compromise
  $ banco revoke 0x5f3a... --token "$TOKEN"`,
		Args: oneName("SERIAL or NAME", "a SERIAL or NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			o.tokenSet = c.Flags().Changed("token") || c.Flags().Changed("token-file")
			return a.runRevoke(c.Context(), args[0], o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.reason, "reason", "unspecified", "why: key-compromise, superseded, ...")
	f.StringVar(&o.message, "message", "", "a note kept with the revocation")
	f.StringVar(&o.token, "token", "", "revoke through the online CA with this token")
	f.StringVar(&o.tokenFile, "token-file", "", "read the token from FILE")
	f.StringVar(&o.caURL, "ca-url", "", "the online CA's URL (default: the one in the token)")
	f.StringVar(&o.fingerprint, "fingerprint", "",
		"the root fingerprint to pin (default: the token's)")
	addPasswordFileFlag(c, &o.passwordFile)
	return c
}

func (a *App) runRevoke(ctx context.Context, target string, o *revokeOptions) error {
	code, ok := ca.ReasonCodes[o.reason]
	if !ok {
		return usageErrorf("--reason %q: use one of unspecified, key-compromise, "+
			"affiliation-changed, superseded, cessation-of-operation", o.reason)
	}
	serial, isSerial := ca.ParseSerial(target)
	tok, err := readToken(o.token, o.tokenFile)
	if err != nil {
		return err
	}
	if tok == "" && o.tokenSet {
		return withHint(errors.New("the revocation token is empty"),
			"pass the token printed by 'banco ca token SERIAL --revoke' on the CA host")
	}
	if o.token = tok; o.token != "" {
		if !isSerial {
			return usageErrorf("with --token, give the SERIAL the token is for")
		}
		return a.revokeRemote(ctx, serial, code, o)
	}
	dir, pw, err := a.caPassword(o.passwordFile)
	if err != nil {
		return err
	}
	auth, err := a.openCAWith(dir, pw)
	if errors.Is(err, ca.ErrLocked) {
		return a.revokeThroughServe(ctx, dir, pw, target, code, o)
	}
	if err != nil {
		return err
	}
	defer auth.Close()

	serials := []string{serial}
	if !isSerial {
		recs, err := auth.Certificates()
		if err != nil {
			return err
		}
		if serials, err = a.validSerials(recs, target); err != nil {
			return err
		}
	}
	for _, s := range serials {
		err := auth.Revoke(ctx, s, code, o.message)
		switch {
		case errors.Is(err, ca.ErrUnknownSerial):
			return withHint(err, "list the certificates: banco certs")
		case errors.Is(err, ca.ErrAlreadyRevoked):
			a.Infof("Serial %s was already revoked", s)
			continue
		case err != nil:
			return err
		}
		a.Infof("Revoked serial %s (%s)", s, o.reason)
		fmt.Fprintln(a.Out, s)
	}
	a.Infof("The CRL is updated; banco serve refuses revoked clients once it fetches it")
	return nil
}

// validSerials finds the certificates of name that are still valid.
func (a *App) validSerials(recs []ca.Record, name string) ([]string, error) {
	var out []string
	for _, r := range recs {
		if r.Revoked || !a.Now().Before(r.Cert.NotAfter) || !namesMatch(r.Cert, name) {
			continue
		}
		out = append(out, r.Cert.SerialNumber.String())
	}
	if len(out) == 0 {
		return nil, withHint(fmt.Errorf("no valid certificate for %q in the CA database", name),
			"list them with: banco certs")
	}
	return out, nil
}

func namesMatch(c *x509.Certificate, name string) bool {
	if c.Subject.CommonName == name {
		return true
	}
	if who, err := identity.Customer(c); err == nil && who == name {
		return true
	}
	return false
}

// revokeThroughServe revokes via the running banco ca serve, which holds the
// database, with revocation tokens minted here. target is a serial, or a
// name looked up in the inventory that the server keeps.
func (a *App) revokeThroughServe(ctx context.Context, dir string, pw []byte, target string,
	code int, o *revokeOptions) error {
	audience, connect := ca.LoadURL(dir), ca.LocalURL(dir)
	if o.caURL != "" {
		connect = o.caURL
	}
	if audience == "" {
		return withHint(errors.New("the CA database is in use and the online CA's URL is unknown"),
			"stop 'banco ca serve' and run banco revoke again")
	}
	serials, err := a.serveSerials(dir, target)
	if err != nil {
		return err
	}
	m, err := newMinter(dir, pw)
	if err != nil {
		return err
	}
	defer m.Close()
	for _, serial := range serials {
		tok, err := m.RevokeToken(serial, audience, 5*time.Minute)
		if err != nil {
			return caError(dir, err)
		}
		err = enroll.RevokeRemote(ctx, connect, ca.Fingerprint(m.Root()), tok, serial, code,
			o.message)
		if err != nil {
			return onlineError(err, connect, opRevoke)
		}
		a.Infof("Revoked serial %s (%s) through the running CA at %s", serial, o.reason, connect)
		fmt.Fprintln(a.Out, serial)
	}
	return nil
}

// serveSerials are the serials to revoke through banco ca serve: target
// itself, checked against the server's inventory, or the valid
// certificates of the name target.
func (a *App) serveSerials(dir, target string) ([]string, error) {
	if serial, ok := ca.ParseSerial(target); ok {
		revoked, err := a.checkRevocable(dir, serial)
		if revoked {
			a.Infof("Serial %s was already revoked", serial)
			return nil, err
		}
		return []string{serial}, err
	}
	recs, _, err := a.inventory(dir)
	if err != nil {
		return nil, withHint(fmt.Errorf("find the certificates of %q: %w", target, err),
			"give the SERIAL instead (banco inspect FILE shows it), or stop 'banco ca serve'")
	}
	return a.validSerials(recs, target)
}

func (a *App) revokeRemote(ctx context.Context, serial string, code int, o *revokeOptions) error {
	tok, err := enroll.ParseRevokeToken(o.token)
	if err != nil {
		return withHint(err, "make one on the CA host: banco ca token SERIAL --revoke")
	}
	if tok.Subject != serial {
		return withHint(fmt.Errorf("this token revokes serial %s, not %s", tok.Subject, serial),
			"give the serial the token was made for, or ask for a token for "+serial+
				": banco ca token "+serial+" --revoke")
	}
	caURL, fp := o.caURL, o.fingerprint
	if caURL == "" {
		caURL = tok.URL
	}
	if fp == "" {
		fp = tok.Fingerprint
	}
	if fp, err = checkFingerprintFlag(fp); err != nil {
		return err
	}
	if err := enroll.RevokeRemote(ctx, caURL, fp, o.token, serial, code, o.message); err != nil {
		return onlineError(err, caURL, opRevoke)
	}
	a.Infof("Revoked serial %s through the CA at %s", serial, caURL)
	fmt.Fprintln(a.Out, serial)
	return nil
}

// checkRevocable refuses, before any token is made or sent, a serial that
// the CA in dir never issued, as far as its inventory says, and reports
// whether it is revoked already. With no inventory to read it lets the CA
// decide.
func (a *App) checkRevocable(dir, serial string) (revoked bool, err error) {
	recs, _, err := a.inventory(dir)
	if err != nil {
		return false, nil
	}
	r, ok := findRecord(recs, serial)
	if !ok {
		return false, withHint(fmt.Errorf("revoke %s: %w", serial, ca.ErrUnknownSerial),
			"list the certificates: banco certs")
	}
	return r.Revoked, nil
}
