package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/storage"
)

// defaultDBPath is the lineage database used when neither --db nor STAR_DB
// is given: star.db in the working directory.
const defaultDBPath = "star.db"

// dbFlag returns a fresh --db flag: the lineage database every command that
// reads or writes runs shares.
func dbFlag() cli.Flag {
	return &cli.StringFlag{
		Name:      "db",
		Value:     defaultDBPath,
		Usage:     "lineage database (SQLite file) of the runs",
		EnvVars:   []string{"STAR_DB"},
		TakesFile: true,
	}
}

// openDB opens the existing lineage database named by c's --db flag for a
// command that reads runs. A missing file is an error: reading never creates
// a database. It opens the file read-only (storage.OpenReadOnly: no write,
// no -wal or -shm created, a read-only directory is fine), except that a
// database of an older schema is migrated first, as every command always
// did. A file that is not a star-pipeline database is refused and left
// untouched.
func openDB(c *cli.Context) (*storage.DB, error) {
	path, err := existingDB(c)
	if err != nil {
		return nil, err
	}
	db, err := storage.OpenReadOnly(c.Context, path)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, storage.ErrOlderVersion):
		db, merr := openStorage(c.Context, path)
		if merr != nil {
			return nil, fmt.Errorf("%w; migrating it failed: %w", err, merr)
		}
		return db, nil
	}
	return nil, explainOpen(err)
}

// openDBToChange opens the existing lineage database named by c's --db flag
// for reading and writing: for serve --allow-actions.
func openDBToChange(c *cli.Context) (*storage.DB, error) {
	path, err := existingDB(c)
	if err != nil {
		return nil, err
	}
	return openStorage(c.Context, path)
}

// existingDB returns c's --db path, which must name an existing database.
func existingDB(c *cli.Context) (string, error) {
	path := c.String("db")
	if path == "" {
		return "", badInput("--db is empty; give the path of the lineage database")
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist), err == nil && !fi.IsDir() && fi.Size() == 0 && !fileExists(path+"-wal"):
		if others := databasesBeside(path); len(others) > 0 {
			return "", fmt.Errorf("no database at %s, but found %s: pass --db %s (or set STAR_DB)",
				path, strings.Join(others, ", "), others[0])
		}
		return "", fmt.Errorf("no database at %s; run `star-pipeline submit` first or pass --db", path)
	case err != nil:
		return "", fmt.Errorf("opening lineage db %q: %w", path, err)
	}
	return path, nil
}

// openDBForWrite opens the lineage database at path, creating it (but not
// its directory) if it does not exist: for commands that submit runs.
func openDBForWrite(ctx context.Context, path string) (*storage.DB, error) {
	if path == "" {
		return nil, badInput("--db is empty; give the path of the lineage database")
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("creating lineage db %q: directory %s does not exist; create it or pass another --db", path, dir)
	}
	return openStorage(ctx, path)
}

// openStorage opens path with storage.Open and says what to do about a
// file that is not a usable star-pipeline database.
func openStorage(ctx context.Context, path string) (*storage.DB, error) {
	db, err := storage.Open(ctx, path)
	if err != nil {
		return nil, explainOpen(err)
	}
	return db, nil
}

// explainOpen says what to do about a file that storage refused to open.
// storage refuses such files without writing to them or creating anything
// beside them.
func explainOpen(err error) error {
	switch {
	case errors.Is(err, storage.ErrForeignDatabase), errors.Is(err, storage.ErrCorrupt):
		return fmt.Errorf("%w (left untouched); pass --db with a star-pipeline database", err)
	case errors.Is(err, storage.ErrNewerVersion):
		return fmt.Errorf("%w (left untouched)", err)
	}
	return err
}

// databasesBeside lists the other *.db files in the directory of path
// (make demo writes demo.db), as paths to pass to --db.
func databasesBeside(path string) []string {
	dir := filepath.Dir(path)
	matches, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	var out []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && filepath.Base(m) != filepath.Base(path) {
			if dir == "." {
				m = filepath.Base(m)
			}
			out = append(out, m)
		}
	}
	return out
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
