package ca

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/cli-utils/token"
	"github.com/smallstep/cli-utils/token/provision"
	"go.step.sm/crypto/jose"

	"github.com/banco/banco/internal/secfile"
)

// Token lifetimes. The engine refuses tokens that live longer than an hour.
const (
	DefaultTokenTTL = 10 * time.Minute
	MaxTokenTTL     = time.Hour
)

// Minter mints one-time tokens with the CA's provisioner keys. It needs the
// CA's config and password but not its database, so it works while banco ca
// serve holds the database.
type Minter struct {
	info     *Info
	cfg      *config.Config
	password []byte

	mu   sync.Mutex
	keys map[string]*jose.JSONWebKey // decrypted provisioner keys, by name
}

// NewMinter reads the CA in dir for minting tokens. The password is checked
// when the first token is minted. Options as for Open (WithDNSNames).
func NewMinter(dir string, password []byte, opts ...Option) (*Minter, error) {
	o := openOptions{now: time.Now}
	for _, fn := range opts {
		fn(&o)
	}
	info, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if err := secfile.CheckPrivate(info.Config); err != nil {
		return nil, err
	}
	if info.Encrypted && len(password) == 0 {
		return nil, ErrPasswordRequired
	}
	cfg, err := loadConfig(info, o)
	if err != nil {
		return nil, err
	}
	return newMinter(info, cfg, password), nil
}

func newMinter(info *Info, cfg *config.Config, password []byte) *Minter {
	if len(password) == 0 {
		password = []byte(insecurePassphrase)
	}
	return &Minter{info: info, cfg: cfg, password: bytes.Clone(password),
		keys: map[string]*jose.JSONWebKey{}}
}

// Root is the root certificate whose fingerprint tokens carry.
func (a *Minter) Root() *x509.Certificate { return a.info.Root }

// DNSNames are the online CA's names; a token's URL must use one of them.
func (a *Minter) DNSNames() []string { return a.cfg.DNSNames }

// Close forgets the password and the decrypted keys.
func (a *Minter) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.password)
	clear(a.keys)
}

// TokenRequest describes a one-time enrollment token.
type TokenRequest struct {
	Kind    Kind
	Subject string   // the certificate's common name
	SANs    []string // exactly the SANs the certificate will have
	TTL     time.Duration
	// URL is the online CA's base URL, e.g. https://ca.banco.local:9000. The
	// token's audience is URL/1.0/sign; its host must be one of the CA's DNS
	// names. Empty means https://<first DNS name>.
	URL string
}

// Token mints a one-time token that lets its holder get exactly one
// certificate of req.Kind for req.Subject and req.SANs, from this CA, within
// req.TTL. The token also carries the root's fingerprint so that the
// enrolling side can pin the root.
func (a *Minter) Token(req TokenRequest) (string, error) {
	return a.token(req, "/1.0/sign", req.Kind)
}

// RevokeToken mints a one-time token that lets its holder revoke the
// certificate with the given serial (decimal) through the online CA.
func (a *Minter) RevokeToken(serial, url string, ttl time.Duration) (string, error) {
	return a.token(TokenRequest{Subject: serial, URL: url, TTL: ttl}, "/1.0/revoke", KindServer)
}

func (a *Minter) token(req TokenRequest, path string, kind Kind) (string, error) {
	if req.Subject == "" {
		return "", errors.New("mint token: empty subject")
	}
	if req.TTL == 0 {
		req.TTL = DefaultTokenTTL
	}
	if req.TTL < time.Minute || req.TTL > MaxTokenTTL {
		return "", fmt.Errorf("mint token: lifetime %s is outside 1m..%s", req.TTL, MaxTokenTTL)
	}
	base := strings.TrimSuffix(req.URL, "/")
	if base == "" {
		base = "https://" + a.cfg.DNSNames[0]
	}
	key, err := a.provisionerKey(kind.provisioner())
	if err != nil {
		return "", err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	now := time.Now()
	opts := []token.Options{
		token.WithJWTID(hex.EncodeToString(id)),
		token.WithKid(key.KeyID),
		token.WithIssuer(kind.provisioner()),
		token.WithAudience(base + path),
		token.WithValidity(now, now.Add(req.TTL)),
		token.WithSHA(Fingerprint(a.info.Root)),
	}
	if len(req.SANs) > 0 {
		opts = append(opts, token.WithSANS(req.SANs))
	}
	t, err := provision.New(req.Subject, opts...)
	if err != nil {
		return "", fmt.Errorf("mint token for %s: %w", req.Subject, err)
	}
	s, err := t.SignedString(key.Algorithm, key.Key)
	if err != nil {
		return "", fmt.Errorf("sign token for %s: %w", req.Subject, err)
	}
	return s, nil
}

// provisionerKey decrypts the private key of the named provisioner once.
func (a *Minter) provisionerKey(name string) (*jose.JSONWebKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if k, ok := a.keys[name]; ok {
		return k, nil
	}
	var enc string
	for _, p := range a.cfg.AuthorityConfig.Provisioners {
		if j, ok := p.(*provisioner.JWK); ok && j.Name == name {
			enc = j.EncryptedKey
		}
	}
	if enc == "" {
		return nil, fmt.Errorf("provisioner %s has no key in the CA config", name)
	}
	b, err := jose.Decrypt([]byte(enc), jose.WithPassword(a.password))
	if err != nil {
		return nil, fmt.Errorf("decrypt provisioner key %s: %w", name, ErrWrongPassword)
	}
	var k jose.JSONWebKey
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("read provisioner key %s: %w", name, err)
	}
	a.keys[name] = &k
	return &k, nil
}
