package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Open opens the ledger at dsn, creating and migrating it as needed:
//   - "postgres://..." or "postgresql://...": a PostgreSQL database (pgx),
//     which several banco servers may share;
//   - "sqlite:PATH", "sqlite://PATH" or a plain PATH: a SQLite file in WAL mode with
//     synchronous commits, created 0600 in a 0700 folder if missing.
//
// A dsn that is neither (another URL scheme, an empty path) is refused with
// ErrBadDSN; a PostgreSQL server that cannot be reached with ErrUnreachable.
// A database that holds something other than a banco ledger (a file that is
// not SQLite, another program's tables) is refused with ErrNotLedger rather
// than written to, and one written by a newer banco with ErrSchemaTooNew.
func Open(ctx context.Context, dsn string, opts Options) (Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if IsPostgres(dsn) {
		return openPostgres(ctx, dsn, opts)
	}
	path, ok := SQLitePath(dsn)
	if !ok && strings.HasPrefix(dsn, "file:") {
		return nil, kindErrorf(ErrBadDSN, "ledger location %q is an SQLite file: URI, which "+
			"banco does not take; give the file's path, such as %s", dsn,
			strings.TrimPrefix(strings.TrimPrefix(dsn, "file:"), "//"))
	}
	if !ok {
		scheme, _ := urlScheme(dsn)
		return nil, kindErrorf(ErrBadDSN, "ledger location %q has the scheme %s://, which "+
			"banco does not know; give a SQLite file path or a postgres:// URL", dsn, scheme)
	}
	return openSQLite(ctx, path, opts)
}

// SQLitePath returns the file that dsn names, with any sqlite: or sqlite://
// prefix removed, and false when dsn is a URL of another scheme (postgres://
// included).
func SQLitePath(dsn string) (string, bool) {
	if scheme, ok := urlScheme(dsn); ok && scheme != "sqlite" {
		return "", false
	}
	if strings.HasPrefix(dsn, "file:") {
		// SQLite's own URI form: the driver would take it apart itself,
		// and banco's checks and file permissions would miss the file.
		return "", false
	}
	path, ok := strings.CutPrefix(dsn, "sqlite://")
	if !ok {
		path = strings.TrimPrefix(dsn, "sqlite:")
	}
	return path, true
}

// IsPostgres reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// urlScheme finds the scheme of a URL such as mysql://host/db. A single
// letter before :// is a Windows drive, not a scheme.
func urlScheme(dsn string) (string, bool) {
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok || len(scheme) < 2 {
		return "", false
	}
	for i, c := range scheme {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	return strings.ToLower(scheme), true
}

// Errors of Open, besides ErrSchemaTooNew and ErrNotLedger.
var (
	// ErrBadDSN: the location names no database banco can use.
	ErrBadDSN = errors.New("not a ledger location")

	// ErrUnreachable: the PostgreSQL server could not be reached, or
	// refused the connection (authentication, no such database).
	ErrUnreachable = errors.New("cannot connect to the ledger's database")
)

// kindError is an error that errors.Is matches with a sentinel (its kind)
// while its text is a whole sentence of its own, so that messages need not
// end in the sentinel's words.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// kindErrorf formats an error (with %w as fmt.Errorf) that is also kind.
func kindErrorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, args...)}
}
