package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/db"
	"go.step.sm/crypto/jose"
	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"

	"github.com/banco/banco/internal/secfile"
)

// Lifetimes of the CA certificates (issue 2).
const (
	RootYears         = 10
	IntermediateYears = 5
)

// insecurePassphrase encrypts the provisioner keys of a CA made with
// Insecure: the engine cannot hold a JWK provisioner key without a
// passphrase. It is public, so such a CA has no protection at rest at all,
// which is exactly what the insecure flag says.
const insecurePassphrase = "banco-insecure-ca-no-password"

// InitOptions says how to create a CA.
type InitOptions struct {
	Dir      string    // the CA folder, created 0700
	Name     string    // organisation in the subjects; default "banco"
	KeyType  KeyType   // default KeyEC
	Password []byte    // encrypts the keys; required unless Insecure
	Insecure bool      // write the keys unencrypted
	Force    bool      // replace an existing CA (it is moved aside, not deleted)
	DNSNames []string  // the online CA's names; default DefaultDNSName and loopback
	Address  string    // the online CA's listen address; default ":9000"
	Now      time.Time // clock; zero means time.Now()
}

// Info describes a CA: where its files are and its two certificates.
type Info struct {
	Dir              string
	RootCert         string // paths of the files
	RootKey          string
	IntermediateCert string
	IntermediateKey  string
	Config           string
	DB               string
	Replaced         string // where Init moved a replaced CA, if it did

	Root         *x509.Certificate
	Intermediate *x509.Certificate
	Encrypted    bool // whether the keys are encrypted at rest
}

// Fingerprint is the root's SHA-256 fingerprint in lower-case hex.
func (i *Info) Fingerprint() string { return Fingerprint(i.Root) }

func infoFor(dir string) *Info {
	return &Info{
		Dir:              dir,
		RootCert:         filepath.Join(dir, RootCertFile),
		RootKey:          filepath.Join(dir, RootKeyFile),
		IntermediateCert: filepath.Join(dir, IntermediateCertFile),
		IntermediateKey:  filepath.Join(dir, IntermediateKeyFile),
		Config:           filepath.Join(dir, ConfigFile),
		DB:               filepath.Join(dir, DBDir, DBFile),
	}
}

