package pipeline

// A run as the coordinator drives it: its parsed config, the ids of its
// nodes and the queue policy of each stage.

import (
	"context"
	"fmt"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/search"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// run is what the coordinator keeps of a run it drives; everything else is
// read from the database when needed.
type run struct {
	row       storage.Run
	cfg       config.Config
	engine    *evolve.Engine[genome.Genome]
	offspring int    // children per bred generation
	artifacts string // checkpoint root
	finalYAML string // the final stage's run config (config.FinalTraining), "" without one
	rungs     []int  // train steps of every rung (config.RungSteps)
	multi     bool   // a multi-fidelity run (config.Fidelity)
	warning   string // the proxy check's warning of the last select, for the progress line
}

func (c *Coordinator) load(ctx context.Context, id string) (*run, error) {
	row, err := c.db.GetRun(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("loading run %s: %w", id, err)
	}
	cfg, err := config.Parse([]byte(row.Config))
	if err != nil {
		return nil, fmt.Errorf("run %s: stored config: %w", id, err)
	}
	e, err := search.NewEngine(cfg)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	dir, err := cfg.ArtifactDir()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	r := &run{row: row, cfg: cfg, engine: e, offspring: e.Algorithm().Offspring(cfg.Population), artifacts: dir,
		rungs: cfg.RungSteps(), multi: cfg.Fidelity != nil}
	if cfg.Final != nil {
		if r.finalYAML, err = finalConfig(cfg); err != nil {
			return nil, fmt.Errorf("run %s: %w", id, err)
		}
	}
	return r, nil
}

// final reports whether generation g is the run's final stage.
func (r *run) final(g int) bool {
	return r.cfg.Final != nil && g == storage.FinalGeneration(r.row)
}

// configYAML returns the run config that generation g's train and evaluate
// payloads carry: the final stage trains with its own budget.
func (r *run) configYAML(g int) string {
	if r.final(g) {
		return r.finalYAML
	}
	return r.row.Config
}

// size returns the number of candidates generation g holds.
func (r *run) size(g int) int {
	if g == 0 {
		return r.cfg.Population
	}
	return r.offspring
}

func (r *run) node(g int, s tasks.Stage, i, attempt int) tasks.Node {
	return tasks.Node{Run: r.row.ID, Generation: g, Stage: s, Index: i, Attempt: attempt}
}

// rungNode is node at a rung of a multi-fidelity run.
func (r *run) rungNode(g int, s tasks.Stage, i, attempt, rung int) tasks.Node {
	n := r.node(g, s, i, attempt)
	n.Rung = rung
	return n
}

// multiGen reports whether generation g trains by rungs: a multi-fidelity
// run's generations do, its final stage does not.
func (r *run) multiGen(g int) bool { return r.multi && !r.final(g) }

func (c *Coordinator) policy(s tasks.Stage, r *run) tasks.Policy {
	p := tasks.DefaultPolicy(s, r.cfg.Training.Timeout)
	if s == tasks.StageTrain || s == tasks.StageEvaluate {
		p.Queue = c.opts.TrainQueue
	}
	return p
}

func (c *Coordinator) state(n tasks.Node, r *run) storage.TaskState {
	return storage.TaskState{ID: n.ID(), RunID: n.Run, Generation: n.Generation, Stage: string(n.Stage),
		Index: n.Index, Attempt: n.Attempt, Kind: n.Stage.Kind(), Queue: c.policy(n.Stage, r).Queue}
}
