package runview

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/storage"
)

// ErrNoFinishedGeneration: a run has no finished generation yet, so no
// selected population to take a Pareto set of.
var ErrNoFinishedGeneration = errors.New("no finished generation yet")

// ParetoSet is the non-dominated set of a run's last finished generation.
type ParetoSet struct {
	Run        string
	Generation int      // index of the last finished generation
	Objectives []string // the run's objectives, config order
	Population int      // distinct candidates in that generation's population
	Members    []storage.Candidate
}

// LastParetoSet returns the population of d's last finished generation
// filtered to its non-dominated members on every objective (failed ones,
// and those missing an objective, excluded), in population order. It
// fails with ErrNoFinishedGeneration when no generation has finished.
func LastParetoSet(d Run) (ParetoSet, error) {
	set := ParetoSet{Run: d.Run.ID, Objectives: d.Objectives}
	var last *storage.Generation
	for i := len(d.Generations) - 1; i >= 0; i-- {
		if d.Generations[i].Status == storage.GenDone {
			last = &d.Generations[i]
			break
		}
	}
	if last == nil {
		return set, fmt.Errorf("run %s: %w (status %s)", d.Run.ID, ErrNoFinishedGeneration, d.Run.Status)
	}
	set.Generation = last.Index
	byID := make(map[string]storage.Candidate, len(d.Candidates))
	for _, c := range d.Candidates {
		byID[c.ID] = c
	}
	pop := make([]evolve.Individual[storage.Candidate], 0, len(last.Population))
	seen := map[string]bool{}
	for _, cid := range last.Population {
		if seen[cid] {
			continue
		}
		seen[cid] = true
		cand, ok := byID[cid]
		if !ok {
			return set, fmt.Errorf("reading candidate %s of generation %d's population: %w", cid, last.Index, storage.ErrNotFound)
		}
		// A multi-fidelity run's candidates rank by rung first
		// (evolve.Outranks): the set holds those of the highest rung.
		ind := evolve.Individual[storage.Candidate]{X: cand, Failed: cand.Status != storage.CandEvaluated, Fidelity: cand.Rung}
		if !ind.Failed {
			f, ok := ObjectiveVector(cand, d.Objectives)
			ind.F, ind.Failed = f, !ok
		}
		pop = append(pop, ind)
	}
	set.Population = len(pop)
	for _, ind := range evolve.ParetoSet(pop) {
		set.Members = append(set.Members, ind.X)
	}
	return set, nil
}

// TaskSource lists a run's task nodes.
type TaskSource interface {
	ListTaskStates(ctx context.Context, runID string, statuses ...storage.TaskStatus) ([]storage.TaskState, error)
}

// TrainStage is the stage name of a train task node (tasks.StageTrain).
const TrainStage = "train"

// Training is a candidate a worker is training or evaluating.
type Training struct {
	ID      string    `json:"id"`
	Genome  string    `json:"genome"`
	Worker  string    `json:"worker"`
	Started time.Time `json:"started"`
}

// TrainingNow lists the candidates of d whose training a worker has
// started and not ended (their train node is running), in candidate
// order.
func TrainingNow(ctx context.Context, src TaskSource, d Run) ([]Training, error) {
	nodes, err := src.ListTaskStates(ctx, d.Run.ID, storage.TaskRunning)
	if err != nil {
		return nil, err
	}
	running := map[string]bool{}
	for _, ts := range nodes {
		if ts.Stage == TrainStage {
			running[storage.CandidateID(d.Run.ID, ts.Generation, ts.Index)] = true
		}
	}
	out := []Training{}
	for _, c := range d.Candidates {
		if running[c.ID] {
			out = append(out, Training{ID: c.ID, Genome: c.Genome, Worker: c.Worker, Started: c.Started})
		}
	}
	return out, nil
}
