package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/smallstep/certificates/authority"
	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/db"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	kmsapi "go.step.sm/crypto/kms/apiv1"
	"go.step.sm/crypto/pemutil"

	"github.com/banco/banco/internal/secfile"
)

// Issuing defaults.
const (
	DefaultDays = 365         // leaf lifetime when the caller does not choose
	Backdate    = time.Minute // not-before is this far in the past, for clock skew
	CRLValidity = 24 * time.Hour
)

// Authority is an open CA: the smallstep engine running in-process on the
// CA folder, holding the database lock until Close.
type Authority struct {
	*Minter
	auth *authority.Authority
	db   db.AuthDB
	now  func() time.Time

	closeOnce sync.Once
	closeErr  error
	snapMu    sync.Mutex // one WriteSnapshot at a time
}

// Option changes how Open sets up the engine.
type Option func(*openOptions)

type openOptions struct {
	crlURL   string
	dnsNames []string
	address  string
	now      func() time.Time
}

// WithCRLURL makes every leaf issued from now on carry url as its CRL
// distribution point (RFC 5280, section 4.2.1.13). Without it, Open uses the
// URL recorded by SaveURL, if any.
func WithCRLURL(url string) Option { return func(o *openOptions) { o.crlURL = url } }

// WithDNSNames replaces the online CA's names (its TLS certificate's SANs
// and the hosts accepted in token audiences).
func WithDNSNames(names ...string) Option {
	return func(o *openOptions) { o.dnsNames = names }
}

// WithAddress sets the online CA's listen address.
func WithAddress(addr string) Option { return func(o *openOptions) { o.address = addr } }

// WithClock sets the clock used for tokens and default lifetimes.
func WithClock(now func() time.Time) Option { return func(o *openOptions) { o.now = now } }

// NeedsPassword reports whether the CA in dir has an encrypted key. It
// returns an error wrapping ErrNoCA when there is no CA.
func NeedsPassword(dir string) (bool, error) {
	info := infoFor(dir)
	b, err := os.ReadFile(info.IntermediateKey)
	if errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("open CA in %s: %w", dir, ErrNoCA)
	}
	if err != nil {
		return false, fmt.Errorf("read CA key: %w", err)
	}
	return isEncrypted(b), nil
}

func isEncrypted(keyPEM []byte) bool {
	block, _ := pem.Decode(keyPEM)
	return block != nil && (block.Type == "ENCRYPTED PRIVATE KEY" ||
		block.Headers["Proc-Type"] != "")
}

// Load reads the certificates of the CA in dir without its keys, for
// commands that only need the root (fingerprints, health checks).
func Load(dir string) (*Info, error) {
	info := infoFor(dir)
	if !Exists(dir) {
		return nil, fmt.Errorf("open CA in %s: %w", dir, ErrNoCA)
	}
	var err error
	if info.Root, err = readCert(info.RootCert); err != nil {
		return nil, err
	}
	if info.Intermediate, err = readCert(info.IntermediateCert); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(info.IntermediateKey)
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	info.Encrypted = isEncrypted(b)
	return info, nil
}

// Open starts the engine on the CA in dir. password decrypts the CA keys; it
// may be nil only for a CA made with Insecure. Errors wrap ErrNoCA,
// ErrPasswordRequired, ErrWrongPassword, ErrLocked or *secfile.PermError.
func Open(dir string, password []byte, opts ...Option) (*Authority, error) {
	o := openOptions{now: time.Now}
	for _, fn := range opts {
		fn(&o)
	}
	info, err := Load(dir)
	if err != nil {
		return nil, err
	}
	signer, err := loadKey(info.IntermediateKey, password)
	if err != nil {
		return nil, err
	}
	if o.crlURL == "" {
		if u := LoadURL(dir); u != "" {
			o.crlURL = CRLURL(u)
		}
	}
	cfg, err := loadConfig(info, o)
	if err != nil {
		return nil, err
	}

	if err := probeLock(info.DB); err != nil {
		return nil, fmt.Errorf("open CA database %s: %w", info.DB, err)
	}
	d, err := db.New(cfg.DB)
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open CA database %s: %w", info.DB, ErrLocked)
		}
		return nil, fmt.Errorf("open CA database %s: %w", info.DB, err)
	}
	auth, err := authority.New(cfg,
		authority.WithDatabase(d),
		authority.WithKeyManager(&memKMS{key: signer}),
		authority.WithQuietInit(),
	)
	if err != nil {
		d.Shutdown()
		return nil, fmt.Errorf("start CA engine: %w", err)
	}
	return &Authority{
		Minter: newMinter(info, cfg, password),
		auth:   auth,
		db:     d,
		now:    o.now,
	}, nil
}

