package banksrv_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/banco/banco/banksrv/api"
)

func TestMoneyHappyPath(t *testing.T) { forEachLedger(t, testMoneyHappyPath) }

func testMoneyHappyPath(t *testing.T, b *bank) {
	alice := b.client(b.tlsConfig(b.pki.Client(t, "alice")))
	bob := b.client(b.tlsConfig(b.pki.Client(t, "bob")))

	var bal api.Balance
	if st, e := call(t, bob, "GET", api.PathBalance, "", "", &bal); st != 200 ||
		bal != (api.Balance{Customer: "bob", Balance: "0.00"}) {
		t.Fatalf("bob's first balance: %d %v %+v", st, e, bal)
	}
	steps := []struct {
		path, body, kind, amount, balance string
	}{
		{api.PathDeposit, `{"amount":"100"}`, "deposit", "100.00", "100.00"},
		{api.PathWithdraw, `{"amount":"12.5"}`, "withdraw", "12.50", "87.50"},
		{api.PathTransfer, `{"amount":"20.05","to":"bob"}`, "transfer", "20.05", "67.45"},
	}
	for i, s := range steps {
		var m api.Movement
		st, e := call(t, alice, "POST", s.path, fmt.Sprintf("key-%d", i), s.body, &m)
		if st != 200 || m.Kind != s.kind || m.Amount != s.amount || m.Balance != s.balance ||
			m.Replayed {
			t.Fatalf("%s %s: %d %v %+v", s.path, s.body, st, e, m)
		}
	}
	if _, e := call(t, bob, "GET", api.PathBalance, "", "", &bal); bal.Balance != "20.05" {
		t.Errorf("bob's balance after transfer: %+v %v", bal, e)
	}

	var h api.History
	if st, e := call(t, alice, "GET", api.PathHistory+"?limit=2", "", "", &h); st != 200 {
		t.Fatalf("history: %d %v", st, e)
	}
	if len(h.Lines) != 2 || h.Next == 0 || h.Lines[0].Kind != "transfer" ||
		h.Lines[0].Delta != "-20.05" || h.Lines[0].Balance != "67.45" ||
		h.Lines[1].Delta != "-12.50" || h.Lines[1].Balance != "87.50" {
		t.Fatalf("history page 1: %+v", h)
	}
	var h2 api.History
	call(t, alice, "GET", fmt.Sprintf("%s?before=%d", api.PathHistory, h.Next), "", "", &h2)
	if len(h2.Lines) != 1 || h2.Lines[0].Delta != "+100.00" || h2.Next != 0 {
		t.Fatalf("history page 2: %+v", h2)
	}

	line := b.log.waitFor(t, "msg=request", "path=/v1/transfer")
	for _, want := range []string{"id=", "remote=127.0.0.1:", "customer=alice",
		`subject="CN=alice"`, "serial=", "method=POST", "status=200", "bytes=", "duration="} {
		if !strings.Contains(line, want) {
			t.Errorf("request log line lacks %q:\n%s", want, line)
		}
	}
}

func TestOverdraftRefused(t *testing.T) {
	b := startBank(t)
	alice := b.client(b.tlsConfig(b.pki.Client(t, "alice")))
	bob := b.client(b.tlsConfig(b.pki.Client(t, "bob")))
	call(t, bob, "GET", api.PathBalance, "", "", nil) // opens bob's account
	call(t, alice, "POST", api.PathDeposit, "k1", `{"amount":"10"}`, nil)
	st, e := call(t, alice, "POST", api.PathWithdraw, "k2", `{"amount":"10.01"}`, nil)
	if st != http.StatusConflict || e.Code != api.CodeInsufficientFunds ||
		e.Message != "insufficient funds" {
		t.Errorf("overdraft: %d %+v", st, e)
	}
	st, e = call(t, alice, "POST", api.PathTransfer, "k3", `{"amount":"11","to":"bob"}`, nil)
	if st != http.StatusConflict || e.Code != api.CodeInsufficientFunds {
		t.Errorf("overdraft by transfer: %d %+v", st, e)
	}
	var bal api.Balance
	call(t, alice, "GET", api.PathBalance, "", "", &bal)
	if bal.Balance != "10.00" {
		t.Errorf("balance after refused overdraft = %s, want 10.00", bal.Balance)
	}
}

