package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

// setup opens a fresh database file in t.TempDir() with the production
// settings and seeds one run, "r1".
func setup(t *testing.T) (*DB, context.Context) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "star.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := db.CreateRun(ctx, testRun("r1")); err != nil {
		t.Fatal(err)
	}
	return db, ctx
}

func testRun(id string) Run {
	return Run{ID: id, Seed: 7, Config: "population: 4\n", ConfigHash: "cfg", Algorithm: "nsga2", Population: 4, Generations: 3}
}

func TestOpenSettings(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	var mode string
	if err := db.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	for _, h := range []*sql.DB{db.w, db.r} {
		var fk, busy int
		if err := h.QueryRowContext(ctx, `SELECT (SELECT foreign_keys FROM pragma_foreign_keys()), (SELECT timeout FROM pragma_busy_timeout())`).Scan(&fk, &busy); err != nil {
			t.Fatal(err)
		}
		if fk != 1 || busy != int(BusyTimeout.Milliseconds()) {
			t.Errorf("foreign_keys = %d, busy_timeout = %d", fk, busy)
		}
	}
	if _, err := db.r.ExecContext(ctx, `INSERT INTO events (run_id, time, kind) VALUES ('r1', 'x', 'k')`); err == nil {
		t.Error("the read pool accepted a write")
	}
	migs, err := db.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	latest := latestVersion(t)
	if len(migs) != latest || migs[0].Name != "0001_lineage" || migs[1].Version != 2 || db.SchemaVersion() != latest {
		t.Errorf("migrations = %+v, version %d", migs, db.SchemaVersion())
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "star.db")
	for i := 0; i < 3; i++ {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if err := db.CreateRun(ctx, testRun(fmt.Sprintf("run%d", i))); err != nil {
			t.Fatal(err)
		}
		runs, err := db.ListRuns(ctx)
		if err != nil || len(runs) != i+1 {
			t.Fatalf("open %d: %d runs, %v", i, len(runs), err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMigrateForward creates a version 1 database, fills it, and reopens it
// with every migration: the data stays and version 2's tables appear. A
// further (test-only) version 3 then applies on top.
func TestMigrateForward(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "star.db")
	all, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	v1, err := open(ctx, path, all[:1])
	if err != nil {
		t.Fatal(err)
	}
	if v1.SchemaVersion() != 1 {
		t.Fatalf("version %d, want 1", v1.SchemaVersion())
	}
	if err := v1.CreateRun(ctx, testRun("old")); err != nil {
		t.Fatal(err)
	}
	if err := v1.AddCandidates(ctx, Candidate{RunID: "old", Genome: "11111-91111", GenomeHash: "g", Operator: OpSeed}); err != nil {
		t.Fatal(err)
	}
	if _, err := v1.LookupEvaluation(ctx, "g", "cfg"); err == nil {
		t.Fatal("version 1 has an evaluations table")
	}
	v1.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("migrating 1 -> latest: %v", err)
	}
	next := len(all) + 1
	if db.SchemaVersion() != len(all) {
		t.Errorf("version %d, want %d", db.SchemaVersion(), len(all))
	}
	if _, err := db.GetRun(ctx, "old"); err != nil {
		t.Errorf("run lost in migration: %v", err)
	}
	id := CandidateID("old", 0, 0)
	if err := db.CompleteCandidate(ctx, id, Result{Objectives: map[string]float64{"params": 10}, ConfigHash: "cfg"}); err != nil {
		t.Fatal(err)
	}
	if e, err := db.LookupEvaluation(ctx, "g", "cfg"); err != nil || e.CandidateID != id {
		t.Errorf("evaluation after migration: %+v, %v", e, err)
	}
	db.Close()

	v3 := append(append([]migration(nil), all...), migration{version: next, name: "9999_test", sql: `
		ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT 'migrated';
		CREATE TABLE extra (x INTEGER) STRICT;`})
	db3, err := open(ctx, path, v3)
	if err != nil {
		t.Fatalf("migrating to a test version: %v", err)
	}
	defer db3.Close()
	var note string
	if err := db3.r.QueryRowContext(ctx, `SELECT note FROM runs WHERE id = 'old'`).Scan(&note); err != nil || note != "migrated" {
		t.Errorf("note = %q, %v", note, err)
	}
	migs, err := db3.Migrations(ctx)
	if err != nil || len(migs) != next || migs[next-1].Name != "9999_test" {
		t.Errorf("migrations = %+v, %v", migs, err)
	}
}

// TestMigratePausedStatus fills a database at schema version 3 with a run
// paused the old way (failed with the dashboard's text), a failed and a
// running run with rows in every table that refers to runs, and opens it
// with every migration: the runs table is rebuilt with the paused status,
// the old pause becomes one, and every other row and index is as it was.
func TestMigratePausedStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "star.db")
	all, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	v3, err := open(ctx, path, all[:3])
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"held", "broken", "live"} {
		if err := v3.CreateRun(ctx, testRun(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := v3.SetRunStatus(ctx, "held", RunFailed, "paused from the dashboard"); err != nil {
		t.Fatal(err)
	}
	if err := v3.SetRunStatus(ctx, "broken", RunFailed, "out of memory"); err != nil {
		t.Fatal(err)
	}
	if err := v3.SetRunStatus(ctx, "live", RunRunning, ""); err != nil {
		t.Fatal(err)
	}
	if err := v3.StartGeneration(ctx, "live", 0); err != nil {
		t.Fatal(err)
	}
	first := CandidateID("live", 0, 0)
	if err := v3.AddCandidates(ctx,
		Candidate{RunID: "live", Genome: "11111-91111", GenomeHash: "g0", Operator: OpSeed},
		Candidate{RunID: "live", Index: 1, Genome: "51111-91111", GenomeHash: "g1", Operator: OpCrossMut, Parents: []string{first}},
	); err != nil {
		t.Fatal(err)
	}
	// As CompleteCandidate did at version 3 (today's writes columns that
	// version lacks).
	if _, err := v3.w.ExecContext(ctx, `UPDATE candidates SET status = 'evaluated', objectives = '{"params":10}' WHERE id = ?`, first); err != nil {
		t.Fatal(err)
	}
	if _, err := v3.PutEvaluation(ctx, Evaluation{GenomeHash: "g0", ConfigHash: "cfg", Objectives: map[string]float64{"params": 10}, CandidateID: first}); err == nil {
		t.Fatal("a version-3 database took an evaluation with steps")
	}
	if _, err := v3.w.ExecContext(ctx, `INSERT INTO evaluations (genome_hash, config_hash, objectives, candidate_id, created)
		VALUES ('g0', 'cfg', '{"params":10}', ?, '2026-01-01T00:00:00.000000000Z')`, first); err != nil {
		t.Fatal(err)
	}
	task := TaskState{ID: "live/g000/train/0000", RunID: "live", Stage: "train", Kind: "star:train", Queue: "star-train"}
	if _, err := v3.AddTaskStates(ctx, task); err != nil {
		t.Fatal(err)
	}
	if err := v3.FinishTask(ctx, task.ID, TaskDone, []byte(`{"train_seconds": 1}`), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := v3.AppendEvent(ctx, Event{RunID: "live", Kind: "generation.started"}); err != nil {
		t.Fatal(err)
	}
	before, cols := dumpSchema(t, v3.r, nil)
	runsBefore, err := v3.ListRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v3.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("migrating 3 -> latest: %v", err)
	}
	defer db.Close()
	after, _ := dumpSchema(t, db.r, cols)
	for k, rows := range before {
		if got, want := strings.Join(after[k], "\n"), strings.Join(rows, "\n"); got != want {
			t.Errorf("%s after the migration:\n%s\nwant\n%s", k, got, want)
		}
	}
	// Only the old pause changes: paused, with no error and no end.
	for i, r := range runsBefore {
		if r.ID == "held" {
			runsBefore[i].Status, runsBefore[i].Error, runsBefore[i].Finished = RunPaused, "", time.Time{}
		}
	}
	if runs, err := db.ListRuns(ctx); err != nil || !reflect.DeepEqual(runs, runsBefore) {
		t.Errorf("runs after the migration:\n%+v, %v\nwant\n%+v", runs, err, runsBefore)
	}
	var fk int
	if err := db.w.QueryRowContext(ctx, `SELECT foreign_keys FROM pragma_foreign_keys()`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v after migrating", fk, err)
	}
	if err := db.AddCandidates(ctx, Candidate{RunID: "gone", Genome: "11111", GenomeHash: "g", Operator: OpSeed}); !errors.Is(err, ErrNotFound) {
		t.Errorf("candidate of a missing run = %v, want ErrNotFound", err)
	}
	if err := db.PauseRun(ctx, "live"); err != nil {
		t.Error(err)
	}
	if err := db.ResumeRun(ctx, "held"); err != nil {
		t.Error(err)
	}
}

// dumpSchema returns the rows of every table that refers to runs ("rows
// NAME") and the schema's indexes ("indexes"), as text in a fixed order,
// and the columns it read of each table: those of cols where given (the
// columns of an older version; later migrations may add some).
func dumpSchema(t *testing.T, q *sql.DB, cols map[string]string) (map[string][]string, map[string]string) {
	t.Helper()
	out := map[string][]string{}
	if cols == nil {
		cols = map[string]string{}
		for _, table := range []string{"generations", "candidates", "candidate_parents", "task_states", "events", "evaluations"} {
			rows, err := q.Query(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for rows.Next() {
				var n string
				if err := rows.Scan(&n); err != nil {
					t.Fatal(err)
				}
				names = append(names, n)
			}
			rows.Close()
			cols[table] = strings.Join(names, ", ")
		}
	}
	read := func(key, query string) {
		rows, err := q.Query(query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[key] = append(out[key], strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(vals), "["), "]"))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Indexes of the tables that version 3 has; later migrations may add
	// tables of their own.
	read("indexes", `SELECT name, tbl_name, coalesce(sql, '') FROM sqlite_schema WHERE type = 'index'
		AND tbl_name IN ('runs', 'generations', 'candidates', 'candidate_parents', 'task_states', 'events', 'evaluations')
		ORDER BY name`)
	for _, table := range []string{"generations", "candidates", "candidate_parents", "task_states", "events", "evaluations"} {
		read("rows "+table, `SELECT `+cols[table]+` FROM `+table+` ORDER BY 1, 2`)
	}
	return out, cols
}

func TestNewerVersionRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "star.db")
	all, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	future := append(append([]migration(nil), all...), migration{version: len(all) + 1, name: "9999_future", sql: `CREATE TABLE future (x INTEGER)`})
	db, err := open(ctx, path, future)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := readFile(t, path)
	_, err = Open(ctx, path)
	if !errors.Is(err, ErrNewerVersion) {
		t.Fatalf("Open = %v, want ErrNewerVersion", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", len(all)+1)) || !strings.Contains(err.Error(), "upgrade") {
		t.Errorf("message %q does not say which version and what to do", err)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Error("the newer database was modified")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRefusesOtherFiles checks that a file that is not ours is refused with
// a clear error and left byte-for-byte as it was.
func TestRefusesOtherFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	random := make([]byte, 8192)
	rand.Read(random)

	foreign := filepath.Join(dir, "foreign.db")
	foreignWAL := filepath.Join(dir, "foreign-wal.db")
	foreignApp := filepath.Join(dir, "foreign-app.db")
	for path, stmts := range map[string][]string{
		foreign:    {`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)`, `INSERT INTO users (name) VALUES ('ada')`},
		foreignWAL: {`PRAGMA journal_mode = WAL`, `CREATE TABLE notes (body TEXT)`},
		foreignApp: {`PRAGMA application_id = 1234`},
	} {
		other, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			if _, err := other.Exec(s); err != nil {
				t.Fatal(err)
			}
		}
		other.Close()
	}
	truncated := filepath.Join(dir, "truncated.db")
	db, err := Open(ctx, truncated)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	whole := readFile(t, truncated)
	os.WriteFile(truncated, append(append([]byte{}, whole[:100]...), random[:4000]...), 0o644)

	cases := []struct {
		name string
		path string
		data []byte // written first when non-nil
		want error
	}{
		{"text file", filepath.Join(dir, "notes.txt"), []byte("population: 16\n"), ErrCorrupt},
		{"random bytes", filepath.Join(dir, "random.bin"), random, ErrCorrupt},
		{"short file", filepath.Join(dir, "short.db"), []byte("SQLite format 3\x00"), ErrCorrupt},
		{"damaged database", truncated, nil, ErrCorrupt},
		{"other application", foreign, nil, ErrForeignDatabase},
		{"other application in WAL mode", foreignWAL, nil, ErrForeignDatabase},
		{"other application id", foreignApp, nil, ErrForeignDatabase},
	}
	for _, tc := range cases {
		if tc.data != nil {
			if err := os.WriteFile(tc.path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		before := readFile(t, tc.path)
		db, err := Open(ctx, tc.path)
		if err == nil {
			db.Close()
		}
		t.Logf("%s: %v", tc.name, err)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Open = %v, want %v", tc.name, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: error %q does not name the file", tc.name, err)
		}
		if !bytes.Equal(before, readFile(t, tc.path)) {
			t.Errorf("%s: file was modified", tc.name)
		}
	}
	if _, err := Open(ctx, dir); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open(dir) = %v", err)
	}
}

func TestOpensEmptyFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o644)
	emptySQLite := filepath.Join(dir, "empty-sqlite.db")
	other, err := sql.Open("sqlite3", emptySQLite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`PRAGMA journal_mode = WAL`); err != nil {
		t.Fatal(err)
	}
	other.Close()
	for _, p := range []string{empty, emptySQLite} {
		db, err := Open(ctx, p)
		if err != nil {
			t.Errorf("Open(%s): %v", filepath.Base(p), err)
			continue
		}
		if db.SchemaVersion() != latestVersion(t) {
			t.Errorf("%s: version %d", filepath.Base(p), db.SchemaVersion())
		}
		db.Close()
	}
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	good := fstest.MapFS{"0001_a.sql": {Data: []byte("CREATE TABLE a (x)")}, "0002_b.sql": {Data: []byte("")}}
	if m, err := loadMigrations(good); err != nil || len(m) != 2 || m[1].name != "0002_b" {
		t.Errorf("good: %v, %v", m, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"0001_a.sql": {}, "0003_c.sql": {}},
		"repeat":   {"0001_a.sql": {}, "0001_b.sql": {}},
		"unnamed":  {"first.sql": {}},
		"zero":     {"0000_a.sql": {}},
		"no files": {},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestConcurrentReadersWhileWriting runs readers on the read pool and on a
// second handle of the same file while two handles write: no reader or
// writer fails, readers never see a partial transaction, and counts only
// grow.
func TestConcurrentReadersWhileWriting(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	other, err := Open(ctx, db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	const batches, perBatch = 40, 8
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var done atomic.Bool
	errs := make(chan error, 64)

	wg.Add(1)
	go func() { // coordinator: a generation of candidates plus an event per transaction
		defer wg.Done()
		defer done.Store(true)
		for b := 0; b < batches; b++ {
			err := db.Update(ctx, func(tx *Tx) error {
				cs := make([]Candidate, perBatch)
				for i := range cs {
					cs[i] = Candidate{RunID: "r1", Generation: b, Index: i, Genome: "g", GenomeHash: fmt.Sprint(b, i), Operator: OpRandom}
				}
				if err := tx.AddCandidates(ctx, cs...); err != nil {
					return err
				}
				_, err := tx.AppendEvent(ctx, Event{RunID: "r1", Kind: "batch"})
				return err
			})
			if err != nil {
				errs <- fmt.Errorf("writer: %w", err)
				return
			}
		}
	}()
	wg.Add(1)
	var submitted, reads atomic.Int64
	go func() { // a second process submitting runs: read, then write, in one transaction
		defer wg.Done()
		for i := 0; !done.Load(); i++ {
			err := other.Update(ctx, func(tx *Tx) error {
				if _, err := tx.ListRuns(ctx, RunPending); err != nil {
					return err
				}
				return tx.CreateRun(ctx, testRun(fmt.Sprintf("submitted%d", i)))
			})
			if err != nil {
				errs <- fmt.Errorf("second writer: %w", err)
				return
			}
			submitted.Add(1)
			// A submitter is a person or a script, not a tight loop: back
			// to back, its write transactions could keep the coordinator's
			// writer from the lock for the whole busy timeout (SQLite's
			// lock is not fair), which no real submitter does.
			time.Sleep(time.Millisecond)
		}
	}()
	for r := 0; r < 4; r++ {
		h := db
		if r%2 == 1 {
			h = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for !done.Load() {
				err := h.View(ctx, func(tx *Tx) error {
					cs, err := tx.ListCandidates(ctx, "r1", -1)
					if err != nil {
						return err
					}
					evs, err := tx.ListEvents(ctx, "r1", 0, 0)
					if err != nil {
						return err
					}
					if len(cs) != len(evs)*perBatch {
						return fmt.Errorf("torn read: %d candidates, %d events", len(cs), len(evs))
					}
					if len(cs) < last {
						return fmt.Errorf("count went back from %d to %d", last, len(cs))
					}
					last = len(cs)
					reads.Add(1)
					return nil
				})
				if err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if submitted.Load() == 0 || reads.Load() == 0 {
		t.Errorf("no overlap: %d runs submitted, %d reads", submitted.Load(), reads.Load())
	}
	t.Logf("%d runs submitted and %d snapshot reads during %d write transactions", submitted.Load(), reads.Load(), batches)
	n, err := other.CountCandidates(ctx, "r1", batches-1)
	if err != nil || n[CandPending] != perBatch {
		t.Errorf("last batch count = %v, %v", n, err)
	}
}

func TestUpdateRollsBack(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	boom := errors.New("boom")
	err := db.Update(ctx, func(tx *Tx) error {
		if err := tx.CreateRun(ctx, testRun("r2")); err != nil {
			return err
		}
		if _, err := tx.GetRun(ctx, "r2"); err != nil {
			return fmt.Errorf("own write not visible: %w", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	if _, err := db.GetRun(ctx, "r2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rolled back run exists: %v", err)
	}
	func() {
		defer func() { recover() }()
		db.Update(ctx, func(tx *Tx) error {
			tx.CreateRun(ctx, testRun("r3"))
			panic("boom")
		})
	}()
	if _, err := db.GetRun(ctx, "r3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("run of a panicking transaction exists: %v", err)
	}
	// A multi-row method inside Update joins the outer transaction.
	err = db.Update(ctx, func(tx *Tx) error {
		if err := tx.StartGeneration(ctx, "r1", 0); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := db.GetGeneration(ctx, "r1", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("generation of a rolled back transaction exists: %v", err)
	}
	err = db.View(ctx, func(tx *Tx) error { return tx.CreateRun(ctx, testRun("r4")) })
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("write in View = %v, want ErrReadOnly", err)
	}
	err = db.View(ctx, func(tx *Tx) error { return tx.StartGeneration(ctx, "r1", 0) })
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("multi-row write in View = %v, want ErrReadOnly", err)
	}
}

func TestTimeRoundTrip(t *testing.T) {
	t.Parallel()
	in := time.Date(2026, 3, 4, 5, 6, 7, 891, time.FixedZone("x", 3600))
	var out time.Time
	if err := (timeScan{&out}).Scan(fmtTime(in)); err != nil || !out.Equal(in) {
		t.Errorf("got %v, %v", out, err)
	}
	if fmtTime(in) >= fmtTime(in.Add(time.Nanosecond*9)) || fmtTime(in) <= fmtTime(in.Add(-time.Second)) {
		t.Error("stored times do not sort as text")
	}
}

// latestVersion is the schema version of the embedded migrations.
func latestVersion(t *testing.T) int {
	t.Helper()
	all, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	return all[len(all)-1].version
}
