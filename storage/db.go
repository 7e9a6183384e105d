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
// written by a newer star-pipeline (ErrNewerVersion).
package storage

import (
	"bytes"
	"context"
	"database/sql"
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
	// ErrReadOnly: a write was attempted inside View.
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

// DB is an open lineage database. Its methods are safe for concurrent use.
type DB struct {
	ops
	path    string
	w       *sql.DB // one connection; BEGIN is BEGIN IMMEDIATE
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
	w, err := sql.Open("sqlite3", dsn(abs, false))
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
	r, err := sql.Open("sqlite3", dsn(abs, true))
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

// dsn returns the go-sqlite3 data source name of the production settings.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "1")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "NORMAL")
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
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
	conn, err := sql.Open("sqlite3", dsn(path, true))
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
		return fmt.Errorf("reading header: %w", err)
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
	errs = append(errs, db.w.Close())
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
