package ledger

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// withMigration makes the next schema version m for the rest of the test,
// as a later banco would have it.
func withMigration(t *testing.T, m migration) {
	saved, savedVersion := migrations, SchemaVersion
	migrations = append(slices.Clip(saved), m)
	SchemaVersion = len(migrations) - 1
	t.Cleanup(func() { migrations, SchemaVersion = saved, savedVersion })
}

func versions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM banco_schema ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

// TestMigrations opens a ledger of the current version with a banco that
// has one more migration: a migration that fails leaves the ledger as it
// was, verify (MustExist) refuses to migrate, and start-up migrates once,
// keeping every balance.
func TestMigrations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		s := open(t, dsn)
		apply(t, s, dep("alice", 500, "before"))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		db := b.raw(t, dsn)
		current := SchemaVersion
		next := current + 1

		broken := `CREATE TABLE extra (x INTEGER); INSERT INTO no_such_table VALUES (1);`
		withMigration(t, migration{sqlite: broken, postgres: broken})
		if s, err := Open(bg, dsn, Options{}); err == nil {
			s.Close()
			t.Fatal("a failing migration was reported as done")
		} else if !strings.Contains(err.Error(), fmt.Sprint("schema version ", next)) {
			t.Errorf("err = %v, want it to name the version it failed at", err)
		}
		if got := versions(t, db); len(got) != current || slices.Contains(tables(t, b, db),
			"extra") {
			t.Fatalf("after a failed migration: versions %v, tables %v", got, tables(t, b, db))
		}

		good := `CREATE TABLE extra (x INTEGER);`
		migrations[next] = migration{sqlite: good, postgres: good}
		_, err := Open(bg, dsn, Options{MustExist: true})
		if !errors.Is(err, ErrSchemaTooOld) {
			t.Fatalf("Open with MustExist of an older schema: err = %v, want ErrSchemaTooOld",
				err)
		}
		if got := versions(t, db); len(got) != current {
			t.Fatalf("Open with MustExist migrated the ledger to %v", got)
		}

		s = open(t, dsn)
		if got := balance(t, s, "alice"); got != 500 {
			t.Fatalf("balance after the migration = %s, want 5.00", got)
		}
		mustVerify(t, s)
		var want []int
		for v := 1; v <= next; v++ {
			want = append(want, v)
		}
		if got := versions(t, db); !slices.Equal(got, want) {
			t.Fatalf("versions after the migration = %v, want %v", got, want)
		}
		// A second start must not run the migration again: its CREATE
		// TABLE would fail.
		open(t, dsn)
	})
}
