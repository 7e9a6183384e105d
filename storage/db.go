// Package storage is the lineage database of star-pipeline: runs,
// generations, candidates and their parents, task states, events and the
// evaluation cache, in one SQLite file. It is the source of truth of a run;
// the queue only carries work.
//
// The coordinator is the only regular writer. Writes go through one
// connection and every multi-row change runs in an immediate transaction,
// so concurrent writers (a second process submitting a run) wait on the busy
// timeout instead of failing with "database is locked". Reads use a separate
// pool of read-only connections and never wait for writers (WAL).
//
// Open applies the embedded migrations forward. It refuses, without
// touching the file, a file that is not SQLite (ErrCorrupt), a SQLite
// database of another application (ErrForeignDatabase) and a database
// written by a newer star-pipeline (ErrNewerVersion). OpenReadOnly opens an
// existing database for the commands that only read: it never writes, works
// in a read-only directory, and creates no -wal or -shm file.
package storage

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Sentinel errors. Errors returned by this package wrap them.
var (
	// ErrNotFound: the run, generation, candidate, task or evaluation does
	// not exist, or a row it refers to does not.
	ErrNotFound = errors.New("not found")
	// ErrExists: a row with the same key is already stored.
	ErrExists = errors.New("already exists")
	// ErrForeignDatabase: the file is a SQLite database of another
	// application.
	ErrForeignDatabase = errors.New("not a star-pipeline database")
	// ErrCorrupt: the file is not a SQLite database, or is damaged.
	ErrCorrupt = errors.New("not a SQLite database or damaged")
	// ErrNewerVersion: the database was written by a newer star-pipeline.
	ErrNewerVersion = errors.New("database schema is newer than this build")
	// ErrOlderVersion: OpenReadOnly found a database that needs migrating
	// first, which only Open does.
	ErrOlderVersion = errors.New("database schema is older than this build")
	// ErrReadOnly: a write was attempted inside View, or on a database
	// opened with OpenReadOnly.
	ErrReadOnly = errors.New("write in a read-only transaction")
	// ErrInvalidTransition: the run's status does not allow the change
	// asked for (pausing a finished run, resuming a running one). The
	// error is a *TransitionError.
	ErrInvalidTransition = errors.New("run status does not allow the change")
)

// ApplicationID is stored in the SQLite header (PRAGMA application_id) of
// every lineage database: "STAR".
const ApplicationID = 0x53544152

// BusyTimeout is how long a write waits for another writer's lock.
const BusyTimeout = 10 * time.Second

const readers = 4

// ReadOnlyRecheck is how long a connection of OpenReadOnly lives: a new
// one looks again at whether a writer has the database open (see
// OpenReadOnly).
const ReadOnlyRecheck = time.Second

// DB is an open lineage database. Its methods are safe for concurrent use.
type DB struct {
	ops
	path    string
	w       *sql.DB // one connection; BEGIN is BEGIN IMMEDIATE; nil for OpenReadOnly
	r       *sql.DB // read-only pool
	version int
}

// Tx is a transaction started by DB.Update (read-write, immediate) or
// DB.View (read-only snapshot). It has the same methods as DB; they see the
// transaction's own writes. A Tx must not be used after its function
// returns.
type Tx struct {
	ops
}

// querier is what both *sql.DB and *sql.Tx provide.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ops carries every table method; DB and Tx embed it.
type ops struct {
	db *DB
	r  querier // reads
	w  querier // writes; nil inside View
	tx bool    // r and w are one transaction
}

func (o *ops) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if o.w == nil {
		return nil, ErrReadOnly
	}
	return o.w.ExecContext(ctx, query, args...)
}

// atomic runs fn in one immediate transaction, or in the current one.
func (o *ops) atomic(ctx context.Context, fn func(o *ops) error) error {
	if o.tx {
		if o.w == nil {
			return ErrReadOnly
		}
		return fn(o)
	}
	return o.db.Update(ctx, func(tx *Tx) error { return fn(&tx.ops) })
}

// Open opens the lineage database at path, creating it if it does not
// exist, and migrates it to the current schema.
func Open(ctx context.Context, path string) (*DB, error) {
	migs, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	return open(ctx, path, migs)
}

func open(ctx context.Context, path string, migs []migration) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("opening lineage db %q: %w", path, err)
	}
	if err := probe(ctx, abs, len(migs)); err != nil {
		return nil, fmt.Errorf("opening lineage db %q: %w", path, err)
	}
	w, err := sql.Open("sqlite3", dsn(abs, connWrite))
	if err != nil {
		return nil, fmt.Errorf("opening lineage db %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := &DB{path: abs, w: w}
	version, err := migrate(ctx, w, migs)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening lineage db %q: %w", path, err)
	}
	db.version = version
	r, err := sql.Open("sqlite3", dsn(abs, connRead))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening lineage db %q: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	db.r = r
	db.ops = ops{db: db, r: r, w: w}
	return db, nil
}

