package banksrv_test

import (
	"fmt"
	"testing"

	"github.com/banco/banco/banksrv/api"
)

// BenchmarkBalance measures balance reads over one keep-alive mTLS
// connection (the hot path of issue 6's read benchmark).
func BenchmarkBalance(b *testing.B) {
	bk := startBank(b)
	c := bk.client(bk.tlsConfig(bk.pki.Client(b, "alice")))
	call(b, c, "GET", api.PathBalance, "", "", nil)
	for b.Loop() {
		if st, e := call(b, c, "GET", api.PathBalance, "", "", nil); st != 200 {
			b.Fatalf("balance: %d %+v", st, e)
		}
	}
}

// BenchmarkDeposit measures durable deposits from one keep-alive client.
func BenchmarkDeposit(b *testing.B) {
	bk := startBank(b)
	c := bk.client(bk.tlsConfig(bk.pki.Client(b, "alice")))
	i := 0
	for b.Loop() {
		i++
		st, e := call(b, c, "POST", api.PathDeposit, fmt.Sprint("k", i), `{"amount":"1"}`, nil)
		if st != 200 {
			b.Fatalf("deposit: %d %+v", st, e)
		}
	}
}