func TestBadRequestsRefused(t *testing.T) {
	b := startBank(t)
	alice := b.client(b.tlsConfig(b.pki.Client(t, "alice")))
	call(t, alice, "POST", api.PathDeposit, "seed", `{"amount":"50"}`, nil)
	tests := []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"exponent", "POST", api.PathDeposit, "a1", `{"amount":"1e3"}`, 400, api.CodeInvalidAmount},
		{"negative", "POST", api.PathWithdraw, "a2", `{"amount":"-5"}`, 400, api.CodeInvalidAmount},
		{"zero", "POST", api.PathDeposit, "a3", `{"amount":"0"}`, 400, api.CodeInvalidAmount},
		{"comma", "POST", api.PathDeposit, "a4", `{"amount":"5,00"}`, 400, api.CodeInvalidAmount},
		{"space", "POST", api.PathDeposit, "a5", `{"amount":" 5"}`, 400, api.CodeInvalidAmount},
		{"three decimals", "POST", api.PathDeposit, "a6", `{"amount":"12.345"}`, 400,
			api.CodeInvalidAmount},
		{"too large", "POST", api.PathDeposit, "a7", `{"amount":"1000000000.01"}`, 400,
			api.CodeInvalidAmount},
		{"empty", "POST", api.PathDeposit, "a8", `{"amount":""}`, 400, api.CodeInvalidAmount},
		{"JSON number", "POST", api.PathDeposit, "a9", `{"amount":5}`, 400, api.CodeBadRequest},
		{"unknown field", "POST", api.PathDeposit, "a10", `{"amount":"5","x":1}`, 400,
			api.CodeBadRequest},
		{"not JSON", "POST", api.PathDeposit, "a11", `amount=5`, 400, api.CodeBadRequest},
		{"no idempotency key", "POST", api.PathDeposit, "", `{"amount":"5"}`, 400,
			api.CodeMissingKey},
		{"key with space", "POST", api.PathDeposit, "a b", `{"amount":"5"}`, 400,
			api.CodeInvalidKey},
		{"transfer without recipient", "POST", api.PathTransfer, "a12", `{"amount":"5"}`, 400,
			api.CodeBadRequest},
		{"transfer to a bad name", "POST", api.PathTransfer, "a13", `{"amount":"5","to":"a/b"}`,
			400, api.CodeBadRequest},
		{"transfer to oneself", "POST", api.PathTransfer, "a14", `{"amount":"5","to":"alice"}`,
			400, api.CodeSameAccount},
		{"transfer to nobody", "POST", api.PathTransfer, "a15", `{"amount":"5","to":"nobody"}`,
			404, api.CodeNoSuchAccount},
		{"deposit with recipient", "POST", api.PathDeposit, "a16", `{"amount":"5","to":"bob"}`,
			400, api.CodeBadRequest},
		{"history limit", "GET", api.PathHistory + "?limit=0", "", "", 400, api.CodeBadRequest},
		{"history cursor", "GET", api.PathHistory + "?before=x", "", "", 400,
			api.CodeBadRequest},
		{"wrong method", "GET", api.PathDeposit, "", "", 405, api.CodeMethodNotAllowed},
		{"unknown path", "GET", "/v2/balance", "", "", 404, api.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, e := call(t, alice, tt.method, tt.path, tt.key, tt.body, nil)
			if st != tt.status || e.Code != tt.code || e.Message == "" || e.RequestID == "" {
				t.Errorf("got %d %+v, want %d %s", st, e, tt.status, tt.code)
			}
		})
	}
	var bal api.Balance
	call(t, alice, "GET", api.PathBalance, "", "", &bal)
	if bal.Balance != "50.00" {
		t.Errorf("balance after refused requests = %s, want 50.00", bal.Balance)
	}
}

// TestSameKeyAppliedOnce sends one money request twice at the HTTP level, as
// a client retrying after a lost answer does.
func TestSameKeyAppliedOnce(t *testing.T) { forEachLedger(t, testSameKeyAppliedOnce) }

