package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// The final stage of a run (config.Final) comes after the select of its
// last generation G: the best candidates of G's population and the
// baselines are retrained from scratch with the final budget and several
// seeds. It is generation G+1 of the DAG (storage.FinalGeneration), with
// train and evaluate nodes only and no select: entry e's retraining with
// seed s is candidate e*seeds+s of that generation, trained and evaluated
// like any candidate (same handlers, retries, reconcile and checkpoint
// handling), from a payload whose config is the run config with the final
// budget (config.FinalTraining). The run's current generation stays G; the
// stage starts once G is done and the run finishes when every retraining is
// evaluated or failed.

// inFinal reports whether run r, at its current generation, is in its
// final stage: it has one and its last generation is done.
func (c *Coordinator) inFinal(ctx context.Context, r *run) (bool, error) {
	if r.cfg.Final == nil || r.row.CurrentGeneration < r.cfg.Generations {
		return false, nil
	}
	gen, err := c.db.GetGeneration(ctx, r.row.ID, r.cfg.Generations)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return gen.Status == storage.GenDone, nil
}

// advanceFinal starts the final stage if it has not started, finishes the
// run when every retraining has ended, and otherwise enqueues the pending
// retrainings. It reports whether the run is no longer driven.
func (c *Coordinator) advanceFinal(ctx context.Context, r *run) (bool, error) {
	fg := storage.FinalGeneration(r.row)
	entries, err := c.db.ListFinalEntries(ctx, r.row.ID)
	if err != nil {
		return false, err
	}
	if len(entries) == 0 {
		if entries, err = c.startFinal(ctx, r); err != nil {
			return false, fmt.Errorf("starting the final stage: %w", err)
		}
	}
	counts, err := c.db.CountCandidates(ctx, r.row.ID, fg)
	if err != nil {
		return false, err
	}
	if counts[storage.CandEvaluated]+counts[storage.CandFailed] == len(entries)*r.cfg.Final.Seeds {
		err := c.update(ctx, r.row.ID, func(tx *storage.Tx) error {
			if err := tx.SetRunStatus(ctx, r.row.ID, storage.RunFinished, ""); err != nil {
				return err
			}
			_, err := tx.AppendEvent(ctx, storage.Event{RunID: r.row.ID, Kind: "run.finished",
				Message: mustJSON(map[string]any{"final_entries": len(entries), "failed": counts[storage.CandFailed]})})
			return err
		})
		if err != nil {
			return false, err
		}
		r.row.Status = storage.RunFinished
		c.progress(ctx, r, "final stage done")
		return true, nil
	}
	return false, c.enqueuePending(ctx, r, fg)
}

// startFinal chooses the final stage's architectures and stores them with
// their retrainings and train nodes, in one transaction.
func (c *Coordinator) startFinal(ctx context.Context, r *run) ([]storage.FinalEntry, error) {
	entries, err := c.finalEntries(ctx, r)
	if err != nil {
		return nil, err
	}
	fg := storage.FinalGeneration(r.row)
	seeds := r.cfg.Final.Seeds
	err = c.update(ctx, r.row.ID, func(tx *storage.Tx) error {
		if err := tx.AddFinalEntries(ctx, entries...); err != nil {
			return err
		}
		var cands []storage.Candidate
		var nodes []storage.TaskState
		for _, e := range entries {
			var parents []string
			if e.Source != "" {
				parents = []string{e.Source}
			}
			for s := range seeds {
				i := e.Index*seeds + s
				cands = append(cands, storage.Candidate{RunID: r.row.ID, Generation: fg, Index: i,
					Genome: e.Genome, GenomeHash: e.GenomeHash, Parents: parents, Operator: storage.OpFinal,
					Seed: finalSeed(r.row.Seed, fg, s)})
				nodes = append(nodes, c.state(r.node(fg, tasks.StageTrain, i, 0), r))
			}
		}
		if err := tx.AddCandidates(ctx, cands...); err != nil {
			return err
		}
		if _, err := tx.AddTaskStates(ctx, nodes...); err != nil {
			return err
		}
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name
		}
		_, err := tx.AppendEvent(ctx, storage.Event{RunID: r.row.ID, Kind: "final.started",
			Message: mustJSON(map[string]any{"entries": names, "seeds": seeds, "steps": r.cfg.Final.Steps})})
		return err
	})
	if err != nil {
		return nil, err
	}
	c.log.Info("final stage started", "run", r.row.ID, "architectures", len(entries), "seeds", seeds)
	return entries, nil
}

// finalSeed is the training seed of retraining s. It depends on s alone
// (with the run seed), so every architecture is retrained with the same
// seeds: the comparison is paired over initialisation and data order.
func finalSeed(runSeed uint64, finalGeneration, s int) uint64 {
	return evolve.Seed(runSeed, finalGeneration, "final", s)
}

// finalEntries lists the final stage's architectures: the baselines first
// (each preset named in the run's seeds, then final.baselines), then up to
// final.top_k candidates of the last generation's non-dominated set. An
// architecture listed twice is retrained once, under its first name, with
// the others as aliases.
func (c *Coordinator) finalEntries(ctx context.Context, r *run) ([]storage.FinalEntry, error) {
	var out []storage.FinalEntry
	byHash := map[string]int{}
	add := func(e storage.FinalEntry) {
		if i, ok := byHash[e.GenomeHash]; ok {
			out[i].Aliases = append(out[i].Aliases, e.Name)
			return
		}
		e.RunID, e.Index = r.row.ID, len(out)
		byHash[e.GenomeHash] = e.Index
		out = append(out, e)
	}
	baselines, err := c.baselines(ctx, r)
	if err != nil {
		return nil, err
	}
	for _, e := range baselines {
		add(e)
	}
	front, err := c.finalFront(ctx, r)
	if err != nil {
		return nil, err
	}
	for i, cand := range front {
		add(storage.FinalEntry{Name: fmt.Sprintf("STAR-%d", i+1), Role: storage.RoleCandidate,
			Genome: cand.Genome, GenomeHash: cand.GenomeHash, Source: cand.ID})
	}
	return out, nil
}

