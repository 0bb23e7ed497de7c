package enroll

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.step.sm/crypto/pemutil"

	"github.com/banco/banco/internal/secfile"
)

// Paths are where an identity's files go.
type Paths struct {
	Cert string // the chain: leaf, then intermediates
	Key  string // the private key, unencrypted, 0600
	Root string // the CA's root, to verify the other side
}

// InDir returns the paths of files certFile, keyFile and rootFile in dir.
func InDir(dir, certFile, keyFile, rootFile string) Paths {
	return Paths{
		Cert: filepath.Join(dir, certFile),
		Key:  filepath.Join(dir, keyFile),
		Root: filepath.Join(dir, rootFile),
	}
}

// ExistsError lists the files that Write would overwrite.
type ExistsError struct{ Paths []string }

func (e *ExistsError) Error() string {
	if len(e.Paths) == 1 {
		return fmt.Sprintf("%s already exists", e.Paths[0])
	}
	return fmt.Sprintf("%s already exist", joinPaths(e.Paths))
}

// Unwrap makes errors.Is(err, secfile.ErrExists) true.
func (e *ExistsError) Unwrap() error { return secfile.ErrExists }

func joinPaths(p []string) string {
	switch len(p) {
	case 1:
		return p[0]
	case 2:
		return p[0] + " and " + p[1]
	}
	s := ""
	for i, x := range p {
		switch {
		case i == len(p)-1:
			s += ", and " + x
		case i > 0:
			s += ", " + x
		default:
			s = x
		}
	}
	return s
}

// Check returns an *ExistsError naming the files that already exist, unless
// force is set. Write calls it before writing anything.
func (p Paths) Check(force bool) error {
	if force {
		return nil
	}
	var exist []string
	for _, f := range []string{p.Cert, p.Key, p.Root} {
		if _, err := os.Lstat(f); err == nil {
			exist = append(exist, f)
		}
	}
	if len(exist) > 0 {
		return &ExistsError{Paths: exist}
	}
	return nil
}

// Write writes the identity to p: the key unencrypted (PKCS#8, 0600, so a
// server can start unattended) in a 0700 folder, the chain and the root
// 0644. Without force nothing is written if any of the files exists, and a
// failure part way removes what this call wrote; with force each file is
// replaced whole (see secfile.Write), the key first.
func (id *Identity) Write(p Paths, force bool) error {
	if err := p.Check(force); err != nil {
		return err
	}
	block, err := pemutil.Serialize(id.Key, pemutil.WithPKCS8(true))
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	for _, d := range uniqueDirs(p.Cert, p.Key, p.Root) {
		if err := secfile.MkdirPrivate(d); err != nil {
			return fmt.Errorf("create folder %s: %w", d, err)
		}
	}
	files := []struct {
		path string
		data []byte
		perm os.FileMode
	}{
		{p.Key, pem.EncodeToMemory(block), 0o600},
		{p.Cert, EncodeCerts(id.Chain...), 0o644},
		{p.Root, EncodeCerts(id.Root), 0o644},
	}
	var written []string
	for _, f := range files {
		if err := secfile.Write(f.path, f.data, f.perm, force); err != nil {
			if !force {
				for _, w := range written {
					os.Remove(w)
				}
			}
			return err
		}
		written = append(written, f.path)
	}
	return nil
}

func uniqueDirs(files ...string) []string {
	var dirs []string
	seen := map[string]bool{}
	for _, f := range files {
		d := filepath.Dir(f)
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// EncodeCerts returns certs as PEM, in order.
func EncodeCerts(certs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

// Load reads an identity written by Write, refusing a key that others can
// read.
func Load(p Paths) (*Identity, error) {
	chain, err := readCerts(p.Cert)
	if err != nil {
		return nil, err
	}
	roots, err := readCerts(p.Root)
	if err != nil {
		return nil, err
	}
	b, err := secfile.ReadPrivate(p.Key)
	if err != nil {
		return nil, err
	}
	k, err := pemutil.ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", p.Key, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("read key %s: not a signing key", p.Key)
	}
	if !publicKeysEqual(chain[0].PublicKey, signer.Public()) {
		return nil, fmt.Errorf("key %s does not match certificate %s", p.Key, p.Cert)
	}
	return &Identity{Chain: chain, Root: roots[0], Key: signer}, nil
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	var certs []*x509.Certificate
	for len(b) > 0 {
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
		return nil, fmt.Errorf("read certificate %s: %w", path, errNoPEM)
	}
	return certs, nil
}

var errNoPEM = errors.New("no PEM certificate in it")
