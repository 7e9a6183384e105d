package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/search"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// Multi-fidelity generations (config.Fidelity): successive halving inside
// each generation. Every new candidate trains to rung 0 (train and
// evaluate nodes without a rung suffix, as in a single-budget run). Once
// every candidate that entered rung k has been evaluated or has failed,
// the best ceil(n/eta) of the n that entered it (non-dominated rank, then
// crowding distance, then the first objective, then index; failed ones
// never) are promoted: each
// gets a train node at rung k+1 ("/r<k+1>" in its id) that continues its
// checkpoint to the next budget, then an evaluate node at that rung. A
// promoted candidate whose architecture the evaluation cache holds at
// that rung is completed from the cache instead. When the last rung is
// complete (or nothing is left to promote) the generation's select node is
// added. The promotions are a function of the recorded evaluations alone
// and are written with their nodes in one transaction, so a coordinator
// killed at any point and restarted makes the same ones.

// cacheSteps is the evaluation-cache steps of rung k: 0 for the last rung
// (the full budget, which a single-budget run with the same config hash
// trains identically), the rung's steps below it.
func (r *run) cacheSteps(k int) int {
	if k == len(r.rungs)-1 {
		return 0
	}
	return r.rungs[k]
}

// advanceRungs drives generation g's rungs and reports whether every
// rung is complete, so that the generation can be selected.
func (c *Coordinator) advanceRungs(ctx context.Context, r *run, g int) (bool, error) {
	cands, err := c.db.ListCandidates(ctx, r.row.ID, g)
	if err != nil {
		return false, err
	}
	if len(cands) < r.size(g) {
		return false, nil // still being bred
	}
	entered := make([]bool, len(cands)) // entered the rung under way
	for i := range entered {
		entered[i] = true
	}
	for k := range r.rungs {
		var in []int
		for i, cand := range cands {
			if !entered[i] {
				continue
			}
			in = append(in, i)
			if cand.Status != storage.CandFailed && !(cand.Status == storage.CandEvaluated && cand.Rung >= k) {
				return false, nil // rung k is still under way
			}
		}
		if k == len(r.rungs)-1 {
			return true, nil
		}
		next := make([]bool, len(cands))
		any := false
		for _, i := range in {
			has, err := c.enteredRung(ctx, r, cands[i], k+1)
			if err != nil {
				return false, err
			}
			next[i] = has
			any = any || has
		}
		if !any {
			promoted, err := c.promote(ctx, r, g, k, cands, in)
			if err != nil || promoted {
				return false, err
			}
			return true, nil // nothing left to promote: the generation is complete
		}
		entered = next
	}
	return true, nil
}

// enteredRung reports whether cand was promoted to rung k: it has a train
// node at that rung or an evaluation at it or above (a cache hit).
func (c *Coordinator) enteredRung(ctx context.Context, r *run, cand storage.Candidate, k int) (bool, error) {
	if cand.Rung >= k && cand.Status == storage.CandEvaluated {
		return true, nil
	}
	_, err := c.db.GetTaskState(ctx, r.rungNode(cand.Generation, tasks.StageTrain, cand.Index, 0, k).ID())
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// promote chooses the candidates of complete rung k (the indices in of
// cands entered it) that go on to rung k+1 and adds their train nodes, or
// completes them from the cache, in one transaction. It reports whether
// it promoted any.
func (c *Coordinator) promote(ctx context.Context, r *run, g, k int, cands []storage.Candidate, in []int) (bool, error) {
	var pool []int
	var objs [][]float64
	for _, i := range in {
		if cands[i].Status != storage.CandEvaluated {
			continue
		}
		v, err := search.Vector(r.cfg.Objectives, cands[i].Objectives)
		if err != nil {
			continue
		}
		pool = append(pool, i)
		objs = append(objs, v)
	}
	keep := min(len(pool), (len(in)+r.cfg.Fidelity.Eta-1)/r.cfg.Fidelity.Eta)
	if keep == 0 {
		return false, nil
	}
	rank, crowd := evolve.RankAndCrowding(objs, nil)
	order := make([]int, len(pool))
	for j := range order {
		order[j] = j
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(rank[a], rank[b]); c != 0 {
			return c
		}
		if c := cmp.Compare(crowd[b], crowd[a]); c != 0 {
			return c
		}
		return cmp.Compare(objs[a][0], objs[b][0]) // the first objective, then the index
	})
	var ids []string
	err := c.update(ctx, r.row.ID, func(tx *storage.Tx) error {
		var nodes []storage.TaskState
		for _, j := range order[:keep] {
			cand := cands[pool[j]]
			ids = append(ids, cand.ID)
			hit, err := c.rungCache(ctx, tx, r, cand, k+1)
			if err != nil {
				return err
			}
			if !hit {
				nodes = append(nodes, c.state(r.rungNode(g, tasks.StageTrain, cand.Index, 0, k+1), r))
			}
		}
		if _, err := tx.AddTaskStates(ctx, nodes...); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, storage.Event{RunID: r.row.ID, Kind: "rung.promoted",
			Message: mustJSON(map[string]any{"generation": g, "rung": k + 1, "steps": r.rungs[k+1],
				"from": len(in), "promoted": ids})})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("promoting generation %d from rung %d: %w", g, k, err)
	}
	c.log.Info("promoted to the next rung", "run", r.row.ID, "generation", g, "rung", k+1, "candidates", len(ids), "of", len(in))
	return true, nil
}