// baselines returns the run's baselines: every preset among its seeds, then
// each of final.baselines, built at the run's depth. A preset is taken as
// it is, not repaired into the run's allowed classes: the baseline is the
// reference architecture whatever the search may use. Its source is the
// first candidate of the run with the same genome, if any.
func (c *Coordinator) baselines(ctx context.Context, r *run) ([]storage.FinalEntry, error) {
	depth := r.cfg.Search.Depth
	type spec struct{ name, text string }
	var specs []spec
	for _, s := range r.cfg.Seeds {
		if config.IsPreset(s) {
			specs = append(specs, spec{s, s})
		}
	}
	for i, s := range r.cfg.Final.Baselines {
		name := fmt.Sprintf("baseline-%d", i+1)
		if config.IsPreset(s) {
			name = s
		}
		specs = append(specs, spec{name, s})
	}
	var out []storage.FinalEntry
	for _, s := range specs {
		g, err := config.ParseGenomeSpec(s.text, depth)
		if err != nil {
			return nil, fmt.Errorf("baseline %s: %w", s.name, err)
		}
		g = genome.Repair(g, genome.Space{Depth: depth})
		e := storage.FinalEntry{Name: s.name, Role: storage.RoleBaseline, Genome: genome.Format(g), GenomeHash: genome.Hash(g)}
		same, err := c.db.FindCandidates(ctx, r.row.ID, e.GenomeHash)
		if err != nil {
			return nil, err
		}
		for _, cand := range same {
			if cand.Operator != storage.OpFinal {
				e.Source = cand.ID
				break
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// finalFront returns up to final.top_k evaluated candidates of the last
// generation's population that no other member dominates (outranks, in a
// multi-fidelity run: only candidates of its highest rung qualify), chosen by
// crowding distance (extremes first, so the ends of the front are kept) and
// then listed in the order of the run's objectives (the first objective
// ascending, ties by the next), which names them STAR-1, STAR-2, ...
func (c *Coordinator) finalFront(ctx context.Context, r *run) ([]storage.Candidate, error) {
	pop, err := c.population(ctx, r, r.cfg.Generations)
	if err != nil {
		return nil, err
	}
	ms := c.members(r, pop)
	objs := make([][]float64, len(ms))
	failed := make([]bool, len(ms))
	for i, m := range ms {
		objs[i], failed[i] = m.Objectives, m.Failed
		if m.Failed {
			objs[i] = make([]float64, len(r.cfg.Objectives))
		}
	}
	var fid []int // a multi-fidelity run ranks a higher rung first (evolve.Outranks)
	if r.multi {
		fid = make([]int, len(ms))
		for i, m := range ms {
			fid[i] = m.Rung
		}
	}
	rank, crowd := evolve.RankAndCrowdingFidelity(objs, failed, fid)
	type pick struct {
		i     int
		crowd float64
	}
	var front []pick
	seen := map[string]bool{}
	for i := range ms {
		if failed[i] || rank[i] != 0 || seen[pop[i].GenomeHash] {
			continue
		}
		seen[pop[i].GenomeHash] = true
		front = append(front, pick{i, crowd[i]})
	}
	slices.SortStableFunc(front, func(a, b pick) int { return cmp.Compare(b.crowd, a.crowd) })
	front = front[:min(len(front), r.cfg.Final.TopK)]
	slices.SortStableFunc(front, func(a, b pick) int { return slices.Compare(objs[a.i], objs[b.i]) })
	out := make([]storage.Candidate, len(front))
	for k, p := range front {
		out[k] = pop[p.i]
	}
	return out, nil
}

// finalConfig returns the YAML run config of the final stage's payloads.
func finalConfig(cfg config.Config) (string, error) {
	y, err := cfg.FinalTraining().YAML()
	if err != nil {
		return "", err
	}
	// The final recipe must validate as a run config of its own.
	if _, err := config.Parse(y); err != nil {
		return "", fmt.Errorf("final training config: %w", err)
	}
	return string(y), nil
}

// finalProgress is the progress of run r's final stage.
func (c *Coordinator) finalProgress(ctx context.Context, r *run, msg string) Progress {
	fg := storage.FinalGeneration(r.row)
	entries, _ := c.db.ListFinalEntries(ctx, r.row.ID)
	counts, _ := c.db.CountCandidates(ctx, r.row.ID, fg)
	p := Progress{Run: r.row.ID, Generation: r.cfg.Generations, Generations: r.cfg.Generations, Final: true,
		Total: len(entries) * r.cfg.Final.Seeds, Done: counts[storage.CandEvaluated] + counts[storage.CandFailed],
		Failed: counts[storage.CandFailed], Training: c.trainingNow(ctx, r.row.ID, fg), Message: msg}
	if gen, err := c.db.GetGeneration(ctx, r.row.ID, r.cfg.Generations); err == nil {
		p.Hypervolume = gen.Hypervolume
	}
	return p
}
