package cmd

import "path/filepath"

// Home is banco's folder. Its layout, in one place so that the commands that
// write files and the commands that read them agree:
//
//	ca/root_ca.crt, ca/root_ca.key                 the root (key encrypted)
//	ca/intermediate_ca.crt, ca/intermediate_ca.key  the issuing CA (key encrypted)
//	ca/ca.json, ca/db/                             the CA engine's config and database
//	server/server.crt, server.key, root_ca.crt     banco serve's identity
//	clients/NAME/client.crt, client.key, root_ca.crt  a customer's identity
//	bank.db                                        the SQLite ledger
//
// Private keys are 0600 and their folders 0700.
type Home string

func (h Home) path(elem ...string) string {
	return filepath.Join(append([]string{string(h)}, elem...)...)
}

// CADir is the folder of the certificate authority.
func (h Home) CADir() string { return h.path("ca") }

// ServerDir is the folder of banco serve's certificate, key and root.
func (h Home) ServerDir() string { return h.path("server") }

// ClientsDir is the folder that holds one folder per enrolled customer.
func (h Home) ClientsDir() string { return h.path("clients") }

// ClientDir is the folder of customer name's certificate, key and root.
func (h Home) ClientDir(name string) string { return h.path("clients", name) }

// LedgerDB is the default SQLite ledger file.
func (h Home) LedgerDB() string { return h.path("bank.db") }

// Identity file names inside a server or client folder.
const (
	ServerCertFile = "server.crt" // leaf + intermediate
	ServerKeyFile  = "server.key"
	ClientCertFile = "client.crt" // leaf + intermediate
	ClientKeyFile  = "client.key"
	RootCertFile   = "root_ca.crt"
)