// connKind is what a connection may do.
type connKind int

const (
	connWrite     connKind = iota // read-write, WAL, immediate transactions
	connRead                      // mode=ro, sharing the writer's -wal and -shm
	connImmutable                 // immutable=1: the file alone, no locks, nothing created
)

// dsn returns the go-sqlite3 data source name of the production settings.
func dsn(path string, kind connKind) string {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "1")
	switch kind {
	case connWrite:
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "NORMAL")
		q.Set("_txlock", "immediate")
	case connRead:
		q.Set("mode", "ro")
	case connImmutable:
		q.Set("mode", "ro")
		q.Set("immutable", "1")
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
}

// readKind says how to read path without a writer's connection of our own.
//
// SQLite reads a WAL database through its -shm index. A read-only
// connection creates a missing -wal and -shm (and, unable to checkpoint,
// leaves them behind when it closes), and fails where it cannot create
// them: in a read-only directory. So when no -shm exists and the -wal is
// missing or empty, which means no connection has the database open and
// the file alone holds every committed change, reading opens it immutable:
// straight from the file, without locks, creating nothing. Otherwise a
// writer has it open, or left its -wal and -shm, and reading shares them.
func readKind(path string) connKind {
	if fileExists(path+"-shm") || fileExists(path+"-journal") {
		return connRead
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return connRead
	}
	return connImmutable
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// readConnector opens each connection of OpenReadOnly's pool as readKind
// says at that moment, so that a long-lived reader follows a writer that
// starts after it.
type readConnector struct {
	path string
	drv  *sqlite3.SQLiteDriver
}

func (c readConnector) Connect(context.Context) (driver.Conn, error) {
	return c.drv.Open(dsn(c.path, readKind(c.path)))
}

func (c readConnector) Driver() driver.Driver { return c.drv }

// OpenReadOnly opens the existing lineage database at path for reading
// only: it never writes to the file nor migrates it, and works where the
// file's directory is read-only. Writes fail with ErrReadOnly. It refuses
// what Open refuses, and a database that needs migrating with
// ErrOlderVersion.
//
// It creates no -wal or -shm file beside a database that has none (see
// readKind): while no writer has the database open it reads the file as
// immutable. A connection lives ReadOnlyRecheck, so a long-lived reader
// starts sharing a writer's -wal and -shm within that time of the writer
// opening the database; a read that runs while a starting writer
// checkpoints into the file may fail, not return wrong rows as a snapshot.
// What SQLite cannot do is read a -wal that holds changes without its
// -shm in a directory where the -shm cannot be created: that fails with
// an error that says so.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	migs, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	return openReadOnly(ctx, path, len(migs))
}

func openReadOnly(ctx context.Context, path string, latest int) (*DB, error) {
	wrap := func(err error) error { return fmt.Errorf("opening lineage db %q read-only: %w", path, err) }
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, wrap(err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, wrap(err)
	}
	if err := probe(ctx, abs, latest); err != nil {
		return nil, wrap(err)
	}
	r := sql.OpenDB(readConnector{path: abs, drv: &sqlite3.SQLiteDriver{}})
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(ReadOnlyRecheck)
	var version int
	if err := r.QueryRowContext(ctx, `SELECT user_version FROM pragma_user_version()`).Scan(&version); err != nil {
		r.Close()
		return nil, wrap(unreadableWAL(abs, err))
	}
	if version < latest {
		r.Close()
		return nil, wrap(fmt.Errorf("%w: schema version %d, this build's is %d; a command that writes to it migrates it",
			ErrOlderVersion, version, latest))
	}
	db := &DB{path: abs, r: r, version: version}
	db.ops = ops{db: db, r: r}
	return db, nil
}

// unreadableWAL explains err when path's -wal holds changes that SQLite
// cannot read because the -shm is missing and cannot be created.
func unreadableWAL(path string, err error) error {
	wal, walErr := os.Stat(path + "-wal")
	if walErr != nil || wal.Size() == 0 || fileExists(path+"-shm") {
		return err
	}
	base := filepath.Base(path)
	return fmt.Errorf("%s-wal holds changes not yet written into %s, and SQLite reads them only through a %s-shm, "+
		"which it cannot create here (is the directory read-only?); let a command that writes (star-pipeline coordinator, "+
		"or sqlite3 %s 'PRAGMA wal_checkpoint(TRUNCATE)') open it once with write access to the directory, "+
		"or copy %s and %s-wal to a writable directory and read the copy (SQLite: %w)", base, base, base, base, base, base, err)
}