// loadKey reads and decrypts the CA key at path, refusing a key that others
// can read.
func loadKey(path string, password []byte) (crypto.Signer, error) {
	b, err := secfile.ReadPrivate(path)
	if err != nil {
		return nil, err
	}
	var opts []pemutil.Options
	if isEncrypted(b) {
		if len(password) == 0 {
			return nil, ErrPasswordRequired
		}
		opts = append(opts, pemutil.WithPassword(password))
	}
	k, err := pemutil.ParseKey(b, opts...)
	if errors.Is(err, x509.IncorrectPasswordError) {
		return nil, ErrWrongPassword
	}
	if err != nil {
		return nil, fmt.Errorf("read CA key %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("read CA key %s: not a signing key", path)
	}
	return s, nil
}

// loadConfig reads ca.json and points it at the files where they are now,
// so that a moved banco folder keeps working, and sets banco's templates.
func loadConfig(info *Info, o openOptions) (*config.Config, error) {
	cfg, err := config.LoadConfiguration(info.Config)
	if err != nil {
		return nil, fmt.Errorf("read CA config %s: %w", info.Config, err)
	}
	cfg.Root = []string{info.RootCert}
	cfg.IntermediateCert = info.IntermediateCert
	cfg.IntermediateKey = info.IntermediateKey
	cfg.DB = &db.Config{Type: "bbolt", DataSource: info.DB}
	cfg.Password = ""
	if len(o.dnsNames) > 0 {
		cfg.DNSNames = o.dnsNames
	}
	if o.address != "" {
		cfg.Address = o.address
	}
	if cfg.AuthorityConfig == nil {
		return nil, fmt.Errorf("read CA config %s: no authority section", info.Config)
	}
	// The engine refuses tokens minted before it started: a stopgap for CAs
	// with no database (see authority.authorizeToken). banco's CA always has
	// one, which records used tokens for good, so a token stays single-use
	// across restarts and can be minted while the CA is down (--ca-url).
	cfg.AuthorityConfig.DisableIssuedAtCheck = true
	found := 0
	for _, p := range cfg.AuthorityConfig.Provisioners {
		jwk, ok := p.(*provisioner.JWK)
		if !ok {
			continue
		}
		kind := KindServer
		switch jwk.Name {
		case ServerProvisioner:
		case ClientProvisioner:
			kind = KindClient
		default:
			continue
		}
		found++
		jwk.Options = &provisioner.Options{X509: &provisioner.X509Options{
			Template: leafTemplate(kind, o.crlURL),
		}}
	}
	if found != 2 {
		return nil, fmt.Errorf("read CA config %s: the banco provisioners are missing",
			info.Config)
	}
	return cfg, nil
}

func readCert(path string) (*x509.Certificate, error) {
	certs, err := ReadCerts(path)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// ReadCerts reads the PEM certificates in path, in order.
func ReadCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("read certificate %s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("read certificate %s: no PEM certificate in it", path)
	}
	return certs, nil
}

// Info describes the CA's files and certificates.
func (a *Authority) Info() *Info { return a.info }

// Intermediate is the issuing certificate.
func (a *Authority) Intermediate() *x509.Certificate { return a.info.Intermediate }

// Engine returns the smallstep authority, for serving it over HTTP.
func (a *Authority) Engine() *authority.Authority { return a.auth }

// Config returns the engine's configuration as Open set it up.
func (a *Authority) Config() *config.Config { return a.cfg }

// Close stops the engine and releases the database. Calling it again does
// nothing.
func (a *Authority) Close() error {
	a.closeOnce.Do(func() {
		a.Minter.Close()
		if err := a.auth.Shutdown(); err != nil {
			a.closeErr = fmt.Errorf("close CA database: %w", err)
		}
	})
	return a.closeErr
}

// IssueRequest asks the CA to sign a leaf certificate.
type IssueRequest struct {
	Kind    Kind
	CSR     *x509.CertificateRequest
	Subject string   // the subject's common name
	SANs    []string // exactly the CSR's SANs: DNS names, IPs, URIs
	// NotAfter is the end of validity; zero means DefaultDays from now. It is
	// capped at the intermediate's own end.
	NotAfter time.Time
}

// Issue signs req through the engine, which checks it against a one-time
// token minted here for exactly req's subject and SANs and records the
// certificate in the CA database. It returns the leaf and the intermediate.
func (a *Authority) Issue(ctx context.Context, req IssueRequest) ([]*x509.Certificate, error) {
	if !req.Kind.Valid() {
		return nil, fmt.Errorf("issue certificate: unknown kind %q", req.Kind)
	}
	if req.CSR == nil {
		return nil, errors.New("issue certificate: no certificate request")
	}
	now := a.now()
	notAfter := req.NotAfter
	if notAfter.IsZero() {
		notAfter = now.AddDate(0, 0, DefaultDays)
	}
	if end := a.info.Intermediate.NotAfter; notAfter.After(end) {
		notAfter = end
	}
	if !notAfter.After(now.Add(5 * time.Minute)) {
		return nil, fmt.Errorf("issue certificate for %s: it would end %s, too soon "+
			"(the intermediate CA ends %s)", req.Subject, notAfter.Format(time.RFC3339),
			a.info.Intermediate.NotAfter.Format(time.RFC3339))
	}

	tok, err := a.Token(TokenRequest{
		Kind: req.Kind, Subject: req.Subject, SANs: req.SANs, TTL: 5 * time.Minute,
	})
	if err != nil {
		return nil, err
	}
	ctx = provisioner.NewContextWithMethod(ctx, provisioner.SignMethod)
	signOpts, err := a.auth.Authorize(ctx, tok)
	if err != nil {
		return nil, fmt.Errorf("authorize certificate for %s: %w", req.Subject, err)
	}
	chain, err := a.auth.SignWithContext(ctx, req.CSR, provisioner.SignOptions{
		NotAfter: provisioner.NewTimeDuration(notAfter),
	}, signOpts...)
	if err != nil {
		return nil, fmt.Errorf("sign certificate for %s: %w", req.Subject, err)
	}
	return chain, nil
}

// memKMS hands the engine the intermediate key that Open already decrypted,
// so the password is checked once, by banco, and never given to the engine.
type memKMS struct{ key crypto.Signer }

func (m *memKMS) GetPublicKey(*kmsapi.GetPublicKeyRequest) (crypto.PublicKey, error) {
	return m.key.Public(), nil
}

func (m *memKMS) CreateKey(*kmsapi.CreateKeyRequest) (*kmsapi.CreateKeyResponse, error) {
	return nil, errors.New("banco's CA does not create keys through the engine")
}

func (m *memKMS) CreateSigner(*kmsapi.CreateSignerRequest) (crypto.Signer, error) {
	return m.key, nil
}

func (m *memKMS) Close() error { return nil }

// Certificate returns the certificate with the given decimal serial from the
// CA database, where the engine records every certificate it signs.
func (a *Authority) Certificate(serial string) (*x509.Certificate, error) {
	c, err := a.db.GetCertificate(serial)
	if err != nil {
		return nil, fmt.Errorf("find certificate %s in the CA database: %w", serial, err)
	}
	return c, nil
}

// probeLock fails fast with ErrLocked when another process (banco ca serve)
// holds the database, instead of waiting out the 5-second timeout that the
// engine's database layer gives bbolt. A read-only open takes a shared lock,
// which the server's exclusive lock blocks.
func probeLock(path string) error {
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 300 * time.Millisecond,
		ReadOnly: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return ErrLocked
	}
	if err != nil {
		return nil // let the engine's open report it
	}
	return b.Close()
}
