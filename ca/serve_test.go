package ca

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/certificates/api"
	stepca "github.com/smallstep/certificates/ca"
	"github.com/smallstep/certificates/errs"
	"github.com/smallstep/cli-utils/token"
	"github.com/smallstep/cli-utils/token/provision"
	"go.step.sm/crypto/jose"
)

// syncBuffer is a log sink that the server goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type onlineCA struct {
	a   *Authority
	url string
	log *syncBuffer
}

// serveCA runs the online CA on a loopback port for the test's duration.
func serveCA(t *testing.T) *onlineCA {
	t.Helper()
	info := newCA(t, KeyEC)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	caURL := "https://" + ln.Addr().String()
	a, err := Open(info.Dir, testPassword, WithCRLURL(caURL+"/1.0/crl"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln, slog.New(slog.NewJSONHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		a.Close()
	})
	return &onlineCA{a: a, url: caURL, log: logs}
}

// mark is where the CA's log ends now; refusal reads the requests logged
// after it.
func (o *onlineCA) mark() int { return len(o.log.String()) }

// refusal waits for the one refused request that the CA logs after mark
// (it logs a request once the client has its answer) and returns that log
// record.
func (o *onlineCA) refusal(t *testing.T, mark int) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		var refused []map[string]any
		for _, line := range strings.Split(o.log.String()[mark:], "\n") {
			var rec map[string]any
			if line == "" {
				continue
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("CA log line %q: %v", line, err)
			}
			if status, _ := rec["status"].(float64); rec["msg"] == "request" && status >= 400 {
				refused = append(refused, rec)
			}
		}
		switch {
		case len(refused) == 1:
			return refused[0]
		case len(refused) > 1:
			t.Fatalf("%d refusals logged for one request:\n%s", len(refused),
				o.log.String()[mark:])
		case time.Now().After(deadline):
			t.Fatalf("no refusal logged:\n%s", o.log.String()[mark:])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (o *onlineCA) client(t *testing.T) *stepca.Client {
	t.Helper()
	stepca.DisableIdentity = true
	c, err := stepca.NewClient(o.url, stepca.WithRootSHA256(Fingerprint(o.a.Root())))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (o *onlineCA) sign(t *testing.T, tok string,
	csr *x509.CertificateRequest) (*api.SignResponse, error) {
	t.Helper()
	return o.client(t).Sign(&api.SignRequest{CsrPEM: api.NewCertificateRequest(csr), OTT: tok})
}

func clientCSR(t *testing.T, name string) (*x509.CertificateRequest, string) {
	u := &url.URL{Scheme: "urn", Opaque: "banco:customer:" + name}
	return csrFor(t, name, nil, nil, []*url.URL{u}), u.String()
}

func TestServeEnrollsWithToken(t *testing.T) {
	o := serveCA(t)
	csr, uri := clientCSR(t, "alice")
	tok, err := o.a.Token(TokenRequest{Kind: KindClient, Subject: "alice", SANs: []string{uri},
		URL: o.url})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := o.sign(t, tok, csr)
	if err != nil {
		t.Fatalf("sign: %v\nCA log:\n%s", err, o.log)
	}
	leaf := resp.ServerPEM.Certificate
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("EKU %v", leaf.ExtKeyUsage)
	}
	if want := o.url + "/1.0/crl"; len(leaf.CRLDistributionPoints) != 1 ||
		leaf.CRLDistributionPoints[0] != want {
		t.Errorf("CRL distribution points %q, want %q", leaf.CRLDistributionPoints, want)
	}
	if got, err := o.a.Certificate(leaf.SerialNumber.String()); err != nil || !got.Equal(leaf) {
		t.Errorf("not recorded in the CA database: %v", err)
	}

	// The inventory copy for banco certs has it by the time the client has
	// its answer.
	recs, _, err := ReadSnapshot(o.a.info.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || !recs[0].Cert.Equal(leaf) || recs[0].Kind != KindClient {
		t.Errorf("snapshot after one enrollment: %+v", recs)
	}

	// The CA's own certificate names it, and it publishes a CRL.
	conn, err := tlsDialCA(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("CA certificate: %v", err)
	}
	if err := conn.VerifyHostname(DefaultDNSName); err != nil {
		t.Errorf("CA certificate: %v", err)
	}
}

func TestServeRefusesBadTokens(t *testing.T) {
	o := serveCA(t)
	key, err := o.a.provisionerKey(ClientProvisioner)
	if err != nil {
		t.Fatal(err)
	}
	// handMade signs a client token with any key and validity, as an attacker
	// or a slow user could.
	handMade := func(signer *jose.JSONWebKey, kid, name, uri string, nbf, exp time.Time) string {
		tk, err := provision.New(name,
			token.WithJWTID(name+nbf.String()), token.WithKid(kid),
			token.WithIssuer(ClientProvisioner), token.WithAudience(o.url+"/1.0/sign"),
			token.WithValidity(nbf, exp), token.WithSANS([]string{uri}))
		if err != nil {
			t.Fatal(err)
		}
		s, err := tk.SignedString(signer.Algorithm, signer.Key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherPriv, err := jose.GenerateJWK("EC", "P-256", "ES256", "sig", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	aliceCSR, aliceURI := clientCSR(t, "alice")
	reused, err := o.a.Token(TokenRequest{Kind: KindClient, Subject: "alice",
		SANs: []string{aliceURI}, URL: o.url})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.sign(t, reused, aliceCSR); err != nil {
		t.Fatalf("first use: %v", err)
	}
	// As 'banco ca token carol --server' makes it, used as by 'banco enroll
	// client carol': the name is right, the kind is not.
	serverTok, err := o.a.Token(TokenRequest{Kind: KindServer, Subject: "carol",
		SANs: []string{"carol", "localhost", "127.0.0.1", "::1"}, URL: o.url})
	if err != nil {
		t.Fatal(err)
	}
	bobCSR, bobURI := clientCSR(t, "bob")
	carolCSR, _ := clientCSR(t, "carol")

	for _, tc := range []struct {
		name   string
		tok    string
		csr    *x509.CertificateRequest
		reason string // in the CA's log
	}{
		{"reused", reused, aliceCSR, "authorizeSign: token already used"},
		{"expired", handMade(key, key.KeyID, "alice", aliceURI, now.Add(-2*time.Hour),
			now.Add(-time.Hour)), aliceCSR, "token is expired (exp)"},
		{"for another name", handMade(key, key.KeyID, "alice", aliceURI, now,
			now.Add(5*time.Minute)), bobCSR,
			"valid common name - got bob, want [alice "},
		{"signed by another key", handMade(otherPriv, key.KeyID, "bob", bobURI, now,
			now.Add(5*time.Minute)), bobCSR,
			"error parsing jwk claims: go-jose/go-jose: error in cryptographic primitive"},
		{"server token for a client", serverTok, carolCSR,
			"valid URIs - got [urn:banco:customer:carol], want []"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := o.mark()
			_, err := o.sign(t, tc.tok, tc.csr)
			var ee *errs.Error
			if !errors.As(err, &ee) || ee.StatusCode() < 400 || ee.StatusCode() >= 500 {
				t.Fatalf("sign: %v, want a 4xx refusal", err)
			}
			// The client sees a generic message; the CA logs the reason.
			if strings.Contains(ee.Msg, tc.reason) {
				t.Errorf("the client was told the internal reason: %q", ee.Msg)
			}
			rec := o.refusal(t, mark)
			reason, _ := rec["reason"].(string)
			if path, _ := rec["path"].(string); !strings.HasSuffix(path, "/sign") ||
				!strings.Contains(reason, tc.reason) {
				t.Errorf("CA logged %s refused for %q, want /sign refused for %q", path,
					reason, tc.reason)
			}
		})
	}
}

func tlsDialCA(o *onlineCA) (*tls.Conn, error) {
	pool := x509.NewCertPool()
	pool.AddCert(o.a.Root())
	u, _ := url.Parse(o.url)
	return tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
}
