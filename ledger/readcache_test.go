package ledger

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

func sqliteOf(t *testing.T, s Store) *sqliteStore {
	t.Helper()
	ss, ok := s.(*sqliteStore)
	if !ok {
		t.Fatalf("%T is not a SQLite store", s)
	}
	return ss
}

func wantBalance(t *testing.T, s Store, who string, want Amount) {
	t.Helper()
	if got := balance(t, s, who); got != want {
		t.Fatalf("balance of %s = %s, want %s", who, got, want)
	}
}

// TestReadCacheAlone: a Store alone on its file answers balance reads from
// what its writer committed, and every answer is the committed balance.
func TestReadCacheAlone(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no read cache on Windows (see counter_other.go)")
	}
	s := open(t, sqliteDSN(t))
	ss := sqliteOf(t, s)
	wantBalance(t, s, "alice", 0)
	wantBalance(t, s, "bob", 0)
	apply(t, s, dep("alice", 500, "d"))
	wantBalance(t, s, "alice", 500)
	apply(t, s, wd("alice", 200, "w"))
	apply(t, s, xfer("alice", "bob", 100, "t"))
	wantBalance(t, s, "alice", 200)
	wantBalance(t, s, "bob", 100)
	if n := ss.cachedReads.Load(); n < 3 {
		t.Errorf("%d reads came from memory, want at least 3", n)
	}
}

// TestReadCacheTwoStores: a read sees what another Store on the same file
// committed, from the database; then the cache is used again.
func TestReadCacheTwoStores(t *testing.T) {
	dsn := sqliteDSN(t)
	a := open(t, dsn)
	b := open(t, dsn)
	apply(t, a, dep("alice", 100, "d1"))
	wantBalance(t, a, "alice", 100)
	wantBalance(t, b, "alice", 100)

	hits := func() int64 { return sqliteOf(t, a).cachedReads.Load() }
	for i, st := range []Store{b, a, b} {
		apply(t, st, dep("alice", 50, fmt.Sprint("d", i+2)))
		want := Amount(150 + 50*i)
		before := hits()
		wantBalance(t, a, "alice", want)
		if st == b && hits() != before {
			t.Errorf("after the other Store's commit, a read came from memory")
		}
		wantBalance(t, a, "alice", want)
		wantBalance(t, b, "alice", want)
		if runtime.GOOS != "windows" && hits() == before {
			t.Errorf("round %d: no read came from memory", i)
		}
	}

	// Another Store's commit, then one of this Store's own, then a read:
	// the own commit must not hide the other one.
	wantBalance(t, a, "bob", 0)
	apply(t, b, dep("alice", 1, "e1"))
	apply(t, a, dep("bob", 1, "e2"))
	wantBalance(t, a, "alice", 251)
	wantBalance(t, a, "bob", 1)
}

// TestHelperDeposit is not a test: TestReadCacheOtherProcess runs this test
// binary again to deposit into the ledger named in BANCO_LEDGER_DEPOSIT.
func TestHelperDeposit(t *testing.T) {
	dsn := os.Getenv("BANCO_LEDGER_DEPOSIT")
	if dsn == "" {
		t.Skip("only runs as a child of TestReadCacheOtherProcess")
	}
	s := open(t, dsn)
	apply(t, s, dep("alice", 700, "child"))
	if os.Getenv("BANCO_LEDGER_STAY") == "" {
		return
	}
	// Stay open: deposit again when told to, and exit when stdin closes.
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	in.Scan()
	apply(t, s, dep("alice", 300, "child2"))
	fmt.Println("done")
	for in.Scan() {
	}
}

