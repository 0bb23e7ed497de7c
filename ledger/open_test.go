package ledger

import (
	"bytes"
	"database/sql"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOpenRefusesBadLocations: a --db value that names no database banco
// can use gets an error of the right kind, and nothing is created.
func TestOpenRefusesBadLocations(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "folder")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, dsn string
		want      error
	}{
		{"another scheme", "mysql://root@localhost/bank", ErrBadDSN},
		{"another scheme, upper case", "MySQL://root@localhost/bank", ErrBadDSN},
		{"empty", "", ErrBadDSN},
		{"empty sqlite path", "sqlite:", ErrBadDSN},
		{"sqlite options", filepath.Join(dir, "bank.db?mode=ro"), ErrBadDSN},
		{"SQLite file: URI", "file:" + filepath.Join(dir, "bank.db"), ErrBadDSN},
		{"a folder", folder, ErrNotLedger},
		{"postgres URL that does not parse", "postgres://%zz", ErrBadDSN},
		{"postgres URL with a bad option", "postgres://u@127.0.0.1/db?sslmode=bogus",
			ErrBadDSN},
		{"postgres nobody listens to", "postgres://u:secret@127.0.0.1:1/db?sslmode=disable",
			ErrUnreachable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(bg, c.dsn, Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", c.dsn)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Open(%q): %v, want %v", c.dsn, err, c.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	left, err := os.ReadDir(dir)
	if err != nil || len(left) != 1 {
		t.Errorf("Open left files behind: %v, %v", left, err)
	}
	if entries, _ := os.ReadDir(folder); len(entries) != 0 {
		t.Errorf("Open wrote into the folder: %v", entries)
	}
}

// TestPostgresRefusesMissingPlaces: a database or a search_path schema that
// does not exist is named in the error, and nothing is created.
func TestPostgresRefusesMissingPlaces(t *testing.T) {
	base := postgresBase(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	noDB := *u
	noDB.Path = "/banco_no_such_database"
	noSchema := *u
	q := noSchema.Query()
	q.Set("search_path", "banco_no_such_schema")
	noSchema.RawQuery = q.Encode()
	for _, c := range []struct {
		dsn  string
		want error
		says string
	}{
		{noDB.String(), ErrUnreachable, `database "banco_no_such_database" does not exist`},
		{noSchema.String(), ErrNotLedger, "CREATE SCHEMA"},
	} {
		s, err := Open(bg, c.dsn, Options{})
		if err == nil {
			s.Close()
			t.Fatalf("Open(%s) succeeded", c.dsn)
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Open(%s): %v; want %v saying %q", c.dsn, err, c.want, c.says)
		}
	}
}

// TestNotSQLiteFileUntouched: a file that is not a SQLite database is
// refused, by serve and by verify alike, and left exactly as it was.
func TestNotSQLiteFileUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	text := bytes.Repeat([]byte("not a database\n"), 500)
	if err := os.WriteFile(path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{{}, {MustExist: true}} {
		s, err := Open(bg, path, opts)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%+v) of a text file succeeded", opts)
		}
		if !errors.Is(err, ErrNotLedger) || !strings.Contains(err.Error(), "not a SQLite") {
			t.Errorf("Open(%+v): %v, want ErrNotLedger saying it is not SQLite", opts, err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, text) {
		t.Fatalf("the file changed: %v", err)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(path + suffix); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open left %s%s: %v", path, suffix, err)
		}
	}
}

// TestForeignDatabaseRefused: a database that holds another program's tables
// is not made into a ledger, by serve or by verify, and is not changed.
func TestForeignDatabaseRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		if b.name == "sqlite" {
			if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		db := b.raw(t, dsn)
		if _, err := db.Exec(`CREATE TABLE accounts (owner TEXT)`); err != nil {
			t.Fatal(err)
		}
		for _, opts := range []Options{{}, {MustExist: true}} {
			s, err := Open(bg, dsn, opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%+v) made a ledger of another program's database", opts)
			}
			if !errors.Is(err, ErrNotLedger) || !strings.Contains(err.Error(), "accounts") {
				t.Fatalf("Open(%+v): %v, want ErrNotLedger naming the table", opts, err)
			}
		}
		if got := tables(t, b, db); !slices.Equal(got, []string{"accounts"}) {
			t.Errorf("the database now has the tables %v", got)
		}
		if b.name == "sqlite" {
			var mode string
			if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if mode != "delete" {
				t.Errorf("Open switched the file to journal mode %s", mode)
			}
		}
	})
}

// TestMustExistRefusesEmptyDatabase: verify does not set up a ledger where
// there is none, and a ledger made afterwards opens with MustExist.
func TestMustExistRefusesEmptyDatabase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		if b.name == "sqlite" {
			if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dsn, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(bg, dsn, Options{MustExist: true})
		if err == nil {
			s.Close()
			t.Fatal("Open with MustExist set up an empty database")
		}
		if !errors.Is(err, ErrNotLedger) {
			t.Fatalf("err = %v, want ErrNotLedger", err)
		}
		if got := tables(t, b, b.raw(t, dsn)); len(got) != 0 {
			t.Fatalf("Open with MustExist created the tables %v", got)
		}
		open(t, dsn)
		s, err = Open(bg, dsn, Options{MustExist: true})
		if err != nil {
			t.Fatalf("Open with MustExist of a ledger: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// tables lists the tables of the database (on PostgreSQL, of its schema).
func tables(t testing.TB, b backend, db *sql.DB) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
	if b.name == "postgres" {
		q = `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() ORDER BY table_name`
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}
