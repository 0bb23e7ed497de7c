package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// pgStore runs each request in its own READ COMMITTED transaction. Several
// servers may share the database: balances change only through conditional
// UPDATEs (WHERE balance >= amount), whose row locks serialise concurrent
// writers of one account and are taken in account id order; the primary key
// on (customer, idempotency key) lets only one copy of a request commit,
// and the loser is retried and replays the winner's answer. Serialization
// failures and deadlocks (SQLSTATE 40001, 40P01) are retried too. The
// bank's cash is split into tills (one per customer, by a hash of the name),
// so that deposits and withdrawals of different customers do not all queue
// for one row's lock.
type pgStore struct {
	core
}

// TODO(pg-roundtrips): a request costs seven round trips (BEGIN, key
// lookup, two UPDATEs, two INSERTs, COMMIT), and on a busy machine their
// syscalls, not PostgreSQL, dominate. A server-side function doing the same
// in one statement would cut that to one, at the price of a second copy of
// the rules in PL/pgSQL.

// pgMaxConns bounds each Store's connections, so that several servers fit
// in PostgreSQL's default max_connections (100).
const pgMaxConns = 20

// pgConnectTimeout bounds the first connection, so that a server behind a
// firewall that drops packets is reported instead of waited for.
const pgConnectTimeout = 30 * time.Second

// pgMaxAttempts bounds the retries of one request: with sleep's back-off,
// about 9 s, long enough to ride out a burst of servers and tools that
// takes every connection PostgreSQL has.
const pgMaxAttempts = 200

// pgMigrationLock is the advisory lock that keeps two servers starting at
// once from migrating together ("banco" in ASCII).
const pgMigrationLock = 0x62616e636f

func openPostgres(ctx context.Context, dsn string, opts Options) (*pgStore, error) {
	where := Redact(dsn)
	if _, err := pgconn.ParseConfig(dsn); err != nil {
		return nil, kindErrorf(ErrBadDSN, "ledger URL %s is not a PostgreSQL URL banco can "+
			"use: %s", where, parseReason(err))
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", where, err)
	}
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgMaxConns)
	s := &pgStore{core{db: db, rd: db, where: where, now: opts.Now}}
	if err := s.init(ctx, opts.MustExist); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Redact hides the password in a PostgreSQL URL, for messages and logs.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable PostgreSQL URL)"
	}
	return u.Redacted()
}

func (s *pgStore) init(ctx context.Context, mustExist bool) error {
	pingCtx, cancel := context.WithTimeout(ctx, pgConnectTimeout)
	defer cancel()
	if err := s.db.PingContext(pingCtx); err != nil {
		return &connectError{where: s.where, err: err}
	}
	var schema sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("read schema of ledger %s: %w", s.where, err)
	}
	if !schema.Valid {
		return kindErrorf(ErrNotLedger, "ledger %s: no schema named in its search_path "+
			"exists; create it (CREATE SCHEMA name) or fix search_path in the URL", s.where)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`,
			int64(pgMigrationLock)); err != nil {
			return fmt.Errorf("lock ledger %s for migration: %w", s.where, err)
		}
		return migrate(ctx, tx, true, s.where, mustExist)
	})
	if err != nil {
		return err
	}
	return s.loadTills(ctx)
}

// inTx runs fn in a transaction, retrying it when PostgreSQL asks to.
func (s *pgStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return retry(ctx, func() error { return s.tryTx(ctx, fn) })
}

// retry runs fn again while it fails in a way PostgreSQL means as "not now"
// (see retryable), so that a busy database slows a client down rather than
// failing its request.
func retry(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !retryable(err) || attempt >= pgMaxAttempts {
			return err
		}
		if err := sleep(ctx, attempt); err != nil {
			return err
		}
	}
}

func (s *pgStore) tryTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction on ledger %s: %w", s.where, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit to ledger %s: %w", s.where, err)
	}
	return nil
}

// retryable: serialization failure, deadlock, a unique violation (the
// other copy of a request committed first; the retry replays it), or a
// server that has no connection to spare right now (too many servers or
// tools at once), which must not reach a client as an error either.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01", "23505", "53300":
		return true
	}
	return false
}

// connectError is a failed first connection to PostgreSQL, told in one
// line: pgx's own text repeats each attempt (with and without TLS) and
// spreads them over several lines.
type connectError struct {
	where string
	err   error
}

func (e *connectError) Error() string {
	return fmt.Sprintf("connect to ledger %s: %s", e.where, connectReason(e.err))
}

func (e *connectError) Unwrap() []error { return []error{ErrUnreachable, e.err} }

func connectReason(err error) string {
	var (
		pe  *pgconn.PgError
		dns *net.DNSError
		op  *net.OpError
	)
	switch {
	case errors.As(err, &pe):
		return fmt.Sprintf("the server says: %s (SQLSTATE %s)", pe.Message, pe.Code)
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot find the host %s: %v", dns.Name, dns.Err)
	case errors.As(err, &op) && op.Addr != nil:
		return fmt.Sprintf("%s %s: %v", op.Op, op.Addr, op.Err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %v", pgConnectTimeout)
	}
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// parseReason is pgx's reason for refusing a URL, without the URL, which
// the caller names redacted.
func parseReason(err error) string {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "`: "); ok {
		return after
	}
	return msg
}

// Apply implements Store.
func (s *pgStore) Apply(ctx context.Context, r Request) (Result, error) {
	if err := r.check(); err != nil {
		return Result{}, err
	}
	var (
		res     Result
		refused error
		learned txIDs
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		learned = txIDs{}
		res, refused, err = s.applyTx(ctx, tx, r, s.stamp(), learned)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	s.publish(learned)
	return res, refused
}

// open opens a customer's account if it is not open; each statement
// commits on its own.
func (s *pgStore) open(ctx context.Context, customer string) (int64, error) {
	if err := checkCustomer(customer); err != nil {
		return 0, err
	}
	return s.openAccount(ctx, s.db, customer, s.stamp(), nil)
}

// Balance implements Store.
func (s *pgStore) Balance(ctx context.Context, customer string) (bal Amount, err error) {
	err = retry(ctx, func() error {
		if _, err := s.open(ctx, customer); err != nil {
			return err
		}
		bal, _, err = s.balance(ctx, customer)
		return err
	})
	return bal, err
}

// History implements Store.
func (s *pgStore) History(ctx context.Context, customer string, q HistoryQuery) (p Page,
	err error) {
	err = retry(ctx, func() error {
		id, err := s.open(ctx, customer)
		if err != nil {
			return err
		}
		p, err = s.history(ctx, id, q)
		return err
	})
	return p, err
}

// Lookup implements Store.
func (s *pgStore) Lookup(ctx context.Context, customer, key string) (res Result, found bool,
	err error) {
	err = retry(ctx, func() error {
		res, found, err = s.lookup(ctx, customer, key)
		return err
	})
	return res, found, err
}

// Entries implements Store.
func (s *pgStore) Entries(ctx context.Context, customers []string) ([]Entry, error) {
	return s.listEntries(ctx, customers)
}

// Verify implements Store, on one REPEATABLE READ snapshot.
func (s *pgStore) Verify(ctx context.Context) (Report, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead,
		ReadOnly: true})
	if err != nil {
		return Report{}, fmt.Errorf("verify ledger %s: %w", s.where, err)
	}
	defer func() { _ = tx.Rollback() }()
	return s.verify(ctx, tx)
}

// Close implements Store.
func (s *pgStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close ledger %s: %w", s.where, err)
	}
	return nil
}
