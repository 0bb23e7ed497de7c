package cmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/banco/banco/banksrv"
	"github.com/banco/banco/ca"
	"github.com/banco/banco/enroll"
)

// The PKI side of banco serve: where the list of revoked clients comes
// from, and the background renewal of the server's own certificate.

// CRLCacheFile, next to the server's certificate, keeps the last CRL that
// banco serve fetched, for a restart while the CA is down.
const CRLCacheFile = "ca.crl"

// besideCA returns the CA folder in banco's home when that CA is the one
// whose root the server trusts for clients, and "" otherwise.
func (a *App) besideCA(root *x509.Certificate) string {
	home, err := a.Home()
	if err != nil {
		return ""
	}
	dir := home.CADir()
	info, err := ca.Load(dir)
	if err != nil || !info.Root.Equal(root) {
		return ""
	}
	return dir
}

// recheckEvery is how often an open connection's client certificate is
// checked again: half of --crl-refresh, so that with the list itself
// refreshed every half (banksrv.KeepFresh) a revocation reaches connections
// already open within --crl-refresh, as it reaches handshakes; at least a
// second, since with --crl-refresh 0 every check asks the CA.
func recheckEvery(refresh time.Duration) time.Duration {
	return max(refresh/2, time.Second)
}

// revocation is banco serve's source of revoked serials.
type revocation struct {
	checker banksrv.RevocationChecker // nil: revocation is not checked
	updater banksrv.Updater
	crl     *enroll.CRLChecker
	db      *enroll.DBChecker
	first   error // the result of the first update, for the banner
}

// revocationSource picks where revocations come from: --crl-url; else the
// CA database when the CA is in the same home (with its CRL, fetched where
// banco ca serve listens, while it holds the database); else the CRL named
// by --ca-url or the server certificate.
func (a *App) revocationSource(o *serveOptions, cert *tls.Certificate, root *x509.Certificate,
	caDir string) (*revocation, error) {
	crlURL := o.crlURL
	if crlURL != "" {
		if err := checkHTTPS(crlURL); err != nil {
			return nil, usageErrorf("--crl-url %q: %v", crlURL, err)
		}
	}
	if crlURL == "" && o.caURL != "" {
		crlURL = ca.CRLURL(o.caURL)
	}
	if crlURL == "" && caDir != "" {
		// Beside the CA, reach it where it listens: its public name may
		// resolve only on the other machines.
		if u := ca.LocalURL(caDir); u != "" {
			crlURL = ca.CRLURL(u)
		}
	}
	if crlURL == "" && len(cert.Leaf.CRLDistributionPoints) > 0 {
		crlURL = cert.Leaf.CRLDistributionPoints[0]
	}

	r := &revocation{}
	if crlURL == "" && caDir == "" {
		return r, nil
	}
	issuer, err := crlIssuer(cert, caDir)
	if err != nil {
		return nil, withHint(fmt.Errorf("check revocation with %s: %w", crlURL, err),
			"enroll the server again (banco enroll server --force) to get the full chain")
	}
	newCRL := func(u string) *enroll.CRLChecker {
		c := enroll.NewCRLChecker(u, root, issuer)
		c.Refresh, c.Now = o.refresh, a.Now
		c.CacheFile = filepath.Join(filepath.Dir(o.cert), CRLCacheFile)
		return c
	}
	if crlURL != "" {
		r.crl = newCRL(crlURL)
		r.checker, r.updater = r.crl, r.crl
	}
	if caDir != "" && o.crlURL == "" {
		r.db = enroll.NewDBChecker(caDir, r.crl)
		r.db.Refresh, r.db.Now = o.refresh, a.Now
		r.db.NewCRL = func() *enroll.CRLChecker {
			if u := ca.LocalURL(caDir); u != "" {
				return newCRL(ca.CRLURL(u))
			}
			return nil
		}
		r.checker, r.updater = r.db, r.db
	}
	return r, nil
}

// crlIssuer is the CA that signs the CRL: the intermediate that issued the
// server's certificate, the same one that issues client certificates.
func crlIssuer(cert *tls.Certificate, caDir string) (*x509.Certificate, error) {
	if len(cert.Certificate) > 1 {
		return x509.ParseCertificate(cert.Certificate[1])
	}
	if caDir != "" {
		info, err := ca.Load(caDir)
		if err != nil {
			return nil, err
		}
		return info.Intermediate, nil
	}
	return nil, fmt.Errorf("the server certificate file has no intermediate " +
		"to check the CRL's signature with")
}

