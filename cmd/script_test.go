package cmd

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts in testdata/script run "banco" as a real process
// built from this test binary.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"banco": func() { os.Exit(Main(NewApp())) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			port, err := freePort()
			if err != nil {
				return err
			}
			env.Setenv("PORT", port)
			// A second server (the bank beside the online CA) needs its own port.
			port2, err := freePort()
			if err != nil {
				return err
			}
			env.Setenv("PORT2", port2)
			env.Setenv("BANCO_HOME", env.WorkDir+"/home")
			env.Setenv("HOME", env.WorkDir+"/userhome")
			env.Setenv("BANCO_PASSWORD", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitport": cmdWaitPort,
			"certinfo": cmdCertInfo,
			"masktime": cmdMaskTime,
		},
		RequireExplicitExec: true,
	})
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// waitport ADDR waits up to 30 seconds until something listens on ADDR.
func cmdWaitPort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitport ADDR")
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", args[0], time.Second)
		if err == nil {
			c.Close()
			if neg {
				ts.Fatalf("%s is listening", args[0])
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !neg {
		ts.Fatalf("nothing listens on %s after 30s", args[0])
	}
}

// certinfo FILE FIELD VALUE... checks the first certificate in FILE: FIELD is
// one of cn, dns, ip, uri, eku, certs (the number of certificates in FILE).
// The values must match the certificate's, in order.
func cmdCertInfo(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: certinfo FILE FIELD VALUE...")
	}
	data := ts.ReadFile(args[0])
	var certs []*x509.Certificate
	for rest := []byte(data); ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		ts.Check(err)
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		ts.Fatalf("%s holds no certificate", args[0])
	}
	c := certs[0]
	var got []string
	switch args[1] {
	case "cn":
		got = []string{c.Subject.CommonName}
	case "dns":
		got = c.DNSNames
	case "ip":
		for _, ip := range c.IPAddresses {
			got = append(got, ip.String())
		}
	case "uri":
		for _, u := range c.URIs {
			got = append(got, u.String())
		}
	case "eku":
		for _, u := range c.ExtKeyUsage {
			got = append(got, ekuName(u))
		}
	case "certs":
		got = []string{fmt.Sprint(len(certs))}
	default:
		ts.Fatalf("certinfo: unknown field %q", args[1])
	}
	want := args[2:]
	if slices.Equal(got, want) == neg {
		ts.Fatalf("%s %s: got [%s], want %s[%s]", args[0], args[1],
			strings.Join(got, " "), map[bool]string{true: "not ", false: ""}[neg],
			strings.Join(want, " "))
	}
}

func ekuName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	}
	return fmt.Sprintf("eku(%d)", u)
}

// masktime FILE OUT writes FILE (stdout or stderr: the last command's) to OUT
// with its dates and times blanked, so that cmp can check the rest exactly.
// "2006-01-02 15:04:05" becomes "YYYY-MM-DD hh:mm:ss", the same width, which
// keeps table columns aligned; an RFC 3339 time becomes "YYYY-MM-DDThh:mm:ssZ".
func cmdMaskTime(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: masktime FILE OUT")
	}
	masked := dateTime.ReplaceAllStringFunc(ts.ReadFile(args[0]), func(m string) string {
		if m[10] == 'T' {
			return "YYYY-MM-DDThh:mm:ssZ"
		}
		return "YYYY-MM-DD hh:mm:ss"
	})
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(masked), 0o644))
}

var dateTime = regexp.MustCompile(`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?`)
