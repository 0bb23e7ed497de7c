package banksrv_test

import (
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/banco/banco/banksrv/api"
)

// TestCurl talks to a real server with curl and the customer's PEM files, as
// the README shows.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	b := startBank(t)
	dir := t.TempDir()
	b.pki.WriteClient(t, dir, b.pki.Client(t, "carol"))
	_, port, _ := net.SplitHostPort(b.addr)
	base := "https://banco.local:" + port
	args := func(extra ...string) []string {
		return append([]string{"--silent", "--show-error", "--fail-with-body",
			"--resolve", "banco.local:" + port + ":127.0.0.1",
			"--cert", filepath.Join(dir, "client.crt"),
			"--key", filepath.Join(dir, "client.key"),
			"--cacert", filepath.Join(dir, "root_ca.crt")}, extra...)
	}

	out, err := exec.Command(curl, args("-X", "POST", "-H", "Idempotency-Key: curl-1",
		"-H", "Content-Type: application/json", "--data", `{"amount":"42.10"}`,
		base+api.PathDeposit)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl deposit: %v\n%s", err, out)
	}
	var m api.Movement
	if err := json.Unmarshal(out, &m); err != nil || m.Amount != "42.10" ||
		m.Balance != "42.10" || m.To != "carol" {
		t.Fatalf("curl deposit answer %s: %v", out, err)
	}

	out, err = exec.Command(curl, args(base+api.PathBalance)...).CombinedOutput()
	var bal api.Balance
	if err != nil || json.Unmarshal(out, &bal) != nil ||
		bal != (api.Balance{Customer: "carol", Balance: "42.10"}) {
		t.Fatalf("curl balance: %v\n%s", err, out)
	}

	// Without a client certificate the server refuses the handshake.
	out, err = exec.Command(curl, "--silent", "--show-error",
		"--resolve", "banco.local:"+port+":127.0.0.1",
		"--cacert", filepath.Join(dir, "root_ca.crt"), base+api.PathBalance).CombinedOutput()
	if err == nil {
		t.Errorf("curl without a client certificate succeeded:\n%s", out)
	}
}
