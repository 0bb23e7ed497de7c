package cmd

// banco export p12: an enrolled identity as one PKCS#12 file.

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/banco/banco/internal/identity"
	"github.com/banco/banco/internal/secfile"
)

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
		Args: oneName("NAME", "the customer's NAME"),
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
	// The folder is the user's: it must exist, and its mode is left alone.
	if fi, err := os.Stat(filepath.Dir(out)); err != nil || !fi.IsDir() {
		return withHint(fmt.Errorf("write %s: the folder %s does not exist", out,
			filepath.Dir(out)), "create it first, or choose another --out")
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
	if err := secfile.Write(out, data, 0o600, o.force); err != nil {
		return err
	}
	a.Infof("Wrote %s (certificate, chain and key of %s; 0600, encrypted with your password)",
		out, name)
	a.Infof("Next: import it in a browser (with %s as a trusted CA), or:", p.Root)
	a.Infof("  curl --cert-type P12 --cert %s --cacert %s https://banco.local:8443/v1/balance",
		quoteArg(out+":PASSWORD"), quoteArg(p.Root))
	fmt.Fprintln(a.Out, out)
	return nil
}