// TestReadCacheOtherProcess: another process opens the ledger, deposits and
// exits between two reads of this one; the second read sees the deposit.
func TestReadCacheOtherProcess(t *testing.T) {
	if os.Getenv("BANCO_LEDGER_DEPOSIT") != "" {
		t.Skip("in a child")
	}
	dsn := sqliteDSN(t)
	s := open(t, dsn)
	wantBalance(t, s, "alice", 0)
	wantBalance(t, s, "alice", 0)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDeposit$", "-test.v")
	cmd.Env = append(os.Environ(), "BANCO_LEDGER_DEPOSIT="+dsn)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	wantBalance(t, s, "alice", 700)
	if _, err := os.Stat(filepath.Clean(dsn) + "-banco-commits"); runtime.GOOS != "windows" &&
		err != nil {
		t.Errorf("lock file: %v", err)
	}
}

// TestReadCacheOtherProcessOpen: while another process has the ledger open
// and writes to it, every read sees its writes.
func TestReadCacheOtherProcessOpen(t *testing.T) {
	if os.Getenv("BANCO_LEDGER_DEPOSIT") != "" {
		t.Skip("in a child")
	}
	dsn := sqliteDSN(t)
	s := open(t, dsn)
	wantBalance(t, s, "alice", 0)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDeposit$", "-test.v")
	cmd.Env = append(os.Environ(), "BANCO_LEDGER_DEPOSIT="+dsn, "BANCO_LEDGER_STAY=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	defer stdin.Close()
	out := bufio.NewScanner(stdout)
	waitFor := func(word string) {
		t.Helper()
		for out.Scan() {
			if out.Text() == word {
				return
			}
		}
		t.Fatalf("the child never said %q", word)
	}
	waitFor("ready")
	wantBalance(t, s, "alice", 700)
	wantBalance(t, s, "alice", 700)
	fmt.Fprintln(stdin, "go")
	waitFor("done")
	wantBalance(t, s, "alice", 1000)
}

// TestReadCacheFillAfterCommit: a balance read from the database before a
// commit, and offered to the cache after the writer recorded that commit,
// is dropped rather than stored over the newer balance.
func TestReadCacheFillAfterCommit(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no read cache on Windows (see counter_other.go)")
	}
	ctr, err := openCommitCounter(filepath.Join(t.TempDir(), "bank.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := newReadCache(ctr)
	t.Cleanup(func() { _ = c.close() })
	if !c.check() {
		t.Fatal("the cache is not usable")
	}
	_, ok, gen := c.get(7)
	if ok {
		t.Fatal("an empty cache had account 7")
	}
	c.committed(map[int64]Amount{7: 0}, map[int64]Amount{7: 900})
	c.fill(7, 100, gen) // read before the commit
	if b, ok, _ := c.get(7); !ok || b != 900 {
		t.Fatalf("after a stale fill, account 7 has %s (%v), want 9.00", b, ok)
	}
	_, _, gen = c.get(8)
	c.fill(8, 50, gen)
	if b, ok, _ := c.get(8); !ok || b != 50 {
		t.Fatalf("a fresh fill was not kept: %s, %v", b, ok)
	}
	ctr.add() // another Store commits
	if !c.check() {
		t.Fatal("the cache is not usable")
	}
	if _, ok, _ := c.get(7); ok {
		t.Error("after another Store's commit, the cache still has account 7")
	}
	if newReadCache(nil).check() {
		t.Error("a cache without a counter was usable")
	}
}

// TestReadCacheThroughSymlink: a Store that opened the ledger through a
// symbolic link shares the commit counter of one that opened it by its
// own name, so neither reads a balance the other has changed from memory.
func TestReadCacheThroughSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no read cache on Windows (see counter_other.go)")
	}
	dsn := sqliteDSN(t)
	a := open(t, dsn)
	alias := filepath.Join(t.TempDir(), "alias.db")
	if err := os.Symlink(dsn, alias); err != nil {
		t.Fatal(err)
	}
	b := open(t, alias)
	wantBalance(t, a, "alice", 0)
	wantBalance(t, b, "alice", 0) // both have it in memory now
	apply(t, a, dep("alice", 100, "d1"))
	wantBalance(t, b, "alice", 100)
	apply(t, b, wd("alice", 30, "w1"))
	wantBalance(t, a, "alice", 70)
}
