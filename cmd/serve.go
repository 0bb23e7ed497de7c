package cmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/banco/banco/bankcli/lazygc"
	"github.com/banco/banco/banksrv"
	"github.com/banco/banco/enroll"
	"github.com/banco/banco/internal/logbuf"
	"github.com/banco/banco/internal/memlimit"
	"github.com/banco/banco/internal/secfile"
	"github.com/banco/banco/ledger"
)

type serveOptions struct {
	addr      string
	db        string
	cert      string
	key       string
	cacert    string
	logFormat string
	logLevel  string
	caURL     string
	crlURL    string
	refresh   time.Duration

	ready     func(addr string)       // tests: called once the listener is open
	onRenewer func(r *enroll.Renewer) // tests: called with the renewer, if any
}

func newServeCmd(a *App) *cobra.Command {
	o := &serveOptions{}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the bank over mutual TLS",
		Long: `Run the bank: HTTPS and JSON over TLS 1.2 or 1.3, where every client must
present a certificate from the bank's CA with the clientAuth usage; the
customer is the one named in that certificate, and their account opens on
their first request.

By default it uses the server identity written by 'banco enroll server'
(server/server.crt, server.key and root_ca.crt in banco's folder) and the
SQLite ledger bank.db there; --db postgres://... uses PostgreSQL instead.
It logs one line per request on stderr and stops cleanly on Ctrl-C or
SIGTERM, finishing the requests in flight.

Revocation: a revoked client is refused at the handshake, resumed TLS
sessions included, at most --crl-refresh after its revocation; on a
connection it already holds, its next request after that is refused and
the connection closed (with --crl-refresh 0: within a second). The list
comes from, in this order: --crl-url; the CA database when the CA is in the
same banco folder (or, while 'banco ca serve' holds that database, its CRL);
the CRL distribution point in the server's certificate. If the CA cannot be
reached, the last CRL is used until it expires (24 hours after the CA made
it); with no current list at all every client is refused (fail closed).
With no source at all revocation is not checked, and the banner says so.

Renewal: when the online CA's URL is known (--ca-url, the server
certificate, or the CA folder beside it), the server renews its own
certificate at two thirds of its life, writes the new one over the old
files and uses it for new connections, without a restart; connections
already open carry on.

Memory: the server collects garbage when its Go memory nears a soft limit,
64 MiB or twice the live heap when that is more, rather than each time the
heap doubles: busy servers collect less often, and many idle connections
cost less. GOMEMLIMIT, if set, is used instead; GOGC, if set, still applies.`,
		Example: `  $ banco serve
  $ banco serve --addr 0.0.0.0:8443 --log-format json
  $ banco serve --db postgres://postgres@127.0.0.1:5432/bank`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runServe(c.Context(), o) },
	}
	f := c.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8443", "address to listen on")
	f.StringVar(&o.db, "db", "",
		"ledger: a SQLite file or a postgres:// URL (default bank.db in banco's folder)")
	f.StringVar(&o.cert, "cert", "", "server certificate chain (default server/server.crt)")
	f.StringVar(&o.key, "key", "", "server private key (default server/server.key)")
	f.StringVar(&o.cacert, "cacert", "",
		"root CA that client certificates must chain to (default server/root_ca.crt)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.caURL, "ca-url", "",
		"the online CA, for renewing the server certificate (default: from the certificate)")
	f.StringVar(&o.crlURL, "crl-url", "",
		"fetch the CRL from this URL (default: from the CA folder or the certificate)")
	f.DurationVar(&o.refresh, "crl-refresh", enroll.DefaultCRLRefresh,
		"the longest a revocation takes to be enforced; 0 checks on every handshake")
	return c
}

