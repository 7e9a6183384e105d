package pipeline

// Advancing a run: starting each generation, its candidates, and the
// evaluation cache.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/search"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// advance creates the nodes whose parents are done and enqueues every
// pending node of the run's current generation. It reports whether the run
// is no longer driven: finished, failed, cancelled or paused.
func (c *Coordinator) advance(ctx context.Context, r *run) (bool, error) {
	row, err := c.db.GetRun(ctx, r.row.ID)
	if err != nil {
		return false, err
	}
	r.row = row
	if row.Status == storage.RunPending {
		// Paused and resumed since the last look: take it up again.
		err := c.update(ctx, row.ID, func(tx *storage.Tx) error { return tx.StartRun(ctx, row.ID) })
		if errors.Is(err, storage.ErrInvalidTransition) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		r.row.Status, row.Status = storage.RunRunning, storage.RunRunning
	}
	if row.Status != storage.RunRunning {
		return true, nil
	}
	if final, err := c.inFinal(ctx, r); err != nil || final {
		if err != nil {
			return false, err
		}
		return c.advanceFinal(ctx, r)
	}
	g := row.CurrentGeneration
	gen, err := c.db.GetGeneration(ctx, row.ID, g)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && gen.Status == storage.GenPending) {
		if err := c.startGeneration(ctx, r, g); err != nil {
			return false, err
		}
	} else if err != nil {
		return false, err
	}

	counts, err := c.db.CountCandidates(ctx, row.ID, g)
	if err != nil {
		return false, err
	}
	final := counts[storage.CandEvaluated] + counts[storage.CandFailed]
	if g == 0 && final == r.size(g) && counts[storage.CandEvaluated] == 0 {
		// Nothing to evolve from: the run fails with what failed them.
		return false, c.allFailed(ctx, r, g)
	}
	if r.multi {
		ready, err := c.advanceRungs(ctx, r, g)
		if err != nil {
			return false, err
		}
		if !ready {
			final = -1 // rungs still training: no select yet
		}
	}
	if final == r.size(g) {
		sel := r.node(g, tasks.StageSelect, 0, 0)
		err := c.update(ctx, row.ID, func(tx *storage.Tx) error {
			_, err := tx.AddTaskStates(ctx, c.state(sel, r))
			return err
		})
		if err != nil {
			return false, err
		}
	}
	if err := c.enqueuePending(ctx, r, g); err != nil {
		return false, err
	}
	return false, nil
}

// startGeneration opens generation g: for generation 0 the seed and random
// genomes with their train nodes, for later ones the recombine nodes.
func (c *Coordinator) startGeneration(ctx context.Context, r *run, g int) error {
	return c.update(ctx, r.row.ID, func(tx *storage.Tx) error {
		if err := tx.StartGeneration(ctx, r.row.ID, g); err != nil {
			return err
		}
		var nodes []storage.TaskState
		if g == 0 {
			seeds, err := search.SeedGenomes(r.cfg)
			if err != nil {
				return err
			}
			xs, err := r.engine.Initial(seeds)
			if err != nil {
				return err
			}
			var cands []storage.Candidate
			for i, x := range xs {
				op := storage.OpRandom
				if i < len(seeds) {
					op = storage.OpSeed
				}
				cands = append(cands, c.candidate(r, 0, i, x, nil, op))
			}
			if err := tx.AddCandidates(ctx, cands...); err != nil {
				return err
			}
			for i := range xs {
				cached, err := c.useCache(ctx, tx, r, cands[i])
				if err != nil {
					return err
				}
				if !cached {
					nodes = append(nodes, c.state(r.node(0, tasks.StageTrain, i, 0), r))
				}
			}
		} else {
			for i := range r.offspring {
				nodes = append(nodes, c.state(r.node(g, tasks.StageRecombine, i, 0), r))
			}
		}
		if _, err := tx.AddTaskStates(ctx, nodes...); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, storage.Event{RunID: r.row.ID, Kind: "generation.started",
			Message: mustJSON(map[string]any{"generation": g})})
		return err
	})
}

// candidate builds the row of candidate i of generation g.
func (c *Coordinator) candidate(r *run, g, i int, x genome.Genome, parents []string, op storage.Operator) storage.Candidate {
	hash := genome.Hash(x)
	return storage.Candidate{
		RunID: r.row.ID, Generation: g, Index: i, Genome: genome.Format(x), GenomeHash: hash,
		Parents: parents, Operator: op, Seed: trainSeed(r.row.Seed, hash),
	}
}

// cacheSource returns the checkpoint directory of the candidate whose
// cached evaluation completed cand ("" when cand trained itself): a
// promoted cache hit continues that training (tasks.TrainPayload.From).
func (c *Coordinator) cacheSource(ctx context.Context, cand storage.Candidate) (string, error) {
	src, ok := strings.CutPrefix(cand.Worker, "cache:")
	if !ok || src == "" {
		return "", nil
	}
	s, err := c.db.GetCandidate(ctx, src)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return s.Checkpoint, nil
}

// trainSeed seeds a candidate's training from the run seed and the
// architecture, so equal genomes train alike in any generation.
func trainSeed(runSeed uint64, hash string) uint64 {
	return evolve.Seed(runSeed, 0, "train/"+hash, 0)
}

// useCache completes a candidate from the evaluation cache when the same
// architecture was already evaluated under the same training config, and
// reports whether it did.
func (c *Coordinator) useCache(ctx context.Context, tx *storage.Tx, r *run, cand storage.Candidate) (bool, error) {
	steps, rung := 0, 0
	if r.multiGen(cand.Generation) {
		steps = r.cacheSteps(rung)
	}
	e, err := tx.LookupEvaluationAt(ctx, cand.GenomeHash, r.row.ConfigHash, steps)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := search.Vector(r.cfg.Objectives, e.Objectives); err != nil {
		return false, nil // the entry lacks an objective of this run: a miss
	}
	id := cand.ID
	if id == "" {
		id = storage.CandidateID(cand.RunID, cand.Generation, cand.Index)
	}
	metrics := e.Metrics
	if len(metrics) == 0 {
		metrics = nil
	}
	res := storage.Result{Objectives: e.Objectives, Metrics: metrics, Worker: "cache:" + e.CandidateID}
	if r.multiGen(cand.Generation) {
		res.Rung, res.Steps = rung, r.rungs[rung]
	}
	return true, tx.CompleteCandidate(ctx, id, res)
}

// allFailed is the error of a generation whose every candidate failed: the
// most common error, and how many candidates it failed.
func (c *Coordinator) allFailed(ctx context.Context, r *run, g int) error {
	cands, err := c.db.ListCandidates(ctx, r.row.ID, g)
	if err != nil {
		return err
	}
	count := map[string]int{}
	common := ""
	for _, cand := range cands {
		count[cand.Error]++
		if count[cand.Error] > count[common] || (count[cand.Error] == count[common] && cand.Error < common) {
			common = cand.Error
		}
	}
	return fmt.Errorf("every candidate of generation %d failed (%d of %d with: %s)", g, count[common], len(cands), common)
}