// rungCache completes a promoted candidate from the evaluation cache at
// rung k when the cache holds its architecture there, and reports whether
// it did.
func (c *Coordinator) rungCache(ctx context.Context, tx *storage.Tx, r *run, cand storage.Candidate, k int) (bool, error) {
	e, err := tx.LookupEvaluationAt(ctx, cand.GenomeHash, r.row.ConfigHash, r.cacheSteps(k))
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := search.Vector(r.cfg.Objectives, e.Objectives); err != nil {
		return false, nil
	}
	metrics := e.Metrics
	if len(metrics) == 0 {
		metrics = nil
	}
	return true, tx.CompleteCandidate(ctx, cand.ID, storage.Result{Objectives: e.Objectives, Metrics: metrics,
		Worker: "cache:" + e.CandidateID, Rung: k, Steps: r.rungs[k]})
}

// failCandidate fails the candidate of node n: at n's rung in a
// multi-fidelity generation, as before otherwise.
func (c *Coordinator) failCandidate(ctx context.Context, tx *storage.Tx, r *run, n tasks.Node, msg string) error {
	id := storage.CandidateID(r.row.ID, n.Generation, n.Index)
	if !r.multiGen(n.Generation) {
		return tx.FailCandidate(ctx, id, msg)
	}
	return tx.FailCandidateAt(ctx, id, n.Rung, r.rungs[n.Rung], false, msg, nil)
}

// failEarly records a candidate whose training was stopped at once (a
// non-finite loss, or a loss above its data's unigram loss after warm-up):
// failed early at n's rung, its loss curve kept in its metrics.
func (c *Coordinator) failEarly(ctx context.Context, tx *storage.Tx, r *run, n tasks.Node, tr tasks.TrainResult) error {
	id := storage.CandidateID(r.row.ID, n.Generation, n.Index)
	msg := "failed early: " + tr.FailedEarly
	if err := tx.FailCandidateAt(ctx, id, n.Rung, r.rungs[n.Rung], true, msg, mergeMetrics(tr.Metrics, nil)); err != nil {
		return err
	}
	_, err := tx.AppendEvent(ctx, storage.Event{RunID: r.row.ID, Kind: "candidate.failed_early",
		Message: mustJSON(map[string]any{"candidate": id, "rung": n.Rung, "steps": r.rungs[n.Rung], "reason": tr.FailedEarly})})
	return err
}

// checkRungs records the proxy check after generation g's select: the
// correlations over the run so far in a "fidelity.correlation" event, and
// a warning (logged, in the event and in the progress line) for every pair
// of rungs below fidelity.min_correlation.
func (c *Coordinator) checkRungs(ctx context.Context, tx *storage.Tx, r *run, g int) (string, error) {
	if !r.multi || len(r.rungs) < 2 {
		return "", nil
	}
	cs, err := study.RungCorrelations(ctx, c.db, r.row.ID, -1, r.rungs, r.cfg.Objectives[0])
	if err != nil {
		return "", err
	}
	min := *r.cfg.Fidelity.MinCorrelation
	var warn string
	for _, rc := range cs {
		if rc.Spearman != nil && *rc.Spearman < min {
			warn = study.RungText(cs, min)
			c.log.Warn("proxy check below threshold", "run", r.row.ID, "generation", g, "from_steps", rc.FromSteps,
				"to_steps", rc.ToSteps, "spearman", *rc.Spearman, "candidates", rc.Candidates, "threshold", min)
		}
	}
	_, err = tx.AppendEvent(ctx, storage.Event{RunID: r.row.ID, Kind: "fidelity.correlation",
		Message: mustJSON(map[string]any{"generation": g, "threshold": min, "correlations": cs, "warning": warn})})
	return warn, err
}
