package ledger

import (
	"errors"
	"testing"
	"time"
)

// batchScript has requests that depend on each other: accounts opened by an
// earlier request, keys reused in the same batch, refusals.
var batchScript = []Request{
	dep("alice", 10000, "k0"),
	xfer("alice", "bob", 1000, "k1"), // bob has no account yet
	dep("bob", 500, "k2"),
	xfer("alice", "bob", 1000, "k3"),
	xfer("alice", "bob", 1000, "k1"), // the same refusal again
	wd("alice", 100000, "k5"),
	wd("alice", 100000, "k5"),
	wd("alice", 5000, "k5"), // conflict
	dep("alice", MaxAmount, "k8"),
	xfer("bob", "alice", 1500, "k9"),
	xfer("bob", "alice", 1, "k10"),
	dep("alice", 10000, "k0"),        // replay of the first batch
	xfer("alice", "bob", 1000, "k3"), // replay within the batch
	dep("carol", 100, "k3"),
	wd("carol", 100, "k3"), // conflict within the batch
}

type answer struct {
	res Result
	err error
}

// TestBatchMatchesOneByOne checks that SQLite's fast path, deciding a whole
// batch in Go, answers exactly as applying the requests one by one does.
func TestBatchMatchesOneByOne(t *testing.T) {
	one, _ := newStore(t, backends[0])
	var want []answer
	for _, r := range batchScript {
		res, err := one.Apply(bg, r)
		want = append(want, answer{res, err})
	}

	dsn := sqliteDSN(t)
	s := open(t, dsn).(*sqliteStore)
	lock := sqliteRaw(t, dsn)
	conn, err := lock.Conn(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Hold the write lock so that the writer waits with the first request
	// and the others queue up behind it, in order, for one batch.
	if _, err := conn.ExecContext(bg, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	got := make([]answer, len(batchScript))
	done := make(chan int)
	for i, r := range batchScript {
		go func() {
			res, err := s.Apply(bg, r)
			got[i] = answer{res, err}
			done <- i
		}()
		for len(s.queue) < i && i > 0 { // wait until it is queued behind the others
			time.Sleep(time.Millisecond)
		}
		if i == 0 {
			time.Sleep(50 * time.Millisecond) // let the writer take it and wait
		}
	}
	if _, err := conn.ExecContext(bg, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	for range batchScript {
		<-done
	}

	if s.commits.Load() > 3 {
		t.Logf("the requests took %d commits, not 2: this run tested less", s.commits.Load())
	}
	for i := range want {
		w, g := want[i], got[i]
		w.res.Entry.Time, g.res.Entry.Time = time.Time{}, time.Time{}
		if w.res != g.res || !sameError(w.err, g.err) {
			t.Errorf("request %d %+v:\n got %+v, %v\nwant %+v, %v",
				i, batchScript[i], g.res, g.err, w.res, w.err)
		}
	}
	mustVerify(t, s)
	mustVerify(t, one)
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	for _, e := range []error{ErrInsufficientFunds, ErrBalanceLimit, ErrNoAccount,
		ErrKeyConflict} {
		if errors.Is(a, e) != errors.Is(b, e) {
			return false
		}
	}
	return a.Error() == b.Error()
}
