package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migrations are numbered SQL files, NNNN_name.sql, applied in order, each
// in its own immediate transaction together with its schema_migrations row
// and PRAGMA user_version. A released migration is never edited; a schema
// change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func embeddedMigrations() ([]migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return loadMigrations(sub)
}

// loadMigrations reads the *.sql files at the root of fsys; versions must
// run 1, 2, ... without gaps or repeats.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var migs []migration
	for _, n := range names {
		num, _, ok := strings.Cut(n, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %q: want NNNN_name.sql", n)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("reading migration %q: %w", n, err)
		}
		migs = append(migs, migration{version: v, name: strings.TrimSuffix(path.Base(n), ".sql"), sql: string(b)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: want version %d (versions must run 1, 2, ... without gaps or repeats)", m.name, i+1)
		}
	}
	if len(migs) == 0 {
		return nil, fmt.Errorf("no migrations")
	}
	return migs, nil
}

// migrate applies every migration newer than the database's version and
// returns the resulting version. Each step re-reads the version inside its
// transaction, so two processes opening one new file do not apply a step
// twice.
//
// Foreign keys are off while migrations run, as SQLite's procedure for
// rebuilding a table asks: with them on, dropping the old table would
// delete the rows that refer to it. Each step checks every foreign key
// before it commits, and the connection gets them back afterwards.
func migrate(ctx context.Context, w *sql.DB, migs []migration) (version int, err error) {
	conn, err := w.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrating: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return 0, fmt.Errorf("migrating: turning foreign keys off: %w", err)
	}
	defer func() {
		_, ferr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`)
		if ferr != nil && err == nil {
			version, err = 0, fmt.Errorf("migrating: turning foreign keys back on: %w", ferr)
		}
	}()
	for {
		applied, v, err := step(ctx, conn, migs)
		if err != nil {
			return 0, err
		}
		if !applied {
			return v, nil
		}
	}
}

func step(ctx context.Context, conn *sql.Conn, migs []migration) (applied bool, version int, err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, 0, fmt.Errorf("migrating: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var appID int64
	if err := tx.QueryRowContext(ctx, `SELECT application_id FROM pragma_application_id()`).Scan(&appID); err != nil {
		return false, 0, fmt.Errorf("migrating: reading application id: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT user_version FROM pragma_user_version()`).Scan(&version); err != nil {
		return false, 0, fmt.Errorf("migrating: reading schema version: %w", err)
	}
	switch {
	case appID != ApplicationID && appID != 0:
		return false, 0, fmt.Errorf("%w: application id %#x", ErrForeignDatabase, appID)
	case appID == 0 && version != 0:
		return false, 0, fmt.Errorf("%w: user_version %d without our application id", ErrForeignDatabase, version)
	case version > len(migs):
		return false, 0, fmt.Errorf("%w: schema version %d, this build knows up to %d; upgrade star-pipeline", ErrNewerVersion, version, len(migs))
	case version == len(migs):
		return false, version, tx.Commit()
	}
	m := migs[version]
	if version == 0 {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA application_id = %d`, ApplicationID)); err != nil {
			return false, 0, fmt.Errorf("migrating: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE schema_migrations (
			version INTEGER PRIMARY KEY,
			name    TEXT NOT NULL,
			applied TEXT NOT NULL
		) STRICT`); err != nil {
			return false, 0, fmt.Errorf("migrating: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, 0, fmt.Errorf("applying migration %s: %w", m.name, err)
	}
	if err := checkForeignKeys(ctx, tx); err != nil {
		return false, 0, fmt.Errorf("applying migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`,
		m.version, m.name, fmtTime(now())); err != nil {
		return false, 0, fmt.Errorf("recording migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, m.version)); err != nil {
		return false, 0, fmt.Errorf("recording migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, 0, fmt.Errorf("committing migration %s: %w", m.name, err)
	}
	return true, m.version, nil
}

// checkForeignKeys fails if any row refers to a row that does not exist.
func checkForeignKeys(ctx context.Context, tx *sql.Tx) error {
	var table, parent string
	var rowid sql.NullInt64
	var fkid int64
	err := tx.QueryRowContext(ctx, `PRAGMA foreign_key_check`).Scan(&table, &rowid, &parent, &fkid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("checking foreign keys: %w", err)
	}
	return fmt.Errorf("checking foreign keys: a row of %s (rowid %d) refers to a missing row of %s", table, rowid.Int64, parent)
}

// Migration is one applied schema migration.
type Migration struct {
	Version int
	Name    string
	Applied string // UTC time, RFC 3339
}

// Migrations lists the migrations applied to the database, oldest first.
func (db *DB) Migrations(ctx context.Context) ([]Migration, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT version, name, applied FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("listing migrations: %w", err)
	}
	defer rows.Close()
	var out []Migration
	for rows.Next() {
		var m Migration
		if err := rows.Scan(&m.Version, &m.Name, &m.Applied); err != nil {
			return nil, fmt.Errorf("listing migrations: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