func testSameKeyAppliedOnce(t *testing.T, b *bank) {
	alice := b.client(b.tlsConfig(b.pki.Client(t, "alice")))
	var first, second api.Movement
	call(t, alice, "POST", api.PathDeposit, "once", `{"amount":"30"}`, &first)
	st, e := call(t, alice, "POST", api.PathDeposit, "once", `{"amount":"30"}`, &second)
	if st != 200 || !second.Replayed || second.ID != first.ID || second.Balance != "30.00" {
		t.Errorf("replay: %d %v first %+v second %+v", st, e, first, second)
	}
	st, e = call(t, alice, "POST", api.PathDeposit, "once", `{"amount":"31"}`, nil)
	if st != http.StatusUnprocessableEntity || e.Code != api.CodeKeyConflict {
		t.Errorf("same key, other amount: %d %+v", st, e)
	}
	var bal api.Balance
	call(t, alice, "GET", api.PathBalance, "", "", &bal)
	if bal.Balance != "30.00" {
		t.Errorf("balance = %s, want 30.00", bal.Balance)
	}
}

// TestConcurrentWithdrawals races many withdrawals, each over its own TLS
// connection, against one account: exactly as many succeed as the money
// allows, and the balance never goes below zero.
func TestConcurrentWithdrawals(t *testing.T) { forEachLedger(t, testConcurrentWithdrawals) }

func testConcurrentWithdrawals(t *testing.T, b *bank) {
	cfg := b.tlsConfig(b.pki.Client(t, "alice"))
	call(t, b.client(cfg), "POST", api.PathDeposit, "seed", `{"amount":"100"}`, nil)

	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := range n {
		wg.Go(func() {
			st, e := call(t, b.client(cfg), "POST", api.PathWithdraw, fmt.Sprintf("w%d", i),
				`{"amount":"7.00"}`, nil)
			mu.Lock()
			defer mu.Unlock()
			if st == 200 {
				codes["ok"]++
			} else {
				codes[e.Code]++
			}
		})
	}
	wg.Wait()
	if codes["ok"] != 14 || codes[api.CodeInsufficientFunds] != n-14 {
		t.Errorf("outcomes %v, want 14 ok and %d insufficient_funds", codes, n-14)
	}
	var bal api.Balance
	call(t, b.client(cfg), "GET", api.PathBalance, "", "", &bal)
	if bal.Balance != "2.00" {
		t.Errorf("final balance %s, want 2.00", bal.Balance)
	}
}

// TestInternalErrorHidden makes the ledger fail for real (it is closed) and
// checks that the client gets no internal detail while the log has it.
func TestInternalErrorHidden(t *testing.T) {
	b := startBank(t)
	alice := b.client(b.tlsConfig(b.pki.Client(t, "alice")))
	b.store.Close()
	st, e := call(t, alice, "GET", api.PathBalance, "", "", nil)
	if st != 500 || e.Code != api.CodeInternal ||
		e.Message != "internal error; the server's log has the details" {
		t.Fatalf("got %d %+v", st, e)
	}
	line := b.log.waitFor(t, "msg=request", "status=500")
	if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "error=") ||
		!strings.Contains(line, "id="+e.RequestID) {
		t.Errorf("log line for the failure:\n%s", line)
	}
}

// TestAnswerHeadersAndLogLines: every answer carries its request id, the
// same one as its log line, and two requests on one keep-alive connection
// get lines of their own, each with the connection's customer.
func TestAnswerHeadersAndLogLines(t *testing.T) {
	b := startBank(t)
	alice := b.client(b.tlsConfig(b.pki.Client(t, "alice")))
	var ids []string
	for range 2 {
		resp, err := alice.Get("https://banco.local" + api.PathBalance)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get(api.HeaderRequestID)
		if id == "" || resp.Header.Get("Content-Type") != "application/json" ||
			resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("answer headers: %v", resp.Header)
		}
		ids = append(ids, id)
		line := b.log.waitFor(t, "msg=request", "id="+id+" ")
		for _, want := range []string{"customer=alice", `subject="CN=alice"`,
			"method=GET", "path=" + api.PathBalance, "status=200"} {
			if !strings.Contains(line, want) {
				t.Errorf("request log line lacks %q:\n%s", want, line)
			}
		}
	}
	if ids[0] == ids[1] {
		t.Errorf("two requests share the id %q", ids[0])
	}
}
