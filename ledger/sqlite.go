package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
)

// DefaultMaxBatch is how many requests one SQLite group commit holds at most.
const DefaultMaxBatch = 256

// sqliteStore serialises every write through one goroutine that owns the
// only writing connection. It collects the requests queued while the
// previous commit was syncing, applies them in one transaction (decided in
// Go by applyBatch; on any failure redone one by one, each in its own
// SAVEPOINT so that a failed one is undone alone), commits them all with
// one synchronous COMMIT and only then answers each: group commit, with no
// answer before the data is on disk. Writers therefore never meet
// "database is locked"; other processes sharing the file are kept out by
// BEGIN IMMEDIATE and a busy timeout, retried.
type sqliteStore struct {
	core
	wdb       *sql.DB
	wconn     *sql.Conn
	w         *prepared // wconn with prepared statements; writer goroutine only
	maxBatch  int
	mustExist bool

	queue chan *op
	quit  chan struct{}
	done  chan struct{}

	mu     sync.RWMutex // held for reading while sending to queue
	closed bool

	commits, committed atomic.Int64 // transactions and ops in them, for benchmarks
	redone             atomic.Int64 // batches that fell back to the careful path
	cachedReads        atomic.Int64 // balance reads answered from memory

	cache   batchCache        // writer goroutine only
	touched map[int64]Amount  // accounts of the last fast batch; writer only
	inserts map[string]string // multi-row statement texts by size; writer only

	reads *readCache // balances for reads (see readCache)
}

// op is one write waiting for the writer goroutine.
type op struct {
	req  Request
	open string    // when set, only open this customer's account
	at   time.Time // stamped by the writer
	ctx  context.Context

	res  Result
	err  error
	done chan struct{}
}

var errClosed = errors.New("ledger is closed")

const (
	sqliteBusyTimeout = "10000" // milliseconds SQLite waits for another process's lock
	sqliteReaders     = 4
)

