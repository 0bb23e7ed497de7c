package crashtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/banco/banco/bankcli"
)

// TestCrash runs the workload against a real "banco serve" process and kills
// it with SIGKILL at random moments, -crash.rounds times, restarting it each
// time; the very first start is killed too, while it creates the ledger.
// A client whose request got no answer retries it with the same key until
// it gets one, across restarts.
func TestCrash(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			runCrash(t, b.dsn(t), 1, *flagRounds)
		})
	}
}

// TestCrashTwoServers runs two banco serve processes on one database, kills
// one or the other at random moments, and lets clients retry each request on
// the other server with the same key. PostgreSQL is the backend meant for
// several servers; on SQLite the two processes share the file's write lock.
func TestCrashTwoServers(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			runCrash(t, b.dsn(t), 2, *flagRounds)
		})
	}
}

// TestTwoServers runs two banco serve processes on one database, with the
// clients' requests going to both at once, and no faults: every request
// must get an answer from the first server it tries.
func TestTwoServers(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			runCrash(t, b.dsn(t), 2, 0)
		})
	}
}

// runCrash starts n servers on db, runs the workload against them while it
// kills a random one rounds times, and checks the ledger at the end, with
// "banco ledger verify" and with checkLedger.
func runCrash(t *testing.T, db string, n, rounds int) {
	seed := seedFor(t)
	h := newHome(t, allCustomers())
	var servers []*server
	for i := range n {
		servers = append(servers, newServer(t, h, fmt.Sprintf("server %d", i+1), db))
	}
	if rounds > 0 {
		// The very first start creates and migrates the ledger: crash it.
		rng := rand.New(rand.NewPCG(seed, 0xbeef))
		servers[0].startKilled(time.Duration(rng.IntN(80)) * time.Millisecond)
	}
	retry, giveUp := context.WithTimeout(context.Background(), 5*time.Minute)
	defer giveUp()
	for _, s := range servers {
		s.died = func(msg string) {
			t.Error(msg)
			giveUp() // no use retrying against a dead server
		}
		s.start()
	}
	w := &workload{
		seed: seed, customers: customers, clients: *flagClients,
		maxOps: 40 + 60*rounds, strict: rounds == 0, rec: &recorder{}, ownRetries: rounds > 0,
		connect: func(name string, retries int) []*bankcli.Client {
			var cls []*bankcli.Client
			for _, s := range servers {
				cls = append(cls, h.client(t, name, s.addr, retries))
			}
			return cls
		},
	}
	openAccounts(t, w)
	w.dial()

	stop, stopNow := context.WithCancel(context.Background())
	defer stopNow()
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(stop, retry)
	}()
	kills, stops := crashRounds(t, h, db, servers, rounds, rand.New(rand.NewPCG(seed, 0xdead)),
		done, retry.Done())
	stopNow()
	<-done // requests still without an answer are retried until retry ends
	for _, s := range servers {
		s.stop()
	}
	t.Logf("%d servers, %d SIGKILLs, %d SIGTERMs during the run", n, kills, stops)

	h.ledgerVerify(t, db)
	checkLedger(t, openStore(t, db), allCustomers(), w.rec)
}

// crashRounds kills a random server at a random moment, rounds times, and
// restarts it after a random pause; after each restart "banco ledger verify"
// runs against the live database. One round in eight kills the restart too,
// during its start-up; one in eight stops the server with SIGTERM instead.
// It returns early when the workload is done.
func crashRounds(t *testing.T, h *home, db string, servers []*server, rounds int,
	rng *rand.Rand, done, dead <-chan struct{}) (kills, stops int) {
	for round := range rounds {
		select {
		case <-done:
			t.Logf("the workload ended after %d of %d rounds", round, rounds)
			return kills, stops
		case <-dead:
			return kills, stops
		case <-time.After(time.Duration(100+rng.IntN(600)) * time.Millisecond):
		}
		s := servers[rng.IntN(len(servers))]
		switch p := rng.IntN(8); {
		case p == 0:
			s.stop() // SIGTERM: requests in flight must finish, and it exits 0
			stops++
		case p == 1:
			s.kill()
			s.startKilled(time.Duration(rng.IntN(150)) * time.Millisecond)
			kills += 2
		default:
			s.kill()
			kills++
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		s.start()
		h.ledgerVerify(t, db)
	}
	if rounds == 0 {
		<-done
	} else {
		time.Sleep(300 * time.Millisecond) // some traffic after the last restart
	}
	return kills, stops
}
