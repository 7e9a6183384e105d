package tasks

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/gomlx/compute"

	"github.com/star-pipeline/star-pipeline/model"
)

// defaultBackend is the backend of a run config that names none.
const defaultBackend = "go"

// backendFor returns the backend that runs the graphs of a task whose run
// config names runBackend: the evaluator's own Backend when it has one
// (the worker's --backend or $GOMLX_BACKEND wins; a run that asks for
// another backend is trained on it anyway, with one warning per spec),
// else the run's backend, created on first use and shared by every later
// task that names the same spec.
func (e *TrainerEvaluator) backendFor(runBackend string) (compute.Backend, error) {
	if runBackend == "" {
		runBackend = defaultBackend
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.Backend != nil {
		name, _, _ := strings.Cut(runBackend, ":")
		if name != "auto" && name != backendName(e.Backend) && !e.warned[runBackend] {
			if e.warned == nil {
				e.warned = map[string]bool{}
			}
			e.warned[runBackend] = true
			e.logger().Warn("a run config asks for another backend; this worker's own backend (--backend or GOMLX_BACKEND) wins",
				"run_backend", runBackend, "worker_backend", backendName(e.Backend))
		}
		return e.Backend, nil
	}
	if b, ok := e.backends[runBackend]; ok {
		return b, nil
	}
	newBackend := e.NewBackend
	if newBackend == nil {
		newBackend = model.NewBackend
	}
	b, err := newBackend(runBackend)
	if err != nil {
		return nil, fmt.Errorf("creating the run config's backend %q: %w; to train on another backend, "+
			"give the worker (or submit, resume) --backend, or set GOMLX_BACKEND", runBackend, err)
	}
	if e.backends == nil {
		e.backends = map[string]compute.Backend{}
	}
	e.backends[runBackend] = b
	return b, nil
}

// Close finalizes the backends the evaluator created for run configs; the
// Backend it was given stays its owner's.
func (e *TrainerEvaluator) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for spec, b := range e.backends {
		b.Finalize()
		delete(e.backends, spec)
	}
}

// Prepare creates the backend a run config names now, so that a process
// about to serve it can refuse the run before anything is queued. It is a
// no-op for an evaluator with its own Backend.
func (e *TrainerEvaluator) Prepare(runBackend string) error {
	_, err := e.backendFor(runBackend)
	return err
}

func (e *TrainerEvaluator) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// backendName is the short name of b as backend specs write it: "go",
// "xla".
func backendName(b compute.Backend) string {
	name, _, _ := strings.Cut(strings.ToLower(b.String()), ":")
	if f := strings.Fields(name); len(f) > 0 {
		return f[0]
	}
	return name
}