func openSQLite(ctx context.Context, path string, opts Options) (*sqliteStore, error) {
	if err := prepareSQLiteFile(path, opts.MustExist); err != nil {
		return nil, err
	}
	if err := probeSQLite(ctx, path, opts.MustExist); err != nil {
		return nil, err
	}
	pragmas := "?_pragma=busy_timeout(" + sqliteBusyTimeout + ")&_pragma=synchronous(FULL)"
	// The writer gets a bigger page cache (16 MiB) and checkpoints the WAL
	// every 8192 pages rather than 1000: fewer, larger checkpoints write
	// each hot page (balances, index tails) once for many commits.
	// Statement journals (for multi-row INSERTs, savepoints) stay in
	// memory instead of a temporary file written with a syscall a page. Foreign
	// keys are declared but not enforced (SQLite's default): checking them
	// cost a tenth of a write, every id written comes from the accounts
	// table, and Verify reports an entry that names no account.
	wdb, err := sql.Open("sqlite", path+pragmas+"&_pragma=journal_mode(WAL)"+
		"&_pragma=cache_size(-16384)&_pragma=wal_autocheckpoint(8192)"+
		"&_pragma=temp_store(MEMORY)")
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	s := &sqliteStore{
		core:      core{where: path, now: opts.Now},
		wdb:       wdb,
		maxBatch:  opts.MaxBatch,
		inserts:   map[string]string{},
		mustExist: opts.MustExist,
		queue:     make(chan *op, 4096),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if s.maxBatch <= 0 {
		s.maxBatch = DefaultMaxBatch
	}
	if err := s.init(ctx, pragmas); err != nil {
		_ = s.closeDBs()
		return nil, err
	}
	// A tool that only looks (MustExist) leaves no counter file behind; it
	// never commits, and reads only once.
	var ctr *commitCounter
	if !opts.MustExist {
		ctr, err = openCommitCounter(path)
		if err != nil {
			_ = s.closeDBs()
			return nil, fmt.Errorf("ledger %s: %w", path, err)
		}
	}
	s.reads = newReadCache(ctr)
	go s.run()
	return s, nil
}

// prepareSQLiteFile creates the ledger's folder (0700) and file (0600), so
// that SQLite never creates it with the umask's permissions.
func prepareSQLiteFile(path string, mustExist bool) error {
	if path == "" {
		return kindErrorf(ErrBadDSN, "the ledger's location is empty; give a SQLite file path "+
			"or a postgres:// URL")
	}
	if strings.ContainsAny(path, "?#") {
		return kindErrorf(ErrBadDSN, "ledger path %q has a ? or #, which SQLite reads as "+
			"options; choose another path", path)
	}
	fi, err := os.Stat(path)
	if err == nil {
		if fi.IsDir() {
			return kindErrorf(ErrNotLedger, "ledger %s is a folder, not a SQLite file; name a "+
				"file in it, such as %s", path, filepath.Join(path, "bank.db"))
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("open ledger %s: %w", path, err)
	}
	if mustExist {
		return fmt.Errorf("no ledger at %s: %w", path, fs.ErrNotExist)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create folder of ledger %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create ledger %s: %w", path, err)
	}
	if f != nil {
		return f.Close()
	}
	return nil
}

// probeSQLite looks at an existing file before the writer opens it: the
// writer switches the file to WAL mode, a change that must not happen to a
// file that is not banco's (checkForeign says which are not).
func probeSQLite(ctx context.Context, path string, mustExist bool) error {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout("+sqliteBusyTimeout+")"+
		"&_pragma=query_only(1)")
	if err != nil {
		return fmt.Errorf("open ledger %s: %w", path, err)
	}
	defer db.Close()
	err = checkForeign(ctx, db, false, path, mustExist)
	if isNotADB(err) {
		return kindErrorf(ErrNotLedger, "%s is not a SQLite database, so not a banco ledger; "+
			"check the path, or move the file away to start a new ledger there", path)
	}
	return err
}

// isNotADB reports SQLITE_NOTADB: the file is not a SQLite database.
func isNotADB(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 26
}

func (s *sqliteStore) init(ctx context.Context, pragmas string) error {
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open ledger %s: %w", s.where, err)
	}
	s.wconn = conn
	s.w = newPrepared(conn, conn.PrepareContext)
	var mode string
	if err := conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("open ledger %s: %w", s.where, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("open ledger %s: journal mode is %q, not WAL", s.where, mode)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := migrate(ctx, conn, false, s.where, s.mustExist); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		return err
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		return fmt.Errorf("migrate ledger %s: %w", s.where, err)
	}

	s.db, err = sql.Open("sqlite", s.where+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		return fmt.Errorf("open ledger %s: %w", s.where, err)
	}
	s.db.SetMaxOpenConns(sqliteReaders)
	s.db.SetMaxIdleConns(sqliteReaders)
	s.rd = newPrepared(s.db, s.db.PrepareContext)
	return s.loadTills(ctx)
}

// begin starts the writer's transaction, waiting out other processes.
func (s *sqliteStore) begin(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		_, err := s.w.ExecContext(ctx, `BEGIN IMMEDIATE`)
		if err == nil {
			return nil
		}
		if !isBusy(err) || attempt >= 30 {
			return fmt.Errorf("begin writing ledger %s: %w", s.where, err)
		}
		if err := sleep(ctx, attempt); err != nil {
			return err
		}
	}
}

// isBusy reports SQLITE_BUSY or SQLITE_LOCKED, with any extended code.
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff
	return code == 5 || code == 6
}

