package ledger

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync"
	"testing"
)

// TestPostgresOutOfConnections runs a ledger whose PostgreSQL role may hold
// only a few connections while many requests, reads included, arrive at
// once: PostgreSQL refuses the extra connections (SQLSTATE 53300), and every
// request must still be answered, later rather than with an error.
func TestPostgresOutOfConnections(t *testing.T) {
	dsn := postgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	var b [6]byte
	_, _ = rand.Read(b[:])
	role := "banco_busy_" + hex.EncodeToString(b[:])
	admin := postgresRaw(t, dsn)
	for _, stmt := range []string{
		"CREATE ROLE " + role + " LOGIN CONNECTION LIMIT 2",
		"ALTER SCHEMA " + schema + " OWNER TO " + role,
	} {
		if _, err := admin.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() { dropRole(t, postgresBase(t), role) })
	u.User = url.User(role)
	s := open(t, u.String())

	const n = 30
	errs := make([]error, 3*n)
	var wg sync.WaitGroup
	for i := range n {
		who := fmt.Sprint("c", i)
		wg.Go(func() { _, errs[3*i] = s.Balance(bg, who) })
		wg.Go(func() { _, errs[3*i+1] = s.Apply(bg, dep(who, 100, "k")) })
		wg.Go(func() { _, errs[3*i+2] = s.History(bg, who, HistoryQuery{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if rep := mustVerify(t, s); rep.Entries != n {
		t.Errorf("Verify counts %d entries, want %d", rep.Entries, n)
	}
}

// dropRole gives what role owns back to the administrator, so that the
// test's schema can be dropped as usual, then drops the role.
func dropRole(t *testing.T, base, role string) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Errorf("drop role %s: %v", role, err)
		return
	}
	defer db.Close()
	for _, stmt := range []string{
		"REASSIGN OWNED BY " + role + " TO CURRENT_USER",
		"DROP OWNED BY " + role,
		"DROP ROLE " + role,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Errorf("%s: %v", stmt, err)
			return
		}
	}
}
