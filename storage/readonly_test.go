package storage

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// companions lists the -wal, -shm and -journal files beside path.
func companions(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(path + suffix); err == nil {
			out = append(out, filepath.Base(path+suffix))
		}
	}
	return out
}

// closedDB writes a lineage database with run r1 and closes it: the file
// alone holds it, with no -wal or -shm beside it.
func closedDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "star.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRun(ctx, testRun("r1")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if c := companions(t, path); len(c) != 0 {
		t.Fatalf("a closed database left %v", c)
	}
	return path
}

func TestOpenReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := closedDB(t)
	before := readFile(t, path)
	db, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := db.GetRun(ctx, "r1"); err != nil || r.ID != "r1" {
		t.Errorf("GetRun = %+v, %v", r, err)
	}
	if err := db.View(ctx, func(tx *Tx) error { _, err := tx.ListRuns(ctx); return err }); err != nil {
		t.Errorf("View: %v", err)
	}
	if db.SchemaVersion() != latestVersion(t) {
		t.Errorf("version %d", db.SchemaVersion())
	}
	if err := db.CreateRun(ctx, testRun("r2")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("CreateRun = %v, want ErrReadOnly", err)
	}
	if err := db.Update(ctx, func(tx *Tx) error { return nil }); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Update = %v, want ErrReadOnly", err)
	}
	if c := companions(t, path); len(c) != 0 {
		t.Errorf("reading created %v", c)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Error("reading modified the file")
	}
	if c := companions(t, path); len(c) != 0 {
		t.Errorf("reading left %v", c)
	}
	if _, err := OpenReadOnly(ctx, filepath.Join(t.TempDir(), "none.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenReadOnly(missing) = %v, want os.ErrNotExist", err)
	}
}

// TestOpenReadOnlyFollowsWriter reads a database while a writer has it open
// with changes still in its write-ahead log, and while the writer goes on.
func TestOpenReadOnlyFollowsWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := closedDB(t)
	w, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.CreateRun(ctx, testRun("r2")); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := w.CreateRun(ctx, testRun("r3")); err != nil {
		t.Fatal(err)
	}
	runs, err := r.ListRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, run := range runs {
		ids = append(ids, run.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"r1", "r2", "r3"}) {
		t.Errorf("read-only runs %v, want r1 r2 r3", ids)
	}
}

func TestOpenReadOnlyOlderSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	all, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := open(ctx, path, all[:len(all)-1])
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := readFile(t, path)
	if _, err := OpenReadOnly(ctx, path); !errors.Is(err, ErrOlderVersion) {
		t.Errorf("OpenReadOnly(older schema) = %v, want ErrOlderVersion", err)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Error("the older database was modified")
	}
	if c := companions(t, path); len(c) != 0 {
		t.Errorf("refusing it left %v", c)
	}
}

// TestRefusedFilesStayAlone checks that Open and OpenReadOnly, refusing a
// file they say they leave untouched, create nothing beside it either:
// SQLite's read-only connections create a WAL database's -wal and -shm and
// cannot remove them.
func TestRefusedFilesStayAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	foreignWAL := filepath.Join(dir, "foreign-wal.db")
	other, err := sql.Open("sqlite3", foreignWAL)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`PRAGMA journal_mode = WAL`, `CREATE TABLE notes (body TEXT)`} {
		if _, err := other.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	other.Close()
	all, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	newer := filepath.Join(dir, "newer.db")
	future := append(append([]migration(nil), all...), migration{version: len(all) + 1, name: "9999_future", sql: `CREATE TABLE future (x INTEGER)`})
	db, err := open(ctx, newer, future)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tc := range []struct {
		path string
		want error
	}{{foreignWAL, ErrForeignDatabase}, {newer, ErrNewerVersion}} {
		for name, openFn := range map[string]func(context.Context, string) (*DB, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
			before := readFile(t, tc.path)
			if _, err := openFn(ctx, tc.path); !errors.Is(err, tc.want) {
				t.Errorf("%s(%s) = %v, want %v", name, filepath.Base(tc.path), err, tc.want)
			}
			if !bytes.Equal(before, readFile(t, tc.path)) {
				t.Errorf("%s(%s) modified the file", name, filepath.Base(tc.path))
			}
			if c := companions(t, tc.path); len(c) != 0 {
				t.Errorf("%s(%s) left %v beside it", name, filepath.Base(tc.path), c)
			}
		}
	}
}