func sleep(ctx context.Context, attempt int) error {
	d := time.Duration(min(attempt+1, 50)) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// submit hands o to the writer and waits for its answer.
func (s *sqliteStore) submit(ctx context.Context, o *op) error {
	o.ctx, o.done = ctx, make(chan struct{})
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	select {
	case s.queue <- o:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-o.done:
		return nil
	case <-ctx.Done():
		// The writer may still apply it; a retry under the same key
		// gets the answer.
		return ctx.Err()
	}
}

func (s *sqliteStore) run() {
	defer close(s.done)
	batch := make([]*op, 0, s.maxBatch)
	for {
		select {
		case o := <-s.queue:
			batch = append(batch[:0], o)
		case <-s.quit:
			for {
				select {
				case o := <-s.queue:
					s.commit([]*op{o})
				default:
					return
				}
			}
		}
		batch = s.fill(batch)
		s.commit(batch)
	}
}

// fill adds what is queued to batch. It yields once when it has drained
// the queue, so that callers answered by the previous commit can queue
// their next request and share this commit's fsync.
func (s *sqliteStore) fill(batch []*op) []*op {
	for yielded := false; len(batch) < s.maxBatch; {
		select {
		case o := <-s.queue:
			batch = append(batch, o)
		default:
			if yielded {
				return batch
			}
			runtime.Gosched()
			yielded = true
		}
	}
	return batch
}

// commit applies a batch in one transaction and answers every op in it.
func (s *sqliteStore) commit(batch []*op) {
	ctx := context.Background()
	live := batch[:0:0]
	for _, o := range batch {
		if err := o.ctx.Err(); err != nil {
			o.err = err
			close(o.done)
			continue
		}
		live = append(live, o)
	}
	if len(live) == 0 {
		return
	}
	err := s.commitLive(ctx, live, false)
	if errors.Is(err, errDirty) {
		for _, o := range live {
			o.res, o.err = Result{}, nil
		}
		err = s.commitLive(ctx, live, true)
	}
	for _, o := range live {
		if err != nil {
			o.res, o.err = Result{}, err
		}
		close(o.done)
	}
}

// errDirty stops a fast batch: it is rolled back and redone carefully.
var errDirty = errors.New("batch redone one request at a time")

// commitLive applies ops in one transaction and commits it. The fast path
// (applyBatch) decides the whole batch in Go; when it fails for any reason,
// the batch is rolled back and redone carefully: each request in SQL in its
// own savepoint, so that a failure stays that request's alone.
func (s *sqliteStore) commitLive(ctx context.Context, live []*op, careful bool) error {
	if err := s.begin(ctx); err != nil {
		s.cache.valid = false
		return err
	}
	learned := txIDs{}
	if careful {
		s.cache.valid = false // the careful path changes balances behind the cache
		s.redone.Add(1)
		for _, o := range live {
			if err := s.applyOne(ctx, o, learned); err != nil {
				_, _ = s.w.ExecContext(ctx, `ROLLBACK`)
				return err
			}
		}
	} else if err := s.applyBatch(ctx, live, learned); err != nil {
		_, _ = s.w.ExecContext(ctx, `ROLLBACK`)
		s.cache.valid = false
		return fmt.Errorf("%w: %v", errDirty, err)
	}
	var err error
	for attempt := 0; ; attempt++ {
		_, err = s.w.ExecContext(ctx, `COMMIT`)
		if err == nil || !isBusy(err) || attempt >= 30 {
			break
		}
		_ = sleep(ctx, attempt)
	}
	if err != nil {
		_, _ = s.w.ExecContext(ctx, `ROLLBACK`)
		s.cache.valid = false
		return fmt.Errorf("commit to ledger %s: %w", s.where, err)
	}
	s.publish(learned)
	if careful {
		s.reads.committed(nil, nil)
	} else {
		s.reads.committed(s.touched, s.cache.balances)
	}
	s.commits.Add(1)
	s.committed.Add(int64(len(live)))
	return nil
}

// applyOne applies o in its own savepoint; its answer or its own failure
// goes to o. A returned error means the transaction cannot go on.
func (s *sqliteStore) applyOne(ctx context.Context, o *op, learned txIDs) error {
	if _, err := s.w.ExecContext(ctx, `SAVEPOINT op`); err != nil {
		return fmt.Errorf("write ledger %s: %w", s.where, err)
	}
	l := txIDs{}
	o.at = s.stamp()
	var err error
	if o.open != "" {
		_, err = s.openAccount(ctx, s.w, o.open, o.at, l)
	} else {
		var refused error
		o.res, refused, err = s.applyTx(ctx, s.w, o.req, o.at, l)
		o.err = refused
	}
	switch {
	case err != nil && !errors.Is(err, ErrKeyConflict):
		o.res, o.err = Result{}, err
		if _, err := s.w.ExecContext(ctx, `ROLLBACK TO SAVEPOINT op`); err != nil {
			return fmt.Errorf("write ledger %s: %w", s.where, err)
		}
	default:
		if err != nil {
			o.res, o.err = Result{}, err
		}
		for k, v := range l {
			learned[k] = v
		}
	}
	if _, err := s.w.ExecContext(ctx, `RELEASE SAVEPOINT op`); err != nil {
		return fmt.Errorf("write ledger %s: %w", s.where, err)
	}
	return nil
}

// Apply implements Store.
func (s *sqliteStore) Apply(ctx context.Context, r Request) (Result, error) {
	if err := r.check(); err != nil {
		return Result{}, err
	}
	o := &op{req: r}
	if err := s.submit(ctx, o); err != nil {
		return Result{}, err
	}
	return o.res, o.err
}

// open opens a customer's account through the writer, if it is not open.
func (s *sqliteStore) open(ctx context.Context, customer string) (int64, error) {
	if err := checkCustomer(customer); err != nil {
		return 0, err
	}
	id, ok, err := s.accountID(ctx, s.rd, customer, nil)
	if err != nil || ok {
		return id, err
	}
	if err := s.submit(ctx, &op{open: customer}); err != nil {
		return 0, err
	}
	id, ok, err = s.accountID(ctx, s.rd, customer, nil)
	if err == nil && !ok {
		err = fmt.Errorf("open account of %q in ledger %s: not found after opening",
			customer, s.where)
	}
	return id, err
}

// Balance implements Store. It answers from the balances its writer
// committed while no other Store has committed since (see readCache).
func (s *sqliteStore) Balance(ctx context.Context, customer string) (Amount, error) {
	id, err := s.open(ctx, customer)
	if err != nil {
		return 0, err
	}
	if !s.reads.check() {
		bal, _, err := s.balance(ctx, customer)
		return bal, err
	}
	bal, ok, gen := s.reads.get(id)
	if ok {
		s.cachedReads.Add(1)
		return bal, nil
	}
	err = s.rd.QueryRowContext(ctx, `SELECT balance FROM accounts WHERE id = $1`, id).Scan(&bal)
	if err != nil {
		return 0, fmt.Errorf("read balance of %q: %w", customer, err)
	}
	s.reads.fill(id, bal, gen)
	return bal, nil
}

// History implements Store.
func (s *sqliteStore) History(ctx context.Context, customer string, q HistoryQuery) (Page, error) {
	id, err := s.open(ctx, customer)
	if err != nil {
		return Page{}, err
	}
	return s.history(ctx, id, q)
}

// Lookup implements Store.
func (s *sqliteStore) Lookup(ctx context.Context, customer, key string) (Result, bool, error) {
	return s.lookup(ctx, customer, key)
}

// Entries implements Store.
func (s *sqliteStore) Entries(ctx context.Context, customers []string) ([]Entry, error) {
	return s.listEntries(ctx, customers)
}

// Verify implements Store.
func (s *sqliteStore) Verify(ctx context.Context) (Report, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Report{}, fmt.Errorf("verify ledger %s: %w", s.where, err)
	}
	defer func() { _ = tx.Rollback() }()
	return s.verify(ctx, tx)
}

// Close implements Store: it waits for queued writes, then closes.
func (s *sqliteStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.quit)
	<-s.done
	return errors.Join(s.closeDBs(), s.reads.close())
}

func (s *sqliteStore) closeDBs() error {
	var errs []error
	for _, p := range []*prepared{s.w, asPrepared(s.rd)} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	errs = append(errs, s.wdb.Close())
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close ledger %s: %w", s.where, err)
	}
	return nil
}

func asPrepared(q querier) *prepared {
	p, _ := q.(*prepared)
	return p
}