func checkHTTPS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("want an https:// URL")
	}
	return nil
}

// firstUpdate loads the revocation data once before the server takes
// clients, so that the banner can tell whether it worked.
func (r *revocation) firstUpdate(ctx context.Context) {
	if r.updater == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r.first = r.updater.Update(ctx)
}

// describe is the banner's line about revocation.
func (r *revocation) describe(refresh time.Duration) string {
	every := "checked on every handshake"
	if refresh > 0 {
		every = "refreshed every " + shortDuration(refresh)
	}
	switch {
	case r.checker == nil:
		return "NOT CHECKED: no CRL is known, so revoked clients get in; " +
			"pass --crl-url https://CA/1.0/crl or --ca-url, or enroll the server " +
			"once 'banco ca serve' runs"
	case r.db != nil && r.db.CRLInUse() != nil:
		return fmt.Sprintf("the CRL at %s of the running 'banco ca serve' (it holds the CA "+
			"database in %s), %s%s", r.db.CRLInUse().URL, r.db.Dir, every, r.status())
	case r.db != nil:
		fallback := "; its CRL while 'banco ca serve' runs"
		if r.crl != nil {
			fallback = "; the CRL at " + r.crl.URL + " while 'banco ca serve' runs"
		}
		return fmt.Sprintf("the CA database in %s, %s%s%s", r.db.Dir, every, fallback,
			r.status())
	}
	return fmt.Sprintf("the CRL at %s, %s%s", r.crl.URL, every, r.status())
}

func (r *revocation) status() string {
	crl := r.crl
	if r.db != nil {
		crl = r.db.CRLInUse()
	}
	until := time.Time{}
	if crl != nil {
		until = crl.NextUpdate()
	}
	switch {
	case r.first != nil && !until.IsZero():
		return fmt.Sprintf("; the CA is NOT REACHABLE (%v), so the copy in %s is used "+
			"until %s", r.first, crl.CacheFile, until.UTC().Format(dateLayout))
	case r.first != nil:
		return fmt.Sprintf("; NOT AVAILABLE YET (%v): every client is refused until it is",
			r.first)
	case !until.IsZero():
		return "; current until " + until.UTC().Format(dateLayout)
	}
	return ""
}

// shortDuration prints 1m rather than 1m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// renewal is banco serve's background renewal of its own certificate.
type renewal struct {
	renewer  *enroll.Renewer // nil: renewal is off
	describe string
}

// serverRenewer sets up renewal through the online CA, when its URL is
// known: --ca-url, where the CA beside it listens, or the server
// certificate.
func (a *App) serverRenewer(o *serveOptions, cert *tls.Certificate, roots []*x509.Certificate,
	caDir string, logger *slog.Logger) (*renewal, error) {
	caURL := o.caURL
	if caURL != "" {
		if err := checkHTTPS(caURL); err != nil {
			return nil, usageErrorf("--ca-url %q: %v", caURL, err)
		}
	}
	if caURL == "" && caDir != "" {
		caURL = ca.LocalURL(caDir)
	}
	if caURL == "" {
		caURL = enroll.CAURL(cert.Leaf)
	}
	if caURL == "" {
		return &renewal{describe: "off: the online CA's URL is not known; turn it on with " +
			"--ca-url https://HOST:PORT (see banco ca serve)"}, nil
	}
	if len(roots) > 1 {
		// The renewer writes the root file back with the one root it uses.
		return &renewal{describe: fmt.Sprintf("off: %s holds %d roots and renewal would "+
			"rewrite it; renew by hand with banco renew", o.cacert, len(roots))}, nil
	}
	p := enroll.Paths{Cert: o.cert, Key: o.key, Root: o.cacert}
	r, err := enroll.NewRenewer(p, caURL, logger)
	if err != nil {
		return nil, fileHint(err, "banco enroll server")
	}
	return &renewal{renewer: r, describe: fmt.Sprintf("automatic through %s, next at %s",
		caURL, r.NextRenewal().UTC().Format(dateLayout))}, nil
}
