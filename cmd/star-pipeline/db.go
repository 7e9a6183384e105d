package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
// a database. A file that is not a star-pipeline database is refused and
// left untouched.
func openDB(c *cli.Context) (*storage.DB, error) {
	path := c.String("db")
	if path == "" {
		return nil, badInput("--db is empty; give the path of the lineage database")
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist), err == nil && !fi.IsDir() && fi.Size() == 0 && !fileExists(path+"-wal"):
		return nil, fmt.Errorf("no database at %s; run `star-pipeline submit` first or pass --db", path)
	case err != nil:
		return nil, fmt.Errorf("opening lineage db %q: %w", path, err)
	}
	return openStorage(c.Context, path)
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
// file that is not a usable star-pipeline database. storage.Open refuses
// such files without writing to them.
func openStorage(ctx context.Context, path string) (*storage.DB, error) {
	db, err := storage.Open(ctx, path)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, storage.ErrForeignDatabase), errors.Is(err, storage.ErrCorrupt):
		return nil, fmt.Errorf("%w (left untouched); pass --db with a star-pipeline database", err)
	case errors.Is(err, storage.ErrNewerVersion):
		return nil, fmt.Errorf("%w (left untouched)", err)
	}
	return nil, err
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
