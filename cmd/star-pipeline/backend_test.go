package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/tasks"
)

// trainerEvaluatorOf runs newTrainerEvaluator under a command with
// --backend and the given arguments.
func trainerEvaluatorOf(t *testing.T, args ...string) *tasks.TrainerEvaluator {
	t.Helper()
	var ev *tasks.TrainerEvaluator
	app := &cli.App{Flags: []cli.Flag{backendFlag("")}, Writer: os.Stderr, ErrWriter: os.Stderr,
		Action: func(c *cli.Context) error {
			var err error
			ev, err = newTrainerEvaluator(c)
			return err
		}}
	if err := app.Run(append([]string{"worker"}, args...)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ev.Backend != nil {
			ev.Backend.Finalize()
		}
	})
	return ev
}

// A worker's --backend or $GOMLX_BACKEND is its own backend for every run;
// without either, each run's config chooses.
func TestWorkerBackendChoice(t *testing.T) {
	t.Setenv(compute.ConfigEnvVar, "")
	t.Setenv("STAR_BACKEND", "")
	if ev := trainerEvaluatorOf(t); ev.Backend != nil {
		t.Errorf("no --backend, no GOMLX_BACKEND: the worker took %s instead of each run's backend", ev.Backend.String())
	}
	if ev := trainerEvaluatorOf(t, "--backend", "go"); ev.Backend == nil || ev.Backend.String() != "go" {
		t.Errorf("--backend go: backend %v", ev.Backend)
	}
	t.Setenv(compute.ConfigEnvVar, "go")
	if ev := trainerEvaluatorOf(t); ev.Backend == nil || ev.Backend.String() != "go" {
		t.Errorf("GOMLX_BACKEND=go: backend %v", ev.Backend)
	}
}

// submit reads the run config's backend: one this binary cannot create is
// refused before anything is written, saying how to override it.
func TestSubmitChecksRunConfigBackend(t *testing.T) {
	t.Parallel()
	dir := workdir(t, "population: 4\ngenerations: 1\nsearch:\n  depth: 4\nbackend: xla:/nonexistent/xla_cuda_plugin.so\n")
	env := []string{compute.ConfigEnvVar + "="}
	_, stderr, code := runCLI(t, dir, env, "submit", "--config", "search.yaml")
	if code != 2 || !strings.Contains(stderr, `backend "xla:/nonexistent/xla_cuda_plugin.so"`) || !strings.Contains(stderr, "--backend") {
		t.Errorf("run config asking for a backend this binary lacks: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "star.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused backend wrote a database: %v", err)
	}
}
