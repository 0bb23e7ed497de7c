package crashtest

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

// The flags of this package. make test runs the short versions (a few kill
// rounds); make crash-test passes -crash.rounds=20.
var (
	flagRounds = flag.Int("crash.rounds", 3,
		"how many times each crash test kills a server")
	flagSeed = flag.Uint64("crash.seed", 0,
		"seed of the workload and the kill schedule; 0 picks one from the clock")
	flagClients = flag.Int("crash.clients", 16, "concurrent clients of each workload")
)

// baseSeed is the seed every test of this run derives its own from; it is
// printed so that a failing run can be repeated.
var baseSeed uint64

func TestMain(m *testing.M) {
	flag.Parse()
	baseSeed = *flagSeed
	if baseSeed == 0 {
		baseSeed = uint64(time.Now().UnixNano()) % 1_000_000_007
	}
	fmt.Fprintf(os.Stderr, "crashtest: -crash.seed=%d -crash.rounds=%d -crash.clients=%d\n",
		baseSeed, *flagRounds, *flagClients)
	code := m.Run()
	removeBuildDir()
	os.Exit(code)
}

// seedFor returns the seed of test t and logs how to rerun it alone.
func seedFor(t *testing.T) uint64 {
	t.Helper()
	t.Logf("seed %d; rerun with: go test ./banksrv/crashtest/ -run '^%s$' -crash.seed=%d "+
		"-crash.rounds=%d -crash.clients=%d -v", baseSeed, t.Name(), baseSeed, *flagRounds,
		*flagClients)
	return baseSeed
}
