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
	"sync"
	"time"
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

	mu      sync.Mutex
	crl     *x509.RevocationList
	revoked map[string]bool
	tried   time.Time // last fetch attempt, successful or not
	lastErr error
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
func (c *CRLChecker) IsRevoked(ctx context.Context, serial *big.Int) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	usable := c.crl != nil && now.Before(c.crl.NextUpdate)
	wait := c.Refresh
	if !usable {
		wait = min(wait, failRetry)
	}
	if c.tried.IsZero() || now.Sub(c.tried) >= wait {
		c.tried = now
		crl, err := c.fetch(ctx)
		c.lastErr = err
		if err == nil {
			c.set(crl)
			usable = now.Before(crl.NextUpdate)
		}
	}
	if !usable {
		// Fail closed: with no current CRL nobody can be known not revoked.
		if c.lastErr != nil {
			return false, c.lastErr
		}
		return false, fmt.Errorf("the CRL from %s is out of date (next update was %s)",
			c.URL, c.crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	return c.revoked[serial.String()], nil
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
