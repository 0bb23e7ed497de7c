// Package ca is banco's certificate authority: a two-tier CA (root and
// intermediate) on disk, run through the embedded smallstep CA engine so that
// every certificate banco issues is recorded in the engine's database.
//
// Layout of a CA folder (all private keys 0600, folders 0700):
//
//	root_ca.crt, root_ca.key                  the root (key PKCS#8, encrypted)
//	intermediate_ca.crt, intermediate_ca.key  the issuing CA (key PKCS#8, encrypted)
//	ca.json                                   the engine's config (no password in it)
//	db/ca.db                                  the engine's bbolt database
//
// The package makes and reads these files, signs certificate requests
// in-process (Open, Issue), mints one-time tokens (Minter, which needs no
// database), serves the engine's HTTP API as the online CA (Serve), and
// lists and revokes what was issued (Certificates, Revoke). It never
// prompts, prints or exits: the password comes from the caller, and making
// leaf keys, writing leaf files, renewal and CRL checking are left to package
// enroll.
//
// The engine's bbolt database admits one process at a time: while banco ca
// serve runs, Open in another process fails with ErrLocked after bbolt's
// 5-second wait; a Minter still works.
package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"go.step.sm/crypto/x509util"
)

// File names inside a CA folder.
const (
	RootCertFile         = "root_ca.crt"
	RootKeyFile          = "root_ca.key"
	IntermediateCertFile = "intermediate_ca.crt"
	IntermediateKeyFile  = "intermediate_ca.key"
	ConfigFile           = "ca.json"
	DBDir                = "db"
	DBFile               = "ca.db" // inside DBDir
)

// DefaultDNSName is the online CA's own host name, put in its TLS
// certificate and in the audience of enrollment tokens.
const DefaultDNSName = "ca.banco.local"

// Provisioner names in the engine's config: one JWK provisioner per kind of
// certificate, each with its own key and leaf template, so that a token
// minted for a server can never yield a client certificate and the reverse.
const (
	ServerProvisioner = "banco-server"
	ClientProvisioner = "banco-client"
)

var (
	// ErrNoCA is returned when a folder holds no banco CA.
	ErrNoCA = errors.New("no certificate authority found")
	// ErrExists is returned by Init when a CA already exists and Force is off.
	ErrExists = errors.New("a certificate authority already exists")
	// ErrWrongPassword is returned when the password does not decrypt the CA key.
	ErrWrongPassword = errors.New("wrong password for the CA key")
	// ErrPasswordRequired is returned when the CA key is encrypted and no
	// password was given.
	ErrPasswordRequired = errors.New("the CA key is encrypted and needs a password")
	// ErrLocked is returned when another process (usually banco ca serve)
	// holds the CA database.
	ErrLocked = errors.New("the CA database is in use by another process")
)

// Kind is the kind of a leaf certificate; it selects the provisioner and so
// the template (extended key usage) the CA signs with.
type Kind string

// Kinds of leaf certificates.
const (
	KindServer Kind = "server" // serverAuth only
	KindClient Kind = "client" // clientAuth only
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindServer || k == KindClient }

func (k Kind) provisioner() string {
	if k == KindClient {
		return ClientProvisioner
	}
	return ServerProvisioner
}

// KeyType is the algorithm of the CA keys.
type KeyType string

// Key types accepted by Init.
const (
	KeyEC      KeyType = "EC"      // ECDSA P-256, the default
	KeyRSA     KeyType = "RSA"     // RSA 2048
	KeyEd25519 KeyType = "Ed25519" // Ed25519
)

// ParseKeyType accepts the names a user may type for a key type, in any case.
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(s) {
	case "", "ec", "ecdsa", "p-256", "p256":
		return KeyEC, nil
	case "rsa":
		return KeyRSA, nil
	case "ed25519", "okp":
		return KeyEd25519, nil
	}
	return "", fmt.Errorf("unknown key type %q (use EC, RSA or Ed25519)", s)
}

// Fingerprint returns the lower-case hex SHA-256 of cert's DER encoding, the
// form that step-ca and banco pin.
func Fingerprint(cert *x509.Certificate) string {
	return x509util.Fingerprint(cert)
}

// GroupFingerprint splits a hex fingerprint into groups of four characters,
// eight groups to a line, for comparing by eye or reading aloud.
func GroupFingerprint(fp string) string {
	var b strings.Builder
	for i := 0; i < len(fp); i += 4 {
		end := min(i+4, len(fp))
		switch {
		case i == 0:
		case i%32 == 0:
			b.WriteByte('\n')
		default:
			b.WriteByte(' ')
		}
		b.WriteString(fp[i:end])
	}
	return b.String()
}
