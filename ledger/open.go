package ledger

import (
	"context"
	"strings"
	"time"
)

// Open opens the ledger at dsn, creating and migrating it as needed:
//   - "postgres://..." or "postgresql://...": a PostgreSQL database (pgx),
//     which several banco servers may share;
//   - "sqlite:PATH" or a plain PATH: a SQLite file in WAL mode with
//     synchronous commits, created 0600 in a 0700 folder if missing.
//
// A database written by a newer banco is refused with an error wrapping
// ErrSchemaTooNew.
func Open(ctx context.Context, dsn string, opts Options) (Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if IsPostgres(dsn) {
		return openPostgres(ctx, dsn, opts)
	}
	return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"), opts)
}

// IsPostgres reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
