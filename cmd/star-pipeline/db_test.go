package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/star-pipeline/star-pipeline/plot/plottest"
	"github.com/star-pipeline/star-pipeline/storage"
)

// nobody is the user the read-only tests run the binary as when they run
// as root, which ignores permission bits.
const nobody = 65534

// readOnlyDir returns a new directory, and seal, which makes it read-only
// to the commands that restrict prepares: 0555, and as root also run as
// nobody. Write the directory's files before calling seal.
func readOnlyDir(t *testing.T) (dir string, seal func(), restrict func(*exec.Cmd)) {
	t.Helper()
	dir, err := os.MkdirTemp("", "star-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Chmod(dir, 0o755)
		os.RemoveAll(dir)
	})
	restrict = func(*exec.Cmd) {}
	if os.Geteuid() == 0 {
		// nobody must reach the binary, which sharedCLI builds into a 0700
		// directory of its own.
		if err := os.Chmod(filepath.Dir(sharedCLI(t)), 0o755); err != nil {
			t.Fatal(err)
		}
		restrict = func(cmd *exec.Cmd) {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		}
	}
	seal = func() {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	return dir, seal, restrict
}

// runRestricted runs the binary in dir like runCLI, prepared by restrict.
func runRestricted(t *testing.T, dir string, restrict func(*exec.Cmd), args ...string) (string, string, int) {
	t.Helper()
	cmd := command(t, dir, nil, args...)
	restrict(cmd)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case errors.Is(err, syscall.EPERM):
		t.Skipf("cannot run the binary as another user: %v", err)
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// companionsOf lists the SQLite files beside path.
func companionsOf(path string) []string {
	var out []string
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if fileExists(path + suffix) {
			out = append(out, filepath.Base(path+suffix))
		}
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReadCommandsInReadOnlyDir runs every command that only reads against
// a database whose directory it cannot write to: they read it, and leave
// the file as it was with nothing beside it.
func TestReadCommandsInReadOnlyDir(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir, seal, restrict := readOnlyDir(t)
	path := filepath.Join(dir, "star.db")
	copyFile(t, fixtureDB(t), path)
	seal()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cand := plottest.DemoFront[0]
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"runs"}, plottest.Demo},
		{[]string{"status", plottest.Demo}, plottest.Demo},
		{[]string{"pareto", plottest.Demo, "--json"}, `"id": "` + plottest.Demo + "/g"},
		{[]string{"lineage", cand}, cand},
		{[]string{"export", cand}, `"genome"`},
	} {
		stdout, stderr, code := runRestricted(t, dir, restrict, append(c.args, "--db", "star.db")...)
		if code != 0 || !strings.Contains(stdout, c.want) {
			t.Errorf("%v: exit %d, want 0 with %q in stdout\nstdout:\n%.300s\nstderr:\n%s", c.args, code, c.want, stdout, stderr)
		}
	}

	cmd := command(t, dir, nil, "serve", "--addr", "127.0.0.1:0", "--db", "star.db", "--refresh", "0")
	restrict(cmd)
	url, stop := startServeCmd(t, cmd)
	for _, target := range []string{"/api/runs", "/runs/" + plottest.Demo} {
		if code, body := serveFetch(t, "GET", url+target); code != 200 || !strings.Contains(body, plottest.Demo) {
			t.Errorf("serve: GET %s: %d\n%.300s", target, code, body)
		}
	}
	if code, stderr := stop(); code != exitOK {
		t.Errorf("serve after SIGINT: exit %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}

	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(before, after) {
		t.Errorf("the database changed (%v)", err)
	}
	if c := companionsOf(path); len(c) != 0 {
		t.Errorf("reading left %v beside the database", c)
	}
}

// TestReadCommandsAndWAL reads, from read-only directories, databases whose
// writer left changes in the write-ahead log: with the -shm beside it they
// are read; without it SQLite cannot read them there, and the error says
// why and what to do.
func TestReadCommandsAndWAL(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ctx := context.Background()
	src := fixtureDB(t)
	w, err := storage.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.CreateRun(ctx, storage.Run{ID: "r-wal", Seed: 1, Config: "population: 4\n", ConfigHash: "c",
		Algorithm: "nsga2", Population: 4, Generations: 1})
	if err != nil {
		t.Fatal(err)
	}

	// A writer that died: its -wal and -shm are still there.
	crashed, seal, restrict := readOnlyDir(t)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		copyFile(t, src+suffix, filepath.Join(crashed, "star.db"+suffix))
	}
	seal()
	stdout, stderr, code := runRestricted(t, crashed, restrict, "runs", "--db", "star.db")
	if code != 0 || !strings.Contains(stdout, "r-wal") || !strings.Contains(stdout, plottest.Demo) {
		t.Errorf("runs beside a -wal and -shm: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	// A -wal without its -shm.
	walOnly, seal, restrict := readOnlyDir(t)
	for _, suffix := range []string{"", "-wal"} {
		copyFile(t, src+suffix, filepath.Join(walOnly, "star.db"+suffix))
	}
	seal()
	_, stderr, code = runRestricted(t, walOnly, restrict, "runs", "--db", "star.db")
	for _, want := range []string{"star.db-wal holds changes", "star.db-shm", "read-only", "copy"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("runs beside a -wal alone: exit %d, want 1 with %q; stderr:\n%s", code, want, stderr)
		}
	}
	if c := companionsOf(filepath.Join(walOnly, "star.db")); len(c) != 1 {
		t.Errorf("files beside the database: %v, want the -wal alone", c)
	}
}
