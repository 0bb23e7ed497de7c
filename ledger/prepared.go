package ledger

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// prepared runs each query text through one statement prepared the first
// time it is seen. With SQLite, parsing the SQL is otherwise the largest
// cost of a small write; PostgreSQL's driver caches statements itself.
type prepared struct {
	raw     querier
	prepare func(ctx context.Context, query string) (*sql.Stmt, error)
	stmts   sync.Map // query text -> *sql.Stmt
}

func newPrepared(raw querier, prepare func(context.Context, string) (*sql.Stmt, error)) *prepared {
	return &prepared{raw: raw, prepare: prepare}
}

func (p *prepared) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if v, ok := p.stmts.Load(query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := p.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	if v, loaded := p.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

func (p *prepared) ExecContext(ctx context.Context, query string,
	args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (p *prepared) QueryContext(ctx context.Context, query string,
	args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (p *prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, query)
	if err != nil {
		// *sql.Row cannot be made with an error; running the query
		// unprepared reports the same error through Scan.
		return p.raw.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Close closes every prepared statement.
func (p *prepared) Close() error {
	var errs []error
	p.stmts.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		p.stmts.Delete(k)
		return true
	})
	return errors.Join(errs...)
}
