package ledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestHelperProcess is not a test: TestSeveralProcesses runs this test
// binary again with BANCO_LEDGER_CHILD set, and this applies a workload to
// the ledger named there and prints the net amount it deposited.
func TestHelperProcess(t *testing.T) {
	dsn := os.Getenv("BANCO_LEDGER_CHILD")
	if dsn == "" {
		t.Skip("only runs as a child of TestSeveralProcesses")
	}
	seed, _ := strconv.ParseUint(os.Getenv("BANCO_LEDGER_SEED"), 10, 64)
	s := open(t, dsn)
	rng := rand.New(rand.NewPCG(seed, 1))
	names := []string{"ana", "ben", "cy"}
	var net Amount
	for i := range 150 {
		who := names[rng.IntN(len(names))]
		r := Request{Customer: who, Amount: Amount(1 + rng.IntN(2000)),
			Key: fmt.Sprintf("p%d-%d", seed, i)}
		switch rng.IntN(3) {
		case 0:
			r.Kind = Deposit
		case 1:
			r.Kind = Withdraw
		default:
			r.Kind, r.To = Transfer, names[(rng.IntN(2)+1+indexOf(names, who))%3]
		}
		_, err := s.Apply(bg, r)
		switch {
		case errors.Is(err, ErrInsufficientFunds):
		case err != nil:
			t.Fatalf("%+v: %v", r, err)
		case r.Kind == Deposit:
			net += r.Amount
		case r.Kind == Withdraw:
			net -= r.Amount
		}
	}
	mustVerify(t, s)
	fmt.Printf("net=%d\n", int64(net))
}

func indexOf(names []string, n string) int {
	for i, v := range names {
		if v == n {
			return i
		}
	}
	return -1
}

// TestSeveralProcesses runs three processes writing the same accounts of
// one ledger at once, as several banco servers would, and checks the
// invariants and that the money adds up.
func TestSeveralProcesses(t *testing.T) {
	if os.Getenv("BANCO_LEDGER_CHILD") != "" {
		t.Skip("in a child")
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		s := open(t, dsn)
		for _, n := range []string{"ana", "ben", "cy"} {
			balance(t, s, n)
		}
		const children = 3
		cmds := make([]*exec.Cmd, children)
		outs := make([]*strings.Builder, children)
		for i := range cmds {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
			cmd.Env = append(os.Environ(), "BANCO_LEDGER_CHILD="+dsn,
				fmt.Sprint("BANCO_LEDGER_SEED=", i+1))
			outs[i] = &strings.Builder{}
			cmd.Stdout, cmd.Stderr = outs[i], outs[i]
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds[i] = cmd
		}
		var net Amount
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("child %d: %v\n%s", i, err, outs[i])
			}
			_, after, ok := strings.Cut(outs[i].String(), "net=")
			n, err := strconv.ParseInt(strings.Fields(after + " x")[0], 10, 64)
			if !ok || err != nil {
				t.Fatalf("child %d printed no total:\n%s", i, outs[i])
			}
			net += Amount(n)
		}
		var sum Amount
		for _, n := range []string{"ana", "ben", "cy"} {
			sum += balance(t, s, n)
		}
		if sum != net {
			t.Errorf("customers hold %s, the processes deposited a net %s", sum, net)
		}
		rep := mustVerify(t, s)
		if rep.Entries == 0 {
			t.Error("no entries")
		}
	})
}