func (a *App) runServe(ctx context.Context, o *serveOptions) error {
	logOut := a.Err
	if f, ok := a.Err.(*os.File); ok {
		// A real stderr: a line per request costs a write system call,
		// so lines are gathered and written by their own goroutine.
		lb := logbuf.New(f)
		defer lb.Close()
		logOut = lb
	}
	logger, err := newLogger(logOut, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return usageErrorf("--addr %q: want HOST:PORT, such as 127.0.0.1:8443 or :8443", o.addr)
	}
	explicitDB := o.db != ""
	if err := a.serveDefaults(o); err != nil {
		return err
	}
	fresh, err := newLedgerFile(o.db, explicitDB)
	if err != nil {
		return err
	}
	cert, err := loadServerPair(o.cert, o.key)
	if err != nil {
		return err
	}
	if now := a.Now(); now.After(cert.Leaf.NotAfter) || now.Before(cert.Leaf.NotBefore) {
		return withHint(fmt.Errorf("server certificate %s is valid from %s to %s, not now",
			o.cert, cert.Leaf.NotBefore.UTC().Format(dateLayout),
			cert.Leaf.NotAfter.UTC().Format(dateLayout)),
			"issue a new one: banco enroll server --force")
	}
	pool, roots, err := banksrv.LoadRoots(o.cacert)
	if err != nil {
		return fileHint(err, "banco enroll server")
	}
	if o.refresh < 0 {
		return usageErrorf("--crl-refresh must not be negative")
	}
	caDir := a.besideCA(roots[0])
	rev, err := a.revocationSource(o, cert, roots[0], caDir)
	if err != nil {
		return err
	}
	ren, err := a.serverRenewer(o, cert, roots, caDir, logger)
	if err != nil {
		return err
	}

	getCert := banksrv.NewCertHolder(cert).GetCertificate
	if ren.renewer != nil {
		getCert = ren.renewer.GetCertificate
	}
	tlsOpts := banksrv.TLSOptions{GetCertificate: getCert, ClientCAs: pool, Now: a.Now}
	if rev.checker != nil {
		tlsOpts.CheckClient = banksrv.CheckRevocation(rev.checker)
	}
	tlsCfg, err := banksrv.NewTLSConfig(tlsOpts)
	if err != nil {
		return err
	}

	store, err := ledger.Open(ctx, o.db, ledger.Options{Now: a.Now})
	if err != nil {
		return fmt.Errorf("open ledger %s: %w", redactDSN(o.db), err)
	}
	defer store.Close()
	srvCfg := banksrv.Config{Store: store, TLS: tlsCfg, Logger: logger, Now: a.Now}
	if rev.checker != nil {
		srvCfg.RecheckClient = recheckEvery(o.refresh)
	}
	srv, err := banksrv.New(srvCfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return listenError(err, o.addr)
	}
	rev.firstUpdate(ctx)
	db := redactDSN(o.db)
	if fresh {
		db += " (new, empty)"
	}
	a.serveBanner(ln.Addr().String(), cert.Leaf, roots[0], db)
	a.Infof("  revocation:         %s", rev.describe(o.refresh))
	a.Infof("  renewal:            %s", ren.describe)
	a.Infof("  stop with Ctrl-C")

	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	// lazygc holds the collector off for the first 100 ms of every banco
	// command; its timer must not later undo what memlimit sets.
	lazygc.Restore()
	go memlimit.Run(bg)
	if rev.updater != nil {
		go banksrv.KeepFresh(bg, rev.updater, o.refresh/2, logger)
	}
	if ren.renewer != nil {
		go ren.renewer.Run(bg)
		if o.onRenewer != nil {
			o.onRenewer(ren.renewer)
		}
	}
	if o.ready != nil {
		o.ready(ln.Addr().String())
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return fmt.Errorf("serve on %s: %w", o.addr, err)
	}
	if lb, ok := logOut.(*logbuf.Writer); ok {
		_ = lb.Close() // the last requests' lines before the last word
	}
	a.Infof("banco serve: stopped")
	return nil
}

// serveDefaults fills in the files and database from banco's folder.
func (a *App) serveDefaults(o *serveOptions) error {
	if o.cert != "" && o.key != "" && o.cacert != "" && o.db != "" {
		return nil
	}
	home, err := a.Home()
	if err != nil {
		return err
	}
	dir := home.ServerDir()
	for _, d := range []struct {
		v    *string
		file string
	}{
		{&o.cert, filepath.Join(dir, ServerCertFile)},
		{&o.key, filepath.Join(dir, ServerKeyFile)},
		{&o.cacert, filepath.Join(dir, RootCertFile)},
		{&o.db, home.LedgerDB()},
	} {
		if *d.v == "" {
			*d.v = d.file
		}
	}
	return nil
}

// newLedgerFile reports whether the SQLite ledger at dsn does not exist yet,
// so that the banner can say so. ledger.Open creates missing folders, which
// suits banco's own folder; a --db whose folder is missing is more likely a
// typo than a new place, so it is refused before anything is created.
func newLedgerFile(dsn string, explicit bool) (bool, error) {
	path, ok := ledger.SQLitePath(dsn)
	if !ok || path == "" {
		return false, nil // not a file: ledger.Open says what is wrong
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); explicit && errors.Is(err, fs.ErrNotExist) {
		return false, withHint(fmt.Errorf("ledger %s: the folder %s does not exist", path, dir),
			"check the path given to --db, or create the folder first")
	}
	return true, nil
}

func loadServerPair(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := banksrv.LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, fileHint(err, "banco enroll server")
	}
	return cert, nil
}

// fileHint adds the next step to a missing or unsafe file.
func fileHint(err error, creator string) error {
	var pe *secfile.PermError
	switch {
	case errors.As(err, &pe):
		return withHint(err, "make it private: chmod 600 "+pe.Path)
	case errors.Is(err, fs.ErrNotExist):
		return withHint(err, "create it with: "+creator)
	}
	return err
}

const dateLayout = "2006-01-02 15:04 MST"

func (a *App) serveBanner(addr string, leaf, root *x509.Certificate, db string) {
	names := append([]string{}, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	a.Infof("banco serve: listening on https://%s (TLS 1.2/1.3, client certificates required)",
		addr)
	a.Infof("  server certificate: %s, valid until %s", strings.Join(names, ", "),
		leaf.NotAfter.UTC().Format(dateLayout))
	a.Infof("  CA fingerprint:     %s", banksrv.Fingerprint(root))
	a.Infof("  trusted client CA:  %s", root.Subject)
	a.Infof("  ledger:             %s", db)
}

// redactDSN hides a password in a PostgreSQL URL before it is shown.
func redactDSN(dsn string) string {
	if !ledger.IsPostgres(dsn) {
		return dsn
	}
	return ledger.Redact(dsn)
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErrorf("--log-format %q: use text or json", format)
}

// listenError adds what to do when the address in --addr cannot be used.
func listenError(err error, addr string) error {
	err = fmt.Errorf("listen on %s: %w", addr, err)
	switch {
	case addrInUse(err):
		return withHint(err, "is another banco serve running? choose another address with --addr")
	case errors.Is(err, fs.ErrPermission):
		return withHint(err, "ports below 1024 need elevated rights; choose another, "+
			"such as --addr 127.0.0.1:8443")
	}
	return withHint(err, "--addr takes HOST:PORT, where HOST is a name or address of this "+
		"machine (or empty for all of them), such as 127.0.0.1:8443 or :8443")
}
