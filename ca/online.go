package ca

import (
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/banco/banco/internal/secfile"
)

// URLFile, in the CA folder, records where banco ca serve runs: its public
// URL on the first line, so that leaves issued offline also name its CRL,
// and the address it listens on on the second ("listen HOST:PORT"), so
// that commands on the CA's own host reach it even when the public name
// resolves only on the other machines.
const URLFile = "ca_url.txt"

// SaveURL records the online CA's base URL and its listen address (which
// may be empty) in the CA folder dir.
func SaveURL(dir, url, listen string) error {
	b := url + "\n"
	if listen != "" {
		b += "listen " + listen + "\n"
	}
	return secfile.Write(filepath.Join(dir, URLFile), []byte(b), 0o644, true)
}

func readURLFile(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, URLFile))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// LoadURL returns the online CA's base URL recorded in dir, or "".
func LoadURL(dir string) string {
	lines := readURLFile(dir)
	if len(lines) == 0 {
		return ""
	}
	return strings.TrimSpace(lines[0])
}

// LocalURL returns a base URL that reaches the online CA recorded in dir
// from its own host: its listen address, with a loopback address in place
// of a wildcard host. The CA's TLS certificate names the loopback addresses
// and the listen host. It returns LoadURL(dir) when no listen address was
// recorded, and "" when nothing was.
func LocalURL(dir string) string {
	lines := readURLFile(dir)
	for _, l := range lines[min(1, len(lines)):] {
		addr, ok := strings.CutPrefix(strings.TrimSpace(l), "listen ")
		if !ok {
			continue
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			break
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		return "https://" + net.JoinHostPort(host, port)
	}
	return LoadURL(dir)
}

// CRLURL is where the online CA at base URL publishes its CRL.
func CRLURL(baseURL string) string { return strings.TrimSuffix(baseURL, "/") + "/1.0/crl" }