var sqliteMagic = []byte("SQLite format 3\x00")

// probe checks an existing file without writing to it: it must be empty, or
// a SQLite database that is either empty or ours at a version we know.
func probe(ctx context.Context, path string, latest int) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: it is a directory", ErrCorrupt)
	}
	_, walErr := os.Stat(path + "-wal")
	if fi.Size() == 0 && walErr != nil {
		return nil // an empty file is an empty database
	}
	if fi.Size() > 0 {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		head := make([]byte, 100)
		_, err = io.ReadFull(f, head)
		f.Close()
		if err != nil || !bytes.HasPrefix(head, sqliteMagic) {
			return fmt.Errorf("%w: the file does not start with a SQLite header; check the path", ErrCorrupt)
		}
	}
	conn, err := sql.Open("sqlite3", dsn(path, readKind(path)))
	if err != nil {
		return err
	}
	defer conn.Close()
	var appID, version, objects int64
	err = conn.QueryRowContext(ctx, `SELECT
		(SELECT application_id FROM pragma_application_id()),
		(SELECT user_version FROM pragma_user_version()),
		(SELECT count(*) FROM sqlite_schema)`).Scan(&appID, &version, &objects)
	if err != nil {
		var se sqlite3.Error
		if errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt) {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return fmt.Errorf("reading header: %w", unreadableWAL(path, err))
	}
	switch {
	case appID == ApplicationID:
		if version > int64(latest) {
			return fmt.Errorf("%w: schema version %d, this build knows up to %d; upgrade star-pipeline", ErrNewerVersion, version, latest)
		}
		return nil
	case appID == 0 && objects == 0:
		return nil // an empty SQLite database
	case appID == 0:
		return fmt.Errorf("%w: it already has the schema of another application (%d tables and indexes); choose another path", ErrForeignDatabase, objects)
	default:
		return fmt.Errorf("%w: application id %#x; choose another path", ErrForeignDatabase, appID)
	}
}

// Close closes the database.
func (db *DB) Close() error {
	var errs []error
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing lineage db %q: %w", db.path, err)
	}
	return nil
}

// Path returns the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// SchemaVersion returns the schema version the database was migrated to.
func (db *DB) SchemaVersion() int { return db.version }

// Update runs fn in one immediate read-write transaction: committed if fn
// returns nil, rolled back otherwise (and on panic). Inside fn use tx, not
// db, for writes: the writer has a single connection, which the
// transaction holds, so a write through db would wait for it forever.
func (db *DB) Update(ctx context.Context, fn func(tx *Tx) error) (err error) {
	if db.w == nil {
		return ErrReadOnly
	}
	sqlTx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	return finish(sqlTx, fn, &Tx{ops{db: db, r: sqlTx, w: sqlTx, tx: true}})
}

// View runs fn in one read-only transaction: every read inside sees the
// same snapshot. Writes inside fail with ErrReadOnly.
func (db *DB) View(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.r.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning read transaction: %w", err)
	}
	return finish(sqlTx, fn, &Tx{ops{db: db, r: sqlTx, tx: true}})
}

func finish(sqlTx *sql.Tx, fn func(tx *Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			sqlTx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// now is the clock of stored timestamps.
var now = time.Now

// timeLayout is fixed-width so stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

// timeScan scans a text time column, NULL as the zero time.
type timeScan struct{ t *time.Time }

func (s timeScan) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*s.t = time.Time{}
		return nil
	case string:
		t, err := time.Parse(timeLayout, x)
		if err != nil {
			return fmt.Errorf("parsing stored time %q: %w", x, err)
		}
		*s.t = t
		return nil
	case []byte:
		return s.Scan(string(x))
	}
	return fmt.Errorf("stored time has type %T", v)
}

// constraint maps SQLite constraint errors to the package's sentinels.
func constraint(err error) error {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.ExtendedCode {
	case sqlite3.ErrConstraintPrimaryKey, sqlite3.ErrConstraintUnique:
		return fmt.Errorf("%w (%v)", ErrExists, err)
	case sqlite3.ErrConstraintForeignKey:
		return fmt.Errorf("%w: a row it refers to is missing (%v)", ErrNotFound, err)
	}
	return err
}

// affected returns ErrNotFound when res changed no row.
func affected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// notFound maps sql.ErrNoRows to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
