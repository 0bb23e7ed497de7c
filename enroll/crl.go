package enroll

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/banco/banco/internal/secfile"
)

// DefaultCRLRefresh bounds how long a revocation takes to be enforced by a
// CRLChecker: it fetches the CRL again when its copy is older than this.
const DefaultCRLRefresh = time.Minute

// ErrRevoked is returned by CRLChecker.VerifyConnection for a revoked peer.
var ErrRevoked = errors.New("certificate revoked")

// CRLChecker answers "is this certificate revoked?" from the CRL that banco
// ca serve publishes, for servers that must refuse revoked clients (Go's
// crypto/tls never checks revocation itself). It fetches the CRL over HTTPS
// trusting only the banco root, checks the CRL's signature against the
// issuing CA, and caches it for Refresh. If the CA cannot be reached it keeps
// using the last CRL until that CRL's NextUpdate, then fails closed.
type CRLChecker struct {
	URL     string            // e.g. https://ca.banco.local:9000/1.0/crl
	Issuer  *x509.Certificate // the intermediate that signs the CRL
	Refresh time.Duration     // default DefaultCRLRefresh; 0 after New means default
	Client  *http.Client
	Now     func() time.Time

	// CacheFile, if set, keeps a copy of the last CRL fetched, so that a
	// server restarted while the CA is down still has one: Update falls back
	// on it when it has none. It is checked like a fetched CRL.
	CacheFile string

	mu       sync.Mutex
	crl      *x509.RevocationList
	revoked  map[string]bool
	tried    time.Time // last fetch attempt, successful or not
	lastErr  error
	fetching bool // a fetch is under way, without the lock
}

// failRetry is how often a checker with no usable CRL tries the CA again;
// in between, handshakes fail at once instead of each waiting on the CA.
const failRetry = 5 * time.Second

// NewCRLChecker returns a checker for the CRL at url, signed by issuer and
// served over TLS by a CA whose certificate chains to root. While the CA
// cannot be reached and no current CRL is cached, IsRevoked fails (closed)
// and tries the CA again at most every few seconds.
func NewCRLChecker(url string, root, issuer *x509.Certificate) *CRLChecker {
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &CRLChecker{
		URL:     url,
		Issuer:  issuer,
		Refresh: DefaultCRLRefresh,
		Client: &http.Client{
			Timeout: 5 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs: pool, MinVersion: tls.VersionTLS12,
			}},
		},
		Now: time.Now,
	}
}