// Exists reports whether dir already holds a CA (or part of one).
func Exists(dir string) bool {
	for _, f := range []string{RootCertFile, IntermediateCertFile, ConfigFile} {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// Init creates a two-tier CA in opts.Dir: a root valid RootYears and an
// intermediate valid IntermediateYears, keys encrypted with opts.Password
// (PKCS#8, PBES2), the engine's config with one JWK provisioner per Kind,
// and an empty database. The CA is built in a temporary sibling folder and
// renamed into place, so a failure leaves nothing half-written; with Force an
// existing CA is moved aside to Info.Replaced.
func Init(opts InitOptions) (*Info, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if Exists(opts.Dir) && !opts.Force {
		return nil, fmt.Errorf("create CA in %s: %w", opts.Dir, ErrExists)
	}

	parent := filepath.Dir(opts.Dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("create CA folder %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, ".ca-new-*")
	if err != nil {
		return nil, fmt.Errorf("create CA folder in %s: %w", parent, err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed into place

	info, err := build(tmp, opts)
	if err != nil {
		return nil, err
	}
	if err := secfile.MkdirPrivate(tmp); err != nil {
		return nil, fmt.Errorf("create CA folder %s: %w", tmp, err)
	}
	switch {
	case Exists(opts.Dir):
		stamp := opts.Now.UTC().Format("20060102T150405Z")
		info.Replaced = fmt.Sprintf("%s.replaced-%s", opts.Dir, stamp)
		if err := os.Rename(opts.Dir, info.Replaced); err != nil {
			return nil, fmt.Errorf("move old CA aside: %w", err)
		}
	case dirExists(opts.Dir):
		// An empty folder is replaced; anything else is not banco's to remove.
		if err := os.Remove(opts.Dir); err != nil {
			return nil, fmt.Errorf("create CA in %s: the folder exists and is not "+
				"an empty folder or a banco CA", opts.Dir)
		}
	}
	if err := os.Rename(tmp, opts.Dir); err != nil {
		if info.Replaced != "" {
			os.Rename(info.Replaced, opts.Dir) // put the old CA back
		}
		return nil, fmt.Errorf("move new CA into %s: %w", opts.Dir, err)
	}
	return info, nil
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

func (o InitOptions) withDefaults() (InitOptions, error) {
	if o.Dir == "" {
		return o, errors.New("create CA: no folder given")
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("create CA in %s: %w", o.Dir, err)
	}
	o.Dir = abs
	if o.Name == "" {
		o.Name = "banco"
	}
	if o.KeyType == "" {
		o.KeyType = KeyEC
	}
	if _, err := ParseKeyType(string(o.KeyType)); err != nil {
		return o, fmt.Errorf("create CA: %w", err)
	}
	if len(o.Password) == 0 && !o.Insecure {
		return o, fmt.Errorf("create CA: %w", ErrPasswordRequired)
	}
	if o.Insecure {
		o.Password = nil
	}
	if len(o.DNSNames) == 0 {
		o.DNSNames = []string{DefaultDNSName, "localhost", "127.0.0.1", "::1"}
	}
	if o.Address == "" {
		o.Address = ":9000"
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return o, nil
}

// build writes a whole CA into tmp, with paths in its config that point at
// the final folder opts.Dir.
func build(tmp string, opts InitOptions) (*Info, error) {
	final := infoFor(opts.Dir)
	files := infoFor(tmp)

	rootKey, err := generateKey(opts.KeyType)
	if err != nil {
		return nil, err
	}
	root, err := makeCA(opts, rootKey.Public(), nil, rootKey, true)
	if err != nil {
		return nil, fmt.Errorf("create root certificate: %w", err)
	}
	intKey, err := generateKey(opts.KeyType)
	if err != nil {
		return nil, err
	}
	inter, err := makeCA(opts, intKey.Public(), root, rootKey, false)
	if err != nil {
		return nil, fmt.Errorf("create intermediate certificate: %w", err)
	}

	if err := writeKey(files.RootKey, rootKey, opts.Password); err != nil {
		return nil, err
	}
	if err := writeKey(files.IntermediateKey, intKey, opts.Password); err != nil {
		return nil, err
	}
	if err := writeCerts(files.RootCert, root); err != nil {
		return nil, err
	}
	if err := writeCerts(files.IntermediateCert, inter); err != nil {
		return nil, err
	}

	cfg, err := engineConfig(final, opts, inter)
	if err != nil {
		return nil, err
	}
	if err := writeConfig(files.Config, cfg); err != nil {
		return nil, err
	}
	if err := createDB(files.DB); err != nil {
		return nil, err
	}

	final.Root, final.Intermediate = root, inter
	final.Encrypted = !opts.Insecure
	return final, nil
}

func generateKey(kt KeyType) (crypto.Signer, error) {
	var (
		s   crypto.Signer
		err error
	)
	switch kt {
	case KeyRSA:
		s, err = keyutil.GenerateSigner("RSA", "", 2048)
	case KeyEd25519:
		s, err = keyutil.GenerateSigner("OKP", "Ed25519", 0)
	default:
		s, err = keyutil.GenerateSigner("EC", "P-256", 0)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", kt, err)
	}
	return s, nil
}

// makeCA signs a root (isRoot, parent nil, self-signed) or an intermediate
// that may issue only leaves (path length 0).
func makeCA(opts InitOptions, pub crypto.PublicKey, parent *x509.Certificate,
	signer crypto.Signer, isRoot bool) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             opts.Now.Add(-time.Minute).UTC(),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if isRoot {
		tpl.Subject = pkix.Name{Organization: []string{opts.Name}, CommonName: opts.Name + " Root CA"}
		tpl.NotAfter = opts.Now.AddDate(RootYears, 0, 0).UTC()
		tpl.MaxPathLen = 1
		parent = tpl
	} else {
		tpl.Subject = pkix.Name{Organization: []string{opts.Name},
			CommonName: opts.Name + " Intermediate CA"}
		tpl.NotAfter = opts.Now.AddDate(IntermediateYears, 0, 0).UTC()
		tpl.MaxPathLen = 0
		tpl.MaxPathLenZero = true
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// writeKey writes key as PKCS#8, encrypted when password is set.
func writeKey(path string, key crypto.Signer, password []byte) error {
	opts := []pemutil.Options{pemutil.WithPKCS8(true)}
	if len(password) > 0 {
		opts = append(opts, pemutil.WithPassword(password))
	}
	block, err := pemutil.Serialize(key, opts...)
	if err != nil {
		return fmt.Errorf("encode key %s: %w", path, err)
	}
	return secfile.WritePrivate(path, pem.EncodeToMemory(block), false)
}

func writeCerts(path string, certs ...*x509.Certificate) error {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return secfile.Write(path, b, 0o644, false)
}

// engineConfig is the smallstep config for the CA in folder info.Dir. It
// never holds the password: that is passed at run time.
func engineConfig(info *Info, opts InitOptions, inter *x509.Certificate) (*config.Config, error) {
	pass := opts.Password
	if opts.Insecure {
		pass = []byte(insecurePassphrase)
	}
	var provs provisioner.List
	for _, name := range []string{ServerProvisioner, ClientProvisioner} {
		pub, enc, err := jose.GenerateDefaultKeyPair(pass)
		if err != nil {
			return nil, fmt.Errorf("create provisioner key %s: %w", name, err)
		}
		s, err := enc.CompactSerialize()
		if err != nil {
			return nil, fmt.Errorf("encode provisioner key %s: %w", name, err)
		}
		provs = append(provs, &provisioner.JWK{
			Type: "JWK", Name: name, Key: pub, EncryptedKey: s,
		})
	}

	// Certificates may last as long as the intermediate (issue 2); banco caps
	// each leaf at the intermediate's end itself.
	maxDur := inter.NotAfter.Sub(opts.Now) + 24*time.Hour
	no, yes := false, true
	claims := &provisioner.Claims{
		MinTLSDur:                  &provisioner.Duration{Duration: 5 * time.Minute},
		MaxTLSDur:                  &provisioner.Duration{Duration: maxDur},
		DefaultTLSDur:              &provisioner.Duration{Duration: DefaultDays * 24 * time.Hour},
		EnableSSHCA:                &no,
		DisableRenewal:             &no,
		AllowRenewalAfterExpiry:    &no,
		DisableSmallstepExtensions: &yes,
	}
	return &config.Config{
		Root:             []string{info.RootCert},
		IntermediateCert: info.IntermediateCert,
		IntermediateKey:  info.IntermediateKey,
		Address:          opts.Address,
		DNSNames:         opts.DNSNames,
		DB:               &db.Config{Type: "bbolt", DataSource: info.DB},
		CommonName:       opts.Name + " Online CA",
		AuthorityConfig: &config.AuthConfig{
			Provisioners: provs,
			Claims:       claims,
			Backdate:     &provisioner.Duration{Duration: Backdate},
		},
		CRL: &config.CRLConfig{
			Enabled:          true,
			GenerateOnRevoke: true,
			CacheDuration:    &provisioner.Duration{Duration: CRLValidity},
		},
	}, nil
}

func writeConfig(path string, cfg *config.Config) error {
	if cfg.Password != "" {
		return errors.New("refusing to write a password into the CA config")
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("encode CA config: %w", err)
	}
	return secfile.Write(path, append(b, '\n'), 0o600, false)
}

func createDB(path string) error {
	if err := secfile.MkdirPrivate(filepath.Dir(path)); err != nil {
		return fmt.Errorf("create CA database folder: %w", err)
	}
	d, err := db.New(&db.Config{Type: "bbolt", DataSource: path})
	if err != nil {
		return fmt.Errorf("create CA database %s: %w", path, err)
	}
	return d.Shutdown()
}