// IsRevoked reports whether the certificate with serial is on the CRL,
// fetching a fresh CRL first when the cached one is older than Refresh.
// The lock is not held while fetching: other callers meanwhile answer from
// the CRL they have, so a slow CA delays one handshake, not all of them.
func (c *CRLChecker) IsRevoked(ctx context.Context, serial *big.Int) (bool, error) {
	c.mu.Lock()
	now := c.Now()
	wait := c.Refresh
	if !c.usable(now) {
		wait = min(wait, failRetry)
	}
	if !c.fetching && (c.tried.IsZero() || now.Sub(c.tried) >= wait) {
		c.mu.Unlock()
		_ = c.Update(ctx) // its error is kept in lastErr
		c.mu.Lock()
		now = c.Now()
	}
	defer c.mu.Unlock()
	if !c.usable(now) {
		// Fail closed: with no current CRL nobody can be known not revoked.
		switch {
		case c.lastErr != nil:
			return false, c.lastErr
		case c.crl == nil:
			return false, fmt.Errorf("no CRL from %s yet", c.URL)
		}
		return false, fmt.Errorf("the CRL from %s is out of date (next update was %s)",
			c.URL, c.crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	return c.revoked[serial.String()], nil
}

// usable reports whether the cached CRL may still be used at now; c.mu is
// held.
func (c *CRLChecker) usable(now time.Time) bool {
	return c.crl != nil && now.Before(c.crl.NextUpdate)
}

// Update fetches the CRL now and keeps it if it is valid. On failure the
// previous CRL stays in use until its NextUpdate. A server calls it in the
// background so that handshakes seldom wait on the CA.
func (c *CRLChecker) Update(ctx context.Context) error {
	c.mu.Lock()
	if c.fetching {
		c.mu.Unlock()
		return nil // another caller is fetching it
	}
	c.fetching, c.tried = true, c.Now()
	c.mu.Unlock()

	crl, err := c.fetch(ctx)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.fetching, c.lastErr = false, err
	if err != nil {
		if c.crl == nil {
			if cached, cerr := c.readCache(); cerr == nil {
				c.set(cached)
			}
		}
		return err
	}
	if c.crl == nil || crl.ThisUpdate.After(c.crl.ThisUpdate) {
		c.writeCache(crl)
	}
	if c.crl == nil || !crl.ThisUpdate.Before(c.crl.ThisUpdate) {
		c.set(crl)
	}
	return nil
}

// readCache reads the CRL that writeCache kept, checking its signature.
func (c *CRLChecker) readCache() (*x509.RevocationList, error) {
	if c.CacheFile == "" {
		return nil, errors.New("no CRL cache file")
	}
	der, err := os.ReadFile(c.CacheFile)
	if err != nil {
		return nil, err
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parse CRL %s: %w", c.CacheFile, err)
	}
	if err := crl.CheckSignatureFrom(c.Issuer); err != nil {
		return nil, fmt.Errorf("CRL %s: %w", c.CacheFile, err)
	}
	return crl, nil
}

// writeCache keeps crl in CacheFile. A failure only costs the fallback, so
// it is not reported.
func (c *CRLChecker) writeCache(crl *x509.RevocationList) {
	if c.CacheFile != "" {
		_ = secfile.Write(c.CacheFile, crl.Raw, 0o644, true)
	}
}

// NextUpdate returns the NextUpdate of the CRL in use, or the zero time
// when there is none: until then a CA that cannot be reached does not stop
// the checker from answering.
func (c *CRLChecker) NextUpdate() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crl == nil {
		return time.Time{}
	}
	return c.crl.NextUpdate
}

func (c *CRLChecker) set(crl *x509.RevocationList) {
	c.crl = crl
	c.revoked = make(map[string]bool, len(crl.RevokedCertificateEntries))
	for _, e := range crl.RevokedCertificateEntries {
		c.revoked[e.SerialNumber.String()] = true
	}
}

func (c *CRLChecker) fetch(ctx context.Context) (*x509.RevocationList, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch CRL %s: %w", c.URL, err)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch CRL: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch CRL %s: HTTP %d", c.URL, resp.StatusCode)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("fetch CRL %s: %w", c.URL, err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parse CRL from %s: %w", c.URL, err)
	}
	if err := crl.CheckSignatureFrom(c.Issuer); err != nil {
		return nil, fmt.Errorf("CRL from %s is not signed by %s: %w", c.URL,
			c.Issuer.Subject.CommonName, err)
	}
	return crl, nil
}

// VerifyConnection refuses a TLS peer whose leaf certificate is revoked. Set
// it as tls.Config.VerifyConnection: crypto/tls calls it on every handshake,
// resumed sessions included, after the chain is verified.
func (c *CRLChecker) VerifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return nil // no client certificate: ClientAuth decides
	}
	leaf := cs.PeerCertificates[0]
	revoked, err := c.IsRevoked(context.Background(), leaf.SerialNumber)
	if err != nil {
		return fmt.Errorf("check revocation of %s: %w", leaf.SerialNumber, err)
	}
	if revoked {
		return fmt.Errorf("%w: serial %s (%s)", ErrRevoked, leaf.SerialNumber,
			leaf.Subject.CommonName)
	}
	return nil
}

// CRLCheckerFor returns a checker for the CRL of the CA that issued id (a
// server's own identity: its clients come from the same intermediate), at
// the CRL distribution point in id's certificate. ok is false when the
// certificate names none, e.g. when it was issued before the CA first ran
// online; the caller then needs the URL from elsewhere (ca.CRLURL).
func CRLCheckerFor(id *Identity) (c *CRLChecker, ok bool) {
	leaf := id.Leaf()
	if len(id.Chain) < 2 || len(leaf.CRLDistributionPoints) == 0 {
		return nil, false
	}
	return NewCRLChecker(leaf.CRLDistributionPoints[0], id.Root, id.Chain[1]), true
}
